"""Data for bench_progress: a unit tree, years of reports, the rollups built in bulk, and their check.

Units, reports and entries are inserted in bulk (Core executemany on SQLite, COPY on PostgreSQL)
with the column values storage.units.create_unit and storage.reports.confirm_report write (for units
also is_leaf and the subtree's cell count, as storage.units keeps them; `check_cells` checks them). The
rollups are then built with one INSERT … SELECT … GROUP BY per tree level, bottom-up; a sample of
reports then goes through the real confirm/withdraw/correct code, and `verify` checks every
rollup row of the sampled units against a GROUP BY over the raw rows.
"""

from __future__ import annotations

import random
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text, update
from sqlmodel import Session, SQLModel

from storage import reports as reports_mod
from storage import targets as targets_mod
from storage import units as units_mod
from storage.accounts import CODE_ALPHABET
from storage.clock import month_end
from storage.db import Database
from storage.models import (
    AdmissionEntry,
    AwarenessClass,
    ClassAttendance,
    Metric,
    Report,
    ReportStatus,
    SubtreeMonthRollup,
    Unit,
)
from storage.rollups import TOTAL_FIELDS

TERM_START, TERM_END = date(2020, 7, 1), date(2025, 6, 30)
TERM_SOURCE = "Nghị quyết Đại hội"
# "Today": inside the term, so the term targets are in force and pro-rata applies.
AS_OF = date(2025, 3, 31)
LAST_MONTH = date(2025, 3, 1)
CHANNEL = "telegram"
POOL_BITS = 12  # 4,096 distinct admission entries, drawn by index: no per-row random calls
CHUNK = 20_000


@dataclass(frozen=True)
class Scale:
    name: str
    backend: str  # "sqlite" | "postgresql"
    root_level: str
    root_name: str
    levels: tuple[tuple[str, int], ...]  # (level, how many) for each level below the root
    months: int
    mid_depth: int  # depth of the mid-level unit also measured

    @property
    def cells(self) -> int:
        return self.levels[-1][1]


def months_of(scale: Scale) -> list[date]:
    months = [LAST_MONTH]
    while len(months) < scale.months:
        first = months[-1]
        months.append(date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1))
    return months[::-1]


@dataclass
class Tree:
    root_id: int
    root_path: str
    # id -> (parent_id, path, depth); ~100k units at most, fine in memory
    units: dict[int, tuple[int, str, int]] = field(default_factory=dict)
    by_depth: dict[int, list[int]] = field(default_factory=dict)
    root_cells: int = 1  # cells of the whole tree (the root row is written by create_unit, then fixed)


@dataclass
class LoadStats:
    units: int = 0
    reports: int = 0
    entries: int = 0
    attendance: int = 0
    rollup_rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- the tree


def plan_tree(root: Unit, scale: Scale) -> tuple[Tree, list[dict[str, Any]]]:
    """Children spread evenly over their parents, ids continuing after the root's, breadth first."""
    assert root.id is not None
    tree = Tree(root_id=root.id, root_path=root.path)
    tree.by_depth[0] = [root.id]
    tree.units[root.id] = (0, root.path, 0)
    rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    next_id = root.id + 1
    parents = [root.id]
    for depth, (level, count) in enumerate(scale.levels, start=1):
        per, extra = divmod(count, len(parents))
        kids: list[int] = []
        for i, parent in enumerate(parents):
            parent_path = tree.units[parent][1]
            for _ in range(per + (i < extra)):
                uid, next_id = next_id, next_id + 1
                path = f"{parent_path}{uid}/"  # as create_unit writes it
                tree.units[uid] = (parent, path, depth)
                kids.append(uid)
                rows.append(
                    {
                        "id": uid,
                        "code": f"B{depth}-{uid}",
                        "name": f"{level} {len(kids):05d}",
                        "level": level,
                        "parent_id": parent,
                        "path": path,
                        "created_at": now,
                    }
                )
        tree.by_depth[depth] = kids
        parents = kids
    # What storage.units keeps: a cell has no sub-units; each unit counts the cells of its subtree.
    with_children = {row["parent_id"] for row in rows}
    cells = dict.fromkeys(tree.units, 0)
    for uid, (_, path, _) in tree.units.items():
        if uid not in with_children:
            for ancestor in path.strip("/").split("/"):
                cells[int(ancestor)] += 1
    for row in rows:
        row["is_leaf"], row["cells"] = row["id"] not in with_children, cells[row["id"]]
    tree.root_cells = cells[root.id]
    return tree, rows


