"""Confirmed reports: the only way facts enter the database."""

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from storage import extra_breakdowns, probation, rollups, workflow
from storage.accounts import CODE_ALPHABET
from storage.audit import record
from storage.breakdowns import BREAKDOWN_FIELDS
from storage.clock import month_start, utcnow
from storage.errors import InvalidInput
from storage.models import (
    AdmissionEntry,
    AwarenessClass,
    ClassAttendance,
    RecognitionEntry,
    Report,
    ReportStatus,
    Unit,
)
from storage.units import ancestor_ids


class AlreadyWithdrawn(InvalidInput):
    """The report was withdrawn (or replaced by a correction) first, perhaps a moment ago elsewhere."""


@dataclass(frozen=True)
class AdmissionInput:
    count: int
    female: int | None = None
    youth_union: int | None = None
    religious: int | None = None
    ethnic_minority: int | None = None
    upper_secondary_or_above: int | None = None
    names: str | None = None
    ceremony_date: date | None = None  # the admission ceremony: the probation clock starts there


@dataclass(frozen=True)
class RecognitionInput:
    """Công nhận đảng viên chính thức: how many probationary members were recognised."""

    count: int
    names: str | None = None


@dataclass(frozen=True)
class AttendanceInput:
    sent: int | None = None
    completed: int | None = None


@dataclass(frozen=True)
class ReportInput:
    unit: Unit
    channel: str
    raw_text: str
    period_start: date
    period_end: date
    account_id: int | None = None
    admission: AdmissionInput | None = None
    attendance: AttendanceInput | None = None
    classes_opened: int = 0
    idempotency_key: str | None = None
    supersedes_id: int | None = None
    recognition: RecognitionInput | None = None
    # The admission's figures for the breakdowns the unit's tree adds to the five: (key, value), only
    # those given (storage.extra_breakdowns).
    extra_breakdowns: tuple[tuple[str, int], ...] = ()


# The most one report can plausibly carry, per cell of the reporting unit's subtree (a cell admits a
# handful of members a year; a class takes a few dozen candidates). Above it, a figure is a typo or
# an attack (99.999 candidates from one cell), never stored: the sender is asked to check it.
MAX_ADMISSIONS_PER_CELL = 100
MAX_CANDIDATES_PER_CELL = 500
MAX_CLASSES_PER_CELL = 50
MAX_NAMES = 1000  # the column's length


def _plausible(what: str, value: int | None, per_cell: int, unit: Unit) -> None:
    limit = per_cell * max(1, unit.cells)
    if value is not None and value > limit:
        raise InvalidInput(f"storage.report.too_large.{what}", value=value, unit=unit.name, high=limit)


def check(report: ReportInput) -> None:
    if report.period_end < report.period_start:
        raise InvalidInput("storage.report.period_reversed")
    if (
        report.admission is None
        and report.attendance is None
        and report.classes_opened == 0
        and report.recognition is None
    ):
        raise InvalidInput("storage.report.empty")
    admission = report.admission
    if admission is not None:
        if admission.count < 0:
            raise InvalidInput("storage.report.negative_admissions")
        for name in BREAKDOWN_FIELDS:
            value = getattr(admission, name)
            if value is not None and not 0 <= value <= admission.count:
                raise InvalidInput("storage.report.breakdown_above_count")
        if admission.names is not None and len(admission.names) > MAX_NAMES:
            raise InvalidInput("storage.report.names_too_long", high=MAX_NAMES)
    for _, value in report.extra_breakdowns:
        if admission is None or not 0 <= value <= admission.count:
            raise InvalidInput("storage.report.extra_above_count")
    attendance = report.attendance
    if attendance is not None:
        for value in (attendance.sent, attendance.completed):
            if value is not None and value < 0:
                raise InvalidInput("storage.report.negative_candidates")
    if report.classes_opened < 0:
        raise InvalidInput("storage.report.negative_classes")
    unit = report.unit
    if admission is not None:
        _plausible("admissions", admission.count, MAX_ADMISSIONS_PER_CELL, unit)
    if attendance is not None:
        _plausible("sent", attendance.sent, MAX_CANDIDATES_PER_CELL, unit)
        _plausible("completed", attendance.completed, MAX_CANDIDATES_PER_CELL, unit)
    _plausible("classes", report.classes_opened, MAX_CLASSES_PER_CELL, unit)


