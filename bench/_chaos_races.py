"""bench_chaos's race row: two staff withdraw or correct the same report at the same instant, each
through another `tiendo serve` worker on the same database.

Each round takes one stored report. Staff A (through worker 1) and staff B (through worker 2) each
open the change with /huy CODE or /sua CODE (+ the corrected text), wait for the summary, then both
press the confirming button at once (two POSTs sent together). One of them must be told "Đã rút" or
"Đã sửa", the other that the report was changed already; afterwards every rollup row must equal what
the raw entries of the confirmed reports add up to (tests/utils/rollup_check.py), and no report may
have been taken out of the figures twice.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, func, select

from bench._chaos_procs import Bot
from storage import accounts, reports, units
from storage.clock import month_end
from storage.db import Database
from storage.models import AuditEvent, Report, ReportStatus, Role
from tests.utils.fake_bot_api import FakeBotAPI
from tests.utils.rollup_check import differences

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
STAFF = (900_000_001, 900_000_002)
CORRECTION = "kết nạp 3 đảng viên, 2 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 3 THPT"
REPLY_TIMEOUT = 20.0
KINDS = (("withdraw", "withdraw"), ("correct", "correct"), ("withdraw", "correct"))


@dataclass
class RaceFigures:
    rounds: int = 0
    applied: int = 0  # "Đã rút" / "Đã sửa" answers
    refused: int = 0  # "đã được rút … không thay đổi được nữa"
    other: Counter[str] = field(default_factory=Counter)  # anything else, or no answer
    changed_twice: int = 0  # reports with two withdraw/correct audit events (taken out twice)
    corrections_twice: int = 0  # reports replaced by two corrections
    rollup_errors: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)


def prepare(url: str, count: int, *, seed: int) -> list[str]:
    """A commune with three cells, two staff of it, and `count` confirmed reports; their receipt codes."""
    rng = random.Random(seed)
    database = Database(url)
    database.migrate()
    codes = []
    today = date.today()
    with database.session() as session:
        commune = units.create_unit(session, code="R", name="Đảng bộ xã Đua", level="Đảng bộ xã", parent=None)
        cells = [
            units.create_unit(
                session, code=f"R-{n}", name=f"Chi bộ thôn Đua {n}", level="Chi bộ", parent=commune
            )
            for n in range(1, 4)
        ]
        for user in STAFF:
            code = accounts.create_invite(session, unit=commune, role=Role.staff)
            accounts.redeem_invite(
                session, code=code, channel="telegram", channel_user_id=str(user), chat_id=str(user),
                display_name=f"Cán bộ {user % 10}",
            )  # fmt: skip
        for n in range(count):
            first = (today.replace(day=1) - timedelta(days=31 * rng.randrange(0, 3))).replace(day=1)
            admitted = rng.randint(1, 4)
            stored, _ = reports.confirm_report(
                session,
                reports.ReportInput(
                    unit=rng.choice(cells), channel="telegram", raw_text=f"kết nạp {admitted}",
                    period_start=first, period_end=month_end(first),
                    admission=reports.AdmissionInput(
                        admitted, female=rng.randint(0, admitted), youth_union=rng.randint(0, admitted)
                    ),
                    attendance=reports.AttendanceInput(sent=rng.randint(0, 5)) if n % 3 == 0 else None,
                    idempotency_key=f"bench-race:{n}",
                ),
                now=datetime.now(ZONE),
            )  # fmt: skip
            codes.append(stored.receipt_code)
    database.dispose()
    return codes


class Staff:
    """The two staff chats: updates POSTed to their worker, replies read at the fake API."""

    def __init__(self, urls: tuple[str, str], secret: str) -> None:
        self.urls, self.secret = urls, secret
        self.queues: dict[int, asyncio.Queue[dict[str, Any]]] = {user: asyncio.Queue() for user in STAFF}
        self.ids = itertools.count(1)

    def on_call(self, method: str, params: dict[str, Any], at: float) -> None:
        if method == "sendMessage":
            queue = self.queues.get(int(params.get("chat_id") or 0))
            if queue is not None:
                queue.put_nowait(params)

    def _message(self, user: int, text: str) -> dict[str, Any]:
        update_id = next(self.ids)
        message: dict[str, Any] = {
            "message_id": update_id, "date": int(time.time()), "chat": {"id": user, "type": "private"},
            "from": {"id": user, "is_bot": False, "first_name": "Cán bộ"}, "text": text,
        }  # fmt: skip
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": update_id, "message": message}

    def _press(self, user: int, data: str) -> dict[str, Any]:
        update_id = next(self.ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": str(update_id), "from": {"id": user, "is_bot": False, "first_name": "Cán bộ"},
                "chat_instance": f"ci{user}", "data": data,
                "message": {"message_id": 1, "date": int(time.time()),
                            "chat": {"id": user, "type": "private"},
                            "from": {"id": 7000000001, "is_bot": True, "first_name": "Tiến độ"}, "text": ""},
            },
        }  # fmt: skip

    async def post(self, client: httpx.AsyncClient, user: int, update: dict[str, Any]) -> None:
        url = self.urls[STAFF.index(user)]
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.secret}
        for _ in range(20):
            try:
                answer = await client.post(
                    url, content=json.dumps(update, ensure_ascii=False), headers=headers
                )
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError(f"update {update['update_id']} not accepted")

    async def reply(self, user: int) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(self.queues[user].get(), timeout=REPLY_TIMEOUT)
        except TimeoutError:
            return None

    async def open_change(self, client: httpx.AsyncClient, user: int, kind: str, code: str) -> str | None:
        """Up to the confirming button; its callback data, or None when the bot said something else."""
        if kind == "withdraw":
            await self.post(client, user, self._message(user, f"/huy {code}"))
            answer = await self.reply(user)
            wanted = "withdraw:"
        else:
            await self.post(client, user, self._message(user, f"/sua {code}"))
            if await self.reply(user) is None:
                return None
            await self.post(client, user, self._message(user, CORRECTION))
            answer = await self.reply(user)
            wanted = "confirm:"
        buttons = [
            b for row in ((answer or {}).get("reply_markup") or {}).get("inline_keyboard", []) for b in row
        ]
        return next(
            (str(b["callback_data"]) for b in buttons if str(b["callback_data"]).startswith(wanted)), None
        )


async def run(
    *, url: str, work: Path, env_for: Any, secret: str, free_port: Any, count: int, seed: int, log: Any
) -> tuple[RaceFigures, list[Bot]]:
    work.mkdir(parents=True, exist_ok=True)
    codes = prepare(url, count, seed=seed)
    holder: list[Staff] = []
    api = FakeBotAPI(on_call=lambda m, p, t: holder[0].on_call(m, p, t) if holder else None)
    await api.start()
    ports = (free_port(), free_port())
    workers = [
        Bot(["serve", "--port", str(port)], env_for(api, port, url), work, f"races-{n}")
        for n, port in enumerate(ports, start=1)
    ]
    staff = Staff(tuple(f"http://127.0.0.1:{port}/telegram/webhook" for port in ports), secret)  # type: ignore[arg-type]
    holder.append(staff)
    figures = RaceFigures()
    rng = random.Random(seed)
    try:
        for worker, port in zip(workers, ports, strict=True):
            worker.start()
            await worker.ready(port)
        async with httpx.AsyncClient(timeout=30) as client:
            for code in codes:
                kinds = rng.choice(KINDS)
                figures.kinds["+".join(kinds)] += 1
                opened = await asyncio.gather(
                    *(
                        staff.open_change(client, user, kind, code)
                        for user, kind in zip(STAFF, kinds, strict=True)
                    )
                )
                if not all(opened):
                    figures.other["could not open the change"] += 1
                    continue
                figures.rounds += 1
                presses = [staff._press(user, str(data)) for user, data in zip(STAFF, opened, strict=True)]
                await asyncio.gather(*(staff.post(client, u, p) for u, p in zip(STAFF, presses, strict=True)))
                for answer in await asyncio.gather(*(staff.reply(user) for user in STAFF)):
                    text = str((answer or {}).get("text", ""))
                    if text.startswith(("Đã rút", "Đã sửa")):
                        figures.applied += 1
                    elif "đã được rút" in text:
                        figures.refused += 1
                    else:
                        figures.other[text[:50] or "no answer"] += 1
    finally:
        for worker in workers:
            if worker.lives:
                worker.stop()
        await api.stop()
    database = Database(url)
    try:
        with database.session() as session:
            figures.rollup_errors = differences(session)
            changes = Counter(
                session.exec(
                    select(AuditEvent.report_id).where(
                        col(AuditEvent.action).in_(("report.withdraw", "report.correct"))
                    )
                ).all()
            )
            figures.changed_twice = sum(1 for n in changes.values() if n > 1)
            replaced = session.exec(
                select(Report.supersedes_id, func.count())
                .where(Report.status == ReportStatus.confirmed.value, col(Report.supersedes_id).is_not(None))
                .group_by(col(Report.supersedes_id))
            ).all()
            figures.corrections_twice = sum(1 for _, n in replaced if n > 1)
    finally:
        database.dispose()
    log(
        f"  {figures.rounds} rounds: applied {figures.applied}, refused {figures.refused}, other "
        f"{sum(figures.other.values())}; taken out twice {figures.changed_twice}; rollup rows differing "
        f"from the entries {len(figures.rollup_errors)}"
    )
    return figures, workers
