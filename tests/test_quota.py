"""Zalo quotas and several bots: the campaign within what each bot may still send, the most useful
messages first, staff told of the rest; invites that name the bot; administrators warned at 80 %."""

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.scheduler import compose
from bot.usage import Usage, budget_for, next_reset
from handlers.budget import Budget
from storage import accounts, bots, outbox, targets, units
from storage.db import Database
from storage.models import Account, ChannelUsage, Metric, OutboxMessage, Role
from tests.test_campaign import NOVEMBER, report
from tests.utils.builders import Tree, build_tree
from tests.utils.clock import FakeClock
from tests.utils.fake_zalo_server import TOKEN, FakeZaloServer

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LAGGING, ON_TRACK, STAFF, ADMIN = "z-lan", "z-hung", "z-minh", "z-admin"
SECOND_TOKEN = "2222222222:second-zalo-bot"


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


@pytest.fixture
def campaign(database: Database) -> Tree:
    """Cell A behind on its 2023 plan, cell B on track and reported in October: a nudge, praise and
    a staff summary, all on Zalo."""
    tree = build_tree(database, target=None)
    with database.session() as session:
        for code, value in ((tree.cell_a, 12), (tree.cell_b, 2)):
            targets.set_target(
                session,
                unit=units.get_by_code(session, code),
                metric=Metric.admissions,
                start=date(2023, 1, 1),
                end=date(2023, 12, 31),
                value=value,
                source="Kế hoạch năm 2023",
            )
    report(database, tree.cell_a, 1, date(2023, 10, 1))
    report(database, tree.cell_b, 3, date(2023, 10, 1))
    register(database, tree.cell_a, Role.secretary, LAGGING)
    register(database, tree.cell_b, Role.secretary, ON_TRACK)
    register(database, tree.commune, Role.staff, STAFF)
    return tree


@pytest.fixture
def zalo() -> Iterator[FakeZaloServer]:
    with FakeZaloServer(replay_seconds=0, more_tokens=(SECOND_TOKEN,)) as fake:
        yield fake


