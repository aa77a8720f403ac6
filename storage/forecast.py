"""Where a target ends up at the current pace, and what it takes to reach it.

The pace is the subtree's admissions over the last 12 whole months (the month in progress left
out: it is not over); the projection adds that pace for the days left in the target's window.
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session

from storage.clock import month_start
from storage.probation import add_months
from storage.progress import TargetProgress
from storage.rollups import sum_totals

PACE_MONTHS = 12
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Forecast:
    progress: TargetProgress
    pace: float  # admissions per month, over the last PACE_MONTHS whole months
    pace_from: date
    pace_to: date
    months_left: int  # whole months from the current one to the window's end, both counted
    projected: int

    @property
    def projected_share(self) -> float | None:
        value = self.progress.target.value
        return self.projected / value if value else None

    @property
    def remaining(self) -> int:
        return max(0, self.progress.target.value - self.progress.achieved)

    @property
    def needed_per_month(self) -> int:
        return math.ceil(self.remaining / max(1, self.months_left))

    @property
    def on_course(self) -> bool:
        return self.projected >= self.progress.target.value


def pace(session: Session, unit_id: int, today: date) -> tuple[float, date, date]:
    last = month_start(month_start(today) - timedelta(days=1))
    first = add_months(last, 1 - PACE_MONTHS)
    admitted = sum_totals(session, unit_id, first, last).admissions
    return admitted / PACE_MONTHS, first, last


def forecast(session: Session, unit_id: int, target: TargetProgress, today: date) -> Forecast | None:
    """The forecast of a target still running on `today` (None once its window is over)."""
    end = target.target.end_date
    if today >= end or today < target.target.start_date:
        return None
    per_month, first, last = pace(session, unit_id, today)
    days_left = (end - today).days + 1
    months_left = (end.year - today.year) * 12 + end.month - today.month + 1
    projected = target.achieved + round(per_month * days_left / DAYS_PER_MONTH)
    return Forecast(target, per_month, first, last, months_left, projected)
