"""The Zalo channel's sending: what the platform's errors mean, photos, long texts, the quota."""

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot import dispatch
from bot.channels.zalo import ZaloChannel
from bot.channels.zalo_client import ZaloClient, split_text
from bot.files import FileLinks
from bot.outbox_sender import OutboxSender
from bot.usage import Usage
from handlers.types import File, Option, Reply, Services
from storage import accounts, outbox, units
from storage.db import Database
from storage.models import Account, ChannelUsage, OutboxMessage, Role
from storage.outbox import NewMessage
from tests.utils.builders import Tree, build_tree
from tests.utils.clock import FakeClock
from tests.utils.fake_zalo_server import FakeZaloServer

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
SECRETARY, ADMIN = "zalo-user-111", "zalo-user-999"


@pytest.fixture
def zalo() -> Iterator[FakeZaloServer]:
    with FakeZaloServer(replay_seconds=0) as fake:
        yield fake


@pytest.fixture
def usage(database: Database, clock: FakeClock) -> Usage:
    return Usage(database, clock=clock, zone=ZONE, monthly_quota=3000, reply_reserve=0)


@pytest.fixture
async def channel(zalo: FakeZaloServer, services: Services, usage: Usage) -> AsyncIterator[ZaloChannel]:
    zalo_channel = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services, usage=usage)
    yield zalo_channel
    await zalo_channel.close()


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database, target=None)


def register(database: Database, unit: str, role: Role, user: str, channel: str = "zalo") -> Account:
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, unit), role=role)
        return accounts.redeem_invite(
            session,
            code=code,
            channel=channel,
            channel_user_id=user,
            chat_id=user,
            display_name=f"Đ/c {user}",
        )


def queue(database: Database, account: Account, text: str, key: str, now: datetime) -> None:
    with database.session() as session:
        outbox.enqueue(session, [NewMessage(key=key, kind="nudge", account=account, text=text)], now=now)


def statuses(database: Database) -> dict[str, str]:
    with database.session() as session:
        return {m.idempotency_key: m.status for m in session.exec(select(OutboxMessage)).all()}


def account(database: Database, user: str) -> Account:
    with database.session() as session:
        return session.exec(select(Account).where(Account.channel_user_id == user)).one()


