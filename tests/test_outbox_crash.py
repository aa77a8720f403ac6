"""A sender that dies mid-campaign never makes anyone receive a message twice.

Telegram and Zalo have no idempotency keys: a message whose request left before the process died
may or may not have been delivered. The outbox marks it `sending` just before the request leaves
(after the rate limiter's wait), and a later drain turns such an orphan into `uncertain` instead
of sending it again.
"""

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import col, select
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

from bot.channels import telegram as telegram_channel
from bot.channels import zalo as zalo_channel
from bot.channels.base import Outcome
from bot.channels.telegram import TelegramChannel, TelegramRequest, smooth_rate_limiter
from bot.channels.zalo_client import ZaloError
from bot.outbox_sender import DrainResult, OutboxSender
from bot.scheduler import compose
from storage import outbox, units
from storage.db import Database
from storage.models import Account, AuditEvent, OutboxMessage, OutboxStatus, Role
from storage.outbox import NewMessage
from tests.test_campaign import NOVEMBER, SECRETARY_A, SECRETARY_B, STAFF, register
from tests.utils.builders import build_tree
from tests.utils.clock import FakeClock
from tests.utils.fake_bot_api import FakeBotAPI

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
ROOT = Path(__file__).resolve().parent.parent


def with_cause(error: Exception, cause: Exception) -> Exception:
    """As python-telegram-bot and the Zalo client raise them: `raise error from cause`."""
    error.__cause__ = cause
    return error


class StallingBotAPI(FakeBotAPI):
    """Records a message as delivered, then never answers: the process "dies" before `mark_sent`."""

    def __init__(self) -> None:
        super().__init__()
        self.stall = True
        self.statuses_seen: list[str] = []  # the row's status when its request reached the API
        self.database: Database | None = None

    async def answered(self, method: str, params: dict[str, Any]) -> None:
        if method == "sendMessage" and self.database is not None:
            with self.database.session() as session:
                row = session.exec(select(OutboxMessage).where(OutboxMessage.text == params["text"])).one()
                self.statuses_seen.append(row.status)
        if method == "sendMessage" and self.stall:
            await asyncio.Event().wait()


async def test_a_message_in_flight_when_the_sender_dies_is_not_resent(database: Database) -> None:
    tree = build_tree(database, target=None)
    for unit, user in ((tree.cell_a, SECRETARY_A), (tree.cell_b, SECRETARY_B), (tree.commune, STAFF)):
        register(database, unit, Role.staff if user == STAFF else Role.secretary, user)
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    assert compose(database, NOVEMBER, now=clock()) == 3
    api = StallingBotAPI()
    api.database = database
    # The production limiter, slowed to 2 messages at once and then one every two seconds: the third
    # message is still waiting in it when the process dies (however slowly a loaded machine runs).
    bot = ExtBot(
        "123:TEST",
        base_url="http://fake/bot",
        request=TelegramRequest(transport=api.transport()),
        rate_limiter=smooth_rate_limiter(max_retries=0, per_second=0.5),
    )
    await bot.initialize()
    try:
        first = OutboxSender(
            database, {"telegram": TelegramChannel.for_bot(bot)}, clock=clock, owner="first", concurrency=3
        )
        drain = asyncio.create_task(first.drain())
        for _ in range(200):
            if len(api.accepted) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(api.accepted) == 2
        # The mark is committed before the request leaves, and not before the limiter lets it go.
        assert api.statuses_seen == ["sending", "sending"]
        with database.session() as session:
            assert outbox.counts(session) == {"sending": 2, "pending": 1}
        drain.cancel()  # the process dies: no answer, no mark_sent
        with pytest.raises(asyncio.CancelledError):
            await drain

        api.stall = False
        second = OutboxSender(
            database, {"telegram": TelegramChannel.for_bot(bot)}, clock=clock, owner="second"
        )
        assert (await second.drain()).sent == 0  # the dead sender's hold has not run out yet
        clock.advance(minutes=6)
        result = await second.drain()
        assert (result.sent, result.uncertain) == (1, 2)
        assert (await second.drain()).sent == 0
    finally:
        await bot.shutdown()
    chats = Counter(int(c.params["chat_id"]) for c in api.accepted)
    assert chats == {SECRETARY_A: 1, SECRETARY_B: 1, STAFF: 1}  # the one waiting in the limiter too
    with database.session() as session:
        assert outbox.counts(session) == {"sent": 1, "uncertain": 2}
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "outbox.uncertain")).all()
        uncertain = session.exec(select(OutboxMessage).where(OutboxMessage.status == "uncertain")).all()
    assert sorted(json.loads(e.detail)["message_id"] for e in events) == sorted(m.id or 0 for m in uncertain)


