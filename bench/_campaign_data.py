"""Data for bench_campaign: a unit tree with accounts, admissions targets, the reviewed month's reports and
the rollups, all in bulk; and how many recipients a campaign over it must have, counted independently.

The tree and the reports reuse bench/_progress_data.py (plan_tree, ReportPlan, build_rollups, the bulk
inserts). The campaign of April 2025 reviews March 2025: reports are dated March, targets run over 2025.
"""

from __future__ import annotations

import random
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection
from sqlmodel import SQLModel

from bench._progress_data import (
    CHANNEL,
    ENTRY_COPY_COLUMNS,
    LAST_MONTH,
    POOL_BITS,
    REPORT_COPY_COLUMNS,
    ReportPlan,
    Scale,
    Tree,
    _copy_pg,
    _insert_sqlite,
    build_rollups,
    dicts_copy,
    entry_copy,
    entry_dicts,
    entry_pool,
    insert_units,
    plan_tree,
    report_copy,
    report_dicts,
    settle,
)
from storage import units as units_mod
from storage.db import Database
from storage.models import Account, AdmissionEntry, Metric, Report, Role, Target

REVIEW_MONTH = LAST_MONTH  # March 2025
CAMPAIGN_MONTH = date(2025, 4, 1)
YEAR = (date(2025, 1, 1), date(2025, 12, 31))
SOURCE = "Kế hoạch năm 2025"
FIRST_CHAT = 100_000_000  # chat ids: distinct, positive (private chats)


@dataclass(frozen=True)
class Shape:
    name: str
    root_level: str
    root_name: str
    levels: tuple[tuple[str, int], ...]  # (level, how many) below the root; the last level is the cells
    secretary_share: float  # cells with a registered secretary
    target_share: float  # cells with an admissions target (every unit of the level above has one)
    report_share: float  # cells that reported in the reviewed month
    unreachable_share: float  # secretaries who blocked the bot
    staff_depths: tuple[int, ...]  # depths whose every unit has a staff account (0 = the root)


@dataclass
class Built:
    tree: Tree
    units: int = 0
    secretaries: int = 0
    unreachable: int = 0
    staff: int = 0
    targets: int = 0
    reports: int = 0
    cells: int = 0
    silent_cells: int = 0
    without_secretary: int = 0
    expected_recipients: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _account(n: int, role: Role, unit_id: int, now: datetime, unreachable: bool) -> dict[str, Any]:
    chat = str(FIRST_CHAT + n)
    return {
        "id": n,
        "channel": CHANNEL,
        "channel_user_id": chat,
        "chat_id": chat,
        "display_name": f"Đồng chí {n}",
        "role": role.value,
        "unit_id": unit_id,
        "unreachable_at": now if unreachable else None,
        "created_at": now,
    }


def _insert(connection: Connection, pg: bool, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if pg:
        columns = tuple(rows[0])
        table = model.__tablename__
        _copy_pg(connection, str(table), ", ".join(columns), dicts_copy(rows, columns))
    else:
        _insert_sqlite(connection, model, rows)


def build(database: Database, shape: Shape, *, seed: int = 2025, log: Callable[[str], None] = print) -> Built:
    pg = database.engine.dialect.name == "postgresql"
    rng = random.Random(seed)
    now = datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
    t0 = time.perf_counter()
    with database.session() as session:
        root = units_mod.create_unit(
            session, code="BENCH", name=shape.root_name, level=shape.root_level, parent=None
        )
    scale = Scale(
        shape.name, database.engine.dialect.name, shape.root_level, shape.root_name, shape.levels, 1, 1
    )
    tree, unit_rows = plan_tree(root, scale)
    depth_cells = len(shape.levels)
    cells = tree.by_depth[depth_cells]
    built = Built(tree, units=1 + len(unit_rows), cells=len(cells))

    # Who is what: drawn once per cell, so the expected recipients can be counted from the same draws.
    targets: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    reporting: list[int] = []
    cell_value: dict[int, int] = {}
    n = 0
    for cell in cells:
        has_target = rng.random() < shape.target_share
        reported = rng.random() < shape.report_share
        if has_target:
            cell_value[cell] = rng.randint(1, 8)
        if reported:
            reporting.append(cell)
        else:
            built.silent_cells += 1
        if rng.random() < shape.secretary_share:
            n += 1
            blocked = rng.random() < shape.unreachable_share
            accounts.append(_account(n, Role.secretary, cell, now, blocked))
            built.secretaries += 1
            built.unreachable += blocked
            # A secretary hears of the cell's target (nudge or praise) or is reminded to report.
            if not blocked and (has_target or not reported):
                built.expected_recipients += 1
        else:
            built.without_secretary += 1
    for depth in shape.staff_depths:
        for unit_id in tree.by_depth[depth]:
            n += 1
            accounts.append(_account(n, Role.staff, unit_id, now, False))
            built.staff += 1
            built.expected_recipients += 1  # every staff member gets a summary
    commune_value: dict[int, int] = {}
    for cell, value in cell_value.items():
        parent = tree.units[cell][0]
        commune_value[parent] = commune_value.get(parent, 0) + value
    for unit_id in tree.by_depth[depth_cells - 1]:
        cell_value[unit_id] = max(1, commune_value.get(unit_id, 0))
    for i, (unit_id, value) in enumerate(sorted(cell_value.items()), start=1):
        targets.append(
            {
                "id": i,
                "unit_id": unit_id,
                "metric": Metric.admissions.value,
                "start_date": YEAR[0],
                "end_date": YEAR[1],
                "value": value,
                "max_value": None,
                "source": SOURCE,
                "created_at": now,
            }
        )
    built.targets = len(targets)

    picks = array("H", (p & ((1 << POOL_BITS) - 1) for p in array("H", rng.randbytes(2 * len(reporting)))))
    plan = ReportPlan([REVIEW_MONTH], reporting, [], 1, picks, entry_pool(seed), [])
    with database.engine.begin() as connection:
        # is_leaf and each subtree's cell count in bulk too, as storage.units keeps them
        insert_units(connection, tree, unit_rows, pg=pg)
        if pg:
            _copy_pg(connection, "report", REPORT_COPY_COLUMNS, report_copy(plan))
            _copy_pg(connection, "admissionentry", ENTRY_COPY_COLUMNS, entry_copy(plan))
        else:
            _insert_sqlite(connection, Report, report_dicts(plan))
            _insert_sqlite(connection, AdmissionEntry, entry_dicts(plan))
        _insert(connection, pg, Target, targets)
        _insert(connection, pg, Account, accounts)
        if pg:
            for table in ("unit", "report", "admissionentry", "target", "account"):
                # ids were given explicitly: later inserts must not collide
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
        built.reports = len(reporting)
        build_rollups(connection, max_depth=depth_cells, pg=pg)
    settle(database)
    built.seconds["load"] = time.perf_counter() - t0
    log(
        f"  {built.units:,} units, {built.secretaries:,} secretaries "
        f"({built.unreachable:,} blocked the bot), "
        f"{built.staff:,} staff, {built.targets:,} targets, {built.reports:,} reports in "
        f"{REVIEW_MONTH:%m/%Y} ({built.silent_cells:,} cells silent), {built.without_secretary:,} cells "
        f"without a secretary; expected recipients {built.expected_recipients:,} "
        f"[{built.seconds['load']:.1f} s]"
    )
    return built