# ---------------------------------------------------------------- reports


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def entry_pool(seed: int) -> list[tuple[int, ...]]:
    """Admission entries (count, female, youth_union, religious, ethnic_minority, upper_secondary).

    None = the report did not give that breakdown (early reports often leave some out).
    """
    rng = random.Random(seed)
    odds = {"female": (0.72, 0.92), "youth_union": (0.5, 0.9), "religious": (0.05, 0.85)}
    odds |= {"ethnic_minority": (0.15, 0.85), "upper_secondary_or_above": (0.95, 0.8)}
    pool = []
    for _ in range(1 << POOL_BITS):
        count = rng.choices((0, 1, 2, 3), weights=(45, 35, 15, 5))[0]
        parts = [_binomial(rng, count, p) if rng.random() < known else None for p, known in odds.values()]
        pool.append((count, *parts))
    return pool  # type: ignore[return-value]


def receipt(report_id: int) -> str:
    """A unique receipt code per id, in the alphabet confirm_report draws from."""
    digits = []
    for _ in range(6):
        report_id, rest = divmod(report_id, len(CODE_ALPHABET))
        digits.append(CODE_ALPHABET[rest])
    return "BN-" + "".join(reversed(digits))


@dataclass(frozen=True)
class ReportPlan:
    """Which report is which, as compact arrays: no 6 million Python objects."""

    months: list[date]
    cells: list[int]
    communes: list[int]  # the level above the cells: they report the awareness classes
    first_id: int
    picks: array  # pool index per cell-month, month-major
    pool: list[tuple[int, ...]]
    classes: list[tuple[int, int]]  # (sent, completed) per commune-quarter, in order

    def class_months(self) -> list[int]:
        return [m for m in range(len(self.months)) if m % 3 == 2]

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        """(report id, unit id, month index, pool index ≥ 0 or -1 - class index)."""
        rid = self.first_id
        k = c = 0
        class_months = set(self.class_months())
        for m in range(len(self.months)):
            for cell in self.cells:
                yield rid, cell, m, self.picks[k]
                rid, k = rid + 1, k + 1
            if m in class_months:
                for commune in self.communes:
                    yield rid, commune, m, -1 - c
                    rid, c = rid + 1, c + 1

    @property
    def last_id(self) -> int:
        return self.first_id + len(self.picks) + len(self.classes) - 1


def plan_reports(tree: Tree, scale: Scale, first_id: int, seed: int) -> ReportPlan:
    rng = random.Random(seed)
    months = months_of(scale)
    cells = tree.by_depth[len(scale.levels)]
    communes = tree.by_depth[len(scale.levels) - 1]
    n = len(cells) * len(months)
    picks = array("H")
    picks.frombytes(rng.randbytes(2 * n))
    mask = (1 << POOL_BITS) - 1
    picks = array("H", (p & mask for p in picks))
    quarters = sum(1 for m in range(len(months)) if m % 3 == 2)
    classes = []
    for _ in range(quarters * len(communes)):
        sent = rng.randint(15, 40)
        classes.append((sent, sent - rng.randint(0, 5)))
    return ReportPlan(months, cells, communes, first_id, picks, entry_pool(seed), classes)


def _period(month: date) -> tuple[date, date, datetime]:
    end = month_end(month)
    created = datetime(end.year, end.month, end.day, 3, tzinfo=UTC) + timedelta(days=1)
    return month, end, created


def _raw_text(month: date, pool_entry: tuple[int, ...] | None, klass: tuple[int, int] | None) -> str:
    if klass is not None:
        sent, completed = klass
        return (
            f"Tháng {month.month}/{month.year} mở 1 lớp nhận thức về Đảng, cử {sent}, hoàn thành {completed}"
        )
    assert pool_entry is not None
    return f"Tháng {month.month}/{month.year} kết nạp {pool_entry[0]} đảng viên"


# Rows as dicts (SQLite, through SQLAlchemy's own type processing) ---------------------------


