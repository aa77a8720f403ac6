"""Guided questions, /ketnap and /lop, corrections and withdrawals, through the Telegram layer."""

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from handlers import conversation
from handlers.parser import AdmissionFacts, ClassAttendanceFacts, Fact, ParseResult
from handlers.periods import Period
from handlers.types import Services
from storage import units
from storage.db import Database
from storage.models import AdmissionEntry, AuditEvent, Conversation, Report, ReportStatus, Role
from storage.rollups import sum_totals
from tests.conftest import ZONE
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.clock import FakeClock
from tests.utils.fake_telegram import Harness, TelegramUser, running_bot

SECRETARY = TelegramUser(id=111, first_name="Lan")
OTHER = TelegramUser(id=222, first_name="Hùng")
STAFF = TelegramUser(id=333, first_name="Minh")


@pytest.fixture
async def bot(services: Services) -> AsyncIterator[Harness]:
    async with running_bot(services) as harness:
        yield harness


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


@pytest.fixture(autouse=True)
def mid_month(clock: FakeClock) -> None:
    """Most tests run on the 15th; those about the first days of a month set their own day."""
    clock.now = datetime(2023, 11, 15, 9, 0, tzinfo=ZONE)


def entry_values(entry: AdmissionEntry) -> tuple[int | None, ...]:
    return (
        entry.count,
        entry.female,
        entry.youth_union,
        entry.religious,
        entry.ethnic_minority,
        entry.upper_secondary_or_above,
    )


async def test_missing_breakdowns_are_asked_in_one_message_with_a_free_answer(
    bot: Harness, database: Database, tree: Tree
) -> None:
    first = await bot.send(SECRETARY, "kết nạp 3 đảng viên tháng 10/2023")
    assert first == [
        "Trong 3 đảng viên mới, bao nhiêu đồng chí là nữ, là đoàn viên, theo tôn giáo, là người dân tộc thiểu"
        " số, có trình độ THPT trở lên?\nĐồng chí trả lời trong một tin nhắn, ví dụ: 1 nữ, cả 3 đoàn viên,"
        " còn lại không."
    ]
    assert list(bot.last_buttons(SECRETARY)) == ["Không ai", "Không rõ"]
    summary = await bot.send(SECRETARY, "2 nữ, cả 3 đoàn viên, còn lại không")
    assert (
        "Kết nạp 3 đảng viên: 2 nữ, 3 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 0 trình độ THPT"
        in summary[0]
    )
    assert "tháng 10/2023" in summary[0]
    assert list(bot.last_buttons(SECRETARY)) == ["Xác nhận", "Sửa", "Hủy"]
    await confirm(bot, SECRETARY)
    [entry] = entries(database)
    assert entry_values(entry) == (3, 2, 3, 0, 0, 0)
    assert entry.month == date(2023, 10, 1)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("không ai theo đạo, 1 dân tộc Mường, 2 nữ, cả 2 đoàn viên, cả 2 THPT", (2, 2, 2, 0, 1, 2)),
        ("1 nu 2 doan vien khong ai theo dao khong dan toc ca 2 cap 3", (2, 1, 2, 0, 0, 2)),
        ("cả hai đều là nữ, đoàn viên, không theo đạo, người Kinh, tốt nghiệp THPT", (2, 2, 2, 0, 0, 2)),
        ("nữ 1, đoàn viên 2, tôn giáo 0, dân tộc 0, THPT 1", (2, 1, 2, 0, 0, 1)),
        ("1 đ/c nữ; tôn giáo, dân tộc không rõ; còn lại đều có", (2, 1, 2, None, None, 2)),
        ("không ai", (2, 0, 0, 0, 0, 0)),
        ("không rõ", (2, None, None, None, None, None)),
    ],
)
async def test_free_answers_to_the_breakdown_question(
    bot: Harness, database: Database, tree: Tree, answer: str, expected: tuple[int | None, ...]
) -> None:
    await bot.send(SECRETARY, "ket nap 2 dang vien")
    summary = await bot.send(SECRETARY, answer)
    assert "Đúng thì đồng chí chọn Xác nhận" in summary[-1], summary
    await confirm(bot, SECRETARY)
    [entry] = entries(database)
    assert entry_values(entry) == expected


