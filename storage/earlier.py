"""Earlier reports of a unit for a period: what a new report repeats or contradicts."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.clock import month_start
from storage.models import AdmissionEntry, Report, ReportStatus
from storage.reports import AdmissionInput, AttendanceInput, stored_facts


@dataclass(frozen=True)
class EarlierReport:
    report: Report
    admission: AdmissionInput | None
    attendance: AttendanceInput | None


def earlier_reports(
    session: Session, unit_id: int, start: date, end: date, *, exclude: int | None = None, limit: int = 20
) -> list[EarlierReport]:
    """Confirmed reports of the unit whose period overlaps [start, end], oldest first."""
    query = select(Report).where(
        Report.unit_id == unit_id,
        Report.status == ReportStatus.confirmed,
        col(Report.period_start) <= end,
        col(Report.period_end) >= start,
    )
    if exclude is not None:
        query = query.where(Report.id != exclude)
    rows = session.exec(query.order_by(col(Report.created_at), col(Report.id)).limit(limit)).all()
    out = []
    for report in rows:
        admission, attendance, _ = stored_facts(session, report)
        out.append(EarlierReport(report, admission, attendance))
    return out


def admitted_in(session: Session, unit_id: int, start: date, end: date, *, exclude: int | None = None) -> int:
    """Admissions the unit already reported for the months of [start, end] (confirmed reports)."""
    query = (
        select(func.coalesce(func.sum(AdmissionEntry.count), 0))
        .join(Report, col(Report.id) == AdmissionEntry.report_id)
        .where(
            AdmissionEntry.unit_id == unit_id,
            col(AdmissionEntry.month) >= month_start(start),
            col(AdmissionEntry.month) <= month_start(end),
            Report.status == ReportStatus.confirmed,
        )
    )
    if exclude is not None:
        query = query.where(Report.id != exclude)
    return int(session.exec(query).one())


def reports_of_draft(session: Session, key: str) -> list[Report]:
    """The reports stored from one draft: its key, and key:N for its further facts, in that order."""
    query = select(Report).where(
        (col(Report.idempotency_key) == key) | col(Report.idempotency_key).startswith(key + ":")
    )
    return list(session.exec(query.order_by(col(Report.id))).all())
