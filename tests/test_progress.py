"""/tiendo a committee can act on: targets, pro-rata, ranges, periods, merges, thi đua, completeness."""

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from handlers.i18n import refusal
from handlers.types import Services
from storage import reports, targets, units
from storage.clock import month_end
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import Account, Metric, Role
from storage.progress import unit_progress
from storage.rollups import sum_totals
from tests.utils.builders import Tree, build_tree
from tests.utils.fake_telegram import Harness, TelegramUser, register, running_bot

SECRETARY = TelegramUser(id=111, first_name="Lan")
STAFF = TelegramUser(id=333, first_name="Minh")
PROVINCE = TelegramUser(id=444, first_name="Tỉnh")


@pytest.fixture
async def bot(services: Services) -> AsyncIterator[Harness]:
    async with running_bot(services) as harness:
        yield harness


def report(database: Database, code: str, count: int, month: date, **breakdown: Any) -> str:
    with database.session() as session:
        unit = units.get_by_code(session, code)
        stored, _ = reports.confirm_report(
            session,
            reports.ReportInput(
                unit=unit,
                channel="test",
                raw_text=f"kết nạp {count}",
                period_start=month,
                period_end=month_end(month),
                admission=reports.AdmissionInput(count, **breakdown),
            ),
        )
        return stored.receipt_code


def set_target(
    database: Database,
    code: str,
    start: date,
    end: date,
    value: int,
    max_value: int | None = None,
    source: str = "Kế hoạch",
) -> None:
    with database.session() as session:
        targets.set_target(
            session,
            unit=units.get_by_code(session, code),
            metric=Metric.admissions,
            start=start,
            end=end,
            value=value,
            max_value=max_value,
            source=source,
        )


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database, target=None)


async def test_no_target(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, STAFF, tree.commune, Role.staff)
    report(database, tree.cell_a, 2, date(2023, 10, 1))
    text = (await bot.send(STAFF, "/tiendo"))[0]
    assert "đã kết nạp 2 đảng viên." in text
    assert "Không có chỉ tiêu kết nạp đảng viên nào đang có hiệu lực" in text
    assert "Chi bộ thôn An Hòa: 2 (chưa có chỉ tiêu)" in text


async def test_partly_elapsed_target_shows_pro_rata_and_shortfall(
    bot: Harness, database: Database, tree: Tree
) -> None:
    set_target(database, tree.commune, date(2023, 1, 1), date(2023, 12, 31), 24, source="Kế hoạch năm 2023")
    report(database, tree.cell_a, 10, date(2023, 10, 1))
    await register(bot, database, STAFF, tree.commune, Role.staff)
    text = (await bot.send(STAFF, "/tiendo"))[0]
    # 1/1–1/11: 305 of 365 days, 24 × 305/365 = 20,05 → 20 expected; 10 reached: 10 short, lagging.
    assert (
        "Kế hoạch năm 2023 (01/01/2023–31/12/2023): 10/24, đạt 41,7%; theo tiến độ thời gian cần 20, "
        "còn thiếu 10 ⚠ chậm tiến độ" in text
    )


async def test_range_target_shows_both_ends(database: Database, tree: Tree) -> None:
    set_target(database, tree.commune, date(2023, 11, 1), date(2025, 6, 30), 170, 200, "Kế hoạch BTV")
    report(database, tree.cell_a, 85, date(2024, 6, 1))
    with database.session() as session:
        figures = unit_progress(session, units.get_by_code(session, tree.commune), date(2024, 7, 1))
    [target] = figures.targets
    assert (target.achieved, round(target.share or 0, 3), round(target.share_of_max or 0, 3)) == (
        85,
        0.5,
        0.425,
    )
    from handlers.progress_text import target_line

    assert "85/170–200, đạt 50,0%–42,5%" in target_line(target, 1.0)


