"""The rollups recomputed from the raw entries of confirmed reports, to compare with the stored ones.

Used by the tests and by bench/bench_chaos.py: after concurrent withdrawals and corrections the stored
`subtreemonthrollup` rows must equal what the entries add up to, unit by unit and month by month; and
the `breakdownrollup` rows (the breakdowns a tree adds to the five) what the `admissionbreakdown` rows
of those entries add up to, unit by unit, month by month and key by key.
"""

from collections import defaultdict
from dataclasses import asdict

from sqlmodel import Session, col, select

from storage.breakdowns import BREAKDOWN_FIELDS
from storage.clock import month_start
from storage.models import (
    AdmissionBreakdown,
    AdmissionEntry,
    AwarenessClass,
    BreakdownRollup,
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


def recomputed_extra(session: Session) -> dict[tuple[int, object, str], tuple[int, int]]:
    """(unit id, month, key) -> (value, known) of the unit's whole subtree, from confirmed reports."""
    units = {u.id: u for u in session.exec(select(Unit)).all()}
    rows = session.exec(
        select(AdmissionEntry, AdmissionBreakdown)
        .join(AdmissionBreakdown, col(AdmissionBreakdown.entry_id) == AdmissionEntry.id)
        .join(Report, col(Report.id) == AdmissionEntry.report_id)
        .where(Report.status == ReportStatus.confirmed.value)
    ).all()
    out: dict[tuple[int, object, str], list[int]] = defaultdict(lambda: [0, 0])
    for entry, figure in rows:
        for ancestor in units[entry.unit_id].path.strip("/").split("/"):
            pair = out[int(ancestor), entry.month, figure.key]
            pair[0] += figure.value
            pair[1] += entry.count
    return {key: (v, n) for key, (v, n) in out.items() if v or n}


def stored_extra(session: Session) -> dict[tuple[int, object, str], tuple[int, int]]:
    return {
        (row.unit_id, row.month, row.key): (row.value, row.known)
        for row in session.exec(select(BreakdownRollup)).all()
        if row.value or row.known
    }


def differences(session: Session) -> list[str]:
    """Every (unit, month, figure) where the stored rollup differs from the entries; empty when right."""
    want, have = recomputed(session), stored(session)
    out = []
    want_extra, have_extra = recomputed_extra(session), stored_extra(session)
    for extra_key in sorted(set(want_extra) | set(have_extra), key=str):
        counted, rolled = want_extra.get(extra_key, (0, 0)), have_extra.get(extra_key, (0, 0))
        if counted != rolled:
            unit_id, month, name = extra_key
            out.append(f"unit {unit_id} {month} {name} (value, known): entries {counted}, rollup {rolled}")
    for key in sorted(set(want) | set(have), key=str):
        zero = dict.fromkeys(asdict(Totals()), 0)
        a, b = want.get(key, zero), have.get(key, zero)
        for name in a:
            if a[name] != b[name]:
                out.append(f"unit {key[0]} {key[1]} {name}: entries {a[name]}, rollup {b[name]}")
    return out
