"""Questions the parser asks about what a message left open; their wording is in the catalog."""

from __future__ import annotations

from functools import lru_cache

from handlers.i18n import t
from handlers.parser.result import BREAKDOWN_FIELDS, AdmissionFacts

EXCEEDS = tuple(f"{field}_exceeds" for field in BREAKDOWN_FIELDS)


def missing_questions(admission: AdmissionFacts, ambiguous: tuple[str, ...]) -> list[str]:
    """One question per breakdown not given, in field order; none for a field already being clarified.
    The wording is the dialogue's own (`ask.<field>`), so a reader of the JSON sees what the bot asks."""
    missing = tuple(
        field
        for field, key, value in zip(BREAKDOWN_FIELDS, EXCEEDS, breakdown_values(admission), strict=True)
        if value is None and not (ambiguous and key in ambiguous)
    )
    return list(_questions_for(admission.count, missing)) if missing else []


@lru_cache(maxsize=1024)
def _questions_for(count: int, fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(breakdown_question(field, count) for field in fields)


def breakdown_values(a: AdmissionFacts) -> tuple[int | None, ...]:
    return (a.female, a.youth_union, a.religious, a.ethnic_minority, a.upper_secondary_or_above)


@lru_cache(maxsize=512)
def breakdown_question(field: str, count: int) -> str:
    return t(f"ask.one.{field}") if count == 1 else t(f"ask.{field}", n=_number(count))


def question(key: str, **values: object) -> str:
    """A parser question (`parser.ask.<key>`), numbers written the Vietnamese way."""
    return t(f"parser.ask.{key}", **{k: _number(v) if isinstance(v, int) else v for k, v in values.items()})


def field_label(field: str, *, complement: bool = False) -> str:
    return t(f"parser.label.{'not.' if complement else ''}{field}")


def _number(value: int) -> str:
    # counts are whole numbers: thousands grouped with a dot, as the catalog's other figures
    return f"{value:,}".replace(",", ".")
