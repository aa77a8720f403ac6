"""Group chats on Telegram and Zalo: each member has a dialogue of their own, nobody acts through
another member's, the bot answers only when addressed, and what is meant for one person goes to
that person's private chat unless an administrator bound the group to a unit."""

from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
from sqlmodel import select

from bot.channels.zalo import ZaloChannel
from bot.channels.zalo_client import ZaloClient
from handlers.types import Services
from storage import groups, units
from storage.db import Database
from storage.models import Account, ChatGroup, Report, Role
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.fake_telegram import GROUP, Harness, TelegramUser, running_bot
from tests.utils.fake_zalo_server import FakeZaloServer

LAN = TelegramUser(id=111, first_name="Lan")  # secretary of cell A
HUNG = TelegramUser(id=222, first_name="Hùng")  # secretary of cell B
KHACH = TelegramUser(id=444, first_name="Khách")  # not registered
GROUP_ID = GROUP["id"]
FULL_REPORT = "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT"


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database)


@pytest.fixture
async def telegram(services: Services) -> AsyncIterator[Harness]:
    async with running_bot(services) as harness:
        yield harness


def stored(database: Database) -> list[Report]:
    with database.session() as session:
        return list(session.exec(select(Report)).all())


def account_of(database: Database, channel: str, user: str) -> Account:
    with database.session() as session:
        return session.exec(
            select(Account).where(Account.channel == channel, Account.channel_user_id == user)
        ).one()


def bind(database: Database, channel: str, chat: str, unit: str) -> None:
    with database.session() as session:
        groups.bind(session, channel, chat, units.get_by_code(session, unit), now=datetime.now().astimezone())


# --- Telegram -------------------------------------------------------------------------------------


async def register_privately(bot: Harness, database: Database, user: TelegramUser, unit: str) -> None:
    assert "Đã đăng ký" in (await bot.send(user, f"/dangky {invite(database, unit, Role.secretary)}"))[0]


async def test_telegram_group_messages_not_meant_for_the_bot_get_no_answer(
    telegram: Harness, database: Database, tree: Tree
) -> None:
    await register_privately(telegram, database, LAN, tree.cell_a)
    for update in (
        telegram.group_update(LAN, FULL_REPORT),
        telegram.group_update(LAN, "/tiendo@some_other_bot"),
        telegram.group_update(KHACH, "chào các đồng chí"),
    ):
        assert await telegram.collect(update) == []
    assert stored(database) == []


async def test_telegram_a_secretary_reports_in_a_group_by_mentioning_the_bot_and_is_answered_privately(
    telegram: Harness, database: Database, tree: Tree
) -> None:
    await register_privately(telegram, database, LAN, tree.cell_a)
    answers = await telegram.collect(telegram.group_update(LAN, FULL_REPORT, mention=True))
    assert answers[0] == (GROUP_ID, "Bot đã trả lời riêng đồng chí Lan Bí Thư.")
    [(chat, summary)] = answers[1:]
    assert chat == LAN.id and "Kết nạp 2 đảng viên: 1 nữ, 1 đoàn viên" in summary
    # Replying to the bot's message, without a mention, is addressing it too.
    answers = await telegram.collect(telegram.group_update(LAN, "/baocao", reply_to_bot=True))
    assert [chat for chat, _ in answers] == [GROUP_ID, LAN.id]
    receipt = await telegram.press(LAN, telegram.last_buttons(LAN)["Xác nhận"])
    assert "Mã biên nhận: BN-" in receipt[0] and "Chi bộ thôn An Hòa" in receipt[0]
    [report] = stored(database)
    assert report.account_id == account_of(database, "telegram", str(LAN.id)).id
    assert report.receipt_code in receipt[0]
    assert not any(chat == GROUP_ID and "BN-" in text for chat, text in answers)


