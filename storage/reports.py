"""Confirmed reports: the only way facts enter the database."""

import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage import rollups
from storage.accounts import CODE_ALPHABET
from storage.audit import record
from storage.breakdowns import BREAKDOWN_FIELDS
from storage.clock import month_start, utcnow
from storage.errors import InvalidInput
from storage.models import (
    AdmissionEntry,
    AwarenessClass,
    ClassAttendance,
    Report,
    ReportStatus,
    Unit,
)
from storage.units import ancestor_ids


@dataclass(frozen=True)
class AdmissionInput:
    count: int
    female: int | None = None
    youth_union: int | None = None
    religious: int | None = None
    ethnic_minority: int | None = None
    upper_secondary_or_above: int | None = None
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


def check(report: ReportInput) -> None:
    if report.period_end < report.period_start:
        raise InvalidInput("Kỳ báo cáo không hợp lệ: ngày kết thúc trước ngày bắt đầu.")
    if report.admission is None and report.attendance is None and report.classes_opened == 0:
        raise InvalidInput("Báo cáo không có số liệu nào.")
    admission = report.admission
    if admission is not None:
        if admission.count < 0:
            raise InvalidInput("Số đảng viên kết nạp không được âm.")
        for name in BREAKDOWN_FIELDS:
            value = getattr(admission, name)
            if value is not None and not 0 <= value <= admission.count:
                raise InvalidInput("Số trong phần chi tiết không được lớn hơn số đảng viên kết nạp.")
    attendance = report.attendance
    if attendance is not None:
        for value in (attendance.sent, attendance.completed):
            if value is not None and value < 0:
                raise InvalidInput("Số quần chúng không được âm.")


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
        session.add(
            AdmissionEntry(
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
            )
        )
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
    rollups.apply(
        session,
        unit_ids=ancestor_ids(unit),
        month=month,
        delta=_totals(data.admission, data.attendance, data.classes_opened),
    )
    rollups.count_cell(session, unit, month)
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
    """Take a confirmed report out of every figure; the report and its entries stay, marked withdrawn."""
    if report.status == ReportStatus.withdrawn:
        raise InvalidInput(f"Báo cáo {report.receipt_code} đã được rút trước đó.")
    now = now or utcnow()
    unit = session.get(Unit, report.unit_id)
    assert unit is not None
    admission, attendance, classes = stored_facts(session, report)
    rollups.apply(
        session,
        unit_ids=ancestor_ids(unit),
        month=month_start(report.period_end),
        delta=_totals(admission, attendance, classes).scaled(-1),
    )
    rollups.count_cell(session, unit, month_start(report.period_end))
    report.status = ReportStatus.withdrawn
    report.withdrawn_at, report.withdrawn_by_account_id, report.updated_at = now, account_id, now
    session.add(report)
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
    withdraw_report(session, old, account_id=account_id, now=now, action="report.correct")
    new, _ = confirm_report(session, replace(data, supersedes_id=old.id), now=now)
    return new
