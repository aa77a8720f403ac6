"""Messages kept for review (unread, fixed at the read-back, corrected soon after), `parse --review`."""

import json
from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest
from sqlalchemy import inspect
from sqlmodel import select

from bot.cli import main
from handlers.types import Services
from storage import earlier, parse_review, units
from storage.db import Database
from storage.models import Report, ReviewMessage
from storage.reports import AdmissionInput, AttendanceInput, ReportInput, confirm_report
from tests.conftest import ZONE
from tests.utils.builders import Tree, build_tree
from tests.utils.clock import FakeClock
from tests.utils.fake_telegram import Harness, TelegramUser, register, running_bot

SECRETARY = TelegramUser(id=111, first_name="Lan")
STRANGER = TelegramUser(id=999, first_name="Khách")


@pytest.fixture
async def bot(services: Services, clock: FakeClock) -> AsyncIterator[Harness]:
    clock.now = datetime(2023, 11, 15, 9, 0, tzinfo=ZONE)
    async with running_bot(services) as harness:
        yield harness


@pytest.fixture
async def tree(database: Database, bot: Harness) -> Tree:
    tree = build_tree(database)
    await register(bot, database, SECRETARY, tree.cell_a)
    return tree


def kept(database: Database) -> list[tuple[str, str, date]]:
    with database.session() as session:
        return [(r.kind, r.text, r.day) for r in parse_review.kept(session)]


def test_a_kept_message_has_its_text_and_date_only(database: Database) -> None:
    with database.session() as session:
        columns = {c["name"] for c in inspect(session.get_bind()).get_columns("reviewmessage")}
    assert columns == {"id", "kind", "text", "day"}


def test_kept_messages_are_pruned_after_the_set_number_of_days(database: Database) -> None:
    with database.session() as session:
        parse_review.keep(session, kind="unread", text="a", day=date(2023, 11, 1), keep_days=30)
        parse_review.keep(session, kind="unread", text="b", day=date(2023, 11, 30), keep_days=30)
    assert [text for _, text, _ in kept(database)] == ["a", "b"]
    with database.session() as session:
        parse_review.keep(session, kind="unread", text="c", day=date(2023, 12, 2), keep_days=30)
    assert [text for _, text, _ in kept(database)] == ["b", "c"]
    with database.session() as session:
        parse_review.keep(
            session, kind="unread", text="d", day=date(2023, 12, 2), keep_days=0
        )  # 0: keep none
        assert parse_review.prune(session, before=date(2023, 12, 1)) == 1
    assert [text for _, text, _ in kept(database)] == ["c"]


async def test_unread_messages_are_kept_and_strangers_are_not(
    bot: Harness, database: Database, tree: Tree
) -> None:
    await bot.send(STRANGER, "kết nạp 2 đảng viên")  # not registered: nothing of theirs is kept
    await bot.send(SECRETARY, "hom nay chi bo hop ban cong tac phat trien dang")
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ")
    await bot.send(SECRETARY, "để tôi hỏi lại đã")  # an answer not understood
    assert kept(database) == [
        ("unread", "hom nay chi bo hop ban cong tac phat trien dang", date(2023, 11, 15)),
        ("answer", "để tôi hỏi lại đã", date(2023, 11, 15)),
    ]


