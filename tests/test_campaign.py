"""The monthly campaign: composed once, sent once, on time, through failures and restarts."""

import asyncio
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select
from telegram import Bot

from bot.channels.telegram import TelegramChannel, TelegramRequest, build_application
from bot.outbox_sender import OutboxSender
from bot.scheduler import CampaignScheduler, compose
from handlers.campaign import plan_campaign
from handlers.types import Services
from storage import accounts, campaigns, outbox, reports, targets, units
from storage.clock import month_end
from storage.db import Database
from storage.models import Account, Metric, OutboxMessage, OutboxStatus, Role
from tests.utils.builders import Tree, build_tree
from tests.utils.clock import FakeClock
from tests.utils.fake_bot_api import FakeBotAPI

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOVEMBER = date(2023, 11, 1)
SECRETARY_A, SECRETARY_B, STAFF = 111, 222, 333


def register(database: Database, unit: str, role: Role, user: int) -> Account:
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, unit), role=role)
        return accounts.redeem_invite(
            session,
            code=code,
            channel="telegram",
            channel_user_id=str(user),
            chat_id=str(user),
            display_name=f"Người dùng {user}",
        )


def report(database: Database, code: str, count: int, month: date) -> None:
    with database.session() as session:
        reports.confirm_report(
            session,
            reports.ReportInput(
                unit=units.get_by_code(session, code),
                channel="test",
                raw_text=f"kết nạp {count}",
                period_start=month,
                period_end=month_end(month),
                admission=reports.AdmissionInput(count),
            ),
        )


@pytest.fixture
def setup(database: Database) -> Tree:
    """Cell A behind on its 2023 plan (reported in October), cell B on track (silent in October)."""
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
    report(database, tree.cell_b, 3, date(2023, 6, 1))
    register(database, tree.cell_a, Role.secretary, SECRETARY_A)
    register(database, tree.cell_b, Role.secretary, SECRETARY_B)
    register(database, tree.commune, Role.staff, STAFF)
    return tree


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeBotAPI, Bot]]:
    fake = FakeBotAPI()
    bot = Bot("123:TEST", base_url="http://fake/bot", request=TelegramRequest(transport=fake.transport()))
    await bot.initialize()
    yield fake, bot
    await bot.shutdown()


def telegram(bot: Bot) -> dict[str, TelegramChannel]:
    """The channels an outbox sender gets: here Telegram alone, for sending only."""
    return {"telegram": TelegramChannel.for_bot(bot)}


def texts_to(api: FakeBotAPI, chat: int) -> list[str]:
    return [c.params["text"] for c in api.accepted if int(c.params["chat_id"]) == chat]


def test_each_recipient_gets_one_message_combining_what_applies(database: Database, setup: Tree) -> None:
    with database.session() as session:
        plan = plan_campaign(session, NOVEMBER)
    by_user = {int(r.account.channel_user_id): r for r in plan.recipients}
    assert by_user[SECRETARY_A].kinds == ["nudge"]
    assert by_user[SECRETARY_B].kinds == ["praise", "reminder"]
    assert by_user[STAFF].kinds == ["summary"]
    messages = {m.account.channel_user_id: m.text for m in plan.messages()}
    nudge = messages[str(SECRETARY_A)]
    assert nudge.startswith("Kính gửi đồng chí Bí thư Chi bộ thôn An Hòa,")
    # 01/11: 305 of 365 days of a plan of 12 → 10 expected; 1 reached; 11 more in 2 months → 6 a month.
    assert (
        "Tính đến ngày 01/11/2023, đơn vị đã kết nạp 1/12 đảng viên (8,3%) theo chỉ tiêu Kế hoạch năm 2023"
        in nudge
    )
    assert "cần 10" in nudge and "cần kết nạp thêm 11 đảng viên, bình quân 6 đồng chí mỗi tháng" in nudge
    praise = messages[str(SECRETARY_B)]
    assert "đạt 150,0% chỉ tiêu Kế hoạch năm 2023" in praise and "biểu dương" in praise
    assert "chưa gửi báo cáo tháng 10/2023" in praise
    summary = messages[str(STAFF)]
    assert "Chậm tiến độ (1): Chi bộ thôn An Hòa" in summary
    assert "Chưa báo cáo tháng 10/2023 (1/2 chi bộ): Chi bộ thôn Bình Minh" in summary
    assert "Dẫn đầu: Chi bộ thôn Bình Minh (150,0%)" in summary