async def test_telegram_someone_who_never_wrote_privately_is_asked_to_and_nothing_personal_goes_to_the_group(
    telegram: Harness, database: Database, tree: Tree
) -> None:
    code = invite(database, tree.cell_b, Role.secretary)
    answers = await telegram.collect(telegram.group_update(HUNG, f"/dangky {code}", mention=True))
    assert [chat for chat, _ in answers] == [GROUP_ID, GROUP_ID]
    assert "Đã đăng ký" in answers[0][1] and "gửi /start" in answers[1][1]
    assert account_of(database, "telegram", str(HUNG.id)).chat_id is None  # a group is not their chat
    answers = await telegram.collect(telegram.group_update(HUNG, FULL_REPORT, mention=True))
    assert answers == [(GROUP_ID, answers[0][1])] and "chưa nhắn riêng cho bot" in answers[0][1]
    assert "Kết nạp" not in answers[0][1] and stored(database) == []
    # Once they write privately, the group's next message is answered there.
    assert "/dangky" not in (await telegram.send(HUNG, "/start"))[0]
    answers = await telegram.collect(telegram.group_update(HUNG, FULL_REPORT, mention=True))
    assert [chat for chat, _ in answers] == [GROUP_ID, HUNG.id]


async def test_telegram_in_a_bound_group_a_member_cannot_confirm_or_correct_another_members_report(
    telegram: Harness, database: Database, tree: Tree
) -> None:
    await register_privately(telegram, database, LAN, tree.cell_a)
    await register_privately(telegram, database, HUNG, tree.cell_a)  # same cell: may change its reports
    await telegram.collect(telegram.group_update(LAN, "/start", mention=True))  # the bot sees the group
    bind(database, "telegram", str(GROUP_ID), tree.commune)
    answers = await telegram.collect(telegram.group_update(LAN, FULL_REPORT, mention=True))
    [(chat, summary)] = answers
    assert chat == GROUP_ID and "Kết nạp 2 đảng viên" in summary  # in the open: the group is the unit's
    buttons = telegram.last_buttons(GROUP_ID)
    # Hùng presses Lan's button, and types "1" to the bot: neither touches Lan's draft.
    pressed = await telegram.collect(telegram.press_update(HUNG, buttons["Xác nhận"], chat=GROUP))
    assert pressed == [(GROUP_ID, pressed[0][1])] and "không thuộc việc đồng chí đang làm" in pressed[0][1]
    await telegram.collect(telegram.group_update(HUNG, "1", mention=True))
    assert stored(database) == []
    receipt = await telegram.collect(telegram.press_update(LAN, buttons["Xác nhận"], chat=GROUP))
    code = receipt[0][1].split("Mã biên nhận: ")[1][:9]
    [report] = stored(database)
    assert report.account_id == account_of(database, "telegram", str(LAN.id)).id
    # Lan starts a correction; Hùng's message does not complete it, Lan's does.
    assert (
        "nội dung đúng"
        in (await telegram.collect(telegram.group_update(LAN, f"/sua {code}", mention=True)))[0][1]
    )
    await telegram.collect(telegram.group_update(HUNG, "kết nạp 5 đảng viên", mention=True))
    hung_buttons = telegram.last_buttons(GROUP_ID)
    answers = await telegram.collect(
        telegram.group_update(LAN, FULL_REPORT.replace("2 đảng", "3 đảng"), mention=True)
    )
    assert "Sửa báo cáo" in answers[-1][1]
    lan_buttons = telegram.last_buttons(GROUP_ID)
    assert lan_buttons != hung_buttons
    pressed = await telegram.collect(telegram.press_update(HUNG, lan_buttons["Xác nhận"], chat=GROUP))
    assert "không thuộc việc đồng chí đang làm" in pressed[0][1]
    done = await telegram.collect(telegram.press_update(LAN, lan_buttons["Xác nhận"], chat=GROUP))
    assert code in done[0][1]
    reports = stored(database)
    assert sorted(r.status for r in reports) == ["confirmed", "withdrawn"]
    lan = account_of(database, "telegram", str(LAN.id)).id
    assert all(r.account_id == lan for r in reports)