def report_dicts(plan: ReportPlan) -> Iterator[dict[str, Any]]:
    periods = [_period(m) for m in plan.months]
    for rid, unit_id, m, pick in plan:
        start, end, created = periods[m]
        entry, klass = (plan.pool[pick], None) if pick >= 0 else (None, plan.classes[-1 - pick])
        yield {
            "id": rid,
            "receipt_code": receipt(rid),
            "unit_id": unit_id,
            "account_id": None,
            "channel": CHANNEL,
            "raw_text": _raw_text(start, entry, klass),
            "period_start": start,
            "period_end": end,
            "status": ReportStatus.confirmed.value,
            "idempotency_key": None,
            "supersedes_id": None,
            "created_at": created,
            "updated_at": created,
        }


BREAKDOWN_COLUMNS = ("female", "youth_union", "religious", "ethnic_minority", "upper_secondary_or_above")


def entry_dicts(plan: ReportPlan) -> Iterator[dict[str, Any]]:
    eid = 0
    for rid, unit_id, m, pick in plan:
        if pick < 0:
            continue
        eid += 1
        count, *parts = plan.pool[pick]
        row = {"id": eid, "report_id": rid, "unit_id": unit_id, "month": plan.months[m], "count": count}
        row.update(zip(BREAKDOWN_COLUMNS, parts, strict=True))
        row["names"] = None
        yield row


def _attendance(plan: ReportPlan) -> Iterator[dict[str, Any]]:
    aid = 0
    for rid, unit_id, m, pick in plan:
        if pick >= 0:
            continue
        aid += 1
        sent, completed = plan.classes[-1 - pick]
        yield {
            "id": aid,
            "report_id": rid,
            "unit_id": unit_id,
            "month": plan.months[m],
            "sent": sent,
            "completed": completed,
        }


def _classes(plan: ReportPlan) -> Iterator[dict[str, Any]]:
    cid = 0
    for rid, unit_id, m, pick in plan:
        if pick >= 0:
            continue
        cid += 1
        yield {"id": cid, "report_id": rid, "unit_id": unit_id, "month": plan.months[m], "title": ""}


# Rows as COPY text (PostgreSQL) ---------------------------------------------------------------


def _copy_value(value: int | None) -> str:
    return "\\N" if value is None else str(value)


def report_copy(plan: ReportPlan) -> Iterator[str]:
    periods = [(s.isoformat(), e.isoformat(), c.isoformat(sep=" ")) for s, e, c in map(_period, plan.months)]
    for rid, unit_id, m, pick in plan:
        start, end, created = periods[m]
        entry, klass = (plan.pool[pick], None) if pick >= 0 else (None, plan.classes[-1 - pick])
        raw = _raw_text(plan.months[m], entry, klass)
        yield (
            f"{rid}\t{receipt(rid)}\t{unit_id}\t{CHANNEL}\t{raw}\t{start}\t{end}\t"
            f"{ReportStatus.confirmed.value}\t{created}\t{created}\n"
        )


REPORT_COPY_COLUMNS = (
    "id, receipt_code, unit_id, channel, raw_text, period_start, period_end, status, created_at, updated_at"
)


def entry_copy(plan: ReportPlan) -> Iterator[str]:
    tails = ["\t".join(_copy_value(v) for v in entry) + "\t\\N\n" for entry in plan.pool]
    months = [m.isoformat() for m in plan.months]
    eid = 0
    for rid, unit_id, m, pick in plan:
        if pick >= 0:
            eid += 1
            yield f"{eid}\t{rid}\t{unit_id}\t{months[m]}\t{tails[pick]}"


ENTRY_COPY_COLUMNS = "id, report_id, unit_id, month, count, " + ", ".join(BREAKDOWN_COLUMNS) + ", names"