async def test_a_partial_answer_asks_only_the_rest_and_a_typical_admission_takes_three_messages(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên")
    partial = await bot.send(SECRETARY, "khong ai theo dao")
    assert partial[0] == "Đã ghi: 0 theo tôn giáo."
    assert partial[1].startswith(
        "Trong 2 đảng viên mới, bao nhiêu đồng chí là người dân tộc thiểu số, có trình độ THPT trở lên?"
    )
    summary = await bot.send(SECRETARY, "dân tộc không rõ, cả 2 THPT")
    assert "1 nữ, 1 đoàn viên, 0 theo tôn giáo, 2 trình độ THPT trở lên" in summary[0]
    await confirm(bot, SECRETARY)
    [entry] = entries(database)
    assert entry_values(entry) == (2, 1, 1, 0, None, 2)
    # The usual report: the report, one answer, the confirmation.
    assert (await bot.send(SECRETARY, "ket nap 1 dang vien thang 10"))[0].startswith(
        "Đồng chí cho biết thêm về đảng viên mới: nam hay nữ, có là đoàn viên không"
    )
    assert (
        "Kết nạp 1 đảng viên: 0 nữ, 1 đoàn viên"
        in (await bot.send(SECRETARY, "nam, doan vien, con lai khong"))[0]
    )
    assert "Mã biên nhận" in (await bot.send(SECRETARY, "ok"))[0]
    assert [entry_values(e) for e in entries(database)][1] == (1, 0, 1, 0, 0, 0)


async def test_wrong_answers_are_asked_again(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc thiểu số")
    too_many = await bot.send(SECRETARY, "5")
    assert "lớn hơn số đảng viên kết nạp (2)" in too_many[0]
    assert too_many[1] == "Trong 2 đảng viên mới, có bao nhiêu đồng chí có trình độ THPT trở lên?"
    nonsense = await bot.send(SECRETARY, "để tôi hỏi lại đã")
    assert "chưa hiểu câu trả lời" in nonsense[0] and "gõ một số" in nonsense[0] and "THPT" in nonsense[1]
    summary = await bot.send(SECRETARY, "2")
    assert "2 trình độ THPT trở lên" in summary[0]


@pytest.mark.parametrize(
    ("answer", "female"),
    [("có", 1), ("dạ có ạ", 1), ("vâng", 1), ("ừ", 1), ("uk", 1), ("không ạ", 0), ("hông", 0), ("ko", 0)],
)
async def test_one_new_member_gets_yes_no_questions(
    bot: Harness, database: Database, tree: Tree, answer: str, female: int
) -> None:
    first = await bot.send(SECRETARY, "kết nạp 1 đảng viên, đoàn viên, THPT, không theo đạo, người Kinh")
    assert first == ["Đảng viên mới là nữ phải không?"]
    assert list(bot.last_buttons(SECRETARY)) == ["Có", "Không", "Không rõ"]
    summary = await bot.send(SECRETARY, answer)
    assert f"Kết nạp 1 đảng viên: {female} nữ, 1 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số" in summary[0]


async def test_a_yes_no_question_is_not_answered_with_a_hint_to_type_a_number(
    bot: Harness, tree: Tree
) -> None:
    await bot.send(SECRETARY, "kết nạp 1 đảng viên, đoàn viên, THPT, không theo đạo, người Kinh")
    hint = await bot.send(SECRETARY, "để em hỏi lại")
    assert "có hoặc không" in hint[0] and "gõ một số" not in hint[0]
    assert hint[1] == "Đảng viên mới là nữ phải không?"


async def test_ketnap_guides_from_nothing(bot: Harness, database: Database, tree: Tree) -> None:
    first = await bot.send(SECRETARY, "/ketnap")
    assert first == ["Kỳ tháng 11/2023, chi bộ kết nạp được bao nhiêu đảng viên?"]
    assert (await bot.send(SECRETARY, "hai"))[0].startswith(
        "Trong 2 đảng viên mới, bao nhiêu đồng chí là nữ,"
    )
    summary = await bot.send(SECRETARY, "1 nữ, cả 2 đoàn viên, không ai theo đạo, không dân tộc, 2 THPT")
    assert (
        "Kết nạp 2 đảng viên: 1 nữ, 2 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 2 trình độ THPT"
        in summary[0]
    )
    await confirm(bot, SECRETARY)
    assert admissions(database, tree.commune) == 2


async def test_ketnap_zero_is_a_zero_report(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "/ketnap")
    summary = await bot.send(SECRETARY, "chưa có ai")
    assert "Chưa kết nạp đảng viên nào" in summary[0]
    await confirm(bot, SECRETARY)
    with database.session() as session:
        totals = sum_totals(session, units.get_by_code(session, tree.cell_a).id or 0, None, None)
    assert (totals.reports, totals.admissions) == (1, 0)


@pytest.mark.parametrize("command", ["/ketnap", "/lop"])
async def test_ketnap_and_lop_ask_which_month_in_the_first_days(
    bot: Harness, database: Database, tree: Tree, clock: FakeClock, command: str
) -> None:
    clock.now = datetime(2023, 12, 2, 8, 0, tzinfo=ZONE)
    assert await bot.send(SECRETARY, command) == ["Đồng chí báo cáo cho tháng nào?"]
    assert list(bot.last_buttons(SECRETARY)) == ["Tháng 11/2023", "Tháng 12/2023"]
    assert "chưa hiểu" in (await bot.send(SECRETARY, "ok"))[0]
    question = await bot.send(SECRETARY, "thang truoc")
    assert "Kỳ tháng 11/2023, chi bộ" in question[0]
    summary = await bot.send(SECRETARY, "0")
    if command == "/lop":
        summary = await bot.send(SECRETARY, "0")
    assert "kỳ tháng 11/2023" in summary[0]
    await confirm(bot, SECRETARY)
    with database.session() as session:
        [report] = session.exec(select(Report)).all()
    assert (report.period_start, report.period_end) == (date(2023, 11, 1), date(2023, 11, 30))
    # The month is a button too, and a month not yet begun is refused.
    await bot.send(SECRETARY, command)
    assert "chưa tới" in (await bot.send(SECRETARY, "tháng 1/2024"))[0]
    assert "Kỳ tháng 12/2023" in (await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Tháng 12/2023"]))[0]


async def test_a_report_without_a_month_in_the_first_days_goes_to_the_month_just_ended_and_says_so(
    bot: Harness, database: Database, tree: Tree, clock: FakeClock
) -> None:
    clock.now = datetime(2023, 12, 1, 8, 0, tzinfo=ZONE)
    summary = await bot.send(SECRETARY, "thang nay chua ket nap duoc ai")
    assert "kỳ tháng 12/2023" in summary[0] and "không ghi tháng" not in summary[0]  # "tháng này" names it
    await bot.send(SECRETARY, "/huy")
    summary = await bot.send(SECRETARY, "chua ket nap duoc ai")
    assert "kỳ tháng 11/2023" in summary[0]
    assert "những ngày đầu tháng bot tính vào tháng vừa qua (11/2023)" in summary[0]
    assert "gõ: tháng 12/2023" in summary[0]
    fixed = await bot.send(SECRETARY, "tháng 12/2023")
    assert "kỳ tháng 12/2023" in fixed[0] and "không ghi tháng" not in fixed[0]
    await confirm(bot, SECRETARY)
    with database.session() as session:
        [report] = session.exec(select(Report)).all()
    assert report.period_start == date(2023, 12, 1)
    # After the first days, the current month, without a note.
    clock.now = datetime(2023, 12, 6, 8, 0, tzinfo=ZONE)
    summary = await bot.send(SECRETARY, "cu 2 quan chung di hoc lop nhan thuc")
    assert "kỳ tháng 12/2023" in summary[0] and "không ghi tháng" not in summary[0]


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
    await bot.send(SECRETARY, "1 đoàn viên")
    await bot.app.shutdown()
    # A new process: a new engine, new application, same database.
    fresh_database = Database(database_url)
    fresh_services = Services(session=fresh_database.session, timezone=services.timezone, clock=clock)
    try:
        async with running_bot(fresh_services) as fresh:
            fresh.update_ids = bot.update_ids  # Telegram's update ids go on increasing
            summary = await fresh.send(SECRETARY, "còn lại không")
            assert "2 nữ, 1 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 0 trình độ THPT" in summary[0]
            await confirm(fresh, SECRETARY)
    finally:
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
        actions = session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))).all()
        assert "report.correct" in actions
    staff_view = await bot.send(STAFF, "/tiendo")
    assert "đã kết nạp 3 đảng viên" in staff_view[0]
    listing = (await bot.send(SECRETARY, "/baocao"))[0]
    assert f"{old} (tháng 11/2023, đã rút)" in listing and f"{new} (tháng 11/2023, đã ghi nhận)" in listing
    assert "đã được rút" in (await bot.send(SECRETARY, f"/sua {old}"))[0]