def _totals(
    admission: AdmissionInput | None, attendance: AttendanceInput | None, classes_opened: int
) -> rollups.Totals:
    totals = rollups.Totals(reports=1, classes_opened=classes_opened)
    if admission is not None:
        totals.admissions = admission.count
        for name in BREAKDOWN_FIELDS:
            value = getattr(admission, name)
            if value is not None:
                setattr(totals, name, value)
                setattr(totals, f"{name}_known", admission.count)
    if attendance is not None:
        totals.sent = attendance.sent or 0
        totals.completed = attendance.completed or 0
    return totals


def new_receipt_code(session: Session) -> str:
    while True:
        code = "BN-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        if session.exec(select(Report.id).where(Report.receipt_code == code)).first() is None:
            return code


def find_by_idempotency_key(session: Session, key: str) -> Report | None:
    return session.exec(select(Report).where(Report.idempotency_key == key)).first()


def confirm_report(
    session: Session, data: ReportInput, *, now: datetime | None = None
) -> tuple[Report, bool]:
    """Store a report, its entries and the rollups in the caller's transaction.

    Returns (report, created). With an idempotency key already used, returns the stored report
    and False: confirming the same draft twice stores it once.
    """
    check(data)
    if data.idempotency_key:
        existing = find_by_idempotency_key(session, data.idempotency_key)
        if existing is not None:
            return existing, False
    now = now or utcnow()
    unit = data.unit
    assert unit.id is not None
    # A secretary's report for a closed month is refused before anything is written.
    workflow.check_open(
        session, unit, data.period_start, data.period_end, account_id=data.account_id, now=now
    )
    if data.recognition is not None:
        probation.check_recognition(session, unit, data.recognition.count, data.period_end)
    extra = extra_breakdowns.check_values(
        session, unit, data.extra_breakdowns, data.admission.count if data.admission else None
    )
    report = Report(
        receipt_code=new_receipt_code(session),
        unit_id=unit.id,
        account_id=data.account_id,
        channel=data.channel,
        raw_text=data.raw_text,
        period_start=data.period_start,
        period_end=data.period_end,
        status=ReportStatus.confirmed,
        idempotency_key=data.idempotency_key,
        supersedes_id=data.supersedes_id,
        created_at=now,
        updated_at=now,
    )
    try:
        # A savepoint: a concurrent confirm of the same draft loses the race without aborting
        # the caller's transaction (PostgreSQL would otherwise refuse every later statement).
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        if data.idempotency_key:
            existing = find_by_idempotency_key(session, data.idempotency_key)
            if existing is not None:
                return existing, False
        raise
    assert report.id is not None
    month = month_start(data.period_end)
    if data.admission is not None:
        a = data.admission
        entry = AdmissionEntry(
            report_id=report.id,
            unit_id=unit.id,
            month=month,
            count=a.count,
            female=a.female,
            youth_union=a.youth_union,
            religious=a.religious,
            ethnic_minority=a.ethnic_minority,
            upper_secondary_or_above=a.upper_secondary_or_above,
            names=a.names,
            ceremony_date=a.ceremony_date,
        )
        session.add(entry)
        extra_breakdowns.store(session, entry, ancestor_ids(unit), extra)
    if data.attendance is not None:
        session.add(
            ClassAttendance(
                report_id=report.id,
                unit_id=unit.id,
                month=month,
                sent=data.attendance.sent,
                completed=data.attendance.completed,
            )
        )
    for _ in range(data.classes_opened):
        session.add(AwarenessClass(report_id=report.id, unit_id=unit.id, month=month))
    if data.recognition is not None:
        session.add(
            RecognitionEntry(
                report_id=report.id,
                unit_id=unit.id,
                month=month,
                count=data.recognition.count,
                names=data.recognition.names,
            )
        )
    rollups.apply(
        session,
        unit_ids=ancestor_ids(unit),
        month=month,
        delta=_totals(data.admission, data.attendance, data.classes_opened),
    )
    rollups.count_cell(session, unit, month)
    _workflow(session, unit, report, 1, data.admission, data.attendance, data.recognition is not None)
    record(
        session,
        "report.confirm",
        account_id=data.account_id,
        unit_id=unit.id,
        report_id=report.id,
        at=now,
        receipt=report.receipt_code,
        channel=data.channel,
        supersedes=data.supersedes_id,
    )
    session.flush()
    return report, True


