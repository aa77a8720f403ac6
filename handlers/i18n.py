"""Reply texts come from the gettext catalog in locales/<lang>/LC_MESSAGES/tiendo.po.

Message ids are stable keys ("register.done"); the catalog holds the Vietnamese wording with
{brace} placeholders, so wording can change without touching code.
"""

from functools import cache

from babel.messages.pofile import read_po

from locales import DOMAIN, LOCALES_DIR

DEFAULT_LANGUAGE = "vi"


@cache
def catalog(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in parsed if m.id and m.string}


def t(key: str, /, language: str = DEFAULT_LANGUAGE, **values: object) -> str:
    """The text for `key`, filled in. A missing key is a bug: it raises KeyError."""
    text = catalog(language)[key]
    return text.format(**values) if values else text
