"""The reporting month of a unit: deadlines, timeliness, the lock, and approval by the level above.

Every confirmed or withdrawn report updates its unit's `UnitPeriod` (the unit and the month its
period ends in) and the `WorkflowRollup` of the unit and every unit above it, in the report's own
transaction, as the figure rollups are. So `/tiendo` reads, for any subtree, how many cells reported
on time and how much of a figure still waits for approval, in a few rows.

Approval (as DHIS2's data approval): a unit-month of a tree that requires it is `received` when a
report comes, then `approved` or `returned` (with a note) by staff of a unit above it; any later
report or withdrawal for that month makes it `received` again. Figures count from the start and are
shown as provisional until approved. A tree without approval is not slowed down: its rows stay `none`.
"""

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage import audit
from storage.clock import month_end, month_start, next_month, utcnow
from storage.errors import InvalidInput, NotFound
from storage.models import (
    Account,
    Report,
    ReviewStatus,
    Role,
    SubtreeMonthRollup,
    Unit,
    UnitPeriod,
    WorkflowRollup,
    WorkflowSetting,
)
from storage.units import ancestor_ids

# Dates of deadlines are local: the party's offices keep Vietnamese time (docs/design.md).
LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PENDING = (ReviewStatus.received.value, ReviewStatus.returned.value)


class PeriodLocked(InvalidInput):
    """A secretary's report for a month whose books are closed (deadline + grace passed)."""


def local_day(moment: datetime) -> date:
    return moment.astimezone(LOCAL_ZONE).date() if moment.tzinfo else moment.date()


# --- settings ---------------------------------------------------------------------------------


def setting_for(session: Session, unit: Unit) -> WorkflowSetting:
    """The setting of the unit or of the nearest unit above it; the defaults when none has one."""
    # Read once per transaction: a report's hooks ask for it several times.
    cached: dict[str, WorkflowSetting] = session.info.setdefault("workflow_settings", {})
    if unit.path in cached:
        return cached[unit.path]
    ids = ancestor_ids(unit)
    rows = {
        s.unit_id: s
        for s in session.exec(select(WorkflowSetting).where(col(WorkflowSetting.unit_id).in_(ids)))
    }
    found = next((rows[uid] for uid in reversed(ids) if uid in rows), None)
    cached[unit.path] = found or WorkflowSetting(unit_id=unit.id or 0, updated_at=utcnow())
    return cached[unit.path]


def set_setting(
    session: Session,
    unit: Unit,
    *,
    approval: bool | None = None,
    deadline_day: int | None = None,
    quarter_deadline_day: int | None = None,
    year_deadline_day: int | None = None,
    grace_days: int | None = None,
    no_lock: bool = False,
    remind_days: int | None = None,
    account_id: int | None = None,
    now: datetime | None = None,
) -> WorkflowSetting:
    """Set how `unit`'s tree reports; unset values are inherited from the setting in force now.

    Switching approval off releases what was waiting in the subtree: nobody is left to approve it.
    """
    for name, value, top in (
        ("deadline_day", deadline_day, 28),
        ("quarter_deadline_day", quarter_deadline_day, 28),
        ("year_deadline_day", year_deadline_day, 28),
    ):
        if value is not None and not 1 <= value <= top:
            raise InvalidInput(f"storage.workflow.{name}", high=top)
    if grace_days is not None and not 0 <= grace_days <= 366:
        raise InvalidInput("storage.workflow.grace_days", low=0, high=366)
    if remind_days is not None and not 0 <= remind_days <= 28:
        raise InvalidInput("storage.workflow.remind_days", low=0, high=28)
    now = now or utcnow()
    current = setting_for(session, unit)
    session.info.pop("workflow_settings", None)
    row = session.get(WorkflowSetting, unit.id)
    if row is None:
        row = WorkflowSetting(
            unit_id=unit.id or 0,
            approval=current.approval,
            deadline_day=current.deadline_day,
            quarter_deadline_day=current.quarter_deadline_day,
            year_deadline_day=current.year_deadline_day,
            grace_days=current.grace_days,
            remind_days=current.remind_days,
            updated_at=now,
        )
    was_required = row.approval
    if approval is not None:
        row.approval = approval
    for name, value in (
        ("deadline_day", deadline_day),
        ("quarter_deadline_day", quarter_deadline_day),
        ("year_deadline_day", year_deadline_day),
        ("remind_days", remind_days),
    ):
        if value is not None:
            setattr(row, name, value)
    if grace_days is not None:
        row.grace_days = grace_days
    if no_lock:
        row.grace_days = None
    row.updated_at = now
    session.add(row)
    session.flush()
    if was_required and not row.approval:
        _release_pending(session, unit)
    audit.record(
        session,
        "workflow.set",
        account_id=account_id,
        unit_id=unit.id,
        at=now,
        approval=row.approval,
        deadline_day=row.deadline_day,
        grace_days=row.grace_days,
    )
    return row


