"""Time helpers: timestamps are aware UTC; calendar dates are local to the configured zone."""

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def month_end(day: date) -> date:
    return date.fromordinal(next_month(month_start(day)).toordinal() - 1)
