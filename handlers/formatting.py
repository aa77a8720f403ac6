"""Numbers, percents and dates the Vietnamese way (CLDR `vi`): 7.025; 89,8%; 01/11/2023."""

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

LOCALE = "vi"


def number(value: float) -> str:
    return format_decimal(value, format="#,##0", locale=LOCALE)


def percent(value: float) -> str:
    """One decimal: the official reports' 89,8%, not Babel's default whole percent."""
    return format_percent(value, format="#,##0.0%", locale=LOCALE)


def day(value: date) -> str:
    return format_date(value, format="dd/MM/yyyy", locale=LOCALE)


def month(value: date) -> str:
    return format_date(value, format="MM/yyyy", locale=LOCALE)


def day_range(start: date, end: date) -> str:
    return f"{day(start)}–{day(end)}"