def _workflow(
    session: Session,
    unit: Unit,
    report: Report,
    sign: int,
    admission: AdmissionInput | None,
    attendance: AttendanceInput | None,
    recognition: bool,
) -> None:
    """The month's timeliness and review, and the probation clock, follow the report."""
    workflow.record_report(
        session,
        unit,
        report,
        sign=sign,
        admissions=admission.count if admission is not None else 0,
        completed=(attendance.completed or 0) if attendance is not None else 0,
    )
    if (admission is not None and admission.count > 0) or recognition:
        probation.refresh(session, unit)


def recent_reports(session: Session, *, unit: Unit, subtree: bool, limit: int = 10) -> list[Report]:
    """The newest reports of a unit (or of its whole subtree), withdrawn ones included."""
    query = select(Report)
    if subtree:
        query = query.join(Unit, col(Unit.id) == Report.unit_id).where(col(Unit.path).startswith(unit.path))
    else:
        query = query.where(Report.unit_id == unit.id)
    query = query.order_by(col(Report.created_at).desc(), col(Report.id).desc()).limit(limit)
    return list(session.exec(query).all())


def get_by_receipt(session: Session, code: str) -> Report | None:
    wanted = "".join(ch for ch in code.upper() if ch.isalnum())
    if wanted.startswith("BN"):
        wanted = wanted[2:]
    return session.exec(select(Report).where(Report.receipt_code == f"BN-{wanted}")).first()


def stored_facts(
    session: Session, report: Report
) -> tuple[AdmissionInput | None, AttendanceInput | None, int]:
    """What a report stored: its admission entry, its attendance, the classes it opened."""
    entry = session.exec(select(AdmissionEntry).where(AdmissionEntry.report_id == report.id)).first()
    attendance = session.exec(select(ClassAttendance).where(ClassAttendance.report_id == report.id)).first()
    classes = len(session.exec(select(AwarenessClass.id).where(AwarenessClass.report_id == report.id)).all())
    admission = None
    if entry is not None:
        admission = AdmissionInput(
            count=entry.count,
            female=entry.female,
            youth_union=entry.youth_union,
            religious=entry.religious,
            ethnic_minority=entry.ethnic_minority,
            upper_secondary_or_above=entry.upper_secondary_or_above,
            names=entry.names,
            ceremony_date=entry.ceremony_date,
        )
    sent_completed = None if attendance is None else AttendanceInput(attendance.sent, attendance.completed)
    return admission, sent_completed, classes


def withdraw_report(
    session: Session,
    report: Report,
    *,
    account_id: int | None,
    now: datetime | None = None,
    action: str = "report.withdraw",
) -> None:
    """Take a confirmed report out of every figure; the report and its entries stay, marked withdrawn.

    The status changes first, by a conditional UPDATE: of two withdrawals (or corrections) of the same
    report at the same moment, the second waits for the first's row lock, then finds the report no
    longer confirmed and is refused, instead of subtracting it from the rollups a second time.
    """
    now = now or utcnow()
    unit = session.get(Unit, report.unit_id)
    assert unit is not None
    # A locked month refuses before anything is written.
    workflow.check_open(session, unit, report.period_start, report.period_end, account_id=account_id, now=now)
    changed = session.exec(
        update(Report)
        .where(col(Report.id) == report.id, col(Report.status) == ReportStatus.confirmed.value)
        .values(
            status=ReportStatus.withdrawn.value,
            withdrawn_at=now,
            withdrawn_by_account_id=account_id,
            updated_at=now,
        )
    )
    if changed.rowcount != 1:
        raise AlreadyWithdrawn("storage.report.already_withdrawn", receipt=report.receipt_code or "")
    admission, attendance, classes = stored_facts(session, report)
    rollups.apply(
        session,
        unit_ids=ancestor_ids(unit),
        month=month_start(report.period_end),
        delta=_totals(admission, attendance, classes).scaled(-1),
    )
    extra_breakdowns.withdraw(session, report.id or 0, ancestor_ids(unit))
    rollups.count_cell(session, unit, month_start(report.period_end))
    # The row is already updated; keep the loaded object in step without writing it again.
    set_committed_value(report, "status", ReportStatus.withdrawn.value)
    set_committed_value(report, "withdrawn_at", now)
    set_committed_value(report, "withdrawn_by_account_id", account_id)
    set_committed_value(report, "updated_at", now)
    recognized = session.exec(
        select(RecognitionEntry.id).where(RecognitionEntry.report_id == report.id)
    ).first()
    _workflow(session, unit, report, -1, admission, attendance, recognized is not None)
    record(
        session,
        action,
        account_id=account_id,
        unit_id=report.unit_id,
        report_id=report.id,
        at=now,
        receipt=report.receipt_code,
    )
    session.flush()