async def test_fixes_at_the_read_back_and_early_corrections_are_kept(
    bot: Harness, database: Database, tree: Tree, clock: FakeClock
) -> None:
    await bot.send(SECRETARY, "kết nạp 2 đảng viên, 1 nữ, 2 đoàn viên, 1 tôn giáo, 0 dân tộc, 2 THPT")
    await bot.send(SECRETARY, "tôn giáo là 0 chứ")
    done = await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    code = done[0].split("Mã biên nhận: ")[1][:9]
    assert kept(database)[-1] == (
        "fixed",
        "kết nạp 2 đảng viên, 1 nữ, 2 đoàn viên, 1 tôn giáo, 0 dân tộc, 2 THPT\n→ tôn giáo là 0 chứ",
        date(2023, 11, 15),
    )
    clock.advance(hours=3)
    await bot.send(SECRETARY, f"/sua {code}")
    await bot.send(SECRETARY, "kết nạp 3 đảng viên, 1 nữ, 3 đoàn viên, 0 tôn giáo, 0 dân tộc, 3 THPT")
    new = (await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"]))[0].split(
        "thay bằng báo cáo "
    )[1][:9]
    kind, text, _ = kept(database)[-1]
    assert kind == "corrected" and text.startswith("kết nạp 2 đảng viên") and "→ kết nạp 3 đảng viên" in text
    # A correction two days later is a change of mind, not a misread: not kept.
    clock.advance(days=2)
    await bot.send(SECRETARY, f"/sua {new}")
    await bot.send(SECRETARY, "kết nạp 4 đảng viên, 1 nữ, 4 đoàn viên, 0 tôn giáo, 0 dân tộc, 4 THPT")
    await bot.press(SECRETARY, bot.last_buttons(SECRETARY)["Xác nhận"])
    assert [k for k, _, _ in kept(database)] == ["fixed", "corrected"]


def test_parse_review_lists_kept_messages_as_corpus_lines(
    database: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REVIEW_KEEP_DAYS", "30")
    with database.session() as session:
        parse_review.keep(
            session, kind="unread", text="ket nap hai dong chi nu", day=date(2023, 11, 2), keep_days=30
        )
        parse_review.keep(
            session, kind="fixed", text="ket nap 2\n→ tháng 10", day=date(2023, 11, 20), keep_days=30
        )
        session.add(ReviewMessage(kind="unread", text="old", day=date(2023, 9, 1)))
    assert main(["parse", "--review", "--today", "2023-11-25"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["text"], x["today"], x["kind"], x.get("fix")) for x in lines] == [
        ("ket nap hai dong chi nu", "2023-11-02", "unread", None),
        ("ket nap 2", "2023-11-20", "fixed", "tháng 10"),
    ]
    assert lines[0]["read"]["intent"] == "report"  # how the parser reads it today, to compare
    assert "2 tin nhắn" in err
    assert main(["parse", "--review", "--today", "2023-11-25", "--days", "10"]) == 0
    out, _ = capsys.readouterr()
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["ket nap 2"]
    with database.session() as session:  # the listing pruned the message older than REVIEW_KEEP_DAYS
        assert [r.text for r in session.exec(select(ReviewMessage)).all()] == [
            "ket nap hai dong chi nu",
            "ket nap 2\n→ tháng 10",
        ]


def store(database: Database, code: str, start: date, end: date, **facts: object) -> Report:
    with database.session() as session:
        unit = units.get_by_code(session, code)
        report, _ = confirm_report(
            session,
            ReportInput(unit=unit, channel="test", raw_text="x", period_start=start, period_end=end, **facts),  # type: ignore[arg-type]
        )
        session.expunge(report)
        return report


def test_earlier_reports_and_admissions_of_a_period(database: Database) -> None:
    tree = build_tree(database)
    nov = (date(2023, 11, 1), date(2023, 11, 30))
    first = store(database, tree.cell_a, *nov, admission=AdmissionInput(count=2))
    store(database, tree.cell_a, *nov, attendance=AttendanceInput(sent=3))
    store(database, tree.cell_a, date(2023, 10, 1), date(2023, 10, 31), admission=AdmissionInput(count=5))
    store(database, tree.cell_b, *nov, admission=AdmissionInput(count=7))
    with database.session() as session:
        unit_id = units.get_by_code(session, tree.cell_a).id or 0
        found = earlier.earlier_reports(session, unit_id, *nov)
        assert [
            (e.admission.count if e.admission else None, e.attendance.sent if e.attendance else None)
            for e in found
        ] == [(2, None), (None, 3)]
        assert len(earlier.earlier_reports(session, unit_id, date(2023, 10, 15), date(2023, 11, 2))) == 3
        assert earlier.admitted_in(session, unit_id, *nov) == 2
        assert earlier.admitted_in(session, unit_id, *nov, exclude=first.id) == 0
        assert earlier.admitted_in(session, unit_id, date(2023, 10, 1), date(2023, 11, 30)) == 7
