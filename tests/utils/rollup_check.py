"""The rollups recomputed from the raw entries of confirmed reports, to compare with the stored ones.

Used by the tests and by bench/bench_chaos.py: after concurrent withdrawals and corrections the stored
`subtreemonthrollup` rows must equal what the entries add up to, unit by unit and month by month.
"""

from collections import defaultdict
from dataclasses import asdict

from sqlmodel import Session, select

from storage.breakdowns import BREAKDOWN_FIELDS
from storage.clock import month_start
from storage.models import (
    AdmissionEntry,
    AwarenessClass,
    ClassAttendance,
    Report,
    ReportStatus,
    SubtreeMonthRollup,
    Unit,
)
from storage.rollups import Totals

BREAKDOWNS = BREAKDOWN_FIELDS


def recomputed(session: Session) -> dict[tuple[int, object], dict[str, int]]:
    """(unit id, month) -> totals of the unit's whole subtree, from confirmed reports only."""
    units = {u.id: u for u in session.exec(select(Unit)).all()}
    confirmed = {
        r.id: r
        for r in session.exec(select(Report).where(Report.status == ReportStatus.confirmed.value)).all()
    }
    own: dict[tuple[int, object], Totals] = defaultdict(Totals)
    for report in confirmed.values():
        own[report.unit_id, month_start(report.period_end)].reports += 1
    for entry in session.exec(select(AdmissionEntry)).all():
        if entry.report_id not in confirmed:
            continue
        totals = own[entry.unit_id, entry.month]
        totals.admissions += entry.count
        for name in BREAKDOWNS:
            value = getattr(entry, name)
            if value is not None:
                setattr(totals, name, getattr(totals, name) + value)
                setattr(totals, f"{name}_known", getattr(totals, f"{name}_known") + entry.count)
    for attendance in session.exec(select(ClassAttendance)).all():
        if attendance.report_id in confirmed:
            totals = own[attendance.unit_id, attendance.month]
            totals.sent += attendance.sent or 0
            totals.completed += attendance.completed or 0
    for opened in session.exec(select(AwarenessClass)).all():
        if opened.report_id in confirmed:
            own[opened.unit_id, opened.month].classes_opened += 1
    for (unit_id, _month), totals in own.items():
        if totals.reports and units[unit_id].is_leaf:
            totals.cells_reported = 1
    subtree: dict[tuple[int, object], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(asdict(Totals()), 0)
    )
    for (unit_id, month), totals in own.items():
        for ancestor in units[unit_id].path.strip("/").split("/"):
            row = subtree[int(ancestor), month]
            for name, value in asdict(totals).items():
                row[name] += value
    return {key: row for key, row in subtree.items() if any(row.values())}


def stored(session: Session) -> dict[tuple[int, object], dict[str, int]]:
    out: dict[tuple[int, object], dict[str, int]] = {}
    for row in session.exec(select(SubtreeMonthRollup)).all():
        values = {name: getattr(row, name) for name in asdict(Totals())}
        if any(values.values()):
            out[row.unit_id, row.month] = values
    return out


def differences(session: Session) -> list[str]:
    """Every (unit, month, figure) where the stored rollup differs from the entries; empty when right."""
    want, have = recomputed(session), stored(session)
    out = []
    for key in sorted(set(want) | set(have), key=str):
        zero = dict.fromkeys(asdict(Totals()), 0)
        a, b = want.get(key, zero), have.get(key, zero)
        for name in a:
            if a[name] != b[name]:
                out.append(f"unit {key[0]} {key[1]} {name}: entries {a[name]}, rollup {b[name]}")
    return out
