"""bench_chaos, mid-campaign: a campaign composed over generated data (bench/_campaign_data.py), sent by
the real `tiendo serve` (its campaign loop drains the outbox at start), killed -9 while it sends.

The campaign of April 2025 is composed in the harness with bot.scheduler.compose, as bench_campaign does;
the server is started with CAMPAIGN_DAY away from today, so it composes nothing itself and only sends.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy
from sqlalchemy import func
from sqlmodel import col, select

from bench._campaign_data import CAMPAIGN_MONTH, Shape, build
from bench._chaos_procs import Bot
from bot.scheduler import compose
from storage.db import Database
from storage.models import OutboxMessage
from tests.utils.fake_bot_api import FakeBotAPI

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# Rows a sender may still take or finish ("sending": the outbox's at-most-once change marks a message so
# right before its request leaves); every other status (sent, failed, unreachable, uncertain) is final.
ACTIVE = ("pending", "sending")


def shape(cells: int) -> Shape:
    return Shape(
        f"province, {cells:,} cells", "Đảng bộ tỉnh", "Đảng bộ tỉnh Chaos",
        (("Đảng bộ xã", max(1, cells // 100)), ("Chi bộ", cells)),
        secretary_share=1.0, target_share=1.0, report_share=0.9, unreachable_share=0.0, staff_depths=(0, 1),
    )  # fmt: skip


@dataclass
class CampaignFigures:
    messages: int = 0
    kills: int = 0
    delivered: int = 0  # distinct (chat, text) the fake API accepted
    sent_twice: int = 0
    never_delivered: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    held: int = 0  # pending/sending rows still claimed by a killed process (its hold not over)
    held_delivered: int = 0  # ... of which the platform already has: they would go twice after the hold
    not_sent_delivered: int = 0  # rows not marked sent whose text the platform has (any status)
    waited_s: float = 0.0
    send_s: float = 0.0
    crashes: list[str] = field(default_factory=list)
    tracebacks: Counter[str] = field(default_factory=Counter)


def _outbox(url: str) -> list[tuple[int, str, str, str, str | None, datetime | None]]:
    database = Database(url)
    try:
        with database.session() as session:
            return [
                (int(i), str(chat), str(text), str(status), owner, until)
                for i, chat, text, status, owner, until in session.execute(
                    # SQLAlchemy's select: sqlmodel's is typed for up to four columns.
                    sqlalchemy.select(
                        col(OutboxMessage.id),
                        col(OutboxMessage.chat_id),
                        col(OutboxMessage.text),
                        col(OutboxMessage.status),
                        col(OutboxMessage.claimed_by),
                        col(OutboxMessage.claimed_until),
                    )
                ).all()
            ]
    finally:
        database.dispose()


def statuses(url: str) -> dict[str, int]:
    """SELECT status, count(*) FROM outboxmessage GROUP BY status: whatever statuses the product has."""
    database = Database(url)
    try:
        with database.session() as session:
            rows = session.exec(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
            return {str(status): int(n) for status, n in rows}
    finally:
        database.dispose()


async def run(
    *,
    work: Path,
    env: dict[str, str],
    cells: int,
    kills: int,
    between: tuple[float, float],
    wait_hold: bool,
    seed: int = 5,
    log: object = print,
) -> CampaignFigures:
    say = log if callable(log) else print
    url = f"sqlite:///{work / 'campaign.db'}"
    database = Database(url)
    database.migrate()
    build(database, shape(cells), log=say)
    added = compose(database, CAMPAIGN_MONTH, now=datetime.now(ZONE)) or 0
    database.dispose()
    say(f"  composed {added:,} messages; sending with `tiendo serve`, killed -9 {kills} times")
    figures = CampaignFigures(messages=added)
    api = FakeBotAPI()
    await api.start()
    port = int(env["PUBLIC_BASE_URL"].rsplit(":", 1)[1])
    env = {**env, "DATABASE_URL": url, "TELEGRAM_API_BASE_URL": api.base_url}
    bot = Bot(["serve", "--port", str(port)], env, work, "campaign")
    rng = random.Random(seed)
    killed_owners: set[str] = set()
    host = socket.gethostname()
    started = time.monotonic()
    try:
        bot.start()
        await bot.ready(port)
        while not api.delivered and time.monotonic() - started < 60:
            await asyncio.sleep(0.05)
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(*between))
            if not any(r[3] in ACTIVE for r in _outbox(url)):
                break  # all sent before the next kill
            killed_owners.add(f"{host}:{bot.pid}")
            bot.kill()
            figures.kills += 1
            bot.start()
            await bot.ready(port)
        # Until nothing is left that a live sender could take (or, with wait_hold, nothing pending at all:
        # the killed processes' claims expire after the sender's 5-minute hold, then the next round sends).
        limit = time.monotonic() + (7 * 60 if wait_hold else 60)
        wait0 = time.monotonic()
        while time.monotonic() < limit:
            rows = _outbox(url)
            pending = [r for r in rows if r[3] in ACTIVE]
            held = [r for r in pending if r[4] in killed_owners]
            if not pending or (not wait_hold and len(pending) == len(held)):
                break
            await asyncio.sleep(0.5)
        figures.waited_s = time.monotonic() - wait0
        figures.send_s = time.monotonic() - started
    finally:
        bot.stop()
        await api.stop()
    rows = _outbox(url)
    figures.statuses = statuses(url)
    sent = Counter((chat, text) for chat, text, _, _ in api.delivered)
    figures.delivered = len(sent)
    figures.sent_twice = sum(n - 1 for n in sent.values() if n > 1)
    wanted = {(int(chat), text): (status, owner) for _, chat, text, status, owner, _ in rows}
    figures.never_delivered = sum(1 for key in wanted if key not in sent)
    for key, (status, owner) in wanted.items():
        if status in ACTIVE and owner in killed_owners:
            figures.held += 1
            figures.held_delivered += key in sent
        if status != "sent" and key in sent:
            figures.not_sent_delivered += 1
    figures.crashes = bot.crashes()
    figures.tracebacks = bot.tracebacks()
    return figures