@pytest.fixture
def cli(database_url: str, zalo: FakeZaloServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for key, value in {
        "DATABASE_URL": database_url,
        "ZALO_BOT_TOKEN": TOKEN,  # Zalo only: no Telegram token at all
        "ZALO_API_BASE_URL": zalo.base_url,
        "QUIET_HOURS": "",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return main


def test_nudge_send_with_only_a_zalo_bot_delivers_the_campaign_each_message_once(
    cli,
    zalo: FakeZaloServer,
    campaign: Tree,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["nudge", "--send", "--today", "2023-11-01"]) == 0
    assert "Đã gửi 3" in capsys.readouterr().out
    assert "chậm so với tiến độ" in zalo.delivered_texts(LAGGING)[0]
    assert "biểu dương" in zalo.delivered_texts(ON_TRACK)[0]
    assert "Chậm tiến độ (1): Chi bộ thôn An Hòa" in zalo.delivered_texts(STAFF)[0]
    assert cli(["nudge", "--send", "--today", "2023-11-01"]) == 0
    # Composed once: the second run says where it stands and sends nothing again.
    assert "đã gửi 3, còn chờ gửi 0" in capsys.readouterr().out
    assert len(zalo.delivered_texts()) == 3


def test_a_quota_smaller_than_the_campaign_sends_the_most_useful_first_and_tells_staff(
    cli,
    zalo: FakeZaloServer,
    campaign: Tree,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Two messages left this month: the nudge and the staff summary go; the praise waits.
    monkeypatch.setenv("ZALO_MONTHLY_QUOTA", "2")
    monkeypatch.setenv("ZALO_REPLY_RESERVE", "0")
    assert cli(["nudge", "--send", "--today", "2023-11-01"]) == 0
    out = capsys.readouterr().out
    assert "Đã gửi 2" in out and "1 tin nhắn chờ hạn mức tháng sau" in out
    assert zalo.delivered_texts(ON_TRACK) == []
    assert "chậm so với tiến độ" in zalo.delivered_texts(LAGGING)[0]
    summary = zalo.delivered_texts(STAFF)[0]
    assert "Hạn mức tin nhắn Zalo của bot tháng này không đủ: 1 tin nhắn" in summary
    assert "0 đôn đốc, 0 nhắc báo cáo, 0 tổng hợp, 1 biểu dương" in summary
    assert summary.index("không đủ") < summary.index("(Tin nhắn tự động")  # in the summary, not after
    with database.session() as session:
        waiting = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).one()
        used = session.exec(select(ChannelUsage)).one()
    assert waiting.chat_id == ON_TRACK and waiting.last_error == "quota"
    assert waiting.next_attempt_at == next_reset(datetime.now(ZONE), ZONE)  # next month's quota
    assert used.sent == 2


def test_the_campaign_plans_around_what_each_bot_already_spent_this_month(
    database: Database, campaign: Tree
) -> None:
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    usage = Usage(database, clock=clock, zone=ZONE, monthly_quota=3000, reply_reserve=300)
    with database.session() as session:
        bots.add_sent(session, "zalo", date(2023, 11, 1), 2699)  # replies earlier this month
    budget = budget_for(usage, {"zalo": _Metered()})
    with database.session() as session:
        limits = budget(session)
    assert limits.remaining == {"zalo": 1} and limits.next_quota == datetime(2023, 12, 1, 7, tzinfo=ZONE)
    assert compose(database, NOVEMBER, now=clock(), budget=budget) == 3
    with database.session() as session:
        rows = session.exec(select(OutboxMessage)).all()
    due = [m for m in rows if m.last_error is None]
    assert [m.chat_id for m in due] == [LAGGING]  # the nudge, the most useful
    assert sorted(m.chat_id for m in rows if m.last_error == "quota") == sorted([ON_TRACK, STAFF])


class _Metered:
    metered = True

    def cost(self, text: str) -> int:
        return 1


def test_a_long_message_counts_as_the_parts_it_takes(database: Database, campaign: Tree) -> None:
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))

    def cost(channel: str, text: str) -> int:
        return 3 if "chậm so với" in text else 1  # the nudge takes three messages here

    budget = Budget(remaining={"zalo": 2}, cost=cost, next_quota=datetime(2023, 12, 1, 7, tzinfo=ZONE))
    assert compose(database, NOVEMBER, now=clock(), budget=lambda session: budget) == 3
    with database.session() as session:
        due = session.exec(select(OutboxMessage).where(col(OutboxMessage.last_error).is_(None))).all()
    # The nudge does not fit in what is left: it waits; the two one-part messages go.
    assert sorted(m.chat_id for m in due) == sorted([ON_TRACK, STAFF])


def test_a_new_campaign_replaces_the_messages_of_the_last_one_still_waiting(
    database: Database, campaign: Tree
) -> None:
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    held = Budget(
        remaining={"zalo": 0}, cost=lambda channel, text: 1, next_quota=datetime(2023, 12, 1, 7, tzinfo=ZONE)
    )
    compose(database, NOVEMBER, now=clock(), budget=lambda session: held)
    clock.now = datetime(2023, 12, 1, 8, 0, tzinfo=ZONE)
    compose(database, date(2023, 12, 1), now=clock())
    with database.session() as session:
        assert outbox.counts(session, "2023-11") == {"superseded": 3}
        assert outbox.counts(session, "2023-12") == {"pending": 3}


def test_administrators_are_warned_once_at_80_percent_of_a_quota(database: Database, campaign: Tree) -> None:
    register(database, campaign.root, Role.admin, ADMIN)
    clock = FakeClock(datetime(2023, 11, 20, 10, 0, tzinfo=ZONE))
    usage = Usage(database, clock=clock, zone=ZONE, monthly_quota=10)
    for _ in range(7):
        usage.record("zalo")
    with database.session() as session:
        assert session.exec(select(OutboxMessage).where(OutboxMessage.kind == "quota_warning")).all() == []
    usage.record("zalo")
    usage.record("zalo", 2)
    with database.session() as session:
        [warning] = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "quota_warning")).all()
    assert warning.chat_id == ADMIN
    assert warning.text.startswith("Bot Zalo «zalo» đã gửi 8/10 tin nhắn của tháng 11/2023")
    clock.now = datetime(2023, 12, 2, 10, 0, tzinfo=ZONE)  # a new month: counted afresh
    usage.record("zalo")
    with database.session() as session:
        assert bots.sent(session, "zalo", date(2023, 12, 1)) == 1


