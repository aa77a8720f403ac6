"""Benchmark for /tiendo: progress from the monthly rollups vs a plain GROUP BY over the raw entries.

    .venv/bin/python -m bench.bench_progress [--scale province|national|both] [--quick]

province: a root, 100 communes, 3,000 cells, 5 years of monthly reports, on SQLite (WAL, as the
app runs it). national: a root, 34 provinces, 3,334 communes, 100,000 cells, 6,000,000 admission
entries, on PostgreSQL (BENCH_POSTGRES_URL or TEST_POSTGRES_URL, else a throw-away local server).

A = storage.progress.unit_progress + handlers.progress_text.render.
A + completeness = A plus storage.progress.completeness (the "not reported this month" line), what
    the chat handler's /tiendo runs.
B = the same figures from a plain GROUP BY over admissionentry/classattendance/awarenessclass
    joined to unit by path (what one would write without rollups).
Both run on the same database in the same run; their figures are asserted equal.
Goals for the root: A and A + completeness p95 <= 50 ms (province) / 300 ms (national), and B/A at
p95 >= 10x.
The Markdown table is printed and written to bench/results/progress.md (not with --quick).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Date, bindparam, text

from bench import _goals
from bench._goals import Goal
from bench._machine import describe
from bench._progress_data import (
    AS_OF,
    Loaded,
    Scale,
    check_cells,
    check_paths,
    load,
    run_sample,
    settle,
    verify,
)
from bench._progress_pg import postgres_database, server_bin
from handlers import progress_text
from storage import progress as progress_mod
from storage.clock import month_start
from storage.db import Database
from storage.models import Metric, ReportStatus, Unit
from storage.rollups import TOTAL_FIELDS

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "progress.md"
THRESHOLD = 1.0  # the default LAGGING_THRESHOLD
GOAL_MS = {"province": 50.0, "national": 300.0}
GOAL_SPEEDUP = 10.0
HEADER_RULE = "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"
# What /tiendo shows from the totals (cells_reported feeds the completeness line, measured apart).
SHOWN = tuple(name for name in TOTAL_FIELDS if name not in ("reports", "cells_reported"))

SCALES = {
    "province": Scale(
        "province", "sqlite", "Đảng bộ tỉnh", "Đảng bộ tỉnh Bench",
        (("Đảng bộ xã", 100), ("Chi bộ", 3_000)), months=60, mid_depth=1,
    ),
    "national": Scale(
        "national", "postgresql", "Trung ương", "Toàn quốc (bench)",
        (("Đảng bộ tỉnh", 34), ("Đảng bộ xã", 3_334), ("Chi bộ", 100_000)), months=60, mid_depth=1,
    ),
}  # fmt: skip
QUICK = {
    "province": Scale(
        "province (quick)", "sqlite", "Đảng bộ tỉnh", "Đảng bộ tỉnh Bench",
        (("Đảng bộ xã", 10), ("Chi bộ", 300)), months=12, mid_depth=1,
    ),
    "national": Scale(
        "national (quick)", "postgresql", "Trung ương", "Toàn quốc (bench)",
        (("Đảng bộ tỉnh", 34), ("Đảng bộ xã", 170), ("Chi bộ", 1_000)), months=12, mid_depth=1,
    ),
}  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- A: what /tiendo does


def run_a(database: Database, unit_id: int) -> tuple[Any, str]:
    """One /tiendo: its own transaction, the unit looked up, the figures, the reply text."""
    with database.session() as session:
        unit = session.get(Unit, unit_id)
        assert unit is not None
        figures = progress_mod.unit_progress(session, unit, AS_OF)
        reply = progress_text.render(figures, THRESHOLD)
    return figures, reply


def run_a_checked(database: Database, unit_id: int) -> str:
    """A plus the "who has not reported this month" line the chat handler adds."""
    with database.session() as session:
        unit = session.get(Unit, unit_id)
        assert unit is not None
        figures = progress_mod.unit_progress(session, unit, AS_OF)
        check = progress_mod.completeness(session, unit, AS_OF)
        return progress_text.render(figures, THRESHOLD, check)


# ---------------------------------------------------------------- B: the same figures, raw


@dataclass
class Figures:
    totals: dict[str, int]
    targets: dict[int, int]  # target id -> achieved
    children: dict[int, tuple[int, dict[int, int]]] = field(default_factory=dict)  # id -> (n, targets)


def _dates(sql: str, *names: str) -> Any:
    return text(sql).bindparams(*(bindparam(name, type_=Date) for name in names))


def _children_sql() -> str:
    merged = "merged_into_id" in Unit.__table__.c  # type: ignore[attr-defined]
    return "SELECT id FROM unit WHERE parent_id = :unit" + (" AND merged_into_id IS NULL" if merged else "")


def run_b(database: Database, unit_id: int) -> Figures:
    """The /tiendo figures with GROUP BY over the raw rows of the subtree, joined to unit by path."""
    confirmed = ReportStatus.confirmed.value
    with database.session() as session:
        unit = session.get(Unit, unit_id)
        assert unit is not None
        kids = [row[0] for row in session.execute(text(_children_sql()), {"unit": unit_id})]
        ids = ", ".join(str(i) for i in [unit_id, *kids])
        targets = session.execute(
            _dates(
                "SELECT id, unit_id, start_date, end_date FROM target WHERE metric = :metric "
                f"AND start_date <= :day AND end_date >= :day AND unit_id IN ({ids})",
                "day",
            ).columns(start_date=Date, end_date=Date),
            {"metric": Metric.admissions.value, "day": AS_OF},
        ).all()
        own = [t for t in targets if t.unit_id == unit_id]
        start = min((t.start_date for t in own), default=None)
        # Every target here spans the same term as the window, so its "achieved" is the window's count.
        assert all(t.start_date == start and t.end_date >= AS_OF for t in targets)
        window = {"first": month_start(start) if start else date.min, "last": month_start(AS_OF)}
        scope = {"prefix": unit.path + "%", "confirmed": confirmed, **window}
        subtree = (
            "JOIN report r ON r.id = x.report_id AND r.status = :confirmed "
            "JOIN unit u ON u.id = x.unit_id "
            "WHERE u.path LIKE :prefix AND x.month >= :first AND x.month <= :last"
        )
        breakdowns = ", ".join(
            f"COALESCE(SUM(x.{name}), 0), "
            f"COALESCE(SUM(CASE WHEN x.{name} IS NULL THEN 0 ELSE x.count END), 0)"
            for name in progress_text.SHARES
        )
        row = session.execute(
            _dates(
                f"SELECT COALESCE(SUM(x.count), 0), {breakdowns} FROM admissionentry x {subtree}", *window
            ),
            scope,
        ).one()
        totals = {"admissions": int(row[0])}
        for i, name in enumerate(progress_text.SHARES):
            totals[name], totals[f"{name}_known"] = int(row[1 + 2 * i]), int(row[2 + 2 * i])
        sent, completed = session.execute(
            _dates(
                "SELECT COALESCE(SUM(x.sent), 0), COALESCE(SUM(x.completed), 0) "
                f"FROM classattendance x {subtree}",
                *window,
            ),
            scope,
        ).one()
        classes = session.execute(
            _dates(f"SELECT COUNT(*) FROM awarenessclass x {subtree}", *window), scope
        ).scalar_one()
        totals |= {"sent": int(sent), "completed": int(completed), "classes_opened": int(classes)}
        by_child: dict[int, int] = {kid: 0 for kid in kids}
        if kids:
            rows = session.execute(
                _dates(
                    "SELECT c.id, SUM(x.count) FROM unit c "
                    "JOIN unit u ON u.path LIKE (c.path || '%') "
                    "JOIN admissionentry x ON x.unit_id = u.id "
                    "JOIN report r ON r.id = x.report_id AND r.status = :confirmed "
                    f"WHERE c.id IN ({', '.join(map(str, kids))}) AND x.month >= :first AND x.month <= :last "
                    "GROUP BY c.id",
                    *window,
                ),
                {"confirmed": confirmed, **window},
            ).all()
            by_child |= {int(kid): int(n) for kid, n in rows}
    figures = Figures(totals, {t.id: totals["admissions"] for t in own})
    for kid, n in by_child.items():
        figures.children[kid] = (n, {t.id: n for t in targets if t.unit_id == kid})
    return figures


def raw_silent(database: Database, unit_id: int) -> tuple[int, set[str]]:
    """(cells, names of the silent ones) this month, from the unit table and the raw reports."""
    first = month_start(AS_OF)
    with database.session() as session:
        unit = session.get(Unit, unit_id)
        assert unit is not None
        rows = session.execute(
            _dates(
                "SELECT u.name, NOT EXISTS (SELECT 1 FROM report r WHERE r.unit_id = u.id "
                "AND r.status = :confirmed AND r.period_end >= :first AND r.period_end <= :last) "
                "FROM unit u WHERE u.path LIKE :prefix AND u.merged_into_id IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM unit c WHERE c.parent_id = u.id AND c.merged_into_id IS NULL)",
                "first",
                "last",
            ),
            {
                "confirmed": ReportStatus.confirmed.value,
                "first": first,
                "last": AS_OF,
                "prefix": unit.path + "%",
            },
        ).all()
    return len(rows), {name for name, silent in rows if silent}


def figures_of(progress: Any) -> Figures:
    """A's figures in B's shape."""
    figures = Figures(
        {name: getattr(progress.totals, name) for name in SHOWN},
        {tp.target.id: tp.achieved for tp in progress.targets},
    )
    for child in progress.children:
        figures.children[child.unit.id] = (
            child.totals.admissions,
            {tp.target.id: tp.achieved for tp in child.targets},
        )
    assert not progress.class_targets  # the bench sets admissions targets only
    return figures


# ---------------------------------------------------------------- timing


@dataclass
class Timing:
    ms: list[float]

    def pct(self, p: float) -> float:
        ordered = sorted(self.ms)
        # nearest rank: with 10 runs p95 is the slowest, never an interpolation below it
        return ordered[min(len(ordered) - 1, max(0, int(-(-p * len(ordered) // 100)) - 1))]


def measure(fn: Callable[[], object], *, reps: int, warmup: int, budget_s: float | None = None) -> Timing:
    for _ in range(warmup):
        fn()
    gc.collect()
    ms: list[float] = []
    deadline = None if budget_s is None else time.perf_counter() + budget_s
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
        if deadline is not None and len(ms) >= 5 and time.perf_counter() > deadline:
            break  # the raw query is slow: five runs or more are enough for its p50/p95
    return Timing(ms)


# ---------------------------------------------------------------- one scale


@dataclass
class Row:
    scale: str
    backend: str
    scope: str
    units: int
    entries: int
    rollup_rows: int
    load_s: float
    a: Timing
    b: Timing
    children: int
    goal_ms: float | None
    checked: Timing  # A + completeness, what the chat handler runs

    @property
    def speedup(self) -> float:
        return self.b.pct(95) / self.a.pct(95)

    @property
    def goal_met(self) -> str:
        if self.goal_ms is None:
            return "—"
        ok = (
            self.a.pct(95) <= self.goal_ms
            and self.checked.pct(95) <= self.goal_ms
            and self.speedup >= GOAL_SPEEDUP
        )
        return "yes" if ok else "**no**"


def run_scale(database: Database, scale: Scale, *, quick: bool) -> list[Row]:
    log(f"== {scale.name} on {database.engine.dialect.name}")
    database.migrate()
    t0 = time.perf_counter()
    loaded: Loaded = load(database, scale, log=log)
    load_s = time.perf_counter() - t0
    stats = loaded.stats
    assert check_paths(database) == 0, "a bulk-inserted path differs from what create_unit writes"
    assert check_cells(database) == 0, "a bulk-inserted is_leaf or cell count differs from a count afresh"

    t0 = time.perf_counter()
    sample = run_sample(database, loaded.tree, scale, loaded.last_report_id)
    scopes, rows_checked = verify(database, loaded.tree, sample.touched)
    log(
        f"  rollups built in bulk and verified: {sample.confirmed} reports through confirm_report, "
        f"{sample.withdrawn} withdrawn, {sample.corrected} corrected; "
        f"then every rollup row of {scopes} units "
        f"({rows_checked:,} unit-months, all {len(TOTAL_FIELDS)} figures) equals a raw GROUP BY "
        f"[{time.perf_counter() - t0:.1f} s]"
    )
    settle(database)
    with database.session() as session:
        rollup_rows = int(session.execute(text("SELECT COUNT(*) FROM subtreemonthrollup")).scalar_one())
        entries = int(session.execute(text("SELECT COUNT(*) FROM admissionentry")).scalar_one())

    tree = loaded.tree
    mid = tree.by_depth[scale.mid_depth][len(tree.by_depth[scale.mid_depth]) // 2]
    reps_a = 50 if quick else 200
    reps_b = 10
    rows: list[Row] = []
    for label, unit_id in (("root", tree.root_id), (f"mid-level (depth {scale.mid_depth})", mid)):
        progress, reply = run_a(database, unit_id)
        expected = run_b(database, unit_id)
        got = figures_of(progress)
        assert got == expected, f"rollups and raw GROUP BY disagree for {label}: {got} vs {expected}"
        assert reply.startswith(progress_text.t("progress.title", unit=progress.unit.name))
        log(
            f"  {label}: {progress.totals.admissions:,} admissions since {progress.window_start:%d/%m/%Y}, "
            f"{len(progress.children)} children: A and B agree on every figure"
        )
        with database.session() as session:
            unit = session.get(Unit, unit_id)
            assert unit is not None
            check = progress_mod.completeness(session, unit, AS_OF)
        cells, silent = raw_silent(database, unit_id)
        assert (check.cells, check.silent) == (cells, len(silent)), (
            f"completeness {check} vs raw {cells}, {silent}"
        )
        assert set(check.silent_names) <= silent and len(check.silent_names) == min(5, len(silent))
        log(
            f"  {label}: completeness agrees with the raw reports: {check.silent:,} of {check.cells:,} cells "
            f"silent in {AS_OF:%m/%Y}" + (f" ({', '.join(check.silent_names)})" if check.silent_names else "")
        )
        a = measure(partial(run_a, database, unit_id), reps=reps_a, warmup=10)
        checked = measure(partial(run_a_checked, database, unit_id), reps=reps_a, warmup=10, budget_s=120)
        b = measure(partial(run_b, database, unit_id), reps=reps_b, warmup=1, budget_s=120)
        row = Row(
            scale=scale.name,
            backend=database.engine.dialect.name,
            scope=label,
            units=stats.units,
            entries=entries,
            rollup_rows=rollup_rows,
            load_s=load_s,
            a=a,
            b=b,
            children=len(progress.children),
            goal_ms=GOAL_MS[scale.name.split()[0]] if label == "root" else None,
            checked=checked,
        )
        log(
            f"  {label}: A p50/p95/p99 {a.pct(50):.1f}/{a.pct(95):.1f}/{a.pct(99):.1f} ms (n={len(a.ms)}); "
            f"A + completeness p50/p95 {checked.pct(50):.1f}/{checked.pct(95):.1f} ms (n={len(checked.ms)}); "
            f"B p50/p95 {b.pct(50):.0f}/{b.pct(95):.0f} ms (n={len(b.ms)}); B/A at p95 {row.speedup:.0f}x"
        )
        rows.append(row)
    log(
        "  load: " + ", ".join(f"{k} {v:.1f} s" for k, v in stats.seconds.items()) + f"; total {load_s:.1f} s"
    )
    return rows


# ---------------------------------------------------------------- report


def machine(pg_version: str | None) -> str:
    return describe(pg_version)


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def table(
    rows: list[Row],
    pg_version: str | None,
    pg_where: str | None,
    command: str,
    loads: list[str] | None = None,
) -> str:
    lines = [
        "| scale | DB | /tiendo for | units | admission entries | rollup rows | load | "
        "A p50 / p95 / p99 (ms) | A + completeness p50 / p95 (ms) | "
        "B p50 / p95 (ms) | B/A at p95 | goal met |",
        HEADER_RULE,
    ]
    for r in rows:
        goal = f" (A and A + completeness ≤ {r.goal_ms:.0f} ms, ≥ {GOAL_SPEEDUP:.0f}×)" if r.goal_ms else ""
        lines.append(
            f"| {r.scale} | {r.backend} | {r.scope}, {r.children} children | {r.units:,} | {r.entries:,} | "
            f"{r.rollup_rows:,} | {r.load_s:.0f} s | "
            f"{r.a.pct(50):.1f} / {r.a.pct(95):.1f} / {r.a.pct(99):.1f} | "
            f"{r.checked.pct(50):.1f} / {r.checked.pct(95):.1f} | "
            f"{r.b.pct(50):,.0f} / {r.b.pct(95):,.0f} (n={len(r.b.ms)}) | "
            f"{r.speedup:,.0f}× | {r.goal_met}{goal} |"
        )
    notes = [
        "",
        f"Machine: {machine(pg_version)}.",
        f"Command: `{command}`; as of {AS_OF:%d/%m/%Y}, window = the term target's (from 01/07/2020).",
        "A = `unit_progress` + `progress_text.render` in its own transaction (n = "
        f"{len(rows[0].a.ms) if rows else 0} after a warm-up); B = the same figures from a plain GROUP BY "
        "over the raw entries joined to `unit` by path; their figures are asserted equal.",
        "A + completeness = A with the chat handler's completeness line (`completeness()`: cells of the "
        "subtree silent this month, a few named), what `/tiendo` in the chat runs "
        f"(n = {len(rows[0].checked.ms) if rows else 0}); the goal applies to it as well.",
        "Units, reports and entries inserted in bulk (executemany on SQLite, COPY on PostgreSQL); "
        "rollups built in bulk (INSERT … SELECT … GROUP BY per level) and verified against a raw "
        "GROUP BY after 300 reports through `confirm_report` and 20 withdrawals/corrections.",
        "Load = tree, targets, reports, rollups, then VACUUM ANALYZE (PostgreSQL) "
        "or a WAL checkpoint (SQLite).",
    ]
    notes.append(
        "With the chat handler's completeness line (`completeness()`, as `/tiendo` pages add it), A p95: "
        + "; ".join(f"{r.scale} {r.scope} {r.checked.pct(95):.1f} ms" for r in rows)
        + "."
    )
    if pg_where:
        notes.append(f"PostgreSQL: {pg_where}.")
    if loads:
        # other benchmarks may share the machine: the timings are only as quiet as it was
        notes.append(
            f"Load average (1 / 5 / 15 min) on {os.cpu_count()} cores, at the start and end of each scale: "
            + "; ".join(loads)
            + "."
        )
    return "\n".join(lines + notes) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", choices=("province", "national", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="a small tree and one year: a smoke test in seconds")
    args = ap.parse_args()
    scales = QUICK if args.quick else SCALES
    wanted = ("province", "national") if args.scale == "both" else (args.scale,)
    rows: list[Row] = []
    loads: list[str] = []
    pg_version = pg_where = None

    if "province" in wanted:
        with tempfile.TemporaryDirectory(prefix="tiendo-bench-") as folder:
            database = Database(f"sqlite:///{folder}/tiendo.db")
            try:
                start = load_average()
                rows += run_scale(database, scales["province"], quick=args.quick)
                loads.append(f"province {start} → {load_average()}")
            finally:
                database.dispose()

    if "national" in wanted:
        if not (os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or server_bin()):
            log("== national: skipped (no PostgreSQL server installed and no BENCH_POSTGRES_URL)")
        else:
            with postgres_database() as (url, pg_where):
                database = Database(url)
                try:
                    with database.engine.connect() as connection:
                        pg_version = str(connection.exec_driver_sql("SHOW server_version").scalar_one())
                    start = load_average()
                    rows += run_scale(database, scales["national"], quick=args.quick)
                    loads.append(f"national {start} → {load_average()}")
                finally:
                    database.dispose()

    command = "python -m bench.bench_progress " + " ".join(sys.argv[1:])
    block = table(rows, pg_version, pg_where, command.strip(), loads)
    print()
    print(block)
    if args.quick:
        log(f"(--quick: {RESULTS.relative_to(ROOT)} left as it was)")
    else:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        kept = earlier_rows({row.scale for row in rows})
        if kept:
            # a run of one scale keeps the other scale's rows from the previous run
            head, _, tail = block.partition("\n\n")
            block = head + "\n" + "\n".join(kept) + "\n\n" + tail
            block += "Rows marked † are from an earlier run of the other scale.\n"
        RESULTS.write_text("<!-- written by bench/bench_progress.py -->\n" + block, encoding="utf-8")
        for row in rows:
            if row.goal_ms is not None:  # the root of each scale run; a scale not run keeps its file
                _goals.write(f"progress-{row.scale}", goals_of(row, command.strip()))
        log(f"written to {RESULTS.relative_to(ROOT)}")


def goals_of(row: Row, command: str) -> list[Goal]:
    assert row.goal_ms is not None
    where = f"/tiendo at the {row.scale} root ({row.units:,} units, {row.backend})"
    goal = f"≤ {row.goal_ms:.0f} ms"
    return [
        Goal(f"{where} with the completeness line, p95", f"{row.checked.pct(95):.1f} ms", goal,
             row.checked.pct(95) <= row.goal_ms, command),
        Goal(f"{where} without it, p95", f"{row.a.pct(95):.1f} ms", goal,
             row.a.pct(95) <= row.goal_ms, command),
        Goal(f"{where}: plain GROUP BY / rollups, at p95", f"{row.speedup:,.0f}×", f"≥ {GOAL_SPEEDUP:.0f}×",
             row.speedup >= GOAL_SPEEDUP, command),
    ]  # fmt: skip


def earlier_rows(scales_run: set[str]) -> list[str]:
    """Table rows of the results file for the scales not run this time."""
    if not RESULTS.exists():
        return []
    kept = []
    for line in RESULTS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) != HEADER_RULE.count("|") + 1:
            continue  # a row of an older table layout: its columns would not line up
        if len(cells) > 2 and cells[1].rstrip(" †") in SCALES and cells[1].rstrip(" †") not in scales_run:
            kept.append(line if "†" in cells[1] else line.replace(f"| {cells[1]} |", f"| {cells[1]} † |", 1))
    return kept


if __name__ == "__main__":
    main()