def correct_report(
    session: Session, old: Report, data: ReportInput, *, account_id: int | None, now: datetime | None = None
) -> Report:
    """Replace a confirmed report: the old one is withdrawn, the new one points to it."""
    check(data)
    if data.idempotency_key:
        existing = find_by_idempotency_key(session, data.idempotency_key)
        if existing is not None:
            return existing
    # Both months must be open before anything changes: a refusal must not leave the old one withdrawn.
    workflow.check_open(
        session, data.unit, data.period_start, data.period_end, account_id=account_id, now=now or utcnow()
    )
    withdraw_report(session, old, account_id=account_id, now=now, action="report.correct")
    new, _ = confirm_report(session, replace(data, supersedes_id=old.id), now=now)
    return new


SMALL_SCOPE_CELLS = 200  # where list_reports stops sorting a subtree's reports and walks the date index


def list_reports(
    session: Session,
    *,
    scope: Unit,
    period: tuple[date, date] | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[Report, Unit]], bool]:
    """Reports of a subtree, newest first, withdrawn ones included; and whether there are more.

    `period`: reports whose own period ends in it (the month they count in). No total count: over a
    province's 200,000 reports counting them cost more than the page itself.
    """
    query = select(Report, Unit).join(Unit, col(Unit.id) == Report.unit_id)
    if scope.cells <= SMALL_SCOPE_CELLS:
        # A commune: its few thousand reports sorted (walking the date index would pass the whole tree's).
        query = query.where(
            col(Report.unit_id).in_(select(Unit.id).where(col(Unit.path).startswith(scope.path)))
        )
    else:
        # A district or more: newest first down the date index, keeping the subtree's (most of them).
        query = query.where(col(Unit.path).startswith(scope.path))
    if period is not None:
        query = query.where(Report.period_end >= period[0], Report.period_end <= period[1])
    rows = session.exec(
        query.order_by(col(Report.created_at).desc(), col(Report.id).desc()).limit(limit + 1).offset(offset)
    ).all()
    return [(report, unit) for report, unit in rows[:limit]], len(rows) > limit


def facts_of(
    session: Session, report_ids: list[int]
) -> dict[int, tuple[AdmissionInput | None, AttendanceInput | None, int]]:
    """`stored_facts` for many reports in three queries."""
    out: dict[int, tuple[AdmissionInput | None, AttendanceInput | None, int]] = {
        rid: (None, None, 0) for rid in report_ids
    }
    if not report_ids:
        return out
    for entry in session.exec(
        select(AdmissionEntry).where(col(AdmissionEntry.report_id).in_(report_ids))
    ).all():
        admission = AdmissionInput(
            count=entry.count,
            female=entry.female,
            youth_union=entry.youth_union,
            religious=entry.religious,
            ethnic_minority=entry.ethnic_minority,
            upper_secondary_or_above=entry.upper_secondary_or_above,
        )
        out[entry.report_id] = (admission, out[entry.report_id][1], out[entry.report_id][2])
    for row in session.exec(
        select(ClassAttendance).where(col(ClassAttendance.report_id).in_(report_ids))
    ).all():
        out[row.report_id] = (
            out[row.report_id][0],
            AttendanceInput(row.sent, row.completed),
            out[row.report_id][2],
        )
    for rid in session.exec(
        select(AwarenessClass.report_id).where(col(AwarenessClass.report_id).in_(report_ids))
    ).all():
        out[rid] = (out[rid][0], out[rid][1], out[rid][2] + 1)
    return out


def replacements(session: Session, report_ids: list[int]) -> dict[int, Report]:
    """For each report id, the correction that replaced it (if any)."""
    if not report_ids:
        return {}
    rows = session.exec(select(Report).where(col(Report.supersedes_id).in_(report_ids))).all()
    return {r.supersedes_id: r for r in rows if r.supersedes_id is not None}