def test_a_unit_without_a_registered_secretary_is_named_to_staff(database: Database) -> None:
    tree = build_tree(database, target=None)
    register(database, tree.cell_a, Role.secretary, SECRETARY_A)
    register(database, tree.commune, Role.staff, STAFF)
    with database.session() as session:
        plan = plan_campaign(session, NOVEMBER)
    summary = next(m.text for m in plan.messages() if m.account.channel_user_id == str(STAFF))
    assert "Chưa có bí thư đăng ký dùng bot (1): Chi bộ thôn Bình Minh" in summary


def test_someone_who_never_wrote_to_the_bot_privately_is_no_recipient_and_staff_are_told(
    database: Database,
) -> None:
    tree = build_tree(database, target=None)
    register(database, tree.commune, Role.staff, STAFF)
    with database.session() as session:
        code = accounts.create_invite(
            session, unit=units.get_by_code(session, tree.cell_a), role=Role.secretary
        )
        # Registered from a group chat: no private chat to write to.
        accounts.redeem_invite(
            session, code=code, channel="zalo", channel_user_id="z-9", chat_id=None, display_name="Đ/c Tư"
        )
        plan = plan_campaign(session, NOVEMBER)
    assert [r.account.channel_user_id for r in plan.recipients] == [str(STAFF)]
    summary = plan.messages()[0].text
    assert "Chưa nhắn riêng cho bot nên chưa nhận được nhắc việc (1): Đ/c Tư (Chi bộ thôn An Hòa)" in summary


def test_a_month_with_no_targets_still_reminds_and_summarises(database: Database) -> None:
    tree = build_tree(database, target=None)
    register(database, tree.cell_a, Role.secretary, SECRETARY_A)
    register(database, tree.commune, Role.staff, STAFF)
    with database.session() as session:
        plan = plan_campaign(session, NOVEMBER)
    assert plan.count("nudge") == plan.count("praise") == 0
    assert plan.count("reminder") == 1 and plan.count("summary") == 1


def test_kinds_switched_off_for_a_unit(database: Database, setup: Tree) -> None:
    with database.session() as session:
        campaigns.set_kind(
            session,
            units.get_by_code(session, setup.commune),
            "praise",
            enabled=False,
            now=datetime.now(ZONE),
        )
        plan = plan_campaign(session, NOVEMBER)
    by_user = {int(r.account.channel_user_id): r.kinds for r in plan.recipients}
    assert by_user[SECRETARY_B] == ["reminder"]


