"""Reply texts come from the gettext catalog in locales/<lang>/LC_MESSAGES/tiendo.po.

Message ids are stable keys ("register.done"); the catalog holds the Vietnamese wording with
{brace} placeholders, so wording can change without touching code.
"""

from functools import cache

from babel.messages.pofile import read_po

from handlers.formatting import number
from locales import DOMAIN, LOCALES_DIR
from storage.errors import StorageError

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


def refusal(error: StorageError, language: str = DEFAULT_LANGUAGE, *, surface: str = "") -> str:
    """What a refusal of the storage layer says to people: its code's text, its numbers the Vietnamese
    way (10.000.000); identifiers (line numbers, ids) come as text and stay as they are. A surface with
    words of its own for a refusal (the command line names its options) has them under
    `<surface>.<code>`, used when the catalog has that key."""
    values = {k: number(v) if type(v) is int else v for k, v in error.data.items()}
    texts = catalog(language)
    text = texts.get(f"{surface}.{error.code}") if surface else None
    text = text or texts[error.code]
    return text.format(**values) if values else text