async def test_several_targets_at_once_and_their_headline(
    bot: Harness, database: Database, tree: Tree
) -> None:
    set_target(database, tree.root, date(2020, 7, 1), date(2025, 6, 30), 10, source="Nghị quyết Đại hội")
    set_target(database, tree.root, date(2020, 7, 1), date(2025, 6, 30), 12, source="Trung ương giao")
    set_target(database, tree.root, date(2023, 1, 1), date(2023, 12, 31), 4, source="Kế hoạch năm 2023")
    report(database, tree.cell_a, 3, date(2021, 5, 1))
    report(database, tree.cell_b, 3, date(2023, 3, 1))
    await register(bot, database, PROVINCE, tree.root, Role.staff)
    text = (await bot.send(PROVINCE, "/tiendo"))[0]
    assert (
        "đã kết nạp 6 đảng viên từ 01/07/2020, đạt 60,0% chỉ tiêu Nghị quyết Đại hội, "
        "đạt 50,0% chỉ tiêu Trung ương giao." in text
    )
    assert "Kế hoạch năm 2023 (01/01/2023–31/12/2023): 3/4, đạt 75,0%" in text


async def test_corrected_and_withdrawn_reports_leave_the_figures(database: Database, tree: Tree) -> None:
    first = report(database, tree.cell_a, 4, date(2023, 10, 1), female=4)
    second = report(database, tree.cell_b, 2, date(2023, 10, 1), female=0)
    with database.session() as session:
        old = reports.get_by_receipt(session, first)
        assert old is not None
        reports.correct_report(
            session,
            old,
            reports.ReportInput(
                unit=units.get_by_code(session, tree.cell_a),
                channel="test",
                raw_text="kết nạp 3",
                period_start=date(2023, 10, 1),
                period_end=date(2023, 10, 31),
                admission=reports.AdmissionInput(3, female=2),
            ),
            account_id=None,
        )
        withdrawn = reports.get_by_receipt(session, second)
        assert withdrawn is not None
        reports.withdraw_report(session, withdrawn, account_id=None)
    with database.session() as session:
        totals = sum_totals(session, units.get_by_code(session, tree.root).id or 0, None, None)
    assert (totals.admissions, totals.female, totals.female_known, totals.reports) == (3, 2, 3, 1)


async def test_merged_unit_keeps_history_and_the_period_before_still_adds_up(
    bot: Harness, database: Database, tree: Tree
) -> None:
    set_target(database, tree.cell_b, date(2023, 1, 1), date(2023, 12, 31), 5, source="Kế hoạch năm 2023")
    report(database, tree.cell_a, 2, date(2023, 9, 1))
    report(database, tree.cell_b, 3, date(2023, 9, 1))
    with database.session() as session:
        before = unit_progress(
            session,
            units.get_by_code(session, tree.commune),
            date(2023, 11, 1),
            period=(date(2023, 9, 1), date(2023, 9, 30)),
        )
    await register(bot, database, SECRETARY, tree.cell_b, Role.secretary)
    with database.session() as session:
        units.merge_unit(
            session,
            units.get_by_code(session, tree.cell_b),
            units.get_by_code(session, tree.cell_a),
            on=date(2023, 10, 15),
        )
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        after = unit_progress(
            session, commune, date(2023, 11, 1), period=(date(2023, 9, 1), date(2023, 9, 30))
        )
        assert after.totals.admissions == before.totals.admissions == 5
        # September, before the merger: the cells of that month, with the figures they had then.
        assert [(c.unit.code, c.totals.admissions) for c in after.children] == [
            (tree.cell_a, 2),
            (tree.cell_b, 3),
        ]
        # Today the merged cell is no longer listed; its history counts in the cell it joined.
        today = unit_progress(session, commune, date(2023, 11, 1))
        assert [(c.unit.code, c.totals.admissions) for c in today.children] == [(tree.cell_a, 5)]
        merged = units.get_by_code(session, tree.cell_b)
        assert merged.merged_into_id == units.get_by_code(session, tree.cell_a).id
        # Its target stays attributed to it, and its secretary now reports for the cell it joined.
        assert unit_progress(session, merged, date(2023, 11, 1)).targets[0].target.value == 5
        accounts = session.exec(select(Account)).all()
        assert {a.unit_id for a in accounts} == {units.get_by_code(session, tree.cell_a).id}
    assert "Chi bộ thôn An Hòa" in (await bot.send(SECRETARY, "/tiendo"))[0]


