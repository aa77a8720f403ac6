"""Zalo long polling against a platform that replays: each message answered once, one apology at
most, few requests when idle, and the webhook out of the way."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlmodel import func, select

from bot import dispatch
from bot.channels.base import Channel
from bot.channels.zalo import ZaloChannel
from bot.channels.zalo_client import ZaloClient
from handlers.types import Incoming, Services
from storage.db import Database
from storage.models import Report, Role
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.fake_zalo_server import FakeZaloServer

SECRETARY, OTHER = "zalo-user-111", "zalo-user-222"


@pytest.fixture
def zalo() -> Iterator[FakeZaloServer]:
    # Replays for longer than any test, and both forms of "nothing new".
    with FakeZaloServer(replay_seconds=60, empty="alternate") as fake:
        yield fake


@pytest.fixture
async def channel(zalo: FakeZaloServer, services: Services) -> AsyncIterator[ZaloChannel]:
    zalo_channel = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services)
    yield zalo_channel
    await zalo_channel.close()


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database)


async def polling_until(channel: ZaloChannel, done: Callable[[], bool], timeout: float = 30) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(channel.poll(stop, wait=1))
    deadline = time.monotonic() + timeout
    try:
        while not done():
            assert time.monotonic() < deadline, "the condition was not reached"
            assert not task.done(), task
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


def reports(database: Database) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(Report)).one()


async def test_replayed_messages_are_answered_once_and_polls_slow_down_when_only_replays_come(
    zalo: FakeZaloServer, channel: ZaloChannel, database: Database, tree: Tree
) -> None:
    zalo.add_text(SECRETARY, f"/dangky {invite(database, tree.cell_a, Role.secretary)}")
    zalo.add_text(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    zalo.add_text(OTHER, "/start")
    await polling_until(channel, lambda: len(zalo.sent_texts()) >= 3)
    # Keep polling while the platform has nothing new but replays the three messages.
    started = time.monotonic()
    await polling_until(channel, lambda: time.monotonic() - started > 4)
    idle = zalo.polls_between(started + 0.5, started + 4)
    assert zalo.replays_served >= 3  # the stand-in did replay
    assert idle <= 3.5 * 2, f"{idle} polls in 3.5 s of replays"  # at most 2 a second, backing off
    texts = zalo.sent_texts(SECRETARY)
    assert len(texts) == 2 and "Đã đăng ký" in texts[0] and texts[1].endswith("1. Xác nhận  2. Sửa  3. Hủy")
    assert len(zalo.sent_texts(OTHER)) == 1
    assert channel.replays >= 3


async def test_a_replay_is_recognised_before_the_database_is_asked(
    zalo: FakeZaloServer, services: Services, database: Database, tree: Tree
) -> None:
    opened = 0
    original = services.session

    @contextmanager
    def counting():
        nonlocal opened
        opened += 1
        with original() as session:
            yield session

    services.session = counting
    channel = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services)
    try:
        update = zalo.make_update("message.text.received", SECRETARY, "/start", "Lan", None)
        assert await channel.handle(update) is False
        before = opened
        for _ in range(20):
            assert await channel.handle(update) is True
        assert opened == before  # no transaction for a replay
        assert len(zalo.sent_texts(SECRETARY)) == 1
        # Another process (or a restart) does not have the memory: the database's claim answers.
        other = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services)
        assert await other.handle(update) is False
        await other.close()
        assert len(zalo.sent_texts(SECRETARY)) == 1
    finally:
        await channel.close()


async def test_a_message_that_cannot_be_handled_gets_one_apology_and_is_never_handled_after_it(
    zalo: FakeZaloServer,
    channel: ZaloChannel,
    services: Services,
    database: Database,
    tree: Tree,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zalo.add_text(SECRETARY, f"/dangky {invite(database, tree.cell_a, Role.secretary)}")
    await polling_until(channel, lambda: len(zalo.sent_texts(SECRETARY)) == 1)
    original = dispatch.handle
    broken = {"on": True}

    def handle(incoming, services):
        if broken["on"] and "kết nạp" in incoming.text:
            raise RuntimeError("a bug")
        return original(incoming, services)

    monkeypatch.setattr(dispatch, "handle", handle)
    report = zalo.add_text(SECRETARY, "kết nạp 1 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 1 THPT")
    replays = zalo.replays_served
    await polling_until(channel, lambda: zalo.replays_served >= replays + 4)
    apologies = [text for text in zalo.sent_texts(SECRETARY) if "chưa ghi số liệu nào" in text]
    assert len(apologies) == 1
    # Fixed and restarted: the replay of the message the apology was for is still not handled (the
    # apology said nothing was recorded: the secretary sends it again, and that is the one counted).
    broken["on"] = False
    restarted = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services)
    try:
        assert await restarted.handle(report) is False
    finally:
        await restarted.close()
    assert len(zalo.sent_texts(SECRETARY)) == 2 and reports(database) == 0


async def test_errors_of_the_platform_are_backed_off(zalo: FakeZaloServer, channel: ZaloChannel) -> None:
    zalo.fail_next("getUpdates", 502, "Bad Gateway")
    zalo.fail_next("getUpdates", 403, "Internal server error")  # documented as a server error
    started = time.monotonic()
    zalo.add_text(SECRETARY, "/start")
    await polling_until(channel, lambda: len(zalo.sent_texts(SECRETARY)) == 1)
    assert time.monotonic() - started >= 2 + 4  # a pause of 2 s, then 4 s
    assert zalo.polls_between(started, started + 6) == 2


async def test_polling_starts_by_removing_a_webhook_the_platform_would_refuse_it_for(
    zalo: FakeZaloServer, channel: ZaloChannel
) -> None:
    async with ZaloClient(zalo.token, zalo.base_url) as client:
        await client.set_webhook("https://old.example.vn/zalo/webhook", "old-secret-123")
    await channel.start(polling=True)
    assert zalo.webhook_url == ""
    zalo.add_text(SECRETARY, "/start")
    await polling_until(channel, lambda: len(zalo.sent_texts(SECRETARY)) == 1)
    assert "/dangky" in zalo.sent_texts(SECRETARY)[0]


async def test_a_slow_answer_holds_back_only_its_own_chat(
    zalo: FakeZaloServer, channel: ZaloChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polling goes on while one chat's answer is slow (a chart); that chat's next message waits for it."""
    answer = dispatch.answer
    slowed: list[str] = []

    async def slow_for_one_chat(
        channel: Channel, incoming: Incoming, services: Services, **options: Any
    ) -> dispatch.Answered:
        if incoming.chat_id == SECRETARY and not slowed:
            slowed.append(incoming.text)
            await asyncio.sleep(3)
        return await answer(channel, incoming, services, **options)

    monkeypatch.setattr(dispatch, "answer", slow_for_one_chat)
    zalo.add_text(SECRETARY, "/start")
    zalo.add_text(SECRETARY, "/help")
    zalo.add_text(OTHER, "/start")
    secretary_had: list[list[str]] = []  # what the slow chat had been sent when the other was answered

    def other_answered() -> bool:
        if zalo.sent_texts(OTHER):
            secretary_had.append(zalo.sent_texts(SECRETARY))
        return bool(secretary_had)

    await polling_until(channel, other_answered)
    assert secretary_had == [[]] and slowed == ["/start"]
    # Polling ended: what it had taken is answered first, the slow chat in its order.
    first, second = zalo.sent_texts(SECRETARY)
    assert "/dangky MÃ-ĐĂNG-KÝ" in first and "/dangky ABCDE-23456" in second
