"""Guided questions, /ketnap and /lop, corrections and withdrawals, through the Telegram layer."""

from collections.abc import AsyncIterator
from datetime import date

import pytest
from sqlmodel import select

from bot.channels.telegram import build_application
from handlers.types import Services
from storage import units
from storage.db import Database
from storage.models import AdmissionEntry, AuditEvent, Report, ReportStatus, Role
from storage.rollups import sum_totals
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.clock import FakeClock
from tests.utils.fake_telegram import FakeBotAPI, Harness, TelegramUser

SECRETARY = TelegramUser(id=111, first_name="Lan")
OTHER = TelegramUser(id=222, first_name="Hùng")
STAFF = TelegramUser(id=333, first_name="Minh")


async def start_bot(services: Services) -> Harness:
    api = FakeBotAPI()
    app = build_application("123:TEST", services, base_url="http://fake/bot", request=api, rate_limit=False)
    await app.initialize()
    return Harness(app=app, api=api)


@pytest.fixture
async def bot(services: Services) -> AsyncIterator[Harness]:
    harness = await start_bot(services)
    yield harness
    await harness.app.shutdown()


@pytest.fixture
async def tree(database: Database, bot: Harness) -> Tree:
    tree = build_tree(database)
    for user, unit, role in (
        (SECRETARY, tree.cell_a, Role.secretary),
        (OTHER, tree.cell_b, Role.secretary),
        (STAFF, tree.commune, Role.staff),
    ):
        answer = await bot.send(user, f"/dangky {invite(database, unit, role)}")
        assert "Đã đăng ký" in answer[0]
    return tree


def entries(database: Database) -> list[AdmissionEntry]:
    with database.session() as session:
        return list(
            session.exec(
                select(AdmissionEntry).join(Report).where(Report.status == ReportStatus.confirmed)
            ).all()
        )


def admissions(database: Database, code: str) -> int:
    with database.session() as session:
        return sum_totals(session, units.get_by_code(session, code).id or 0, None, None).admissions


async def confirm(bot: Harness, user: TelegramUser) -> str:
    answer = await bot.press(user, bot.last_buttons(user)["Xác nhận"])
    assert "Mã biên nhận" in answer[0] or "Đã sửa" in answer[0], answer
    return answer[0]


def receipt_of(text: str) -> str:
    return text.split("BN-")[-1][:6].join(("BN-", ""))


async def test_missing_breakdowns_are_asked_one_at_a_time(
    bot: Harness, database: Database, tree: Tree
) -> None:
    first = await bot.send(SECRETARY, "kết nạp 3 đảng viên tháng 10/2023")
    assert first == ["Trong 3 đảng viên mới, có bao nhiêu đồng chí nữ?"]
    assert list(bot.last_buttons(SECRETARY)) == ["0", "1", "2", "3", "Không rõ"]
    # A button, a digit, a number word, "tất cả" without diacritics, then "không rõ".
    await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["2"])
    assert (await bot.send(SECRETARY, "3")) == ["Trong 3 đảng viên mới, có bao nhiêu đồng chí theo tôn giáo?"]
    await bot.send(SECRETARY, "một")
    await bot.send(SECRETARY, "khong ro")
    summary = await bot.send(SECRETARY, "tat ca")
    assert "Kết nạp 3 đảng viên: 2 nữ, 3 đoàn viên, 1 theo tôn giáo, 3 trình độ THPT trở lên" in summary[0]
    assert "tháng 10/2023" in summary[0]
    assert list(bot.last_buttons(SECRETARY)) == ["Xác nhận", "Sửa", "Hủy"]
    await confirm(bot, SECRETARY)
    [entry] = entries(database)
    assert (
        entry.count,
        entry.female,
        entry.youth_union,
        entry.religious,
        entry.ethnic_minority,
        entry.upper_secondary_or_above,
    ) == (3, 2, 3, 1, None, 3)
    assert entry.month == date(2023, 10, 1)