def _release_pending(session: Session, scope: Unit) -> None:
    rows = session.exec(
        select(UnitPeriod, Unit)
        .join(Unit, col(Unit.id) == UnitPeriod.unit_id)
        .where(col(Unit.path).startswith(scope.path), col(UnitPeriod.review).in_(PENDING))
    ).all()
    for period, unit in rows:
        if setting_for(session, unit).approval:  # a subtree with its own setting keeps approving
            continue
        before = _contribution(period, unit)
        period.review = ReviewStatus.none.value
        session.add(period)
        _apply(session, unit, period.month, _diff(_contribution(period, unit), before))


# --- deadlines --------------------------------------------------------------------------------


def period_kind(start: date, end: date) -> str:
    """year, half, quarter or month (a day, a week or any other range counts as its month)."""
    if start.day != 1 or end != month_end(end):
        return "month"
    months = (end.year - start.year) * 12 + end.month - start.month + 1
    if months == 12 and start.month == 1:
        return "year"
    if months == 6 and start.month in (1, 7):
        return "half"
    if months == 3 and start.month in (1, 4, 7, 10):
        return "quarter"
    return "month"


def deadline_for(setting: WorkflowSetting, start: date, end: date) -> date:
    """The day a report for [start, end] is due: a set day of the month after the period ends."""
    kind = period_kind(start, end)
    day = {"year": setting.year_deadline_day, "half": setting.quarter_deadline_day}.get(
        kind, setting.quarter_deadline_day if kind == "quarter" else setting.deadline_day
    )
    return next_month(month_start(end)).replace(day=day)


def month_deadline(setting: WorkflowSetting, month: date) -> date:
    first = month_start(month)
    return deadline_for(setting, first, month_end(first))


def locks_on(setting: WorkflowSetting, start: date, end: date) -> date | None:
    """The first day a period is closed to secretaries, or None when the tree never locks."""
    if setting.grace_days is None:
        return None
    return deadline_for(setting, start, end) + timedelta(days=setting.grace_days + 1)


def month_to_report(session: Session, unit: Unit, today: date) -> date:
    """Which month completeness should show: the month just ended until its deadline, then this one."""
    previous = month_start(month_start(today) - timedelta(days=1))
    if today <= month_deadline(setting_for(session, unit), previous):
        return previous
    return month_start(today)


def is_late(session: Session, report: Report, unit: Unit) -> bool:
    return local_day(report.created_at) > deadline_for(
        setting_for(session, unit), report.period_start, report.period_end
    )


# --- the lock ---------------------------------------------------------------------------------


def check_open(
    session: Session, unit: Unit, start: date, end: date, *, account_id: int | None, now: datetime
) -> None:
    """Refuse a secretary's report, correction or withdrawal for a closed month (staff may reopen it).

    Staff and administrators (and the command line) may still enter figures for a closed month.
    """
    if account_id is None:
        return
    account = session.get(Account, account_id)
    if account is None or account.role != Role.secretary:
        return
    setting = setting_for(session, unit)
    closes = locks_on(setting, start, end)
    if closes is None or local_day(now) < closes:
        return
    row = session.get(UnitPeriod, (unit.id, month_start(end)))
    if row is not None and row.reopened_until is not None and _aware(row.reopened_until) > now:
        return
    raise PeriodLocked(
        "storage.workflow.locked", month=end, closes=closes, deadline=deadline_for(setting, start, end)
    )


