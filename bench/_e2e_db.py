"""The database for bench_e2e: a unit tree, targets and invite codes before; what was stored after."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import col, select

from storage import accounts, targets, units
from storage.db import Database
from storage.models import Account, InboxUpdate, Metric, Report, ReportStatus, Role, Unit

COMMUNES = 10


@dataclass
class Prepared:
    codes: list[str]  # one invite per cell, in cell order
    cells: list[str]  # cell names, same order


def prepare(url: str, cells: int, *, year: int) -> Prepared:
    """Migrate, then a district, COMMUNES communes and `cells` cells, with targets and invites."""
    database = Database(url)
    database.migrate()
    codes: list[str] = []
    names: list[str] = []
    with database.session() as session:
        district = units.create_unit(
            session, code="H", name="Đảng bộ huyện Bench", level="Đảng bộ huyện", parent=None
        )
        communes = [
            units.create_unit(
                session, code=f"H-X{c:02d}", name=f"Đảng bộ xã Bench {c}", level="Đảng bộ xã", parent=district
            )
            for c in range(1, COMMUNES + 1)
        ]
        start, end = date(year, 1, 1), date(year, 12, 31)
        targets.set_target(
            session, unit=district, metric=Metric.admissions, start=start, end=end, value=cells,
            source=f"Kế hoạch năm {year}",
        )  # fmt: skip
        for commune in communes:
            targets.set_target(
                session, unit=commune, metric=Metric.admissions, start=start, end=end,
                value=max(1, cells // COMMUNES), source=f"Kế hoạch năm {year}",
            )  # fmt: skip
        for n in range(cells):
            commune = communes[n % COMMUNES]
            name = f"Chi bộ thôn Bench {n + 1}"
            cell = units.create_unit(
                session, code=f"{commune.code}-C{n + 1:03d}", name=name, level="Chi bộ", parent=commune
            )
            codes.append(accounts.create_invite(session, unit=cell, role=Role.secretary, days=30))
            names.append(name)
    database.dispose()
    return Prepared(codes=codes, cells=names)


@dataclass
class Stored:
    reports: int  # confirmed reports
    receipts: set[str]
    by_user: Counter[str]  # Telegram user id -> confirmed reports of that secretary
    duplicate_keys: int  # idempotency keys seen more than once (must be 0; the column is unique)
    accounts: int
    inbox: int
    inbox_unprocessed: int
    inbox_failed: int


def stored(url: str) -> Stored:
    database = Database(url)
    try:
        with database.session() as session:
            rows = session.exec(
                select(Report.receipt_code, Report.idempotency_key, Account.channel_user_id)
                .join(Account, col(Account.id) == col(Report.account_id))
                .where(Report.status == ReportStatus.confirmed)
            ).all()
            keys = Counter(key for _, key, _ in rows)
            inbox_total = session.exec(select(func.count()).select_from(InboxUpdate)).one()
            unprocessed = session.exec(
                select(func.count()).select_from(InboxUpdate).where(col(InboxUpdate.processed_at).is_(None))
            ).one()
            failed = session.exec(
                select(func.count()).select_from(InboxUpdate).where(col(InboxUpdate.last_error).is_not(None))
            ).one()
            account_count = session.exec(select(func.count()).select_from(Account)).one()
            assert session.exec(select(func.count()).select_from(Unit)).one() > 0
        return Stored(
            reports=len(rows),
            receipts={code for code, _, _ in rows},
            by_user=Counter(user for _, _, user in rows),
            duplicate_keys=sum(1 for n in keys.values() if n > 1),
            accounts=int(account_count),
            inbox=int(inbox_total),
            inbox_unprocessed=int(unprocessed),
            inbox_failed=int(failed),
        )
    finally:
        database.dispose()