async def test_a_sender_whose_claim_was_taken_over_does_not_send(database: Database) -> None:
    tree = build_tree(database, target=None)
    register(database, tree.cell_a, Role.secretary, SECRETARY_A)
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    compose(database, NOVEMBER, now=clock())
    api = FakeBotAPI()
    bot = ExtBot("123:TEST", base_url="http://fake/bot", request=TelegramRequest(transport=api.transport()))
    await bot.initialize()
    try:
        slow = OutboxSender(database, {"telegram": TelegramChannel.for_bot(bot)}, clock=clock, owner="slow")
        with database.session() as session:
            [message] = outbox.claim(session, owner="slow", now=clock(), limit=1, hold=slow.hold)
        # Its hold runs out before it gets to the request (a stalled process), and another sender
        # takes the message and sends it.
        clock.advance(minutes=6)
        other = OutboxSender(database, {"telegram": TelegramChannel.for_bot(bot)}, clock=clock, owner="other")
        assert (await other.drain()).sent == 1
        # The slow sender wakes up and gets to the request: the mark finds the message not its own.
        result = DrainResult()
        await slow._send(message, result)
        assert (result.sent, result.retried, result.uncertain) == (0, 0, 0)
    finally:
        await bot.shutdown()
    assert len(api.accepted) == 1


def zalo_classify(error: Exception) -> Outcome:
    return zalo_channel.ZaloChannel.classify(None, error).outcome  # type: ignore[arg-type]


def telegram_classify(error: Exception) -> Outcome:
    return telegram_channel.classify(error).outcome


@pytest.mark.parametrize(
    ("classify", "error", "outcome"),
    [
        # python-telegram-bot's read time-out: Telegram may have taken it
        (telegram_classify, TimedOut(), Outcome.uncertain),
        (telegram_classify, with_cause(TimedOut(), httpx.ReadTimeout("read")), Outcome.uncertain),
        (
            telegram_classify,
            with_cause(NetworkError("httpx.ReadError"), httpx.ReadError("reset")),
            Outcome.uncertain,
        ),
        (
            telegram_classify,
            with_cause(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("gone")),
            Outcome.uncertain,
        ),
        (
            zalo_classify,
            with_cause(ZaloError(0, "ReadTimeout"), httpx.ReadTimeout("read")),
            Outcome.uncertain,
        ),
        # never left
        (telegram_classify, with_cause(TimedOut(), httpx.ConnectTimeout("connect")), Outcome.retry),
        (telegram_classify, with_cause(TimedOut(), httpx.PoolTimeout("pool")), Outcome.retry),
        (
            telegram_classify,
            with_cause(NetworkError("httpx.ConnectError"), httpx.ConnectError("no")),
            Outcome.retry,
        ),
        (
            zalo_classify,
            with_cause(ZaloError(0, "ConnectError"), httpx.ConnectError("refused")),
            Outcome.retry,
        ),
        # answers: the platform says it did not deliver
        (telegram_classify, NetworkError("Bad Gateway"), Outcome.retry),
        (telegram_classify, RetryAfter(3), Outcome.retry_after),
        (telegram_classify, Forbidden("Forbidden: bot was blocked by the user"), Outcome.unreachable),
        (zalo_classify, ZaloError(502, "Bad Gateway"), Outcome.retry),
        (telegram_classify, ValueError("a bug"), Outcome.uncertain),
        (zalo_classify, ValueError("a bug"), Outcome.uncertain),
    ],
)
def test_which_failures_after_the_request_left_are_uncertain(
    classify, error: Exception, outcome: Outcome
) -> None:
    assert classify(error) is outcome


def test_tiendo_nudge_send_tells_of_uncertain_messages_and_does_not_resend_them(
    database_url: str,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    tree = build_tree(database, target=None)
    register(database, tree.cell_a, Role.secretary, SECRETARY_A)
    register(database, tree.cell_b, Role.secretary, SECRETARY_B)
    assert compose(database, NOVEMBER, now=datetime(2023, 11, 1, 8, 0, tzinfo=ZONE)) == 2
    with database.session() as session:
        first = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).first()
        assert first is not None and first.id is not None
        outbox.mark_uncertain(session, first.id, error="TimedOut: read time-out")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:TEST")
    with FakeBotAPI() as server:
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", server.base_url)
        assert main(["nudge", "--send", "--today", "2023-11-01", "--ignore-quiet-hours"]) == 0
        assert len(server.texts()) == 1
    output = capsys.readouterr().out
    assert "Đã gửi 1" in output
    assert "1 tin nhắn của đợt này không rõ đã đến người nhận hay chưa" in output


# --- kill -9 of a real sender process -------------------------------------------------------------

RECIPIENTS = 240
CONCURRENCY = 8
HOLD = 1.0  # seconds: how long a dead sender's messages stay held


