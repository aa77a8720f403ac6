"""The probation clock, counted: admitted members are probationary for 12 months from their admission
ceremony; then the cell proposes their recognition as full members (công nhận đảng viên chính thức).

No names are needed: a unit's admissions give, per day their probation ends, how many; a recognition
report says how many were recognised, and those are the earliest ones (first admitted, first
recognised). `ProbationLedger` keeps this per unit, `ProbationRollup` per subtree (the unit and every
unit above it are updated in the report's transaction), so `/tiendo` reads a few rows.

Deadlines (Hướng dẫn 06-HD/TW, 2025, as the older guidance): the cell must consider recognition
within 30 working days after the probation ends; a delay of more than three months needs a written
explanation.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

import holidays
from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.clock import month_end, month_start
from storage.errors import InvalidInput
from storage.models import (
    AdmissionEntry,
    ProbationLedger,
    ProbationRollup,
    RecognitionEntry,
    Report,
    ReportStatus,
    Unit,
)
from storage.rollups import adding_upsert
from storage.units import ancestor_ids

PROBATION_MONTHS = 12
RECOGNITION_WORKING_DAYS = 30
EXPLANATION_MONTHS = 3


def add_months(day: date, months: int) -> date:
    """The same day `months` later (31/01 + 1 month = 28 or 29/02)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = month_end(date(year, month + 1, 1)).day
    return date(year, month + 1, min(day.day, last))


def probation_end(ceremony: date) -> date:
    return add_months(ceremony, PROBATION_MONTHS)