def words(length: int) -> str:
    return " ".join(f"chi{i}bộ" for i in range(length // 8))[:length].strip()


def test_webhook_bodies_are_taken_wrapped_or_bare(channel: ZaloChannel, zalo: FakeZaloServer) -> None:
    update = zalo.make_update("message.text.received", SECRETARY, "/start", "Lan", None)
    assert channel.unwrap({"ok": True, "result": update}) == update
    assert channel.unwrap(update) == update
    body: object
    for body in (None, [], "x", {"ok": True}, {"ok": False, "result": update}, {"result": "x"}):
        assert channel.unwrap(body) is None, body
    assert channel.delivery_id(update) == update["message"]["message_id"]


async def test_a_403_is_a_server_error_retried_not_a_blocked_user(
    zalo: FakeZaloServer, channel: ZaloChannel, database: Database, tree: Tree, clock: FakeClock
) -> None:
    secretary = register(database, tree.cell_a, Role.secretary, SECRETARY)
    queue(database, secretary, "Nhắc báo cáo tháng 10.", "n1", clock())
    zalo.fail_next("sendMessage", 403, "Internal server error")
    sender = OutboxSender(database, {"zalo": channel}, clock=clock)
    result = await sender.drain()
    assert (result.sent, result.retried, result.unreachable) == (0, 1, 0)
    assert account(database, SECRETARY).unreachable_at is None
    clock.advance(seconds=10)
    assert (await sender.drain()).sent == 1
    assert zalo.delivered_texts(SECRETARY) == ["Nhắc báo cáo tháng 10."]


@pytest.mark.parametrize(
    ("description", "status"),
    [("User has blocked the bot", "unreachable"), ("Bad request - invalid chat_id", "failed")],
)
async def test_only_the_platform_saying_so_makes_a_recipient_unreachable(
    zalo: FakeZaloServer,
    channel: ZaloChannel,
    database: Database,
    tree: Tree,
    clock: FakeClock,
    description: str,
    status: str,
) -> None:
    secretary = register(database, tree.cell_a, Role.secretary, SECRETARY)
    queue(database, secretary, "Nhắc báo cáo.", "n1", clock())
    zalo.fail_next("sendMessage", 400, description)
    await OutboxSender(database, {"zalo": channel}, clock=clock).drain()
    assert statuses(database)["n1"] == status
    assert (account(database, SECRETARY).unreachable_at is not None) is (status == "unreachable")


async def test_a_split_outbox_message_resumes_at_the_part_that_failed(
    zalo: FakeZaloServer, channel: ZaloChannel, database: Database, tree: Tree, clock: FakeClock
) -> None:
    secretary = register(database, tree.cell_a, Role.secretary, SECRETARY)
    text = words(4500)
    parts = split_text(text)
    assert len(parts) == 3
    queue(database, secretary, text, "long", clock())
    zalo.fail_next("sendMessage", 502, "Bad Gateway", after=1)  # the second part is refused
    sender = OutboxSender(database, {"zalo": channel}, clock=clock)
    assert (await sender.drain()).retried == 1
    with database.session() as session:
        row = session.exec(select(OutboxMessage)).one()
        assert (row.status, row.parts_sent) == ("pending", 1)
    clock.advance(seconds=10)
    assert (await sender.drain()).sent == 1
    assert zalo.delivered_texts(SECRETARY) == parts  # each part once, in order


async def test_a_split_reply_resumes_at_the_part_that_failed(
    zalo: FakeZaloServer, channel: ZaloChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "SEND_RETRY_SECONDS", 0.01)
    text = words(4500)
    zalo.fail_next("sendMessage", 500, "Internal error", after=1)
    zalo.fail_next("sendMessage", 403, "Internal server error")
    await dispatch.send_reply(channel, SECRETARY, Reply(text))
    assert zalo.delivered_texts(SECRETARY) == split_text(text)
    assert len(zalo.sent_texts(SECRETARY)) == 5  # 3 parts, the second one tried three times


async def test_a_chart_goes_as_a_photo_with_the_text_as_its_caption_not_twice(
    zalo: FakeZaloServer, services: Services, database: Database, usage: Usage
) -> None:
    links = FileLinks(database, base_url="https://tiendo.example.vn", secret="k", ttl=timedelta(minutes=5))
    channel = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services, links=links, usage=usage)
    chart = File("photo", "tien-do.png", b"\x89PNG")
    try:
        reply = Reply("Biểu đồ tiến độ", (Option("Excel", "xlsx:1"),), files=(chart,))
        await dispatch.send_reply(channel, SECRETARY, reply)
        [photo] = zalo.photos
        assert photo["caption"] == "Biểu đồ tiến độ\n1. Excel"
        assert photo["photo"].startswith("https://tiendo.example.vn/files/")
        assert zalo.sent_texts() == []  # the caption is not sent again as a message
        # A text too long for a caption goes as messages, the photo without one.
        long = words(2500)
        await dispatch.send_reply(channel, SECRETARY, Reply(long, files=(chart,)))
        assert "caption" not in zalo.photos[-1] or not zalo.photos[-1].get("caption")
        assert zalo.delivered_texts(SECRETARY) == split_text(long)
    finally:
        await channel.close()
    with database.session() as session:
        [row] = session.exec(select(ChannelUsage)).all()
    assert row.sent == 2 + 2  # two photos and two text parts spent the quota


async def test_quota_exceeded_holds_the_bots_messages_until_next_month_and_never_fails_them(
    zalo: FakeZaloServer, channel: ZaloChannel, database: Database, tree: Tree, clock: FakeClock
) -> None:
    register(database, tree.root, Role.admin, ADMIN)
    secretaries = [register(database, tree.cell_a, Role.secretary, f"zalo-user-{i}") for i in range(3)]
    for i, secretary in enumerate(secretaries):
        queue(database, secretary, f"Tin nhắn {i}", f"m{i}", clock())
    zalo.quota = 1
    sender = OutboxSender(database, {"zalo": channel}, clock=clock, concurrency=1)
    result = await sender.drain()
    # Held: the two messages left, and the warning to the administrator (on the same bot).
    assert (result.sent, result.held, result.failed, result.unreachable) == (1, 3, 0, 0)
    assert len(zalo.sent_texts()) == 2  # one taken, one refused with 429; the third never asked
    next_month = datetime(2023, 12, 1, 7, 0, tzinfo=ZONE)  # when a UTC or a local month has begun
    with database.session() as session:
        waiting = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
        assert {m.idempotency_key for m in waiting} >= {"m1", "m2"}
        assert all(m.next_attempt_at == next_month and m.attempts == 0 for m in waiting)
        warning = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "quota_warning")).one()
    assert "đã hết hạn mức tin nhắn của tháng" in warning.text and warning.chat_id == ADMIN
    assert all(account(database, s.channel_user_id).unreachable_at is None for s in secretaries)
    clock.advance(days=10)
    assert (await sender.drain()).sent == 0  # still November: nothing is even tried
    assert len(zalo.sent_texts()) == 2
    clock.now = next_month + timedelta(minutes=1)
    zalo.quota = None  # the platform's new month
    assert (await sender.drain()).sent == 3  # the two held messages and the warning
    delivered = zalo.delivered_texts()
    assert sorted(t for t in delivered if t.startswith("Tin nhắn")) == [
        "Tin nhắn 0",
        "Tin nhắn 1",
        "Tin nhắn 2",
    ]
    assert len(delivered) == 4


async def test_a_reply_refused_for_the_quota_is_not_tried_again_at_once(
    zalo: FakeZaloServer, channel: ZaloChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "SEND_RETRY_SECONDS", 0.01)
    zalo.quota = 0
    with pytest.raises(Exception, match="quota"):
        await dispatch.send_reply(channel, SECRETARY, Reply("Đã ghi nhận."))
    with pytest.raises(Exception, match="quota"):
        await dispatch.send_reply(channel, SECRETARY, Reply("Đã ghi nhận."))
    assert len(zalo.sent_texts()) == 1  # the second one was held without asking the platform
