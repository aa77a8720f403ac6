"""Faults: a crash mid-confirmation, the database away for a moment, one update delivered 1,000 times."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select
from telegram import Update

from bot import dispatch as dispatch_module
from bot.channels.telegram import build_channel, to_incoming
from bot.web import WebRuntime, create_app
from handlers.conversation import handle
from handlers.types import Incoming, Services
from storage import reports
from storage.db import Database
from storage.models import InboxUpdate, Report, Role
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.fake_bot_api import FakeBotAPI
from tests.utils.fake_telegram import Harness, TelegramUser, register, running_bot

SECRETARY = TelegramUser(id=111, first_name="Lan")
SECRET = "telegram-webhook-secret-0123456789"


@pytest.fixture
async def bot(services: Services) -> AsyncIterator[Harness]:
    async with running_bot(services) as harness:
        yield harness


@pytest.fixture
async def registered(bot: Harness, database: Database) -> Tree:
    tree = build_tree(database)
    await register(bot, database, SECRETARY, tree.cell_a)
    return tree


def stored_reports(database: Database) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(Report)).one()


async def test_crash_mid_confirmation_stores_nothing_and_a_second_press_stores_once(
    bot: Harness, database: Database, registered: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    confirm = bot.last_buttons(SECRETARY)["Xác nhận"]
    original = reports.confirm_report

    def dies_before_commit(*args, **kwargs):
        original(*args, **kwargs)  # the report and rollups are written in the transaction...
        raise RuntimeError("process killed")  # ...which never commits

    monkeypatch.setattr(reports, "confirm_report", dies_before_commit)
    answer = await bot.press(SECRETARY, confirm)
    assert "sự cố" in answer[0] and "chưa ghi" in answer[0]
    assert stored_reports(database) == 0
    monkeypatch.setattr(reports, "confirm_report", original)
    # The draft survived (the failed transaction did not save the dialogue either): press again.
    assert "Mã biên nhận" in (await bot.press(SECRETARY, confirm))[0]
    assert "đã được ghi nhận trước đó" in (await bot.press(SECRETARY, confirm))[0]
    assert stored_reports(database) == 1


async def test_database_away_for_a_moment_is_retried(
    bot: Harness, database: Database, registered: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import conversation

    failures = {"left": 2}
    original = conversation.handle

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return original(*args, **kwargs)

    monkeypatch.setattr(dispatch_module, "handle", flaky)
    answer = await bot.send(SECRETARY, "/tiendo")
    assert failures["left"] == 0 and "TIẾN ĐỘ" in answer[0]


async def test_one_webhook_update_delivered_1000_times_is_processed_once(
    services: Services, database: Database
) -> None:
    tree = build_tree(database)
    code = invite(database, tree.cell_a, Role.secretary)
    api = FakeBotAPI()
    channel = build_channel(
        "123:TEST",
        services,
        base_url="http://fake/bot",
        transport=api.transport(),
        rate_limit=False,
        webhook_secret=SECRET,
    )
    app = channel.application
    assert app is not None
    await app.initialize()
    runtime = WebRuntime(database, services, channels={"telegram": channel})
    runtime.start()
    update = {
        "update_id": 9,
        "message": {
            "message_id": 1,
            "date": 1698800000,
            "chat": {"id": 111, "type": "private"},
            "from": {"id": 111, "is_bot": False, "first_name": "Lan"},
            "text": f"/dangky {code}",
        },
    }
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://tiendo.test"
        ) as client:
            for _ in range(1000):
                answer = await client.post(
                    "/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                assert answer.status_code == 200
        await runtime.wait_idle()
    finally:
        await runtime.stop()
        await app.shutdown()
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(InboxUpdate)).one() == 1
    assert len(api.sent()) == 1 and "Đã đăng ký" in api.texts()[0]


def incoming_of(bot: Harness, payload: dict[str, object]) -> Incoming:
    incoming = to_incoming(Update.de_json(payload, bot.app.bot), bot.app.bot.bot)
    assert incoming is not None
    return incoming


async def test_replies_cut_off_by_a_crash_after_the_commit_are_sent_when_the_update_comes_again(
    bot: Harness, database: Database, registered: Tree, services: Services
) -> None:
    # The process handles a report, commits, and dies before its reply leaves.
    report = bot.message_update(
        SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT"
    )
    handle(incoming_of(bot, report), services)
    assert bot.api.sent(SECRETARY.id)[-1].params["text"].startswith("Đã đăng ký")
    # Telegram delivers the update again (polling) or the inbox sweep takes it: the summary goes out.
    await bot.feed(report)
    assert "Xác nhận" in bot.last_buttons(SECRETARY)
    confirm = bot.press_update(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    handle(incoming_of(bot, confirm), services)  # confirmed and committed; the receipt never left
    assert stored_reports(database) == 1
    await bot.feed(confirm)
    receipt = bot.api.texts(SECRETARY.id)[-1]
    assert "Mã biên nhận" in receipt and "trước đó" not in receipt
    # Once a reply has left, a later delivery does not send the replies again.
    sent = len(bot.api.sent(SECRETARY.id))
    await bot.feed(report)
    assert len(bot.api.sent(SECRETARY.id)) == sent
    assert stored_reports(database) == 1


async def test_a_confirm_press_processed_again_after_restarts_is_not_answered_again(
    bot: Harness, database: Database, registered: Tree
) -> None:
    """A process answers a confirm press and is killed before marking its stored update processed; every
    restart's sweep processes it again. The secretary had the receipt: no "already recorded" each time
    (bench_chaos found it sent twice to one press after two kills)."""
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    press = bot.press_update(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    await bot.feed(press)
    assert "Mã biên nhận" in bot.api.texts(SECRETARY.id)[-1]
    sent = len(bot.api.sent(SECRETARY.id))
    for _ in range(3):
        await bot.feed(press)
    assert len(bot.api.sent(SECRETARY.id)) == sent and stored_reports(database) == 1
    # A new press of the same button (a new update) is told the receipt.
    assert "đã được ghi nhận trước đó" in (await bot.press(SECRETARY, press["callback_query"]["data"]))[0]


async def test_a_refused_reply_is_sent_again_and_never_followed_by_a_false_apology(
    bot: Harness, database: Database, registered: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch_module, "SEND_RETRY_SECONDS", 0.01)
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    confirm = bot.last_buttons(SECRETARY)["Xác nhận"]
    bot.api.script["sendMessage"] = [(502, {"ok": False, "description": "Bad Gateway"})]
    before = len(bot.api.accepted)
    await bot.press(SECRETARY, confirm)
    [receipt] = [c.params["text"] for c in bot.api.accepted[before:]]
    assert "Mã biên nhận" in receipt
    # Telegram refuses every attempt: the report is stored, and nobody is told it was not.
    await bot.send(SECRETARY, "kết nạp 1 đảng viên, 0 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 1 THPT")
    confirm = bot.last_buttons(SECRETARY)["Xác nhận"]
    bot.api.script["sendMessage"] = [(500, {"ok": False, "description": "Internal Server Error"})] * 3
    before = len(bot.api.accepted)
    attempts = await bot.press(SECRETARY, confirm)
    assert len(attempts) == 3 and "Mã biên nhận" in attempts[0] and bot.api.accepted[before:] == []
    assert stored_reports(database) == 2
    assert not any("chưa ghi" in text for text in bot.api.texts(SECRETARY.id))