@cache
def _holidays(year: int) -> frozenset[date]:
    # Vietnam's public holidays, lunar ones (Tết, Giỗ Tổ Hùng Vương) included, from the `holidays` package.
    return frozenset(holidays.country_holidays("VN", years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day`."""
    current = day
    while n > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            n -= 1
    return current


def recognition_due(end: date) -> date:
    """The last day to consider a recognition: 30 working days after the probation ended."""
    return add_working_days(end, RECOGNITION_WORKING_DAYS)


def last_overdue_end(today: date) -> date:
    """The latest probation end whose recognition is overdue on `today` (due date already passed)."""
    end = today - timedelta(days=RECOGNITION_WORKING_DAYS)
    while recognition_due(end) >= today:
        end -= timedelta(days=1)
    return end


# --- keeping the ledger in step -----------------------------------------------------------------


def _own_admissions(session: Session, unit_id: int) -> dict[date, int]:
    rows = session.exec(
        select(col(AdmissionEntry.count), col(AdmissionEntry.ceremony_date), col(Report.period_end))
        .join(Report, col(Report.id) == AdmissionEntry.report_id)
        .where(
            AdmissionEntry.unit_id == unit_id,
            Report.status == ReportStatus.confirmed.value,
            AdmissionEntry.count > 0,
        )
    ).all()
    ending: dict[date, int] = {}
    for count, ceremony, period_end in rows:
        end = probation_end(ceremony or period_end)
        ending[end] = ending.get(end, 0) + count
    return ending


def _own_recognized(session: Session, unit_id: int) -> int:
    value = session.exec(
        select(func.coalesce(func.sum(RecognitionEntry.count), 0))
        .join(Report, col(Report.id) == RecognitionEntry.report_id)
        .where(RecognitionEntry.unit_id == unit_id, Report.status == ReportStatus.confirmed.value)
    ).one()
    return int(value)


def refresh(session: Session, unit: Unit) -> None:
    """Recount a unit's own ledger from its confirmed reports and pass the change to its rollups.

    Called after any admission or recognition report of the unit is confirmed or withdrawn; a unit's
    own reports are few, so counting afresh is simpler and safer than adjusting.
    """
    session.flush()
    ending = _own_admissions(session, unit.id or 0)
    left = _own_recognized(session, unit.id or 0)
    wanted: dict[date, tuple[int, int]] = {}
    for end in sorted(ending):
        taken = min(left, ending[end])
        left -= taken
        wanted[end] = (ending[end], taken)
    stored = {
        row.end_date: row
        for row in session.exec(select(ProbationLedger).where(ProbationLedger.unit_id == unit.id)).all()
    }
    deltas: dict[date, tuple[int, int]] = {}
    for end in set(wanted) | set(stored):
        new = wanted.get(end, (0, 0))
        row = stored.get(end)
        old = (row.ending, row.recognized) if row is not None else (0, 0)
        if new == old:
            continue
        deltas[end] = (new[0] - old[0], new[1] - old[1])
        if row is None:
            row = ProbationLedger(unit_id=unit.id or 0, end_date=end)
        if new == (0, 0):
            session.delete(row)
        else:
            row.ending, row.recognized = new
            session.add(row)
    _apply(session, ancestor_ids(unit), deltas)
    session.flush()


def _apply(session: Session, unit_ids: list[int], deltas: dict[date, tuple[int, int]]) -> None:
    rows = [
        {"unit_id": uid, "end_date": end, "ending": d[0], "recognized": d[1]}
        for end, d in deltas.items()
        if d != (0, 0)
        for uid in unit_ids
    ]
    if not rows:
        return
    table = ProbationRollup.__table__  # type: ignore[attr-defined]  # set by SQLModel, not declared
    session.execute(adding_upsert(session, table, ("unit_id", "end_date"), ("ending", "recognized")), rows)


def move(session: Session, unit: Unit, old_ancestors: list[int], new_ancestors: list[int]) -> None:
    """A subtree moved: its probation rollups leave the old ancestors and join the new ones."""
    rows = session.exec(select(ProbationRollup).where(ProbationRollup.unit_id == unit.id)).all()
    deltas = {row.end_date: (row.ending, row.recognized) for row in rows}
    _apply(session, old_ancestors, {end: (-a, -b) for end, (a, b) in deltas.items()})
    _apply(session, new_ancestors, deltas)


def open_ended(session: Session, unit: Unit, by: date) -> int:
    """The unit's own members whose probation ended by `by` and who are not yet recognised."""
    value = session.exec(
        select(func.coalesce(func.sum(ProbationLedger.ending - ProbationLedger.recognized), 0)).where(
            ProbationLedger.unit_id == unit.id, ProbationLedger.end_date <= by
        )
    ).one()
    return int(value)


def check_recognition(session: Session, unit: Unit, count: int, by: date) -> None:
    if count < 1:
        raise InvalidInput("storage.recognition.below_one")
    available = open_ended(session, unit, by)
    if count > available:
        raise InvalidInput(
            "storage.recognition.more_than_ended", unit=unit.name, available=available, by=by, count=count
        )


# --- what /tiendo and the briefing show --------------------------------------------------------


@dataclass(frozen=True)
class ProbationStatus:
    as_of: date
    in_probation: int  # admitted and not yet recognised (overdue ones included)
    due_this_month: int  # probation ends this month, not yet recognised
    ended_waiting: int  # probation ended, not yet recognised, not yet overdue
    overdue: int  # more than 30 working days after the end
    needs_explanation: int  # more than three months after the end (part of `overdue`)
    recognized_this_month: int


def status(session: Session, unit: Unit, today: date) -> ProbationStatus:
    first, last = month_start(today), month_end(today)
    overdue_end = last_overdue_end(today)
    explain_end = add_months(today, -EXPLANATION_MONTHS) - timedelta(days=1)
    open_ = ProbationRollup.ending - ProbationRollup.recognized

    def window(*conditions: object) -> object:
        return func.coalesce(func.sum(open_).filter(*conditions), 0)

    row = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel types select for up to 4 columns
            func.coalesce(func.sum(open_), 0),
            window(ProbationRollup.end_date >= first, ProbationRollup.end_date <= last),
            window(ProbationRollup.end_date <= today, ProbationRollup.end_date > overdue_end),
            window(ProbationRollup.end_date <= overdue_end),
            window(ProbationRollup.end_date <= explain_end),
        ).where(ProbationRollup.unit_id == unit.id)
    ).one()
    recognized = session.exec(
        select(func.coalesce(func.sum(RecognitionEntry.count), 0))
        .join(Report, col(Report.id) == RecognitionEntry.report_id)
        .join(Unit, col(Unit.id) == RecognitionEntry.unit_id)
        .where(
            col(Unit.path).startswith(unit.path),
            RecognitionEntry.month == first,
            Report.status == ReportStatus.confirmed.value,
        )
    ).one()
    in_probation, due_this_month, ended_waiting, overdue, needs_explanation = (int(v) for v in row)
    return ProbationStatus(
        today,
        in_probation=in_probation,
        due_this_month=due_this_month,
        ended_waiting=ended_waiting,
        overdue=overdue,
        needs_explanation=needs_explanation,
        recognized_this_month=int(recognized),
    )


@dataclass(frozen=True)
class UnitOverdue:
    unit: Unit
    overdue: int
    needs_explanation: int
    oldest_end: date


def overdue_units(
    session: Session, scope: Unit, today: date, *, limit: int | None = None
) -> list[UnitOverdue]:
    """The units of a subtree with overdue recognitions, from their own ledgers, oldest first.

    With a limit, only the first ones (a nation may have thousands): count them with `count_overdue_units`.
    """
    overdue_end = last_overdue_end(today)
    explain_end = add_months(today, -EXPLANATION_MONTHS) - timedelta(days=1)
    open_ = ProbationLedger.ending - ProbationLedger.recognized
    rows = session.exec(
        select(
            Unit,
            func.sum(open_),
            func.coalesce(func.sum(open_).filter(col(ProbationLedger.end_date) <= explain_end), 0),
            func.min(ProbationLedger.end_date),
        )
        .join(Unit, col(Unit.id) == ProbationLedger.unit_id)
        .where(
            col(Unit.path).startswith(scope.path),
            ProbationLedger.end_date <= overdue_end,
            ProbationLedger.ending > ProbationLedger.recognized,
        )
        .group_by(col(Unit.id))
        .order_by(func.min(ProbationLedger.end_date), col(Unit.name))
        .limit(limit)
    ).all()
    return [UnitOverdue(u, int(n), int(x), oldest) for u, n, x, oldest in rows if n]


def count_overdue_units(session: Session, scope: Unit, today: date) -> int:
    value = session.exec(
        select(func.count(func.distinct(ProbationLedger.unit_id)))
        .join(Unit, col(Unit.id) == ProbationLedger.unit_id)
        .where(
            col(Unit.path).startswith(scope.path),
            ProbationLedger.end_date <= last_overdue_end(today),
            ProbationLedger.ending > ProbationLedger.recognized,
        )
    ).one()
    return int(value)


def ending_by_month(session: Session, unit: Unit, first: date, last: date) -> dict[date, tuple[int, int]]:
    """Per month of the probation's end: (members whose probation ends then, recognised of them)."""
    rows = session.exec(
        select(
            col(ProbationRollup.end_date), col(ProbationRollup.ending), col(ProbationRollup.recognized)
        ).where(
            ProbationRollup.unit_id == unit.id,
            ProbationRollup.end_date >= month_start(first),
            ProbationRollup.end_date <= month_end(last),
        )
    ).all()
    out: dict[date, tuple[int, int]] = {}
    for end, ending, recognized in rows:
        month = month_start(end)
        a, b = out.get(month, (0, 0))
        out[month] = (a + ending, b + recognized)
    return out


def due_cells(session: Session, first: date, last: date) -> list[tuple[Unit, int]]:
    """Units with members whose probation ends in [first, last] and who are not yet recognised."""
    rows = session.exec(
        select(Unit, func.sum(ProbationLedger.ending - ProbationLedger.recognized))
        .join(Unit, col(Unit.id) == ProbationLedger.unit_id)
        .where(
            ProbationLedger.end_date >= first,
            ProbationLedger.end_date <= last,
            col(Unit.merged_into_id).is_(None),
        )
        .group_by(col(Unit.id))
        .order_by(col(Unit.path))
    ).all()
    return [(unit, int(n)) for unit, n in rows if n]