def reopen(
    session: Session, unit: Unit, month: date, *, days: int, account_id: int | None, now: datetime
) -> datetime:
    """Open a closed month again for one unit, for `days` days; returns when it closes again."""
    if days < 1:
        raise InvalidInput("storage.workflow.reopen_days")
    first = month_start(month)
    row = session.get(UnitPeriod, (unit.id, first)) or UnitPeriod(unit_id=unit.id or 0, month=first)
    row.reopened_until = now + timedelta(days=days)
    session.add(row)
    session.flush()
    audit.record(
        session,
        "period.reopen",
        account_id=account_id,
        unit_id=unit.id,
        at=now,
        month=first,
        until=row.reopened_until,
    )
    return row.reopened_until


def _aware(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


# --- keeping the unit-months in step with the reports -----------------------------------------


@dataclass
class Contribution:
    cells_on_time: int = 0
    cells_late: int = 0
    pending: int = 0
    returned: int = 0
    provisional_admissions: int = 0
    provisional_completed: int = 0


def _contribution(row: UnitPeriod, unit: Unit) -> Contribution:
    out = Contribution()
    if row.reports > 0 and unit.is_leaf:
        if row.late:
            out.cells_late = 1
        else:
            out.cells_on_time = 1
    if row.reports > 0 and row.review in PENDING:
        out.pending = int(row.review == ReviewStatus.received)
        out.returned = int(row.review == ReviewStatus.returned)
        out.provisional_admissions, out.provisional_completed = row.admissions, row.completed
    return out


def _diff(after: Contribution, before: Contribution) -> Contribution:
    return Contribution(**{k: v - asdict(before)[k] for k, v in asdict(after).items()})


def _apply(session: Session, unit: Unit, month: date, delta: Contribution) -> None:
    apply_to(session, ancestor_ids(unit), month, delta)


def apply_to(session: Session, unit_ids: list[int], month: date, delta: Contribution) -> None:
    values = asdict(delta)
    if not any(values.values()) or not unit_ids:
        return
    rows = [{"unit_id": uid, "month": month, **values} for uid in unit_ids]
    session.execute(_upsert(session.get_bind().dialect.name), rows)


@cache
def _upsert(dialect: str):
    """One statement, executed with many rows: compiled once (a VALUES list per call is compiled anew)."""
    table = WorkflowRollup.__table__  # type: ignore[attr-defined]  # set by SQLModel, not declared
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(table)
    fields = list(asdict(Contribution()))
    return stmt.on_conflict_do_update(
        index_elements=["unit_id", "month"], set_={k: table.c[k] + stmt.excluded[k] for k in fields}
    )


def record_report(
    session: Session, unit: Unit, report: Report, *, sign: int, admissions: int, completed: int
) -> None:
    """A report of `unit` was confirmed (sign 1) or withdrawn (-1): its month's row follows."""
    month = month_start(report.period_end)
    setting = setting_for(session, unit)
    row = session.get(UnitPeriod, (unit.id, month)) or UnitPeriod(unit_id=unit.id or 0, month=month)
    before = _contribution(row, unit)
    row.reports += sign
    row.admissions += sign * admissions
    row.completed += sign * completed
    if sign > 0 and row.first_report_at is None:
        row.first_report_at = report.created_at
        row.deadline = deadline_for(setting, report.period_start, report.period_end)
        row.late = local_day(report.created_at) > row.deadline
    if row.reports > 0 and setting.approval and unit.parent_id is not None:  # the root has nobody above
        # New figures for the month (a first report, another one, a correction): to be reviewed again.
        row.review = ReviewStatus.received.value
    elif row.reports <= 0 or row.review in PENDING:
        row.review = ReviewStatus.none.value
    session.add(row)
    session.flush()
    _apply(session, unit, month, _diff(_contribution(row, unit), before))


def move(session: Session, unit: Unit, old_ancestors: list[int], new_ancestors: list[int]) -> None:
    """A subtree moved: its workflow rollups leave the old ancestors and join the new ones."""
    for row in session.exec(select(WorkflowRollup).where(WorkflowRollup.unit_id == unit.id)).all():
        delta = Contribution(**{k: getattr(row, k) for k in asdict(Contribution())})
        apply_to(session, old_ancestors, row.month, Contribution(**{k: -v for k, v in asdict(delta).items()}))
        apply_to(session, new_ancestors, row.month, delta)


# --- approval ---------------------------------------------------------------------------------


def may_review(account: Account | None, unit: Unit, scope: Unit | None) -> bool:
    """Staff of a unit above the reporting unit (not the unit itself), or an administrator."""
    if account is None:
        return True  # the command line
    if account.role == Role.admin:
        return True
    if account.role != Role.staff or scope is None:
        return False
    return unit.path.startswith(scope.path) and unit.id != scope.id


def decide(
    session: Session,
    unit: Unit,
    month: date,
    *,
    approve: bool,
    note: str | None,
    account_id: int | None,
    now: datetime,
) -> UnitPeriod:
    """Approve a unit's month, or return it with a note. Raises if there is nothing to decide."""
    first = month_start(month)
    row = session.exec(
        select(UnitPeriod).where(UnitPeriod.unit_id == unit.id, UnitPeriod.month == first).with_for_update()
    ).first()
    if row is None or row.reports <= 0:
        raise NotFound("storage.workflow.no_report", unit=unit.name, month=first)
    if row.review == ReviewStatus.none:
        raise InvalidInput("storage.workflow.no_review_needed", unit=unit.name, month=first)
    if not approve and not (note or "").strip():
        raise InvalidInput("storage.workflow.return_needs_note")
    before = _contribution(row, unit)
    row.review = ReviewStatus.approved.value if approve else ReviewStatus.returned.value
    row.note = None if approve else (note or "").strip()[:1000]
    row.decided_by_account_id, row.decided_at = account_id, now
    row.decisions += 1
    session.add(row)
    session.flush()
    _apply(session, unit, first, _diff(_contribution(row, unit), before))
    audit.record(
        session,
        "report.approve" if approve else "report.return",
        account_id=account_id,
        unit_id=unit.id,
        at=now,
        month=first,
        note=row.note,
    )
    return row


@dataclass(frozen=True)
class Waiting:
    unit: Unit
    period: UnitPeriod


def waiting(
    session: Session, scope: Unit | None, *, limit: int = 50, returned: bool = False
) -> list[Waiting]:
    """Unit-months below `scope` waiting for approval (or returned), oldest month first."""
    status = ReviewStatus.returned if returned else ReviewStatus.received
    query = (
        select(UnitPeriod, Unit)
        .join(Unit, col(Unit.id) == UnitPeriod.unit_id)
        .where(UnitPeriod.review == status.value, UnitPeriod.reports > 0)
    )
    if scope is not None:
        query = query.where(col(Unit.path).startswith(scope.path), Unit.id != scope.id)
    rows = session.exec(
        query.order_by(col(UnitPeriod.month), col(Unit.name), col(Unit.id)).limit(limit)
    ).all()
    return [Waiting(unit, period) for period, unit in rows]


def count_waiting(session: Session, scope: Unit | None) -> int:
    query = (
        select(func.count())
        .select_from(UnitPeriod)
        .join(Unit, col(Unit.id) == UnitPeriod.unit_id)
        .where(UnitPeriod.review == ReviewStatus.received.value, UnitPeriod.reports > 0)
    )
    if scope is not None:
        query = query.where(col(Unit.path).startswith(scope.path), Unit.id != scope.id)
    return int(session.exec(query).one())


def own_pending(session: Session, unit: Unit) -> list[UnitPeriod]:
    """A unit's own months waiting for approval or returned, oldest first."""
    return list(
        session.exec(
            select(UnitPeriod)
            .where(UnitPeriod.unit_id == unit.id, col(UnitPeriod.review).in_(PENDING), UnitPeriod.reports > 0)
            .order_by(col(UnitPeriod.month))
        ).all()
    )


def unit_period(session: Session, unit: Unit, month: date) -> UnitPeriod | None:
    return session.get(UnitPeriod, (unit.id, month_start(month)))


def reports_of(session: Session, unit: Unit, month: date) -> list[Report]:
    """The confirmed reports counting in a unit's month."""
    first = month_start(month)
    return list(
        session.exec(
            select(Report)
            .where(
                Report.unit_id == unit.id,
                Report.status == "confirmed",
                Report.period_end >= first,
                Report.period_end <= month_end(first),
            )
            .order_by(col(Report.created_at), col(Report.id))
        ).all()
    )


# --- what /tiendo shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class Provisional:
    pending: int
    returned: int
    admissions: int
    completed: int


def provisional(session: Session, unit: Unit, first_month: date | None, last_month: date) -> Provisional:
    """How much of a subtree's figures over the months waits for approval (or was returned)."""
    query = select(
        func.coalesce(func.sum(WorkflowRollup.pending), 0),
        func.coalesce(func.sum(WorkflowRollup.returned), 0),
        func.coalesce(func.sum(WorkflowRollup.provisional_admissions), 0),
        func.coalesce(func.sum(WorkflowRollup.provisional_completed), 0),
    ).where(WorkflowRollup.unit_id == unit.id, WorkflowRollup.month <= month_start(last_month))
    if first_month is not None:
        query = query.where(WorkflowRollup.month >= month_start(first_month))
    row = session.exec(query).one()
    return Provisional(*(int(v) for v in row))


@dataclass(frozen=True)
class Timeliness:
    month: date
    deadline: date
    cells: int
    reported: int
    on_time: int
    late: int

    @property
    def completeness(self) -> float | None:
        return self.reported / self.cells if self.cells else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.cells if self.cells else None


def timeliness(session: Session, unit: Unit, months: list[date]) -> list[Timeliness]:
    """Completeness and timeliness of the subtree's cells per month (as DHIS2's reporting rates).

    Cells are counted as the tree is today; a cell's month is on time when its first report for it
    came by the deadline.
    """
    firsts = [month_start(m) for m in months]
    setting = setting_for(session, unit)
    reported: dict[date, int] = dict(
        session.exec(
            select(col(SubtreeMonthRollup.month), col(SubtreeMonthRollup.cells_reported)).where(
                SubtreeMonthRollup.unit_id == unit.id, col(SubtreeMonthRollup.month).in_(firsts)
            )
        ).all()
    )
    timely = {
        row.month: row
        for row in session.exec(
            select(WorkflowRollup).where(
                WorkflowRollup.unit_id == unit.id, col(WorkflowRollup.month).in_(firsts)
            )
        ).all()
    }
    out = []
    for month in firsts:
        row = timely.get(month)
        out.append(
            Timeliness(
                month=month,
                deadline=month_deadline(setting, month),
                cells=unit.cells,
                reported=int(reported.get(month, 0)),
                on_time=row.cells_on_time if row else 0,
                late=row.cells_late if row else 0,
            )
        )
    return out


def silent_cells(session: Session, unit: Unit, month: date) -> list[Unit]:
    """The cells of a subtree with no report for the month (for reminders before the deadline)."""
    first = month_start(month)
    reported = select(SubtreeMonthRollup.unit_id).where(
        SubtreeMonthRollup.month == first, SubtreeMonthRollup.reports > 0
    )
    return list(
        session.exec(
            select(Unit)
            .where(
                col(Unit.path).startswith(unit.path),
                col(Unit.is_leaf),
                col(Unit.merged_into_id).is_(None),
                col(Unit.id).not_in(reported),
            )
            .order_by(col(Unit.path))
        ).all()
    )