# --- Zalo -----------------------------------------------------------------------------------------

GROUP_CHAT = "g-5a5a5a5a5a"
MAI, TUAN = "zalo-user-555", "zalo-user-666"


@pytest.fixture
def zalo() -> Iterator[FakeZaloServer]:
    with FakeZaloServer(replay_seconds=0) as fake:
        yield fake


@pytest.fixture
async def zalo_channel(zalo: FakeZaloServer, services: Services) -> AsyncIterator[ZaloChannel]:
    channel = ZaloChannel(ZaloClient(zalo.token, zalo.base_url), services)
    yield channel
    await channel.close()


async def say(zalo: FakeZaloServer, channel: ZaloChannel, update: dict | None) -> list[tuple[str, str]]:
    """Handle one update; returns (chat, text) of what the bot sent in answer."""
    assert update is not None
    before = len(zalo.sent_texts())
    await channel.handle(update)
    with zalo.lock:
        sent = [(p["chat_id"], p["text"]) for m, p in zalo.calls if m == "sendMessage"]
    return sent[before:]


async def test_zalo_only_mentions_and_replies_reach_the_bot(zalo: FakeZaloServer) -> None:
    assert zalo.group_update(GROUP_CHAT, MAI, "chào cả nhà", mention=False) is None
    replied = zalo.group_update(GROUP_CHAT, MAI, "2", mention=False, reply=True)
    assert replied is not None and replied["message"]["chat"]["chat_type"] == "GROUP"
    mentioned = zalo.group_update(GROUP_CHAT, MAI, "/tiendo")
    assert mentioned is not None and mentioned["message"]["text"] == "@Bot Tiến Độ Thanh Hà /tiendo"


async def test_zalo_a_secretary_reports_in_a_group_by_mentioning_the_bot_and_the_receipt_is_theirs(
    zalo: FakeZaloServer, zalo_channel: ZaloChannel, database: Database, tree: Tree
) -> None:
    code = invite(database, tree.cell_a, Role.secretary)
    assert (
        "Đã đăng ký"
        in (
            await say(
                zalo,
                zalo_channel,
                zalo.make_update("message.text.received", MAI, f"/dangky {code}", "Mai", None),
            )
        )[0][1]
    )
    answers = await say(
        zalo, zalo_channel, zalo.group_update(GROUP_CHAT, MAI, FULL_REPORT, display_name="Mai")
    )
    assert answers[0] == (GROUP_CHAT, "Bot đã trả lời riêng đồng chí Mai.")
    assert answers[1][0] == MAI and answers[1][1].endswith("1. Xác nhận  2. Sửa  3. Hủy")
    # Another member types "1" to the bot in the group: their own dialogue has nothing to confirm.
    answers = await say(zalo, zalo_channel, zalo.group_update(GROUP_CHAT, TUAN, "1", display_name="Tuấn"))
    assert [chat for chat, _ in answers] == [GROUP_CHAT] and stored(database) == []
    # Mai confirms (in the group, mentioning the bot): the receipt goes to her privately.
    answers = await say(zalo, zalo_channel, zalo.group_update(GROUP_CHAT, MAI, "1", display_name="Mai"))
    assert answers[0][0] == GROUP_CHAT and answers[1][0] == MAI and "Mã biên nhận: BN-" in answers[1][1]
    [report] = stored(database)
    assert report.account_id == account_of(database, "zalo", MAI).id and report.channel == "zalo"
    assert report.receipt_code in answers[1][1]
    with database.session() as session:
        assert session.get(ChatGroup, ("zalo", GROUP_CHAT)) is not None  # `tiendo groups list` shows it


