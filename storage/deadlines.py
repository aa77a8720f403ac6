"""Reporting deadlines: which month a unit is expected to have reported for on a given day.

Reports for month M are due by a set day of month M+1 (REPORT_DEADLINE_DAY, the 5th by default).
Until that day has passed, "has everybody reported?" is asked of M, the month just ended: on the
1st of a month nobody could have reported for the month that only began.
"""

from datetime import date, timedelta

from storage.clock import month_start, next_month

DEFAULT_DEADLINE_DAY = 5


def report_deadline(month: date, deadline_day: int = DEFAULT_DEADLINE_DAY) -> date:
    """The last day to report for `month` (the set day of the next month)."""
    following = next_month(month_start(month))
    return following.replace(day=max(1, min(deadline_day, 28)))


def reporting_month(today: date, deadline_day: int = DEFAULT_DEADLINE_DAY) -> date:
    """The month whose reports are being collected today: the previous one until its deadline."""
    previous = month_start(month_start(today) - timedelta(days=1))
    if today <= report_deadline(previous, deadline_day):
        return previous
    return month_start(today)