async def test_a_correction_that_names_no_month_keeps_the_corrected_reports_month(
    bot: Harness, database: Database, tree: Tree, services: Services
) -> None:
    """A September report corrected on 6 November by "/sua MÃ", "kết nạp 3 ...": still September."""
    await bot.send(SECRETARY, "tháng 9 kết nạp 2 đảng viên, 2 nữ, 2 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    old = receipt_of(await confirm(bot, SECRETARY))
    services.clock.advance(days=5)  # type: ignore[attr-defined]  # November is being collected now
    await bot.send(SECRETARY, f"/sua {old}")
    summary = await bot.send(
        SECRETARY, "kết nạp 3 đảng viên, 2 nữ, 3 đoàn viên, 0 tôn giáo, 0 dân tộc, 3 THPT"
    )
    assert "tháng 09/2023" in summary[0] and "tháng 11/2023" not in summary[0]
    new = receipt_of(await confirm(bot, SECRETARY))
    with database.session() as session:
        report = session.exec(select(Report).where(Report.receipt_code == new)).one()
        assert (report.period_start, report.period_end) == (date(2023, 9, 1), date(2023, 9, 30))


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


# --- the read-back: yes, no, a fix of one field ---------------------------------------------------

FULL = "kết nạp 2 đảng viên, 1 nữ, 2 đoàn viên, 1 tôn giáo, 0 dân tộc, 2 THPT"


@pytest.mark.parametrize(
    "answer",
    [
        "1",
        "xác nhận",
        "dung roi",
        "ok",
        "dạ đúng rồi ạ",
        "vâng ạ",
        "ừ",
        "uk",
        "dc",
        "được",
        "đúng vậy",
        "chuẩn",
        "oke",
        "👍",
    ],
)
async def test_a_yes_confirms_at_the_read_back(
    bot: Harness, database: Database, tree: Tree, answer: str
) -> None:
    await bot.send(SECRETARY, FULL)
    done = await bot.send(SECRETARY, answer)
    assert "Mã biên nhận: BN-" in done[0]
    assert len(entries(database)) == 1


@pytest.mark.parametrize("answer", ["không ạ", "sai rồi", "hông", "chưa đúng", "ko"])
async def test_a_no_at_the_read_back_asks_what_to_fix_and_keeps_the_draft(
    bot: Harness, database: Database, tree: Tree, answer: str
) -> None:
    await bot.send(SECRETARY, FULL)
    prompt = await bot.send(SECRETARY, answer)
    assert "Đồng chí gửi điều cần sửa" in prompt[0] and FULL in prompt[0]
    fixed = await bot.send(SECRETARY, "tôn giáo là 0 chứ")
    assert "1 nữ, 2 đoàn viên, 0 theo tôn giáo" in fixed[0]
    await confirm(bot, SECRETARY)
    [entry] = entries(database)
    assert entry_values(entry) == (2, 1, 2, 0, 0, 2)


@pytest.mark.parametrize(
    ("fix", "expected", "month"),
    [
        ("tôn giáo là 0 chứ", (2, 1, 2, 0, 0, 2), 11),
        ("ton giao 0", (2, 1, 2, 0, 0, 2), 11),
        ("nữ là 2", (2, 2, 2, 1, 0, 2), 11),
        ("sửa nữ thành 0", (2, 0, 2, 1, 0, 2), 11),
        ("2 nữ chứ không phải 1", (2, 2, 2, 1, 0, 2), 11),
        ("tháng 10 chứ không phải tháng 11", (2, 1, 2, 1, 0, 2), 10),
        ("không phải tháng 11 mà tháng 10", (2, 1, 2, 1, 0, 2), 10),
        ("thang truoc", (2, 1, 2, 1, 0, 2), 10),
        ("kết nạp 3 chứ không phải 2", (3, 1, 2, 1, 0, 2), 11),
        ("3 đảng viên chứ không phải 2", (3, 1, 2, 1, 0, 2), 11),
    ],
)
async def test_one_field_is_fixed_at_the_read_back(
    bot: Harness, database: Database, tree: Tree, fix: str, expected: tuple[int, ...], month: int
) -> None:
    await bot.send(SECRETARY, FULL)
    fixed = await bot.send(SECRETARY, fix)
    assert f"kỳ tháng {month}/2023" in fixed[0], fixed
    await confirm(bot, SECRETARY)
    [entry] = entries(database)
    assert entry_values(entry) == expected and entry.month == date(2023, month, 1)


async def test_a_fix_that_lowers_the_count_asks_again_what_no_longer_fits(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, FULL)
    question = await bot.send(SECRETARY, "kết nạp 1 chứ không phải 2")
    # 2 đoàn viên and 2 THPT no longer fit one member: asked again; 1 nữ, 1 tôn giáo, 0 dân tộc stay.
    assert question[0] == "Đã sửa: kết nạp 1 đảng viên."
    assert question[1].startswith("Đồng chí cho biết thêm về đảng viên mới: có là đoàn viên không, trình độ")
    summary = await bot.send(SECRETARY, "đoàn viên, THPT")
    assert (
        "Kết nạp 1 đảng viên: 1 nữ, 1 đoàn viên, 1 theo tôn giáo, 0 dân tộc thiểu số, 1 trình độ"
        in summary[0]
    )
    too_many = await bot.send(SECRETARY, "nữ là 3")
    assert "lớn hơn số đảng viên kết nạp (1)" in too_many[0]


async def test_a_message_not_understood_at_the_read_back_gets_a_hint_and_loses_nothing(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, FULL)
    hint = await bot.send(SECRETARY, "để tôi xem lại đã")
    assert "chọn Xác nhận" in hint[0] and "tôn giáo là 0" in hint[0]
    await confirm(bot, SECRETARY)
    assert entry_values(entries(database)[0]) == (2, 1, 2, 1, 0, 2)


# --- a newer report while a draft is open ---------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "stored"), [("Giữ báo cáo cũ", [2]), ("Thay bằng báo cáo mới", [3]), ("Ghi cả hai", [2, 3])]
)
async def test_a_newer_report_never_drops_the_open_draft_without_asking(
    bot: Harness, database: Database, tree: Tree, choice: str, stored: list[int]
) -> None:
    await bot.send(SECRETARY, FULL)
    ask = await bot.send(
        SECRETARY,
        "ket nap 3 dang vien thang 10, ca 3 nu, ca 3 doan vien, khong ai theo dao, khong dan toc, ca 3 thpt",
    )
    assert "còn một báo cáo chưa xác nhận" in ask[0]
    assert "Kết nạp 2 đảng viên" in ask[0] and "Kết nạp 3 đảng viên" in ask[0]
    assert list(bot.last_buttons(SECRETARY)) == ["Giữ báo cáo cũ", "Thay bằng báo cáo mới", "Ghi cả hai"]
    # a yes does not pick any of the three
    assert "1 giữ báo cáo cũ" in (await bot.send(SECRETARY, "ok"))[0]
    await bot.press(SECRETARY, bot.last_buttons(SECRETARY)[choice])
    done = await confirm(bot, SECRETARY)
    assert sorted(e.count for e in entries(database)) == stored
    assert done.count("BN-") == len(stored)