class SlowBotAPI(FakeBotAPI):
    """Records a message, then answers after a few milliseconds, like a real network: a kill lands
    between Telegram taking a message and the sender hearing so. A request cut short by the kill is
    not read whole, so not acted on, as Telegram would not act on it either."""

    async def answered(self, method: str, params: dict[str, Any]) -> None:
        if method == "sendMessage":
            await asyncio.sleep(random.uniform(0.005, 0.03))

    def delivered_messages(self) -> list[tuple[int, str]]:
        return [(chat, text) for chat, text, _, _ in list(self.delivered)]


def text_for(chat_id: object) -> str:
    return f"Tin nhắn cho {chat_id}"


def start_sender(database_url: str, base_url: str, *, until_done: bool = False) -> subprocess.Popen[str]:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tests.test_outbox_crash", database_url, base_url]
    return subprocess.Popen(
        [*command, *(["--until-done"] if until_done else [])],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def queue_campaign(database: Database) -> None:
    tree = build_tree(database, target=None)
    now = datetime.now(ZONE)
    with database.session() as session:
        cell = units.get_by_code(session, tree.cell_a)
        accounts = [
            Account(
                channel="telegram",
                channel_user_id=str(5000 + i),
                chat_id=str(5000 + i),
                role=Role.secretary,
                unit_id=cell.id or 0,
                created_at=now,
            )
            for i in range(RECIPIENTS)
        ]
        session.add_all(accounts)
        session.flush()
        messages = [
            NewMessage(
                key=f"crash:{a.id}", kind="nudge", account=a, text=text_for(a.chat_id), campaign="2023-11"
            )
            for a in accounts
        ]
        assert outbox.enqueue(session, messages, now=now) == RECIPIENTS


def test_kill_9_mid_campaign_never_sends_a_message_twice(database_url: str, database: Database) -> None:
    queue_campaign(database)
    rng = random.Random()
    kills = 0
    with SlowBotAPI() as server:
        for _ in range(4):
            before = len(server.delivered_messages())
            process = start_sender(database_url, server.base_url)
            try:
                # Wait until it is sending, then kill it at a random moment of the campaign.
                deadline = time.monotonic() + 60  # a loaded machine starts Python slowly
                while len(server.delivered_messages()) < before + 5 and process.poll() is None:
                    assert time.monotonic() < deadline, "the sender did not start sending"
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.4))
            finally:
                if process.poll() is None:
                    process.kill()  # SIGKILL: no shutdown code runs
                    kills += 1
                output, _ = process.communicate(timeout=10)
            assert process.returncode in (0, -9), output
        time.sleep(HOLD)  # the dead senders' holds run out
        final = start_sender(database_url, server.base_url, until_done=True)
        output, _ = final.communicate(timeout=60)
        assert final.returncode == 0, output
        delivered = server.delivered_messages()

    assert kills >= 2, "the campaign ended before the sender could be killed"
    twice = [m for m, n in Counter(delivered).items() if n > 1]
    assert twice == []
    with database.session() as session:
        rows = session.exec(select(OutboxMessage)).all()
    statuses = Counter(r.status for r in rows)
    assert set(statuses) <= {OutboxStatus.sent.value, OutboxStatus.uncertain.value}, statuses
    # Only messages whose request had left (at most CONCURRENCY at once) are uncertain.
    assert statuses[OutboxStatus.uncertain.value] <= CONCURRENCY * kills, statuses
    sent = {(int(r.chat_id), r.text) for r in rows if r.status == OutboxStatus.sent.value}
    assert sent <= set(delivered)  # "sent" means Telegram took it
    uncertain = {(int(r.chat_id), r.text) for r in rows if r.status == OutboxStatus.uncertain.value}
    assert set(delivered) <= sent | uncertain


async def run_sender(database_url: str, base_url: str, *, until_done: bool) -> None:
    """The sender process of the kill -9 test: the production pieces, with a short hold."""
    database = Database(database_url)
    bot = ExtBot(
        "123:TEST",
        base_url=base_url,
        request=TelegramRequest(),
        rate_limiter=smooth_rate_limiter(max_retries=0, per_second=300),
    )
    async with bot:
        sender = OutboxSender(
            database,
            {"telegram": TelegramChannel.for_bot(bot)},
            clock=lambda: datetime.now(ZONE),
            batch=20,
            concurrency=CONCURRENCY,
            hold=timedelta(seconds=HOLD),
        )
        while True:
            await sender.drain()
            with database.session() as session:
                counts = outbox.counts(session)
            if not until_done or (not counts.get("pending") and not counts.get("sending")):
                break
            await asyncio.sleep(0.1)  # messages still held by a dead sender
    database.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("base_url")
    parser.add_argument("--until-done", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(run_sender(arguments.database_url, arguments.base_url, until_done=arguments.until_done))
