"""The Telegram layer end to end: real Application and handlers, a fake Bot API, a real database."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import func, select

from bot.channels.telegram import build_channel
from handlers.i18n import t
from handlers.types import Services
from storage import units
from storage.db import Database
from storage.models import AdmissionEntry, Report, Role
from storage.progress import unit_progress
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.clock import FakeClock
from tests.utils.fake_bot_api import FakeBotAPI
from tests.utils.fake_telegram import Harness, TelegramUser

WEBHOOK_SECRET = "s3cret-for-tests-0123456789"
SECRETARY = TelegramUser(id=111, first_name="Lan")
OTHER_SECRETARY = TelegramUser(id=222, first_name="Hùng")
STAFF = TelegramUser(id=333, first_name="Minh")
STRANGER = TelegramUser(id=444, first_name="Khách")


@pytest.fixture(params=["direct", "webhook"])
async def bot(
    request: pytest.FixtureRequest, services: Services, database: Database
) -> AsyncIterator[Harness]:
    """The Telegram layer fed directly, and through POST /telegram/webhook of the web backend."""
    api = FakeBotAPI()
    channel = build_channel(
        "123:TEST",
        services,
        base_url="http://fake/bot",
        transport=api.transport(),
        rate_limit=False,
        webhook_secret=WEBHOOK_SECRET,
    )
    app = channel.application
    assert app is not None
    await app.initialize()
    if request.param == "direct":
        yield Harness(app=app, api=api)
    else:
        import httpx

        from bot.web import WebRuntime, create_app

        runtime = WebRuntime(database, services, channels={"telegram": channel})
        runtime.start()
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://tiendo.test") as client:
            yield Harness(app=app, api=api, web=(client, runtime, WEBHOOK_SECRET))
        await runtime.stop()
    await app.shutdown()


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database)


def report_count(database: Database) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(Report)).one()


def admitted(database: Database, code: str) -> int:
    with database.session() as session:
        return unit_progress(session, units.get_by_code(session, code), date(2023, 11, 1)).totals.admissions


async def compose(bot: Harness, user: TelegramUser, text: str, answer: str = "Không rõ") -> list[str]:
    """Send a report and answer each guided question the same way; the summary comes last."""
    texts = await bot.send(user, text)
    for _ in range(10):
        if not texts or "kiểm tra báo cáo" in texts[-1] or "Sửa báo cáo" in texts[-1]:
            break
        texts += await bot.send(user, answer)
    return texts


async def register(bot: Harness, database: Database, user: TelegramUser, unit: str, role: Role) -> str:
    answer = await bot.send(user, f"/dangky {invite(database, unit, role)}")
    assert len(answer) == 1 and "Đã đăng ký" in answer[0]
    return answer[0]


async def test_unregistered_sender_is_told_how_to_register_and_nothing_is_stored(
    bot: Harness, database: Database, tree: Tree
) -> None:
    for text in ("kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên", "/tiendo", "xin chào"):
        answer = await bot.send(STRANGER, text)
        assert len(answer) == 1
        assert "chưa đăng ký" in answer[0] and "/dangky" in answer[0]
    assert report_count(database) == 0


async def test_start_for_newcomer_explains_registration(bot: Harness, tree: Tree) -> None:
    answer = await bot.send(STRANGER, "/start")
    assert "/dangky" in answer[0]


async def test_registration_names_the_unit(bot: Harness, database: Database, tree: Tree) -> None:
    text = await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    assert "Chi bộ thôn An Hòa" in text and "bí thư chi bộ" in text
    answer = await bot.send(SECRETARY, "/start")
    assert "Chi bộ thôn An Hòa" in answer[0]


async def test_used_invite_code_is_refused(bot: Harness, database: Database, tree: Tree) -> None:
    code = invite(database, tree.cell_a, Role.secretary)
    assert "Đã đăng ký" in (await bot.send(SECRETARY, f"/dangky {code}"))[0]
    answer = await bot.send(OTHER_SECRETARY, f"/dangky {code}")
    assert "đã được sử dụng" in answer[0]
    # The second person is still unregistered: a report from them is not taken.
    assert "chưa đăng ký" in (await bot.send(OTHER_SECRETARY, "kết nạp 1 đảng viên"))[0]


async def test_wrong_and_missing_invite_codes_are_refused(bot: Harness, tree: Tree) -> None:
    assert "không đúng" in (await bot.send(STRANGER, "/dangky ABCDE-FGHJK"))[0]
    assert "/dangky" in (await bot.send(STRANGER, "/dangky"))[0]


async def test_invite_code_typed_in_lower_case_without_dash_works(
    bot: Harness, database: Database, tree: Tree
) -> None:
    code = invite(database, tree.cell_a, Role.secretary).replace("-", "").lower()
    assert "Đã đăng ký" in (await bot.send(SECRETARY, f"/dangky {code}"))[0]


async def test_cancelled_report_stores_nothing(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    summary = (await compose(bot, SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên"))[-1]
    assert "Kết nạp 2 đảng viên" in summary and "1 nữ" in summary and "1 đoàn viên" in summary
    buttons = bot.last_buttons(SECRETARY)
    assert list(buttons) == ["Xác nhận", "Sửa", "Hủy"]
    answer = await bot.press(SECRETARY, buttons["Hủy"])
    assert "Đã hủy" in answer[0]
    assert report_count(database) == 0
    # Pressing Xác nhận of the cancelled draft afterwards stores nothing either.
    answer = await bot.press(SECRETARY, buttons["Xác nhận"])
    assert "không còn" in answer[0]
    assert report_count(database) == 0


async def test_confirmed_report_gets_a_receipt_and_shows_in_tiendo(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    await register(bot, database, STAFF, tree.commune, Role.staff)
    before = await bot.send(STAFF, "/tiendo")
    assert "đã kết nạp 0 đảng viên" in before[0]

    await compose(bot, SECRETARY, "ket nap 2 dang vien")
    answer = await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    assert "Mã biên nhận: BN-" in answer[0]
    receipt = answer[0].split("Mã biên nhận: ")[1][:9]
    with database.session() as session:
        report = session.exec(select(Report)).one()
        assert report.receipt_code == receipt
        # The message as typed, then the answer to the question for the breakdowns.
        assert report.raw_text.splitlines()[0] == "ket nap 2 dang vien"
        assert report.raw_text.splitlines()[1] == "Trả lời: chi tiết: Không rõ"
        assert report.channel == "telegram"
        entry = session.exec(select(AdmissionEntry)).one()
        assert entry.count == 2 and entry.female is None

    after = await bot.send(STAFF, "/tiendo")
    assert "đã kết nạp 2 đảng viên" in after[0]
    assert "2/24" in after[0]  # the commune's yearly plan
    assert "Chi bộ thôn An Hòa: 2" in after[0]


async def test_double_press_of_confirm_stores_once(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    await compose(bot, SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên")
    confirm = bot.last_buttons(SECRETARY)["Xác nhận"]
    first = await bot.press(SECRETARY, confirm)
    second = await bot.press(SECRETARY, confirm)
    receipt = first[0].split("Mã biên nhận: ")[1][:9]
    assert "đã được ghi nhận trước đó" in second[0] and receipt in second[0]
    assert report_count(database) == 1
    assert admitted(database, tree.commune) == 2


async def test_same_update_delivered_twice_is_processed_once(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    await compose(bot, SECRETARY, "kết nạp 3 đảng viên")
    press = bot.press_update(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    await bot.feed(press)
    sent = len(bot.api.sent())
    await bot.feed(press)  # Telegram redelivers the same update_id
    # Polling (an offset not confirmed before a restart) or webhook (stored once): the user had the
    # receipt; a second message, even "already recorded", would be a message sent twice.
    assert len(bot.api.sent()) == sent
    assert report_count(database) == 1
    # A redelivered text message is not processed, nor answered, a second time.
    message = bot.message_update(SECRETARY, "kết nạp 4 đảng viên")
    await bot.feed(message)
    sent = len(bot.api.sent())
    await bot.feed(message)
    assert len(bot.api.sent()) == sent


async def test_typed_number_picks_an_option(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    await bot.send(SECRETARY, "cử 5 quần chúng đi học lớp nhận thức")
    answer = await bot.send(SECRETARY, "1")
    assert "Mã biên nhận" in answer[0]
    with database.session() as session:
        progress = unit_progress(session, units.get_by_code(session, tree.cell_a), date(2023, 11, 1))
    assert progress.totals.sent == 5


async def test_secretary_cannot_see_another_unit(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    own = await bot.send(SECRETARY, "/tiendo")
    assert "Chi bộ thôn An Hòa" in own[0]
    for query in ("Bình Minh", tree.cell_b, "Kiện Khê"):
        answer = await bot.send(SECRETARY, f"/tiendo {query}")
        assert answer == ["Đồng chí chỉ xem được tiến độ của Chi bộ thôn An Hòa."]


async def test_staff_sees_a_unit_of_their_subtree_by_name_without_diacritics(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await register(bot, database, STAFF, tree.commune, Role.staff)
    answer = await bot.send(STAFF, "/tiendo binh minh")
    assert "Chi bộ thôn Bình Minh" in answer[0]
    outside = await bot.send(STAFF, "/tiendo Hà Nam")
    assert "Không tìm thấy" in outside[0]


async def test_edit_then_resend(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    await compose(bot, SECRETARY, "kết nạp 2 đảng viên")
    answer = await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Sửa"])
    assert "gửi lại" in answer[0] and "kết nạp 2 đảng viên" in answer[0]
    await compose(bot, SECRETARY, "kết nạp 3 đảng viên")
    await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    assert admitted(database, tree.cell_a) == 3


async def test_sticker_and_photo_get_a_clear_answer(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    sticker = {
        "file_id": "s",
        "file_unique_id": "s",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    answer = await bot.send(SECRETARY, sticker=sticker)
    assert "tin nhắn chữ" in answer[0]
    photo = [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]
    answer = await bot.send(SECRETARY, photo=photo)
    assert "ảnh" in answer[0]


async def test_message_the_bot_cannot_read_gets_help_with_examples(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    answer = await bot.send(SECRETARY, "hôm nay trời đẹp quá")
    assert "chưa hiểu" in answer[0] and "kết nạp 2 đảng viên" in answer[0]
    assert report_count(database) == 0


async def test_database_failure_is_reported_to_the_user(
    bot: Harness, database: Database, services: Services, tree: Tree
) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)

    def broken_session():
        raise RuntimeError("database down")

    services.session = broken_session
    answer = await bot.send(SECRETARY, "kết nạp 1 đảng viên")
    assert answer and "sự cố" in answer[0] and "chưa ghi" in answer[0]


async def test_start_up_menu_failure_only_warns(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    api = FakeBotAPI()
    api.fail_methods["setMyCommands"] = 500
    channel = build_channel(
        "123:TEST", services, base_url="http://fake/bot", transport=api.transport(), rate_limit=False
    )
    await channel.start(polling=False)
    await channel.close()
    assert "could not set the command menu" in caplog.text
    assert api.counts["setMyCommands"] == 1


async def test_start_up_sets_the_vietnamese_command_menu(services: Services) -> None:
    api = FakeBotAPI()
    channel = build_channel(
        "123:TEST", services, base_url="http://fake/bot", transport=api.transport(), rate_limit=False
    )
    await channel.start(polling=False)
    await channel.close()
    [call] = [c for c in api.calls if c.method == "setMyCommands"]
    menu = {command["command"]: command["description"] for command in call.params["commands"]}
    assert menu["tiendo"] == t("menu.tiendo") and menu["dangky"] == t("menu.dangky")
    assert [c.method for c in api.calls].count("setMyDescription") == 1


async def test_idle_draft_expires_with_a_word_and_is_not_stored(
    bot: Harness, database: Database, tree: Tree, clock: FakeClock
) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    await compose(bot, SECRETARY, "kết nạp 2 đảng viên")
    confirm = bot.last_buttons(SECRETARY)["Xác nhận"]
    clock.advance(hours=25)
    answer = await bot.send(SECRETARY, "/tiendo")
    assert "hết hạn" in answer[0] and "kết nạp 2 đảng viên" in answer[0]
    assert "TIẾN ĐỘ" in answer[1]
    assert "không còn" in (await bot.press(SECRETARY, confirm))[0]
    assert report_count(database) == 0


async def test_baocao_lists_receipts(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    assert "chưa gửi báo cáo nào" in (await bot.send(SECRETARY, "/baocao"))[0]
    await compose(bot, SECRETARY, "kết nạp 2 đảng viên")
    receipt = (await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"]))[0].split(": ")[1][:9]
    listing = (await bot.send(SECRETARY, "/baocao"))[0]
    # sent on 1 November without a month: filed under the month just ended
    assert receipt in listing and "tháng 10/2023" in listing and "kết nạp 2 đảng viên" in listing


async def test_polling_answers_chats_at_once_and_each_chat_in_order(services: Services) -> None:
    """A slow answer in one chat (a chart going out) holds back that chat's next message, not the others."""

    class SlowForOneChat(FakeBotAPI):
        slowed = False

        async def answered(self, method: str, params: dict[str, Any]) -> None:
            if method == "sendMessage" and int(params["chat_id"]) == SECRETARY.id and not self.slowed:
                self.slowed = True
                await asyncio.sleep(3)

    api = SlowForOneChat()
    channel = build_channel(
        "123:TEST", services, base_url="http://fake/bot", transport=api.transport(), rate_limit=False
    )
    await channel.start(polling=True)
    stop = asyncio.Event()
    polling = asyncio.create_task(channel.poll(stop))
    try:
        api.add_message(SECRETARY.id, "/start")
        api.add_message(SECRETARY.id, "/help")
        for user in (OTHER_SECRETARY, STAFF, STRANGER):
            api.add_message(user.id, "/start")
        for _ in range(250):  # (a loaded machine may take a while to answer the four)
            if all(api.texts(user.id) for user in (SECRETARY, OTHER_SECRETARY, STAFF, STRANGER)):
                break
            await asyncio.sleep(0.01)
        # Three chats answered while the first reply of the slow one is still on its way (3 s), and
        # its second message waits for it.
        assert all(len(api.texts(user.id)) == 1 for user in (OTHER_SECRETARY, STAFF, STRANGER))
        assert len(api.texts(SECRETARY.id)) == 1
        for _ in range(600):
            if len(api.texts(SECRETARY.id)) == 2:
                break
            await asyncio.sleep(0.01)
        first, second = api.texts(SECRETARY.id)
        assert first == t("start.unregistered") and second == t("help.unregistered")
    finally:
        stop.set()
        await polling
        await channel.close()