async def test_a_newer_report_mid_question_is_asked_about_too(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên")
    ask = await bot.send(SECRETARY, "cử 4 quần chúng đi học lớp nhận thức")
    assert "còn một báo cáo chưa xác nhận" in ask[0] and "Cử 4 quần chúng" in ask[0]
    kept = await bot.send(SECRETARY, "giữ báo cáo cũ")
    assert "báo cáo cũ vẫn chờ" in kept[0] and kept[1].startswith("Trong 2 đảng viên mới, bao nhiêu")
    await bot.send(SECRETARY, "không rõ")
    await confirm(bot, SECRETARY)
    assert [e.count for e in entries(database)] == [2]


async def test_the_same_report_sent_again_while_open_is_recognised(bot: Harness, tree: Tree) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên")
    again = await bot.send(SECRETARY, "ket nap 2 dang vien")
    assert "đã nhận ở tin nhắn trước" in again[0] and again[1].startswith("Trong 2 đảng viên mới")
    # The same report with more detail: taken, and only what is still missing is asked.
    more = await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 2 đoàn viên")
    assert more[0].startswith("Trong 2 đảng viên mới, bao nhiêu đồng chí theo tôn giáo")


async def test_ketnap_with_an_open_draft_shows_it_again(bot: Harness, tree: Tree) -> None:
    await bot.send(SECRETARY, FULL)
    answer = await bot.send(SECRETARY, "/ketnap")
    assert "còn một báo cáo chưa xác nhận" in answer[0] and "Kết nạp 2 đảng viên" in answer[1]


# --- duplicates and contradictions ----------------------------------------------------------------


async def test_the_same_report_sent_twice_is_pointed_out_with_its_receipt(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, FULL)
    code = receipt_of(await confirm(bot, SECRETARY))
    summary = await bot.send(SECRETARY, FULL)
    assert f"Giống báo cáo {code} đã ghi ngày 15/11/2023" in summary[0]
    assert list(bot.last_buttons(SECRETARY)) == ["Không ghi trùng", "Vẫn ghi thêm", "Sửa"]
    # "ok" without reading does not store it twice: asked which
    assert "gõ 1 (không ghi trùng)" in (await bot.send(SECRETARY, "ok"))[0]
    skipped = await bot.send(SECRETARY, "1")
    assert f"báo cáo {code} đã có và giữ nguyên" in skipped[0]
    assert admissions(database, tree.commune) == 2
    # A second admission of the same size, on purpose: recorded with "Vẫn ghi thêm".
    await bot.send(SECRETARY, FULL)
    done = await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Vẫn ghi thêm"])
    assert "Mã biên nhận" in done[0]
    assert admissions(database, tree.commune) == 4


async def test_the_same_counts_with_other_details_are_pointed_out_too(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, FULL)
    code = receipt_of(await confirm(bot, SECRETARY))
    summary = await bot.send(
        SECRETARY, "kết nạp 2 đảng viên, 2 nữ, 2 đoàn viên, 1 tôn giáo, 0 dân tộc, 2 THPT"
    )
    assert f"Cùng kỳ, cùng số với báo cáo {code}" in summary[0] and f"/sua {code}" in summary[0]


async def test_a_zero_report_after_class_reports_of_the_month_lists_them(
    bot: Harness, database: Database, tree: Tree
) -> None:
    codes = []
    for n in (1, 2, 3):
        await bot.send(SECRETARY, f"tháng 11 cử {n} quần chúng đi học lớp nhận thức")
        codes.append(receipt_of(await confirm(bot, SECRETARY)))
    summary = await bot.send(SECRETARY, "tháng 11 không kết nạp được ai")
    assert "kỳ tháng 11/2023 chi bộ đã có 3 báo cáo" in summary[0]
    assert all(code in summary[0] for code in codes) and "giữ nguyên" in summary[0]


async def test_a_zero_report_after_admissions_of_the_month_is_a_contradiction(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, FULL)
    code = receipt_of(await confirm(bot, SECRETARY))
    summary = await bot.send(SECRETARY, "tháng này chưa kết nạp được ai")
    assert f"chi bộ đã báo cáo kết nạp 2 đảng viên ({code})" in summary[0] and f"/huy {code}" in summary[0]
    await confirm(bot, SECRETARY)
    assert admissions(database, tree.commune) == 2  # the zero report takes nothing away
    later = await bot.send(SECRETARY, "ket nap 1 dv thang 11, nu, doan vien, khong theo dao, kinh, thpt")
    assert "ghi kỳ tháng 11/2023 chưa kết nạp được ai" in later[0]


# --- figures out of the ordinary ------------------------------------------------------------------


async def test_an_implausible_admission_is_asked_back(bot: Harness, database: Database, tree: Tree) -> None:
    ask = await bot.send(SECRETARY, "ket nap 100 dang vien")
    assert "Chi bộ kết nạp 100 đảng viên trong kỳ tháng 11/2023?" in ask[0] and "quá 10" in ask[0]
    assert list(bot.last_buttons(SECRETARY)) == ["Đúng, 100"]
    question = await bot.send(SECRETARY, "2")  # the right number
    assert question[0].startswith("Trong 2 đảng viên mới")
    await bot.send(SECRETARY, "không rõ")
    await confirm(bot, SECRETARY)
    assert [e.count for e in entries(database)] == [2]
    # Confirmed as right: kept, and the breakdowns asked next.
    await bot.send(SECRETARY, "tháng 10 kết nạp 12 đảng viên")
    assert "Trong 12 đảng viên mới" in (await bot.send(SECRETARY, "đúng"))[0]


async def test_the_month_total_counts_for_the_limit(bot: Harness, database: Database, tree: Tree) -> None:
    await bot.send(SECRETARY, "kết nạp 8 đảng viên")
    await bot.send(SECRETARY, "không rõ")
    await confirm(bot, SECRETARY)
    ask = await bot.send(SECRETARY, "kết nạp 3 đảng viên")
    assert "đã báo cáo kết nạp 8 đảng viên; thêm 3 là 11" in ask[0]


async def test_a_class_of_hundreds_is_asked_back(bot: Harness, tree: Tree) -> None:
    ask = await bot.send(SECRETARY, "cử 300 quần chúng đi học lớp nhận thức")
    assert "Chi bộ cử 300 quần chúng" in ask[0] and "quá 50" in ask[0]
    assert "Cử 3 quần chúng" in (await bot.send(SECRETARY, "3"))[0]


async def test_the_limits_are_settings(database: Database, clock: FakeClock) -> None:
    services = Services(session=database.session, timezone=ZONE, clock=clock, plausible_admissions=200)
    async with running_bot(services) as harness:
        build_tree(database)
        await harness.send(SECRETARY, f"/dangky {invite(database, 'HN-X1-A', Role.secretary)}")
        ask = await harness.send(SECRETARY, "ket nap 100 dang vien")
        assert ask[0].startswith("Trong 100 đảng viên mới")


# --- several facts per message: one read-back, one confirmation, one report each ------------------


def two_months(text: str, today: date) -> ParseResult:
    """A result with two facts, as the parser gives for "tháng 9 kết nạp 1, tháng 10 kết nạp 2"."""
    september = Period(date(2023, 9, 1), date(2023, 9, 30))
    october = Period(date(2023, 10, 1), date(2023, 10, 31))
    return ParseResult(
        "report",
        facts=(
            Fact(september, AdmissionFacts(1, 1, 1, 0, 0, 1)),
            Fact(october, AdmissionFacts(2, 0, 2, 0, 0, 2), ClassAttendanceFacts(sent=3)),
        ),
    )


@pytest.fixture
def several(monkeypatch: pytest.MonkeyPatch) -> None:
    real = conversation.parse_message

    def parse(text: str, today: date) -> ParseResult:
        return (
            two_months(text, today) if text == "tháng 9 kết nạp 1, tháng 10 kết nạp 2" else real(text, today)
        )

    monkeypatch.setattr(conversation, "parse_message", parse)


async def test_several_facts_are_read_back_together_and_stored_as_separate_reports(
    bot: Harness, database: Database, tree: Tree, several: None
) -> None:
    summary = await bot.send(SECRETARY, "tháng 9 kết nạp 1, tháng 10 kết nạp 2")
    assert summary[0].splitlines()[:6] == [
        "Đồng chí kiểm tra báo cáo của Chi bộ thôn An Hòa (2 kỳ, mỗi kỳ một báo cáo):",
        "1. Kỳ tháng 09/2023:",
        "• Kết nạp 1 đảng viên: 1 nữ, 1 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 1 trình độ THPT"
        " trở lên",
        "2. Kỳ tháng 10/2023:",
        "• Kết nạp 2 đảng viên: 0 nữ, 2 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 2 trình độ THPT"
        " trở lên",
        "• Cử 3 quần chúng đi học lớp bồi dưỡng nhận thức về Đảng",
    ]
    confirm_data = bot.last_buttons(SECRETARY)["Xác nhận"]
    done = await bot.press(SECRETARY, confirm_data)
    assert "Đã ghi nhận 2 báo cáo" in done[0] and done[0].count("BN-") == 2
    # Pressed again (a double tap, a redelivery): nothing more is stored, both receipts are given.
    again = await bot.press(SECRETARY, confirm_data)
    assert "đã được ghi nhận trước đó" in again[0] and again[0].count("BN-") == 2
    with database.session() as session:
        stored = session.exec(select(Report).order_by(col(Report.id))).all()
        keys = [(r.period_start.month, (r.idempotency_key or "").count(":")) for r in stored]
        assert keys == [(9, 1), (10, 2)]
    assert sorted(e.month.month for e in entries(database)) == [9, 10]
    assert admissions(database, tree.commune) == 3


async def test_a_fix_names_the_fact_it_changes(
    bot: Harness, database: Database, tree: Tree, several: None
) -> None:
    await bot.send(SECRETARY, "tháng 9 kết nạp 1, tháng 10 kết nạp 2")
    assert "ghi kèm kỳ cần sửa" in (await bot.send(SECRETARY, "kết nạp 3 chứ"))[0]
    fixed = await bot.send(SECRETARY, "tháng 10 nữ là 1")
    assert "• Kết nạp 2 đảng viên: 1 nữ" in fixed[0]
    await confirm(bot, SECRETARY)
    assert sorted((e.month.month, e.female) for e in entries(database)) == [(9, 1), (10, 1)]


async def test_one_invalid_fact_stores_none_of_them(bot: Harness, database: Database, tree: Tree) -> None:
    """All facts of a confirmation are one transaction: checked before any is stored."""
    await bot.send(SECRETARY, FULL)
    with database.session() as session:
        row = session.exec(select(Conversation).where(Conversation.chat_id == str(SECRETARY.id))).one()
        state = json.loads(row.state)
        state["draft"]["facts"].append({**state["draft"]["facts"][0], "admission": {"count": -1}})
        row.state = json.dumps(state)
        session.add(row)
    answer = await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    assert "Chưa ghi được báo cáo" in answer[0]
    assert entries(database) == []


async def test_a_draft_stored_in_the_old_shape_goes_on(bot: Harness, database: Database, tree: Tree) -> None:
    """A draft left open across an upgrade (one fact, one question per field) is continued."""
    await bot.send(SECRETARY, "kết nạp 2 đảng viên")
    with database.session() as session:
        row = session.exec(select(Conversation).where(Conversation.chat_id == str(SECRETARY.id))).one()
        state = json.loads(row.state)
        draft_id = state["draft"]["id"]
        state["draft"] = {
            "id": draft_id,
            "text": "kết nạp 2 đảng viên",
            "answers": [],
            "unit_id": state["draft"]["unit_id"],
            "start": "2023-11-01",
            "end": "2023-11-30",
            "attendance": None,
            "ask": ["religious", "ethnic_minority"],
            "admission": {
                "count": 2,
                "female": 1,
                "youth_union": 2,
                "religious": None,
                "ethnic_minority": None,
                "upper_secondary_or_above": 2,
            },
        }
        row.state = json.dumps(state)
        session.add(row)
    summary = await bot.send(SECRETARY, "không ai theo đạo, không dân tộc")
    assert (
        "Kết nạp 2 đảng viên: 1 nữ, 2 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 2 trình độ"
        in summary[0]
    )


async def test_a_fix_typed_before_the_answer_is_taken_and_the_question_asked_again(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, "ket nap 2 dv, 1 nu")
    fixed = await bot.send(SECRETARY, "à tháng 10")
    assert fixed[0] == "Đã sửa: kỳ tháng 10/2023." and fixed[1].startswith("Trong 2 đảng viên mới")
    fixed = await bot.send(SECRETARY, "kết nạp 3 chứ không phải 2")
    assert fixed[0] == "Đã sửa: kết nạp 3 đảng viên." and fixed[1].startswith("Trong 3 đảng viên mới")
    summary = await bot.send(SECRETARY, "không rõ")
    assert "kỳ tháng 10/2023" in summary[0] and "Kết nạp 3 đảng viên: 1 nữ" in summary[0]


@pytest.mark.parametrize("words", ["hủy", "thôi", "huy bo", "Thôi, không gửi nữa"])
async def test_cancel_words_cancel_the_draft(
    bot: Harness, database: Database, tree: Tree, words: str
) -> None:
    await bot.send(SECRETARY, "ket nap 2 dang vien")
    assert "Đã hủy" in (await bot.send(SECRETARY, words))[0]
    await bot.send(SECRETARY, FULL)
    assert "Đã hủy" in (await bot.send(SECRETARY, words))[0]
    assert entries(database) == []


async def test_yet_another_report_while_choosing_is_asked_about_instead(bot: Harness, tree: Tree) -> None:
    await bot.send(SECRETARY, FULL)
    await bot.send(SECRETARY, "cử 4 quần chúng đi học lớp nhận thức")
    ask = await bot.send(SECRETARY, "cử 5 quần chúng đi học lớp nhận thức")
    assert "Cử 5 quần chúng" in ask[0] and "Cử 4" not in ask[0]
    assert "Cử 5 quần chúng" in (await bot.send(SECRETARY, "2"))[0]


async def test_one_new_member_not_understood_gets_words_not_numbers(bot: Harness, tree: Tree) -> None:
    question = await bot.send(SECRETARY, "kết nạp 1 đồng chí nữ")
    assert question[0].startswith("Đồng chí cho biết thêm về đảng viên mới: có là đoàn viên không")
    assert list(bot.last_buttons(SECRETARY)) == ["Không rõ"]
    hint = await bot.send(SECRETARY, "ok")
    assert "Đồng chí ghi từng mục, ví dụ: đoàn viên, không theo đạo, dân tộc Kinh, THPT" in hint[0]
    assert "số" not in hint[0].split("ví dụ")[0]


async def test_a_button_of_an_earlier_question_is_not_taken_for_the_current_one(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, "/ketnap")
    stale = bot.last_buttons(SECRETARY)["3"]  # "3" to the count question
    await bot.send(SECRETARY, "2")
    await bot.send(SECRETARY, "1 nữ")  # one breakdown: the question for the rest follows
    again = await bot.press(SECRETARY, stale)
    assert again[0].startswith("Trong 2 đảng viên mới, bao nhiêu đồng chí là đoàn viên")
    await bot.send(SECRETARY, "không rõ")
    await confirm(bot, SECRETARY)
    assert entry_values(entries(database)[0]) == (2, 1, None, None, None, None)


async def test_staff_correcting_a_report_cannot_add_a_report_of_their_own(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(SECRETARY, FULL)
    code = receipt_of(await confirm(bot, SECRETARY))
    await bot.send(STAFF, f"/sua {code}")
    await bot.send(STAFF, "kết nạp 3 đảng viên, 1 nữ, 2 đoàn viên, 1 tôn giáo, 0 dân tộc, 2 THPT")
    answer = await bot.send(STAFF, "cử 4 quần chúng đi học lớp nhận thức")
    assert "bí thư chi bộ gửi" in answer[0] and f"Sửa báo cáo {code}" in answer[1]
    done = await confirm(bot, STAFF)
    assert f"báo cáo {code} được thay bằng" in done
    assert [e.count for e in entries(database)] == [3]


async def test_answers_for_one_period_of_several(
    bot: Harness, database: Database, tree: Tree, several: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report of two months whose breakdowns are missing: each month's question in turn; an answer
    naming its month is an answer; one too large for this month is taken for nothing."""
    facts = two_months("", date(2023, 11, 15)).facts
    plain = ParseResult(
        "report", facts=tuple(Fact(f.period, AdmissionFacts(f.admission.count)) for f in facts if f.admission)
    )
    monkeypatch.setattr(conversation, "parse_message", lambda text, today: plain)
    first = await bot.send(SECRETARY, "tháng 9 kết nạp 1, tháng 10 kết nạp 2")
    assert first[0].startswith("Kỳ tháng 09/2023: Đồng chí cho biết thêm về đảng viên mới")
    too_many = await bot.send(SECRETARY, "cả 2 nữ, cả 2 đoàn viên, còn lại không")
    assert "lớn hơn số đảng viên kết nạp (1)" in too_many[0] and too_many[1].startswith("Kỳ tháng 09/2023")
    ok = await bot.send(SECRETARY, "ok")
    assert "chưa hiểu" in ok[0] and ok[1].startswith("Kỳ tháng 09/2023")
    october = await bot.send(SECRETARY, "tháng 9: nữ, đoàn viên, còn lại không")
    assert october[0].startswith("Kỳ tháng 10/2023: Trong 2 đảng viên mới")
    summary = await bot.send(SECRETARY, "cả 2 nữ, cả 2 đoàn viên, còn lại không")
    assert "1. Kỳ tháng 09/2023:" in summary[0] and "2. Kỳ tháng 10/2023:" in summary[0]
    await confirm(bot, SECRETARY)
    assert sorted(entry_values(e) for e in entries(database)) == [(1, 1, 1, 0, 0, 0), (2, 2, 2, 0, 0, 0)]


# --- plans and days still to come -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "nam sau chi bo phan dau kn 3 dv",
        "Năm 2024 phấn đấu kết nạp 5 đảng viên",
        "du kien thang sau kn 2 dv",
        "kn 2 dv ngay {later}",
        "chi bo se ket nap 1 dong chi vao ngay {later}",
        "dự kiến cử 4 quần chúng đi học lớp nhận thức",
    ],
)
async def test_a_plan_or_a_day_to_come_is_answered_as_such_and_nothing_is_stored(
    bot: Harness, database: Database, services: Services, tree: Tree, text: str
) -> None:
    later = services.today() + timedelta(days=4)
    answer = await bot.send(SECRETARY, text.format(later=f"{later.day}/{later.month}"))
    assert "nói về việc sắp làm" in answer[0] and "chưa ghi số liệu nào" in answer[0]
    assert "Bot chưa hiểu" not in answer[0]
    assert entries(database) == []