def test_several_bots_each_serve_part_of_the_tree_and_an_invite_names_its_bot(
    cli,
    zalo: FakeZaloServer,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from bot.channels.zalo import ZaloChannel
    from bot.channels.zalo_client import ZaloClient
    from handlers.types import Services

    tree = build_tree(database, target=None)
    monkeypatch.setenv("ZALO_BOTS", f"an-hoa={SECOND_TOKEN}")
    assert cli(["bots", "set", "zalo:an-hoa", "--unit", tree.cell_a, "--title", "Bot Tiến độ An Hòa"]) == 0
    assert cli(["bots", "set", "zalo:nowhere", "--unit", tree.cell_a]) == 1
    capsys.readouterr()
    assert cli(["invite", "--unit", tree.cell_a, "--role", "secretary"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Người dùng nhắn cho bot «Bot Tiến độ An Hòa» (zalo:an-hoa): /dangky MÃ"
    code = out[-1]
    # Written to the other bot, the code is refused (and not spent); to the right one, taken.
    services = Services(session=database.session, timezone=ZONE)
    default = ZaloChannel(ZaloClient(TOKEN, zalo.base_url), services, name="zalo")
    an_hoa = ZaloChannel(ZaloClient(SECOND_TOKEN, zalo.base_url), services, name="zalo:an-hoa")

    async def register_on_both() -> None:
        await default.handle(zalo.make_update("message.text.received", "z-1", f"/dangky {code}", "Lan", None))
        await an_hoa.handle(zalo.make_update("message.text.received", "z-1", f"/dangky {code}", "Lan", None))
        await default.close()
        await an_hoa.close()

    asyncio.run(register_on_both())
    [(_, refused)] = zalo.sent_by(TOKEN)
    [(_, done)] = zalo.sent_by(SECOND_TOKEN)
    assert "dành cho bot «Bot Tiến độ An Hòa»" in refused and "Đã đăng ký" in done
    with database.session() as session:
        [account] = session.exec(select(Account)).all()
    assert account.channel == "zalo:an-hoa"
    # The campaign goes to each person through the bot they registered with.
    assert cli(["nudge", "--send", "--today", "2023-11-01"]) == 0
    assert [chat for chat, _ in zalo.sent_by(SECOND_TOKEN)] == ["z-1", "z-1"]
    assert len(zalo.sent_by(TOKEN)) == 1
    capsys.readouterr()
    assert cli(["bots", "list"]) == 0
    listing = capsys.readouterr().out
    assert (
        "zalo:an-hoa\t«Bot Tiến độ An Hòa»\tphục vụ HN-X1-A (Chi bộ thôn An Hòa)\t1/50 người dùng" in listing
    )
    assert "tháng" in listing and "zalo\t«zalo»\tchưa giao đơn vị\t0/50 người dùng" in listing


def test_after_a_plan_upgrade_held_messages_go_at_once(
    cli,
    zalo: FakeZaloServer,
    campaign: Tree,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    zalo.quota = 1
    assert cli(["nudge", "--send", "--today", "2023-11-01"]) == 0
    assert "2 tin nhắn chờ hạn mức tháng sau" in capsys.readouterr().out
    zalo.quota = None  # the committee bought the next plan
    assert cli(["bots", "resume", "zalo"]) == 0
    assert "2 tin nhắn sẽ được gửi" in capsys.readouterr().out
    assert cli(["nudge", "--send", "--today", "2023-11-01"]) == 0
    assert len(zalo.delivered_texts()) == 3


def test_an_invite_warns_when_its_bot_has_all_the_users_its_plan_allows(
    cli,
    database: Database,
    campaign: Tree,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli(["bots", "set", "zalo", "--users", "3", "--title", "Bot Tiến độ"]) == 0
    capsys.readouterr()
    assert cli(["invite", "--unit", campaign.cell_a, "--role", "secretary"]) == 0
    captured = capsys.readouterr()
    assert "Người dùng nhắn cho bot «Bot Tiến độ» (zalo): /dangky MÃ" in captured.out
    assert "đã có 3/3 người dùng" in captured.err