async def test_moving_a_cell_carries_its_history(database: Database, tree: Tree) -> None:
    with database.session() as session:
        root = units.get_by_code(session, tree.root)
        units.create_unit(session, code="HN-X2", name="Đảng bộ xã Thanh Hà", level="Đảng bộ xã", parent=root)
    report(database, tree.cell_a, 4, date(2023, 9, 1))
    with database.session() as session:
        units.move_unit(session, units.get_by_code(session, tree.cell_a), units.get_by_code(session, "HN-X2"))
    with database.session() as session:

        def admitted(code: str) -> int:
            return sum_totals(session, units.get_by_code(session, code).id or 0, None, None).admissions

        assert (admitted(tree.commune), admitted("HN-X2"), admitted(tree.root)) == (0, 4, 4)
        assert units.get_by_code(session, tree.cell_a).path.startswith(
            units.get_by_code(session, "HN-X2").path
        )
        with pytest.raises(InvalidInput) as refused:
            units.move_unit(
                session, units.get_by_code(session, tree.root), units.get_by_code(session, "HN-X2")
            )
        assert "chính nó" in refusal(refused.value)


async def test_secretary_asking_for_another_unit_is_refused(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await register(bot, database, SECRETARY, tree.cell_a, Role.secretary)
    for query in ("Bình Minh năm 2023", "binh minh", "Đảng bộ xã Kiện Khê"):
        assert (await bot.send(SECRETARY, f"/tiendo {query}")) == [
            "Đồng chí chỉ xem được tiến độ của Chi bộ thôn An Hòa."
        ]
    own = (await bot.send(SECRETARY, "/tiendo năm 2023"))[0]
    assert "Chi bộ thôn An Hòa" in own


async def test_empty_period(bot: Harness, database: Database, tree: Tree) -> None:
    await register(bot, database, STAFF, tree.commune, Role.staff)
    text = (await bot.send(STAFF, "/tiendo tháng 1/2019"))[0]
    assert "Tính đến ngày 31/01/2019, Đảng bộ xã Kiện Khê đã kết nạp 0 đảng viên từ 01/01/2019." in text
    assert "Chưa có báo cáo nào trong kỳ này." in text
    assert "Không có chỉ tiêu kết nạp đảng viên nào trong kỳ này." in text


async def test_unit_and_period_in_chat_words(bot: Harness, database: Database, tree: Tree) -> None:
    set_target(database, tree.cell_b, date(2023, 1, 1), date(2023, 12, 31), 3, source="Kế hoạch năm 2023")
    report(database, tree.cell_b, 1, date(2022, 12, 1))
    report(database, tree.cell_b, 3, date(2023, 7, 1))
    await register(bot, database, STAFF, tree.commune, Role.staff)
    for query in (
        "binh minh năm 2023",
        "Chi bộ thôn Bình Minh nam 2023",
        "BINH MINH 2023",
        "HN-X1-B năm 2023",
    ):
        text = (await bot.send(STAFF, f"/tiendo {query}"))[0]
        assert (
            "Chi bộ thôn Bình Minh đã kết nạp 3 đảng viên từ 01/01/2023, đạt 100,0% chỉ tiêu Kế hoạch năm "
            "2023." in text
        ), query
    quarter = (await bot.send(STAFF, "/tiendo binh minh quý III/2023"))[0]
    assert "Tính đến ngày 30/09/2023" in quarter and "đã kết nạp 3 đảng viên từ 01/07/2023" in quarter


async def test_ambiguous_unit_asks_which(bot: Harness, database: Database, tree: Tree) -> None:
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        units.create_unit(
            session, code="HN-X1-C", name="Chi bộ thôn An Hòa 2", level="Chi bộ", parent=commune
        )
    await register(bot, database, STAFF, tree.commune, Role.staff)
    answer = await bot.send(STAFF, "/tiendo thon")
    assert "Có nhiều đơn vị khớp" in answer[0]
    choices = bot.last_buttons(STAFF)
    assert set(choices) == {"Chi bộ thôn An Hòa", "Chi bộ thôn An Hòa 2", "Chi bộ thôn Bình Minh"}
    text = await bot.press(STAFF, choices["Chi bộ thôn Bình Minh"])
    assert "TIẾN ĐỘ PHÁT TRIỂN ĐẢNG VIÊN: Chi bộ thôn Bình Minh" in text[0]


async def test_thidua_marks_units_not_considered_for_commendation(
    bot: Harness, database: Database, tree: Tree
) -> None:
    set_target(database, tree.cell_a, date(2023, 1, 1), date(2023, 12, 31), 2, source="Kế hoạch năm 2023")
    set_target(database, tree.cell_b, date(2023, 1, 1), date(2023, 12, 31), 3, source="Kế hoạch năm 2023")
    report(database, tree.cell_a, 2, date(2023, 3, 1))
    report(database, tree.cell_b, 1, date(2023, 3, 1))
    report(database, tree.cell_b, 5, date(2022, 3, 1))  # last year's do not count
    await register(bot, database, STAFF, tree.commune, Role.staff)
    text = (await bot.send(STAFF, "/thidua 2023"))[0]
    assert "Hoàn thành chỉ tiêu (1 đơn vị):\n• Chi bộ thôn An Hòa: 2/2, đạt 100,0%" in text
    assert "• Chi bộ thôn Bình Minh: 1/3, đạt 33,3%: không xét khen thưởng" in text
    assert "Tạm tính đến ngày 01/11/2023" in text
    assert "Chưa có đơn vị nào" in (await bot.send(STAFF, "/thidua 2021"))[0]


async def test_completeness_names_silent_cells(bot: Harness, database: Database, tree: Tree) -> None:
    # 01/11: October's reports are being collected (due by 05/11), November's cannot be in yet.
    report(database, tree.cell_a, 0, date(2023, 10, 1))  # a zero report counts as a report
    await register(bot, database, STAFF, tree.commune, Role.staff)
    text = (await bot.send(STAFF, "/tiendo"))[0]
    assert "Chưa báo cáo tháng 10/2023: 1/2 chi bộ (Chi bộ thôn Bình Minh)." in text
    completeness = next(line for line in text.splitlines() if line.startswith("Chưa báo cáo"))
    assert "11/2023" not in completeness
    report(database, tree.cell_b, 1, date(2023, 10, 1))
    assert "Tất cả 2 chi bộ đã báo cáo tháng 10/2023." in (await bot.send(STAFF, "/tiendo"))[0]


async def test_completeness_follows_the_reporting_deadline(
    bot: Harness, database: Database, tree: Tree, services: Services
) -> None:
    report(database, tree.cell_a, 1, date(2023, 10, 1))
    await register(bot, database, STAFF, tree.commune, Role.staff)
    services.clock.advance(days=4)  # type: ignore[attr-defined]  # 05/11, the deadline: still October
    assert "Chưa báo cáo tháng 10/2023: 1/2 chi bộ" in (await bot.send(STAFF, "/tiendo"))[0]
    services.clock.advance(days=1)  # type: ignore[attr-defined]  # 06/11: November is being collected
    assert "Chưa báo cáo tháng 11/2023: 2/2 chi bộ" in (await bot.send(STAFF, "/tiendo"))[0]
    # A period the collected month is not in has no completeness line; one that holds it has.
    assert "Chưa báo cáo" not in (await bot.send(STAFF, "/tiendo tháng 10/2023"))[0]
    assert "Chưa báo cáo tháng 11/2023" in (await bot.send(STAFF, "/tiendo năm 2023"))[0]


def test_the_month_being_collected_follows_the_trees_deadline(database: Database, tree: Tree) -> None:
    """Until the tree's deadline day of the next month, the month just ended is the one collected."""
    from storage import workflow

    with database.session() as session:
        cell = units.get_by_code(session, tree.cell_a)
        collected = [
            workflow.month_to_report(session, cell, day)
            for day in (date(2023, 11, 1), date(2023, 11, 5), date(2023, 11, 6), date(2024, 1, 3))
        ]
        assert collected == [date(2023, 10, 1), date(2023, 10, 1), date(2023, 11, 1), date(2023, 12, 1)]
        # A province that gives its cells until the 10th: set once, above, and inherited.
        workflow.set_setting(session, units.get_by_code(session, tree.root), deadline_day=10)
    with database.session() as session:
        cell = units.get_by_code(session, tree.cell_a)
        assert workflow.month_to_report(session, cell, date(2023, 11, 10)) == date(2023, 10, 1)
        assert workflow.month_to_report(session, cell, date(2023, 11, 11)) == date(2023, 11, 1)
        assert workflow.month_to_report(session, cell, date(2024, 1, 10)) == date(2023, 12, 1)


async def test_a_period_view_counts_every_row_in_that_period(
    bot: Harness, database: Database, tree: Tree
) -> None:
    """/tiendo năm 2023: the rows show 2023's figures against 2023's plans, not the term's."""
    set_target(database, tree.commune, date(2020, 7, 1), date(2025, 6, 30), 25, source="Nghị quyết Đại hội")
    set_target(database, tree.commune, date(2023, 1, 1), date(2023, 12, 31), 9, source="Kế hoạch năm 2023")
    report(database, tree.cell_a, 14, date(2021, 5, 1))
    report(database, tree.cell_a, 3, date(2023, 2, 1))
    report(database, tree.cell_b, 2, date(2023, 9, 1))
    await register(bot, database, PROVINCE, tree.root, Role.staff)
    year = (await bot.send(PROVINCE, "/tiendo năm 2023"))[0]
    assert "1. Đảng bộ xã Kiện Khê: 5/9, đạt 55,6% ⚠ chậm tiến độ" in year
    assert "19/25" not in year and "Nghị quyết Đại hội" not in year
    term = (await bot.send(PROVINCE, "/tiendo"))[0]
    # The default view: the term figure with its own mark, the yearly lag with the yearly figure.
    assert (
        "1. Đảng bộ xã Kiện Khê: 19/25, đạt 76,0%; Kế hoạch năm 2023: 5/9, đạt 55,6% ⚠ chậm tiến độ" in term
    )


async def test_a_target_that_starts_today_is_not_a_zero_percent_failure(
    bot: Harness, database: Database, tree: Tree
) -> None:
    set_target(database, tree.commune, date(2023, 11, 1), date(2025, 6, 30), 170, 200, source="Kế hoạch BTV")
    set_target(database, tree.commune, date(2024, 1, 1), date(2024, 12, 31), 20, source="Kế hoạch năm 2024")
    await register(bot, database, STAFF, tree.commune, Role.staff)
    text = (await bot.send(STAFF, "/tiendo"))[0]
    assert "Kế hoạch BTV (01/11/2023–30/06/2025): 170–200; mới bắt đầu từ 01/11/2023" in text
    assert "0,0%" not in text and "cần 0" not in text and "vượt 0" not in text
    later = (await bot.send(STAFF, "/tiendo năm 2024"))[0]
    assert "Kế hoạch năm 2024 (01/01/2024–31/12/2024): 20; chưa bắt đầu (từ 01/01/2024)" in later


async def test_long_lists_are_paginated_with_buttons(bot: Harness, database: Database, tree: Tree) -> None:
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        for i in range(23):
            units.create_unit(
                session, code=f"HN-X1-{i:02d}", name=f"Chi bộ tổ {i:02d}", level="Chi bộ", parent=commune
            )
    await register(bot, database, STAFF, tree.commune, Role.staff)
    first = (await bot.send(STAFF, "/tiendo"))[0]
    assert "(25 đơn vị, 0 chậm tiến độ), trang 1/2" in first and "\n20. " in first and "\n21. " not in first
    buttons = bot.last_buttons(STAFF)
    assert list(buttons) == ["Biểu đồ", "Excel", "Trang sau ›"]
    second = await bot.press(STAFF, buttons["Trang sau ›"])
    assert "trang 2/2" in second[0] and "\n21. " in second[0] and "\n25. " in second[0]
    assert list(bot.last_buttons(STAFF)) == ["Biểu đồ", "Excel", "‹ Trang trước"]


async def test_chart_and_excel_buttons_send_files(bot: Harness, database: Database, tree: Tree) -> None:
    report(database, tree.cell_a, 2, date(2023, 10, 1))
    await register(bot, database, STAFF, tree.commune, Role.staff)
    await bot.send(STAFF, "/tiendo")
    buttons = bot.last_buttons(STAFF)
    await bot.press(STAFF, buttons["Biểu đồ"])
    photo = [c for c in bot.api.calls if c.method == "sendPhoto"]
    assert photo and "Biểu đồ tiến độ" in photo[0].params["caption"]
    await bot.send(STAFF, "/xuat")
    document = [c for c in bot.api.calls if c.method == "sendDocument"]
    assert document and "Bảng tổng hợp" in document[0].params["caption"]


async def test_completeness_follows_withdrawals_and_counts_each_cell_once(
    database: Database, tree: Tree
) -> None:
    from storage.progress import completeness

    first = report(database, tree.cell_a, 1, date(2023, 11, 1))
    report(database, tree.cell_a, 0, date(2023, 11, 1))  # a second report of the same cell
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        check = completeness(session, commune, date(2023, 11, 20))
        assert (check.cells, check.silent, check.silent_names) == (2, 1, ["Chi bộ thôn Bình Minh"])
        reports.withdraw_report(session, reports.get_by_receipt(session, first), account_id=None)  # type: ignore[arg-type]
    with database.session() as session:
        assert completeness(session, units.get_by_code(session, tree.commune), date(2023, 11, 20)).silent == 1
        second = session.exec(select(reports.Report).where(reports.Report.status == "confirmed")).one()
        reports.withdraw_report(session, second, account_id=None)
    with database.session() as session:
        check = completeness(session, units.get_by_code(session, tree.root), date(2023, 11, 20))
        assert (check.cells, check.silent) == (2, 2)


async def test_completeness_walks_down_to_the_silent_cells_only(database: Database, tree: Tree) -> None:
    from storage.progress import completeness

    with database.session() as session:
        root = units.get_by_code(session, tree.root)
        other = units.create_unit(
            session, code="HN-X2", name="Đảng bộ xã Bình Lục", level="Đảng bộ xã", parent=root
        )
        for i in range(4):
            units.create_unit(
                session, code=f"HN-X2-{i}", name=f"Chi bộ xóm {i}", level="Chi bộ", parent=other
            )
    for code in (tree.cell_a, tree.cell_b, "HN-X2-1"):  # the first commune has reported in full
        report(database, code, 1, date(2023, 11, 1))
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    with database.session() as session:
        root = units.get_by_code(session, tree.root)
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            check = completeness(session, root, date(2023, 11, 20), names=2)
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        assert (check.cells, check.silent, check.silent_names) == (6, 3, ["Chi bộ xóm 0", "Chi bộ xóm 2"])
        # the root's rollup row, its units, then only the commune with silent cells: not every cell
        assert len(statements) == 3
        for code, expected in (("HN-X2-1", (1, 0, [])), ("HN-X2-3", (1, 1, ["Chi bộ xóm 3"]))):
            check = completeness(session, units.get_by_code(session, code), date(2023, 11, 20))
            assert (check.cells, check.silent, check.silent_names) == expected