async def test_zalo_a_member_who_only_wrote_in_the_group_is_asked_to_write_privately(
    zalo: FakeZaloServer, zalo_channel: ZaloChannel, database: Database, tree: Tree
) -> None:
    code = invite(database, tree.cell_b, Role.secretary)
    answers = await say(
        zalo, zalo_channel, zalo.group_update(GROUP_CHAT, TUAN, f"/dangky {code}", display_name="Tuấn")
    )
    assert [chat for chat, _ in answers] == [GROUP_CHAT, GROUP_CHAT] and "Đã đăng ký" in answers[0][1]
    assert account_of(database, "zalo", TUAN).chat_id is None
    answers = await say(
        zalo, zalo_channel, zalo.group_update(GROUP_CHAT, TUAN, "/tiendo", display_name="Tuấn")
    )
    assert answers == [(GROUP_CHAT, answers[0][1])] and "chưa nhắn riêng cho bot" in answers[0][1]
    assert "TIẾN ĐỘ" not in answers[0][1]
    await say(zalo, zalo_channel, zalo.make_update("message.text.received", TUAN, "/start", "Tuấn", None))
    assert account_of(database, "zalo", TUAN).chat_id == TUAN
    answers = await say(
        zalo, zalo_channel, zalo.group_update(GROUP_CHAT, TUAN, "/tiendo", display_name="Tuấn")
    )
    assert answers[0][0] == GROUP_CHAT and answers[1][0] == TUAN and "TIẾN ĐỘ" in answers[1][1]


async def test_zalo_in_a_bound_group_dialogues_are_in_the_open_one_per_member(
    zalo: FakeZaloServer, zalo_channel: ZaloChannel, database: Database, tree: Tree
) -> None:
    for user in (MAI, TUAN):
        code = invite(database, tree.cell_a, Role.secretary)
        await say(
            zalo, zalo_channel, zalo.make_update("message.text.received", user, f"/dangky {code}", user, None)
        )
    await say(zalo, zalo_channel, zalo.group_update(GROUP_CHAT, MAI, "/start"))
    bind(database, "zalo", GROUP_CHAT, tree.cell_a)
    answers = await say(zalo, zalo_channel, zalo.group_update(GROUP_CHAT, MAI, FULL_REPORT))
    assert [chat for chat, _ in answers] == [GROUP_CHAT] and "1. Xác nhận" in answers[0][1]
    answers = await say(zalo, zalo_channel, zalo.group_update(GROUP_CHAT, TUAN, "1"))
    assert stored(database) == [] and "Mã biên nhận" not in answers[0][1]
    answers = await say(zalo, zalo_channel, zalo.group_update(GROUP_CHAT, MAI, "xác nhận"))
    assert answers[0][0] == GROUP_CHAT and "Mã biên nhận" in answers[0][1]
    [report] = stored(database)
    assert report.account_id == account_of(database, "zalo", MAI).id


def test_an_administrator_binds_a_group_the_bot_was_mentioned_in(
    database_url: str,
    database: Database,
    tree: Tree,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["groups", "bind", "zalo", GROUP_CHAT, "--unit", tree.commune]) == 1
    assert "chưa được nhắc tên trong nhóm" in capsys.readouterr().err  # a mistyped id binds nothing
    with database.session() as session:
        groups.seen(session, "zalo", GROUP_CHAT, now=datetime.now().astimezone())
    assert main(["groups", "list"]) == 0
    assert f"zalo\t{GROUP_CHAT}\tchưa gắn đơn vị" in capsys.readouterr().out
    assert main(["groups", "bind", "zalo", GROUP_CHAT, "--unit", tree.commune]) == 0
    assert "trả lời các thành viên ngay trong nhóm" in capsys.readouterr().out
    assert main(["groups", "list"]) == 0
    assert f"gắn với {tree.commune} (Đảng bộ xã Kiện Khê)" in capsys.readouterr().out
    with database.session() as session:
        bound = groups.bound_unit(session, "zalo", GROUP_CHAT)
        assert bound is not None and bound.code == tree.commune
    assert main(["groups", "unbind", "zalo", GROUP_CHAT]) == 0
    with database.session() as session:
        assert groups.bound_unit(session, "zalo", GROUP_CHAT) is None