def units_copy(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for r in rows:
        created = r["created_at"].isoformat(sep=" ")
        leaf = "t" if r["is_leaf"] else "f"
        yield (
            f"{r['id']}\t{r['code']}\t{r['name']}\t{r['level']}\t{r['parent_id']}\t{r['path']}\t"
            f"{leaf}\t{r['cells']}\t{created}\n"
        )


UNIT_COPY_COLUMNS = "id, code, name, level, parent_id, path, is_leaf, cells, created_at"


def insert_units(connection: Connection, tree: Tree, rows: list[dict[str, Any]], *, pg: bool) -> int:
    """The planned units in bulk, then the root (made by create_unit before it had units) fixed."""
    n = (
        _copy_pg(connection, "unit", UNIT_COPY_COLUMNS, units_copy(rows))
        if pg
        else _insert_sqlite(connection, Unit, rows)
    )
    connection.execute(
        update(Unit.__table__)  # type: ignore[attr-defined]
        .where(Unit.__table__.c.id == tree.root_id)  # type: ignore[attr-defined]
        .values(is_leaf=not rows, cells=tree.root_cells)
    )
    return n


def dicts_copy(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    for r in rows:
        yield "\t".join("\\N" if r[c] is None else str(r[c]) for c in columns) + "\n"


# ---------------------------------------------------------------- loading


def _chunks(rows: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert_sqlite(connection: Connection, model: type[SQLModel], rows: Iterable[dict[str, Any]]) -> int:
    table = model.__table__  # type: ignore[attr-defined]
    n = 0
    for batch in _chunks(rows):
        connection.execute(table.insert(), batch)
        n += len(batch)
    return n


def _copy_pg(connection: Connection, table: str, columns: str, lines: Iterable[str]) -> int:
    n = 0
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for batch in _chunks(lines, 50_000):
            copy.write("".join(batch))
            n += len(batch)
    return n


def load(database: Database, scale: Scale, *, seed: int = 2025, log: Callable[[str], None] = print) -> Loaded:
    """Create the tree, the targets, the reports and the rollups; returns the tree."""
    stats = LoadStats()
    pg = scale.backend == "postgresql"
    t0 = time.perf_counter()
    with database.session() as session:
        root = units_mod.create_unit(
            session, code="BENCH", name=scale.root_name, level=scale.root_level, parent=None
        )
    tree, unit_rows = plan_tree(root, scale)
    with database.engine.begin() as connection:
        stats.units = 1 + insert_units(connection, tree, unit_rows, pg=pg)
    del unit_rows
    stats.seconds["units"] = time.perf_counter() - t0
    log(f"  {stats.units:,} units in {stats.seconds['units']:.1f} s")

    t0 = time.perf_counter()
    with database.session() as session:
        set_targets(session, session.get_one(Unit, tree.root_id), tree, scale)
    plan = plan_reports(tree, scale, first_id=1, seed=seed)
    with database.engine.begin() as connection:
        if pg:
            stats.reports = _copy_pg(connection, "report", REPORT_COPY_COLUMNS, report_copy(plan))
            stats.entries = _copy_pg(connection, "admissionentry", ENTRY_COPY_COLUMNS, entry_copy(plan))
            cols: tuple[str, ...] = ("id", "report_id", "unit_id", "month", "sent", "completed")
            stats.attendance = _copy_pg(
                connection, "classattendance", ", ".join(cols), dicts_copy(_attendance(plan), cols)
            )
            cols = ("id", "report_id", "unit_id", "month", "title")
            _copy_pg(connection, "awarenessclass", ", ".join(cols), dicts_copy(_classes(plan), cols))
            for table in ("unit", "report", "admissionentry", "classattendance", "awarenessclass"):
                # ids were given explicitly: later inserts (confirm_report) must not collide
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        else:
            stats.reports = _insert_sqlite(connection, Report, report_dicts(plan))
            stats.entries = _insert_sqlite(connection, AdmissionEntry, entry_dicts(plan))
            stats.attendance = _insert_sqlite(connection, ClassAttendance, _attendance(plan))
            _insert_sqlite(connection, AwarenessClass, _classes(plan))
    stats.seconds["reports"] = time.perf_counter() - t0
    log(
        f"  {stats.reports:,} reports, {stats.entries:,} admission entries, {stats.attendance:,} class "
        f"attendances in {stats.seconds['reports']:.1f} s"
    )

    t0 = time.perf_counter()
    with database.engine.begin() as connection:
        build_rollups(connection, max_depth=len(scale.levels), pg=pg)
    stats.seconds["rollups"] = time.perf_counter() - t0
    log(f"  rollups built in bulk (INSERT … SELECT … GROUP BY per level) in {stats.seconds['rollups']:.1f} s")

    t0 = time.perf_counter()
    settle(database)
    stats.seconds["settle"] = time.perf_counter() - t0
    return Loaded(tree, stats, plan.last_id)


@dataclass
class Loaded:
    tree: Tree
    stats: LoadStats
    last_report_id: int


def settle(database: Database) -> None:
    """What a running server would have done by now: statistics (PostgreSQL), a checkpoint (SQLite)."""
    if database.engine.dialect.name == "postgresql":
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (ANALYZE)")
    else:
        # outside a transaction (the engine's "begin" hook would open one): SQLite refuses it inside
        raw = database.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()


def set_targets(session: Session, root: Unit, tree: Tree, scale: Scale) -> None:
    """Term targets for the root and its children, through storage.targets (as the CLI sets them)."""
    rng = random.Random(7)
    cells_per_child = scale.cells / len(tree.by_depth[1])
    # about what the reports will bring over the term (0.8 a cell-month), ±25 %
    total = 0
    for kid_id in tree.by_depth[1]:
        kid = session.get(Unit, kid_id)
        assert kid is not None
        value = max(1, round(cells_per_child * 60 * 0.8 * rng.uniform(0.75, 1.25)))
        total += value
        targets_mod.set_target(
            session, unit=kid, metric=Metric.admissions, start=TERM_START, end=TERM_END, value=value,
            source=TERM_SOURCE,
        )  # fmt: skip
    targets_mod.set_target(
        session, unit=root, metric=Metric.admissions, start=TERM_START, end=TERM_END, value=total,
        source=TERM_SOURCE,
    )  # fmt: skip


# ---------------------------------------------------------------- rollups in bulk


def _month_of_period_end(pg: bool) -> str:
    return "CAST(date_trunc('month', r.period_end) AS date)" if pg else "date(r.period_end, 'start of month')"


def _select(unit: str, month: str, values: dict[str, str], source: str) -> str:
    columns = ", ".join(f"{values.get(name, '0')} AS {name}" for name in TOTAL_FIELDS)
    return f"SELECT {unit} AS unit_id, {month} AS month, {columns} FROM {source}"


def own_totals_sql(pg: bool) -> str:
    """Per (unit, month), what the unit's own confirmed reports add (what confirm_report's `_totals` adds)."""
    confirmed = f"JOIN report r ON r.id = x.report_id AND r.status = '{ReportStatus.confirmed.value}'"
    admissions = {"admissions": "x.count"}
    for name in BREAKDOWN_COLUMNS:
        admissions[name] = f"COALESCE(x.{name}, 0)"
        admissions[f"{name}_known"] = f"CASE WHEN x.{name} IS NULL THEN 0 ELSE x.count END"
    parts = [
        _select(
            "r.unit_id",
            _month_of_period_end(pg),
            {"reports": "1"},
            f"report r WHERE r.status = '{ReportStatus.confirmed.value}'",
        ),
        _select("x.unit_id", "x.month", admissions, f"admissionentry x {confirmed}"),
        _select("x.unit_id", "x.month", {"classes_opened": "1"}, f"awarenessclass x {confirmed}"),
        _select(
            "x.unit_id",
            "x.month",
            {"sent": "COALESCE(x.sent, 0)", "completed": "COALESCE(x.completed, 0)"},
            f"classattendance x {confirmed}",
        ),
        # A cell (a unit without active sub-units) counts once in a month it reported in.
        _select(
            "d.unit_id",
            "d.month",
            {"cells_reported": "1"},
            f"(SELECT DISTINCT r.unit_id, {_month_of_period_end(pg)} AS month FROM report r"
            f" WHERE r.status = '{ReportStatus.confirmed.value}' AND NOT EXISTS (SELECT 1 FROM unit c"
            f" WHERE c.parent_id = r.unit_id AND c.merged_into_id IS NULL)) d",
        ),
    ]
    return "\nUNION ALL\n".join(parts)


def _sums(prefix: str = "") -> str:
    return ", ".join(f"SUM({prefix}{name})" for name in TOTAL_FIELDS)


def build_rollups(connection: Connection, *, max_depth: int, pg: bool) -> None:
    """Bottom-up: a unit's rows = its own reports' totals + its children's rows, one level at a time."""
    fields_ = ", ".join(TOTAL_FIELDS)
    numbers = ", ".join(f"{name} BIGINT" for name in TOTAL_FIELDS)
    connection.exec_driver_sql(f"CREATE TEMP TABLE bench_own (unit_id INTEGER, month DATE, {numbers})")
    connection.exec_driver_sql(
        f"INSERT INTO bench_own (unit_id, month, {fields_}) "
        f"SELECT unit_id, month, {_sums()} FROM ({own_totals_sql(pg)}) s GROUP BY unit_id, month"
    )
    # depth from the materialised path: "/1/4/17/" has 4 slashes, depth 2
    connection.exec_driver_sql(
        "CREATE TEMP TABLE bench_depth (id INTEGER PRIMARY KEY, parent_id INTEGER, depth INTEGER)"
    )
    connection.exec_driver_sql(
        "INSERT INTO bench_depth SELECT id, parent_id, "
        "LENGTH(path) - LENGTH(REPLACE(path, '/', '')) - 2 FROM unit"
    )
    if pg:
        connection.exec_driver_sql("ANALYZE bench_own")
        connection.exec_driver_sql("ANALYZE bench_depth")
    own_fields = ", ".join(f"o.{name}" for name in TOTAL_FIELDS)
    child_fields = ", ".join(f"c.{name}" for name in TOTAL_FIELDS)
    for depth in range(max_depth, -1, -1):
        connection.exec_driver_sql(
            f"INSERT INTO subtreemonthrollup (unit_id, month, {fields_}) "
            f"SELECT unit_id, month, {_sums()} FROM ("
            f" SELECT o.unit_id, o.month, {own_fields} FROM bench_own o"
            f"  JOIN bench_depth d ON d.id = o.unit_id WHERE d.depth = {depth}"
            f" UNION ALL"
            f" SELECT d.parent_id, c.month, {child_fields} FROM subtreemonthrollup c"
            f"  JOIN bench_depth d ON d.id = c.unit_id WHERE d.depth = {depth + 1}"
            f") s GROUP BY unit_id, month"
        )
    connection.exec_driver_sql("DROP TABLE bench_own")
    connection.exec_driver_sql("DROP TABLE bench_depth")


# ---------------------------------------------------------------- the real code path, then the check


@dataclass
class SampleResult:
    confirmed: int = 0
    withdrawn: int = 0
    corrected: int = 0
    touched: set[int] = field(default_factory=set)


def run_sample(
    database: Database, tree: Tree, scale: Scale, plan_last_id: int, *, n: int = 300, seed: int = 11
) -> SampleResult:
    """Reports through confirm_report, withdraw_report and correct_report: the incremental rollups."""
    rng = random.Random(seed)
    months = months_of(scale)
    depth = len(scale.levels)
    cells, communes = tree.by_depth[depth], tree.by_depth[depth - 1]
    result = SampleResult()

    def admission() -> reports_mod.AdmissionInput:
        count = rng.randint(0, 4)
        parts: dict[str, Any] = {
            name: (rng.randint(0, count) if rng.random() < 0.8 else None) for name in BREAKDOWN_COLUMNS
        }
        return reports_mod.AdmissionInput(count, **parts)

    def report_input(i: int, unit: Unit) -> reports_mod.ReportInput:
        month = rng.choice(months)
        end = month_end(month) if rng.random() < 0.6 else month + timedelta(days=rng.randint(0, 27))
        start = end - timedelta(days=rng.choice((0, 6, 30)))  # a day, a week, or across two months
        attendance = None
        if rng.random() < 0.2:
            sent = rng.randint(5, 40)
            attendance = reports_mod.AttendanceInput(sent, rng.choice((None, sent - rng.randint(0, 5))))
        return reports_mod.ReportInput(
            unit=unit,
            channel="bench",
            raw_text=f"mẫu {i}",
            period_start=start,
            period_end=end,
            admission=admission() if attendance is None or rng.random() < 0.5 else None,
            attendance=attendance,
            classes_opened=1 if attendance is not None and rng.random() < 0.5 else 0,
            idempotency_key=f"draft:bench-{i}",
        )

    for batch in range(0, n, 25):
        with database.session() as session:
            for i in range(batch, min(n, batch + 25)):
                unit = session.get(Unit, rng.choice(cells if rng.random() < 0.85 else communes))
                assert unit is not None
                data = report_input(i, unit)
                _, created = reports_mod.confirm_report(session, data)
                assert created
                result.confirmed += 1
                result.touched.add(unit.id or 0)
            # confirming the same draft again stores nothing
            assert not reports_mod.confirm_report(session, data)[1]
    with database.session() as session:
        for i in range(20):
            report = session.get(Report, rng.randint(1, plan_last_id))
            assert report is not None
            if report.status != ReportStatus.confirmed.value:
                continue
            unit = session.get(Unit, report.unit_id)
            assert unit is not None
            result.touched.add(unit.id or 0)
            if i % 2:
                reports_mod.withdraw_report(session, report, account_id=None)
                result.withdrawn += 1
            else:
                reports_mod.correct_report(session, report, report_input(n + i, unit), account_id=None)
                result.corrected += 1
    return result


def raw_rows_sql(scope_ids: list[int], pg: bool) -> str:
    """Per (scope unit, month): a GROUP BY over the raw rows of the scope's subtree (by path)."""
    ids = ", ".join(str(i) for i in scope_ids)
    return (
        f"SELECT m.scope_id, s.month, {_sums('s.')} FROM ("
        f" SELECT sc.id AS scope_id, u.id AS unit_id FROM unit sc"
        f"  JOIN unit u ON u.path LIKE (sc.path || '%') WHERE sc.id IN ({ids})"
        f") m JOIN ({own_totals_sql(pg)}) s ON s.unit_id = m.unit_id "
        f"GROUP BY m.scope_id, s.month"
    )


def verify(database: Database, tree: Tree, touched: set[int], *, seed: int = 5) -> tuple[int, int]:
    """Every rollup row of the scopes equals the raw GROUP BY; returns (scopes, rows compared)."""
    rng = random.Random(seed)
    scope: set[int] = {tree.root_id, *tree.by_depth[1]}
    for uid in rng.sample(sorted(touched), min(40, len(touched))):
        scope.update(int(part) for part in tree.units[uid][1].strip("/").split("/"))
    deepest = max(tree.by_depth)
    for depth in range(2, deepest + 1):
        scope.update(rng.sample(tree.by_depth[depth], min(10, len(tree.by_depth[depth]))))
    ids = sorted(scope)
    pg = database.engine.dialect.name == "postgresql"
    table = SubtreeMonthRollup.__table__  # type: ignore[attr-defined]

    def key(row: Any) -> tuple[int, str]:
        return int(row[0]), str(row[1])[:10]

    with database.session() as session:
        raw = {key(r): tuple(int(v) for v in r[2:]) for r in session.execute(text(raw_rows_sql(ids, pg)))}
        stored_rows = session.execute(
            table.select().where(table.c.unit_id.in_(ids)).order_by(table.c.unit_id, table.c.month)
        )
        stored = {key(r): tuple(int(getattr(r, f)) for f in TOTAL_FIELDS) for r in stored_rows}
    # withdrawing the only report of a month leaves a row of zeros: no figure either way
    raw = {k: v for k, v in raw.items() if any(v)}
    stored = {k: v for k, v in stored.items() if any(v)}
    if raw != stored:
        diff = sorted(k for k in raw.keys() | stored.keys() if raw.get(k) != stored.get(k))[:5]
        details = "; ".join(f"{k}: rollup {stored.get(k)} vs raw {raw.get(k)}" for k in diff)
        raise AssertionError(f"rollups differ from the raw GROUP BY: {details}")
    return len(ids), len(stored)


def check_cells(database: Database) -> int:
    """Units whose is_leaf or cell count is not what storage.units would keep (counted afresh)."""
    with database.session() as session:
        rows = session.execute(
            text("SELECT id, parent_id, path, is_leaf, merged_into_id, cells FROM unit")
        ).all()
    with_active_children = {row.parent_id for row in rows if row.merged_into_id is None}
    counts = {row.id: 0 for row in rows}
    for row in rows:
        if row.id not in with_active_children and row.merged_into_id is None:
            for ancestor in row.path.strip("/").split("/"):
                counts[int(ancestor)] += 1
    return sum(
        1
        for row in rows
        if bool(row.is_leaf) != (row.id not in with_active_children) or row.cells != counts[row.id]
    )


def check_paths(database: Database) -> int:
    """Every unit's path is its parent's path + its id, as create_unit writes it."""
    with database.session() as session:
        bad = session.execute(
            text(
                "SELECT COUNT(*) FROM unit u LEFT JOIN unit p ON p.id = u.parent_id "
                "WHERE u.path <> COALESCE(p.path, '/') || CAST(u.id AS VARCHAR(20)) || '/'"
            )
        ).scalar_one()
    return int(bad)
