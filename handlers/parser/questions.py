"""Questions the parser asks about what a message left open; their wording is in the catalog."""

from __future__ import annotations

from functools import lru_cache

from handlers.i18n import t
from handlers.parser.result import BREAKDOWN_FIELDS, AdmissionFacts

EXCEEDS = tuple(f"{field}_exceeds" for field in BREAKDOWN_FIELDS)


def missing_questions(admission: AdmissionFacts, ambiguous: tuple[str, ...]) -> tuple[str, ...]:
    """One question per breakdown not given, in field order; none for a field already being clarified.
    The wording is the dialogue's own (`ask.<field>`), so a reader of the JSON sees what the bot asks."""
    a = admission
    missing: tuple[bool, ...] = (
        a.female is None,
        a.youth_union is None,
        a.religious is None,
        a.ethnic_minority is None,
        a.upper_secondary_or_above is None,
    )
    if ambiguous:
        missing = tuple(m and key not in ambiguous for m, key in zip(missing, EXCEEDS, strict=True))
    return _questions_for(a.count, missing)


@lru_cache(maxsize=1024)
def _questions_for(count: int, missing: tuple[bool, ...]) -> tuple[str, ...]:
    return tuple(breakdown_question(f, count) for f, m in zip(BREAKDOWN_FIELDS, missing, strict=True) if m)


@lru_cache(maxsize=512)
def breakdown_question(field: str, count: int) -> str:
    return t(f"ask.one.{field}") if count == 1 else t(f"ask.{field}", n=_number(count))


def question(key: str, **values: object) -> str:
    """A parser question (`parser.ask.<key>`), numbers written the Vietnamese way."""
    filled = {k: _number(v) if isinstance(v, int) else v for k, v in values.items()}
    # filled in here: a dict spread into t() could, for all the checker knows, hold its `language`
    return t(f"parser.ask.{key}").format(**filled) if filled else t(f"parser.ask.{key}")


def field_label(field: str, *, complement: bool = False) -> str:
    return t(f"parser.label.{'not.' if complement else ''}{field}")


def _number(value: int) -> str:
    # counts are whole numbers: thousands grouped with a dot, as the catalog's other figures
    return f"{value:,}".replace(",", ".")