async def test_wrong_answers_are_asked_again(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc thiểu số")
    too_many = await bot.send(SECRETARY, "5")
    assert "lớn hơn số đảng viên kết nạp (2)" in too_many[0]
    assert too_many[1] == "Trong 2 đảng viên mới, có bao nhiêu đồng chí có trình độ THPT trở lên?"
    nonsense = await bot.send(SECRETARY, "để tôi hỏi lại đã")
    assert "chưa hiểu câu trả lời" in nonsense[0] and "THPT" in nonsense[1]
    summary = await bot.send(SECRETARY, "2")
    assert "2 trình độ THPT trở lên" in summary[0]


async def test_one_new_member_gets_yes_no_questions(bot: Harness, tree: Tree) -> None:
    first = await bot.send(SECRETARY, "kết nạp 1 đảng viên, đoàn viên, THPT, không theo đạo, người Kinh")
    assert first == ["Đảng viên mới là nữ phải không?"]
    assert list(bot.last_buttons(SECRETARY)) == ["Có", "Không", "Không rõ"]
    summary = await bot.send(SECRETARY, "có")
    assert "Kết nạp 1 đảng viên: 1 nữ, 1 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số" in summary[0]


async def test_a_new_report_typed_mid_dialogue_replaces_the_draft(bot: Harness, tree: Tree) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên")
    answer = await bot.send(SECRETARY, "cử 4 quần chúng đi học lớp nhận thức")
    assert "Cử 4 quần chúng đi học" in answer[0]


async def test_ketnap_guides_from_nothing(bot: Harness, database: Database, tree: Tree) -> None:
    first = await bot.send(SECRETARY, "/ketnap")
    assert first == ["Kỳ tháng 11/2023, chi bộ kết nạp được bao nhiêu đảng viên?"]
    assert (await bot.send(SECRETARY, "hai")) == ["Trong 2 đảng viên mới, có bao nhiêu đồng chí nữ?"]
    for reply in ("1", "2", "0", "0"):
        await bot.send(SECRETARY, reply)
    summary = await bot.send(SECRETARY, "2")
    assert (
        "Kết nạp 2 đảng viên: 1 nữ, 2 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 2 trình độ THPT"
        in summary[0]
    )
    await confirm(bot, SECRETARY)
    assert admissions(database, tree.commune) == 2


async def test_ketnap_zero_is_a_zero_report(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "/ketnap")
    summary = await bot.send(SECRETARY, "0")
    assert "Chưa kết nạp đảng viên nào" in summary[0]
    await confirm(bot, SECRETARY)
    with database.session() as session:
        totals = sum_totals(session, units.get_by_code(session, tree.cell_a).id or 0, None, None)
    assert (totals.reports, totals.admissions) == (1, 0)


async def test_lop_asks_sent_then_completed(bot: Harness, database: Database, tree: Tree) -> None:
    assert "cử bao nhiêu quần chúng" in (await bot.send(SECRETARY, "/lop"))[0]
    assert "Trong 5 quần chúng" in (await bot.send(SECRETARY, "5"))[0]
    summary = await bot.send(SECRETARY, "tất cả")
    assert "Cử 5 quần chúng" in summary[0] and "5 quần chúng hoàn thành" in summary[0]
    await confirm(bot, SECRETARY)
    with database.session() as session:
        totals = sum_totals(session, units.get_by_code(session, tree.commune).id or 0, None, None)
    assert (totals.sent, totals.completed) == (5, 5)


async def test_huy_cancels_the_dialogue(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "/ketnap")
    assert "Đã hủy" in (await bot.send(SECRETARY, "/huy"))[0]
    assert "chưa hiểu" in (await bot.send(SECRETARY, "2"))[0]
    assert "Không có báo cáo nào đang soạn" in (await bot.send(SECRETARY, "/huy"))[0]


async def test_dialogue_survives_a_restart(
    services: Services, database: Database, database_url: str, tree: Tree, bot: Harness, clock: FakeClock
) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 2 nữ")
    await bot.send(SECRETARY, "1")  # youth union
    await bot.app.shutdown()
    # A new process: a new engine, new application, same database.
    fresh_database = Database(database_url)
    fresh = await start_bot(Services(session=fresh_database.session, timezone=services.timezone, clock=clock))
    fresh.update_ids = bot.update_ids  # Telegram's update ids go on increasing
    try:
        answer = await fresh.send(SECRETARY, "0")
        assert answer == ["Trong 2 đảng viên mới, có bao nhiêu đồng chí là người dân tộc thiểu số?"]
        await fresh.send(SECRETARY, "0")
        summary = await fresh.send(SECRETARY, "2")
        assert "2 nữ, 1 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 2 trình độ THPT" in summary[0]
        await confirm(fresh, SECRETARY)
    finally:
        await fresh.app.shutdown()
        fresh_database.dispose()
    [entry] = entries(database)
    assert (entry.female, entry.youth_union) == (2, 1)


async def test_correction_replaces_the_report_everywhere(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 2 nữ, 2 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    old = receipt_of(await confirm(bot, SECRETARY))
    assert admissions(database, tree.commune) == 2
    prompt = await bot.send(SECRETARY, f"/sua {old}")
    assert old in prompt[0] and "nội dung đúng" in prompt[0]
    summary = await bot.send(
        SECRETARY, "kết nạp 3 đảng viên, 2 nữ, 3 đoàn viên, 0 tôn giáo, 0 dân tộc, 3 THPT"
    )
    assert f"Sửa báo cáo {old}" in summary[0]
    done = await confirm(bot, SECRETARY)
    new = receipt_of(done)
    assert f"báo cáo {old} được thay bằng báo cáo {new}" in done
    assert admissions(database, tree.commune) == 3
    assert admissions(database, tree.root) == 3
    with database.session() as session:
        old_report = session.exec(select(Report).where(Report.receipt_code == old)).one()
        new_report = session.exec(select(Report).where(Report.receipt_code == new)).one()
        assert old_report.status == ReportStatus.withdrawn and new_report.supersedes_id == old_report.id
        actions = session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert "report.correct" in actions
    staff_view = await bot.send(STAFF, "/tiendo")
    assert "đã kết nạp 3 đảng viên" in staff_view[0]
    listing = (await bot.send(SECRETARY, "/baocao"))[0]
    assert f"{old} (tháng 11/2023, đã rút)" in listing and f"{new} (tháng 11/2023, đã ghi nhận)" in listing
    assert "đã được rút" in (await bot.send(SECRETARY, f"/sua {old}"))[0]


async def test_withdrawal_with_confirmation(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "/ketnap")
    await bot.send(SECRETARY, "0")
    code = receipt_of(await confirm(bot, SECRETARY))
    await bot.send(SECRETARY, "cử 3 quần chúng đi học lớp nhận thức")
    await confirm(bot, SECRETARY)
    ask = await bot.send(SECRETARY, f"/huy {code.lower()}")
    assert f"rút báo cáo {code}" in ask[0] and "Chưa kết nạp đảng viên nào" in ask[0]
    assert "giữ nguyên" in (await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Giữ lại"]))[0]
    await bot.send(SECRETARY, f"/huy {code}")
    done = await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Rút báo cáo"])
    assert f"Đã rút báo cáo {code}" in done[0]
    with database.session() as session:
        totals = sum_totals(session, units.get_by_code(session, tree.commune).id or 0, None, None)
        assert (totals.reports, totals.sent) == (1, 3)
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "report.withdraw")).one()
    assert "đã được rút" in (await bot.send(SECRETARY, f"/huy {code}"))[0]


async def test_who_may_change_a_report(
    bot: Harness, database: Database, tree: Tree, clock: FakeClock
) -> None:
    await bot.send(SECRETARY, "/ketnap")
    await bot.send(SECRETARY, "0")
    code = receipt_of(await confirm(bot, SECRETARY))
    assert "không có quyền" in (await bot.send(OTHER, f"/sua {code}"))[0]
    assert "Không tìm thấy báo cáo" in (await bot.send(SECRETARY, "/sua BN-ZZZZZZ"))[0]
    clock.advance(days=8)
    assert "quá 7 ngày" in (await bot.send(SECRETARY, f"/sua {code}"))[0]
    # Staff of the commune may correct a report of their subtree at any time.
    assert "nội dung đúng" in (await bot.send(STAFF, f"/sua {code}"))[0]
    summary = await bot.send(
        STAFF, "tháng 11/2023 kết nạp 1 đảng viên nữ, đoàn viên, không theo đạo, Kinh, THPT"
    )
    assert "Chi bộ thôn An Hòa" in summary[0]
    await confirm(bot, STAFF)
    assert admissions(database, tree.cell_a) == 1


async def test_staff_free_text_report_is_declined(bot: Harness, database: Database, tree: Tree) -> None:
    answer = await bot.send(STAFF, "kết nạp 2 đảng viên")
    assert "bí thư chi bộ gửi" in answer[0]
    assert "bí thư chi bộ gửi" in (await bot.send(STAFF, "/ketnap"))[0]


async def test_legacy_encodings_are_explained(bot: Harness, database: Database, tree: Tree) -> None:
    for text, name in (("kÕt n¹p 2 ®¶ng viªn", "TCVN3"), ("keát naïp 2 ñaûng vieân", "VNI")):
        answer = await bot.send(SECRETARY, text)
        assert f"bảng mã cũ {name}" in answer[0] and "Unicode" in answer[0]
    assert entries(database) == []


async def test_over_long_message_is_explained(bot: Harness, tree: Tree) -> None:
    answer = await bot.send(SECRETARY, "kết nạp 2 đảng viên " * 200)
    assert "dài quá 2.000 ký tự" in answer[0]
