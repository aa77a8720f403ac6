"""One command table: what the parser says a command is and what the bot does with it agree."""

from collections.abc import AsyncIterator
from datetime import date

import pytest

from handlers.commands import COMMANDS, canonical, find
from handlers.i18n import t
from handlers.parser import parse_message
from handlers.types import Services
from storage.db import Database
from tests.utils.builders import Tree, build_tree
from tests.utils.fake_telegram import Harness, TelegramUser, register, running_bot

SECRETARY = TelegramUser(id=111, first_name="Lan")
TODAY = date(2023, 11, 20)


@pytest.fixture
async def bot(services: Services) -> AsyncIterator[Harness]:
    async with running_bot(services) as harness:
        yield harness


@pytest.fixture
async def tree(database: Database, bot: Harness) -> Tree:
    tree = build_tree(database)
    await register(bot, database, SECRETARY, tree.cell_a)
    return tree


def test_the_parser_reads_commands_from_the_table() -> None:
    report = parse_message("/baocao kết nạp 2 đảng viên, 1 nữ", TODAY)
    assert report.intent == "report" and report.admission is not None
    assert (report.admission.count, report.admission.female) == (2, 1)
    # alone, /baocao lists the latest receipts: not a report
    assert parse_message("/baocao", TODAY).intent == "unknown"
    progress = parse_message("/tiendo quý 3", TODAY)
    assert progress.intent == "progress" and progress.period is not None
    assert progress.period.start == date(2023, 7, 1)
    assert parse_message("/tien_do", TODAY).intent == "progress"
    guided = parse_message("/ketnap", TODAY)
    assert guided.intent == "report" and guided.admission is None
    assert guided.questions == ("Chi bộ đã kết nạp bao nhiêu đảng viên?",)
    assert parse_message("/lop", TODAY).questions[0].startswith("Chi bộ cử bao nhiêu quần chúng")
    assert parse_message("/huongdan", TODAY).intent == "help"
    assert parse_message("/khongcolenhnay kết nạp 2", TODAY).intent == "unknown"


def test_every_command_has_an_intent_and_aliases_point_to_commands() -> None:
    for command in COMMANDS.values():
        assert command.intent in ("report", "progress", "help", "unknown")
        assert parse_message(f"/{command.name}", TODAY).intent == command.intent
    assert find("bao_cao") is COMMANDS["baocao"]
    assert canonical("tien_do") == "tiendo"


async def test_baocao_with_a_report_is_read_as_the_report(bot: Harness, tree: Tree) -> None:
    """The bot does what `tiendo parse` says: "/baocao <report>" starts a report, "/baocao" lists."""
    answer = await bot.send(SECRETARY, "/baocao kết nạp 2 đảng viên tháng 10/2023")
    assert len(answer) == 1 and answer[0].startswith("Trong 2 đảng viên mới, bao nhiêu đồng chí là nữ")
    listing = await bot.send(SECRETARY, "/baocao")
    assert t("reports.none") in listing