async def test_sent_exactly_once_even_when_composed_and_drained_twice(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    now = datetime(2023, 11, 1, 8, 0, tzinfo=ZONE)
    assert compose(database, NOVEMBER, now=now) == 3
    assert compose(database, NOVEMBER, now=now) == 0
    sender = OutboxSender(database, telegram(bot), clock=lambda: now)
    assert (await sender.drain()).sent == 3
    assert (await sender.drain()).sent == 0
    assert [len(texts_to(fake, chat)) for chat in (SECRETARY_A, SECRETARY_B, STAFF)] == [1, 1, 1]


async def test_429_and_5xx_are_retried_then_sent_once_and_a_time_out_is_not_resent(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    compose(database, NOVEMBER, now=clock())
    fake.script["sendMessage"] = [
        (429, {"description": "Too Many Requests: retry after 7", "parameters": {"retry_after": 7}}),
        (502, {"description": "Bad Gateway"}),
        (0, {}),  # time-out: Telegram may have delivered it, and there is no idempotency key
    ]
    sender = OutboxSender(database, telegram(bot), clock=clock, concurrency=1)
    first = await sender.drain()
    assert (first.sent, first.retried, first.uncertain) == (0, 2, 1)
    with database.session() as session:
        waiting = session.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
        delays = sorted((m.next_attempt_at - clock()).total_seconds() for m in waiting)
        timed_out = session.exec(select(OutboxMessage).where(OutboxMessage.status == "uncertain")).one()
    assert delays == [5.0, 8.0]  # backoff 5 s; the 429's retry_after 7 s plus a second
    assert (await sender.drain()).sent == 0  # not due yet
    clock.advance(seconds=10)
    assert (await sender.drain()).sent == 2
    sent = {chat: len(texts_to(fake, chat)) for chat in (SECRETARY_A, SECRETARY_B, STAFF)}
    assert sent == {chat: 0 if chat == int(timed_out.chat_id) else 1 for chat in sent}
    with database.session() as session:
        assert outbox.counts(session) == {"sent": 2, "uncertain": 1}


async def test_give_up_after_repeated_failures_and_record_it(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    compose(database, NOVEMBER, now=clock())
    fake.fail_methods["sendMessage"] = 500
    sender = OutboxSender(database, telegram(bot), clock=clock)
    for _ in range(outbox.MAX_ATTEMPTS):
        await sender.drain()
        clock.advance(hours=2)
    with database.session() as session:
        assert outbox.counts(session) == {OutboxStatus.failed.value: 3}


async def test_a_blocked_account_is_marked_and_its_staff_told(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    now = datetime(2023, 11, 1, 8, 0, tzinfo=ZONE)
    fake.blocked_chats.add(SECRETARY_A)
    compose(database, NOVEMBER, now=now)
    result = await OutboxSender(database, telegram(bot), clock=lambda: now).drain()
    assert (result.sent, result.unreachable) == (3, 1)  # B, staff, and the notice to staff
    notice = texts_to(fake, STAFF)[-1]
    assert "Bot không gửi được tin nhắn cho đồng chí Người dùng 111 (Chi bộ thôn An Hòa)" in notice
    with database.session() as session:
        account = session.exec(select(Account).where(Account.channel_user_id == str(SECRETARY_A))).one()
        assert account.unreachable_at is not None
        # Next month the blocked secretary is skipped and the staff summary names them.
        plan = plan_campaign(session, date(2023, 12, 1))
    assert all(r.account.channel_user_id != str(SECRETARY_A) for r in plan.recipients)
    summary = next(m.text for m in plan.messages() if m.account.channel_user_id == str(STAFF))
    assert "đã chặn bot (1): Người dùng 111 (Chi bộ thôn An Hòa)" in summary


async def test_restart_between_batches_sends_each_message_once(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    clock = FakeClock(datetime(2023, 11, 1, 8, 0, tzinfo=ZONE))
    compose(database, NOVEMBER, now=clock())
    first = OutboxSender(database, telegram(bot), clock=clock, owner="first", batch=1)
    assert (await first.drain(max_batches=1)).sent == 1
    # The first process claims the next batch and is killed before sending it.
    with database.session() as session:
        assert len(outbox.claim(session, owner="first", now=clock(), limit=1, hold=first.hold)) == 1
    second = OutboxSender(database, telegram(bot), clock=clock, owner="second", batch=1)
    assert (await second.drain()).sent == 1  # the orphaned claim is held back...
    clock.advance(minutes=6)
    assert (await second.drain()).sent == 1  # ...until its hold expires
    assert sorted(int(c.params["chat_id"]) for c in fake.accepted) == [SECRETARY_A, SECRETARY_B, STAFF]


async def test_two_concurrent_senders_share_the_work(
    database_url: str, database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    now = datetime(2023, 11, 1, 8, 0, tzinfo=ZONE)
    # Many recipients: 60 more secretaries on cell A.
    for user in range(1000, 1060):
        register(database, setup.cell_a, Role.secretary, user)
    assert compose(database, NOVEMBER, now=now) == 63
    other = Database(database_url)
    try:
        senders = [
            OutboxSender(db, telegram(bot), clock=lambda: now, owner=name, batch=5)
            for db, name in ((database, "one"), (other, "two"))
        ]
        results = await asyncio.gather(*(s.drain() for s in senders))
    finally:
        other.dispose()
    assert sum(r.sent for r in results) == 63
    chats = [int(c.params["chat_id"]) for c in fake.accepted]
    assert len(chats) == len(set(chats)) == 63


async def test_scheduler_runs_on_time_catches_up_and_respects_quiet_hours(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    fake, bot = api
    clock = FakeClock(datetime(2023, 11, 1, 7, 59, tzinfo=ZONE))
    sender = OutboxSender(database, telegram(bot), clock=clock)
    scheduler = CampaignScheduler(
        database,
        sender,
        clock=clock,
        zone=ZONE,
        day=1,
        at=time(8, 0),
        grace=timedelta(hours=72),
        quiet=(time(21, 0), time(7, 0)),
    )
    await scheduler.tick()
    assert fake.accepted == []
    clock.advance(minutes=2)
    await scheduler.tick()
    assert len(fake.accepted) == 3
    clock.advance(hours=1)
    await scheduler.tick()  # a restart or the next round: nothing more
    assert len(fake.accepted) == 3

    # December: the bot was down at 08:00 on the 1st and starts at 22:30 on the 2nd (quiet hours).
    report(database, setup.cell_b, 1, date(2023, 11, 1))
    clock.now = datetime(2023, 12, 2, 22, 30, tzinfo=ZONE)
    await scheduler.tick()
    assert len(fake.accepted) == 3  # composed, but quiet
    with database.session() as session:
        assert outbox.counts(session, "2023-12") == {"pending": 3}
    clock.now = datetime(2023, 12, 3, 7, 0, tzinfo=ZONE)
    await scheduler.tick()
    assert len(fake.accepted) == 6

    # January: down until after the grace period: no late campaign.
    clock.now = datetime(2024, 1, 4, 9, 0, tzinfo=ZONE)
    await scheduler.tick()
    with database.session() as session:
        assert outbox.counts(session, "2024-01") == {}


async def test_the_scheduler_made_from_the_settings_sends_through_the_channels_it_is_given(
    services: Services, database: Database, setup: Tree, clock: FakeClock
) -> None:
    from bot.runtime import make_scheduler
    from bot.settings import Settings

    api = FakeBotAPI()
    app = build_application(
        "123:TEST", services, base_url="http://fake/bot", transport=api.transport(), rate_limit=False
    )
    clock.now = datetime(2023, 11, 1, 8, 30, tzinfo=ZONE)
    scheduler = make_scheduler(
        Settings(database_url="sqlite://", _env_file=None), database, services, telegram(app.bot)
    )
    await app.initialize()
    try:
        await scheduler.round()  # what the campaign loop of `tiendo run` and `tiendo serve` does
    finally:
        await app.shutdown()
    assert sorted(int(c.params["chat_id"]) for c in api.accepted) == [SECRETARY_A, SECRETARY_B, STAFF]


def test_tiendo_nudge_send_delivers_once_and_a_second_run_sends_nothing(
    database_url: str,
    database: Database,
    setup: Tree,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main
    from tests.utils.fake_bot_api import FakeBotAPI

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:TEST")
    with FakeBotAPI() as server:
        monkeypatch.setenv("TELEGRAM_API_BASE_URL", server.base_url)
        assert main(["nudge", "--dry-run", "--today", "2023-11-01"]) == 0
        dry = capsys.readouterr().out
        assert "3 tin nhắn; 1 đôn đốc, 1 biểu dương, 1 nhắc báo cáo, 1 tổng hợp" in dry
        assert server.texts() == []  # a dry run sends nothing
        assert main(["nudge", "--send", "--today", "2023-11-01", "--ignore-quiet-hours"]) == 0
        assert "Đã gửi 3" in capsys.readouterr().out
        texts = server.texts()
        assert len(texts) == 3
        assert (
            sum(
                "Kính gửi đồng chí Bí thư Chi bộ thôn An Hòa" in t and "chậm so với tiến độ" in t
                for t in texts
            )
            == 1
        )
        assert sum("biểu dương" in t for t in texts) == 1
        assert sum("Chậm tiến độ (1): Chi bộ thôn An Hòa" in t for t in texts) == 1
        # Run again: a plain answer at once (the lease was released), nothing sent twice.
        assert main(["nudge", "--send", "--today", "2023-11-01", "--ignore-quiet-hours"]) == 0
        again = capsys.readouterr().out
        assert "Đợt nhắc việc tháng 11/2023 đã được soạn lúc" in again
        assert "(3 tin nhắn): đã gửi 3, còn chờ gửi 0." in again
        assert "tiến trình khác" not in again
        assert len(server.texts()) == 3


async def test_nhacnho_previews_for_staff_only(services: Services, database: Database, setup: Tree) -> None:
    from tests.utils.fake_telegram import Harness, TelegramUser

    api = FakeBotAPI()
    app = build_application(
        "123:TEST", services, base_url="http://fake/bot", transport=api.transport(), rate_limit=False
    )
    await app.initialize()
    harness = Harness(app=app, api=api)
    try:
        preview = (await harness.send(TelegramUser(id=STAFF), "/nhacnho"))[0]
        assert "Đợt nhắc việc tháng 11/2023 (số liệu đến ngày 01/11/2023): 3 tin nhắn" in preview
        assert "Chậm tiến độ (1): Chi bộ thôn An Hòa" in preview
        assert "Tin nhắn đồng chí sẽ nhận:" in preview
        refused = (await harness.send(TelegramUser(id=SECRETARY_A), "/nhacnho"))[0]
        assert "dành cho cán bộ Ban Tổ chức" in refused
    finally:
        await app.shutdown()
    with database.session() as session:
        assert outbox.counts(session) == {}  # a preview queues nothing


async def test_campaign_loop_of_serve_and_zalo_only_run(
    database: Database, setup: Tree, api: tuple[FakeBotAPI, Bot]
) -> None:
    """The campaign loop of `tiendo run` and `tiendo serve`, whichever channels are configured."""
    from bot.serve import campaign_loop

    fake, bot = api
    clock = FakeClock(datetime(2023, 11, 1, 8, 5, tzinfo=ZONE))
    sender = OutboxSender(database, telegram(bot), clock=clock)
    scheduler = CampaignScheduler(database, sender, clock=clock, zone=ZONE)
    stop = asyncio.Event()
    task = asyncio.create_task(campaign_loop(scheduler, stop))
    for _ in range(200):
        if len(fake.accepted) == 3:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert sorted(int(c.params["chat_id"]) for c in fake.accepted) == [SECRETARY_A, SECRETARY_B, STAFF]


def test_a_campaign_composed_late_in_the_month_uses_that_days_figures(
    database: Database, api: tuple[FakeBotAPI, Bot]
) -> None:
    """A cell with a yearly target of 2 that reported 2 today is on track, and told so, as are staff."""
    tree = build_tree(database, target=None)
    with database.session() as session:
        targets.set_target(
            session,
            unit=units.get_by_code(session, tree.cell_b),
            metric=Metric.admissions,
            start=date(2023, 1, 1),
            end=date(2023, 12, 31),
            value=2,
            source="Kế hoạch năm 2023",
        )
    register(database, tree.cell_b, Role.secretary, SECRETARY_B)
    register(database, tree.commune, Role.staff, STAFF)
    report(database, tree.cell_b, 2, date(2023, 11, 1))  # November's report, sent on the 28th
    now = datetime(2023, 11, 28, 15, 30, tzinfo=ZONE)
    assert compose(database, NOVEMBER, now=now) == 2
    with database.session() as session:
        texts = {m.account_id: m.text for m in session.exec(select(OutboxMessage)).all()}
        secretary = units.get_by_code(session, tree.cell_b)
        account_ids = {a.channel_user_id: a.id or 0 for a in session.exec(select(Account)).all()}
    to_secretary, to_staff = texts[account_ids[str(SECRETARY_B)]], texts[account_ids[str(STAFF)]]
    assert "Tính đến ngày 28/11/2023, đơn vị đã kết nạp 2/2 đảng viên, đạt 100,0%" in to_secretary
    assert "chậm" not in to_secretary.lower() and "cần kết nạp thêm" not in to_secretary
    assert "tính đến ngày 28/11/2023" in to_staff
    assert "Chậm tiến độ" not in to_staff and f"Dẫn đầu: {secretary.name} (100,0%)" in to_staff


def test_the_compose_lease_is_released_once_the_campaign_is_queued(database: Database, setup: Tree) -> None:
    now = datetime(2023, 11, 1, 8, 0, tzinfo=ZONE)
    assert compose(database, NOVEMBER, now=now, owner="tiendo-run") == 3
    with database.session() as session:
        # Another process (tiendo nudge --send) gets the lease at once, not ten minutes later.
        assert outbox.acquire_lease(session, "campaign", owner="cli", now=now, ttl=timedelta(minutes=10))
    # While a process holds it (composing right now), a second one is told so; afterwards it is free.
    assert compose(database, date(2023, 12, 1), now=now, owner="tiendo-run") is None
    with database.session() as session:
        outbox.release_lease(session, "campaign", owner="cli", now=now)
    assert compose(database, date(2023, 12, 1), now=now.replace(month=12), owner="tiendo-run") == 3
