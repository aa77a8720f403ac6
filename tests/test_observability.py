"""Observability: /metrics (figures read from the database, the same from every worker; who may read
them) and JSON logs (one object per line, secrets masked)."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from bot import metrics
from bot.web import WebRuntime, create_app
from handlers.types import Services
from storage import accounts, bots, conversations, inbox, outbox, reports, units
from storage.db import Database
from storage.models import Account, Role
from storage.outbox import NewMessage
from tests.utils.builders import build_tree
from tests.utils.clock import FakeClock

PLAN = metrics.Plan(monthly_quota=3000, user_limit=50)
CHANNELS = {"zalo": True, "zalo:thanh-ha": True, "telegram": False}
TOKEN = "metrics-token-0123456789abcdef"


def app_for(database: Database, services: Services, token: str = "") -> httpx.AsyncClient:
    """One worker's web app; `client` is the address the requests come from."""
    measure = metrics.for_serve(
        database, clock=services.now, zone=services.timezone, channels=CHANNELS, plan=PLAN, token=token
    )
    runtime = WebRuntime(database, services, metrics=measure)
    return create_app(runtime)  # type: ignore[return-value]


def client(app, address: str = "127.0.0.1", headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 50123))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080", headers=headers)


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def account(session, unit_code: str, channel: str, user: str, role: Role, now: datetime) -> Account:
    code = accounts.create_invite(session, unit=units.get_by_code(session, unit_code), role=role, now=now)
    return accounts.redeem_invite(
        session,
        code=code,
        channel=channel,
        channel_user_id=user,
        chat_id=user,
        display_name=user,
        now=now,
    )


@pytest.fixture
def stored(database: Database, services: Services, clock: FakeClock) -> Iterator[None]:
    """A day of a deployment's life, written through the storage functions the bot uses."""
    tree = build_tree(database)
    now = services.now()  # 01/11/2023 09:00 local
    with database.session() as session:
        secretary = account(session, tree.cell_a, "zalo", "z-1", Role.secretary, now)
        account(session, tree.cell_b, "zalo", "z-2", Role.secretary, now)
        staff = account(session, tree.commune, "telegram", "t-1", Role.staff, now)
        account(session, tree.commune, "zalo:thanh-ha", "h-1", Role.staff, now)
        gone = account(session, tree.cell_b, "zalo:thanh-ha", "h-2", Role.secretary, now)
        blocked = account(session, tree.cell_a, "zalo:thanh-ha", "h-3", Role.secretary, now)
        blocked.unreachable_at = now
        session.add(blocked)
        accounts.revoke_account(session, gone, by_account_id=staff.id, via="cli", now=now)
    with database.session() as session:
        # Deliveries taken up: 3 in the last hour (2 answered), 1 five hours ago (answered), 1 two
        # days ago (outside every window).
        for delivery, ago, answered in (
            ("z-a", timedelta(minutes=5), True),
            ("z-b", timedelta(minutes=20), True),
            ("z-c", timedelta(minutes=50), False),
            ("z-d", timedelta(hours=5), True),
            ("z-e", timedelta(days=2), True),
        ):
            assert conversations.claim_delivery(session, "zalo", delivery, now=now - ago)
            if answered:
                conversations.mark_answering(session, "zalo", delivery, now=now - ago)
        assert conversations.claim_delivery(session, "telegram", "t-a", now=now - timedelta(hours=3))
        assert not conversations.claim_delivery(session, "zalo", "z-a", now=now)  # a redelivery
        # Webhook updates: two waiting (the oldest 90 s), one processed, one given up after 5 failures.
        for delivery, seconds in (("w-1", 90), ("w-2", 10), ("w-3", 30), ("w-4", 600)):
            received = now - timedelta(seconds=seconds)
            inbox.store(session, channel="zalo", delivery_id=delivery, payload={}, now=received)
    with database.session() as session:
        rows = {row.delivery_id: row.id for row in inbox.pending(session)}
        inbox.mark_processed(session, rows["w-3"] or 0, now=now)
        for _ in range(inbox.MAX_ATTEMPTS):
            inbox.mark_failed(session, rows["w-4"] or 0, error="boom")
    with database.session() as session:
        # The October campaign: 6 messages; then what became of them.
        people = [session.get_one(Account, secretary.id), session.get_one(Account, staff.id)]
        messages = [
            NewMessage(
                key=f"campaign:2023-10:{i}", kind="nudge", account=people[i % 2], text="…", campaign="2023-10"
            )
            for i in range(6)
        ]
        outbox.enqueue(session, messages[:5], now=now - timedelta(minutes=10))
        outbox.enqueue(session, messages[5:], now=now, held_until=now + timedelta(days=30))  # quota
        outbox.mark_composed(session, date(2023, 10, 1), 6, now=now - timedelta(minutes=10))
        outbox.enqueue(
            session,
            [NewMessage(key="quota:warning", kind="quota_warning", account=people[1], text="…")],
            now=now + timedelta(minutes=5),  # due later: pending, not due yet
        )
        ids = sorted(
            m.id or 0 for m in outbox.claim(session, owner="w", now=now, limit=10, hold=timedelta(minutes=1))
        )
        assert len(ids) == 5
        outbox.mark_sent(session, ids[0], now=now)
        outbox.mark_sent(session, ids[1], now=now)
        assert outbox.mark_sending(session, ids[2], owner="w", now=now, hold=timedelta(minutes=1))
        outbox.mark_uncertain(session, ids[2], error="timeout")
        outbox.mark_failed(session, ids[3], error="refused")
        # ids[4] stays pending and due (claimed by a sender that went away)
        # Reports: two today, one yesterday, one the day before.
        cell = units.get_by_code(session, tree.cell_a)
        for i, created in enumerate(
            (now, now - timedelta(hours=8), now - timedelta(days=1), now - timedelta(days=2))
        ):
            reports.confirm_report(
                session,
                reports.ReportInput(
                    unit=cell,
                    channel="zalo",
                    raw_text="ket nap 1",
                    period_start=date(2023, 10, 1),
                    period_end=date(2023, 10, 31),
                    admission=reports.AdmissionInput(count=1),
                    idempotency_key=f"r{i}",
                ),
                now=created,
            )
        # Quotas: zalo sent 2,400 of its 3,000; thanh-ha has a plan of its own and ran out.
        month = date(2023, 11, 1)
        bots.add_sent(session, "zalo", month, 2400)
        bots.add_sent(session, "zalo", date(2023, 10, 1), 2999)  # last month: not this month's figure
        bots.save(session, "zalo:thanh-ha", monthly_quota=500, user_limit=20, now=now)
        bots.add_sent(session, "zalo:thanh-ha", month, 500)
        bots.set_exhausted(session, "zalo:thanh-ha", month, now + timedelta(days=30))
    yield


async def test_figures_come_from_the_database_and_every_worker_gives_the_same(
    stored: None, database: Database, services: Services
) -> None:
    # Two workers: each has its own collector; neither saw any of the events above happen.
    texts = []
    for _ in range(2):
        async with client(app_for(database, services)) as http:
            answer = await http.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=")
        texts.append(answer.text)
    first, second = parse(texts[0]), parse(texts[1])
    database_figures = {
        key: v for key, v in first.items() if key[0].startswith("tiendo_") and "seconds" not in key[0]
    }
    assert database_figures == {key: second[key] for key in database_figures}
    s = first
    assert value(s, "tiendo_database_up") == 1
    assert value(s, "tiendo_updates_received", channel="zalo", window="1h") == 3
    assert value(s, "tiendo_updates_answered", channel="zalo", window="1h") == 2
    assert value(s, "tiendo_updates_received", channel="zalo", window="24h") == 4
    assert value(s, "tiendo_updates_answered", channel="zalo", window="24h") == 3
    assert value(s, "tiendo_updates_received", channel="telegram", window="24h") == 1
    assert (
        value(s, "tiendo_updates_received", channel="zalo:thanh-ha", window="24h") == 0
    )  # configured: shown
    assert value(s, "tiendo_inbox_backlog", channel="zalo") == 2
    assert value(s, "tiendo_inbox_given_up", channel="zalo") == 1
    assert value(s, "tiendo_inbox_oldest_age_seconds") == 90
    outbox_figures = {
        status: value(s, "tiendo_outbox_messages", status=status) for status in figures_statuses()
    }
    assert outbox_figures == {
        "pending": 2,  # one due (its sender went away), one due in 5 minutes
        "held": 1,
        "sending": 0,
        "sent": 2,
        "uncertain": 1,
        "failed": 1,
        "unreachable": 0,
        "superseded": 0,
    }
    assert value(s, "tiendo_outbox_oldest_due_age_seconds") == 600  # enqueued 10 minutes ago
    assert value(s, "tiendo_accounts", channel="zalo", role="secretary") == 2
    assert value(s, "tiendo_accounts", channel="zalo:thanh-ha", role="secretary") == 1  # one revoked
    assert value(s, "tiendo_accounts_unreachable", channel="zalo:thanh-ha") == 1
    assert value(s, "tiendo_accounts_unreachable", channel="zalo") == 0
    assert value(s, "tiendo_reports_stored", day="today") == 2
    assert value(s, "tiendo_reports_stored", day="yesterday") == 1
    assert value(s, "tiendo_campaign_composed_messages", month="2023-10") == 6
    assert value(s, "tiendo_campaign_messages", month="2023-10", status="sent") == 2
    assert value(s, "tiendo_campaign_messages", month="2023-10", status="held") == 1
    assert value(s, "tiendo_campaign_messages", month="2023-10", status="pending") == 1
    assert (
        value(s, "tiendo_campaign_composed_timestamp_seconds", month="2023-10")
        == (services.now() - timedelta(minutes=10)).timestamp()
    )
    assert value(s, "tiendo_bot_messages_sent", channel="zalo") == 2400
    assert value(s, "tiendo_bot_monthly_quota", channel="zalo") == 3000
    assert value(s, "tiendo_bot_quota_used_ratio", channel="zalo") == 0.8
    assert value(s, "tiendo_bot_quota_exhausted", channel="zalo") == 0
    assert value(s, "tiendo_bot_users", channel="zalo") == 2
    assert value(s, "tiendo_bot_monthly_quota", channel="zalo:thanh-ha") == 500
    assert value(s, "tiendo_bot_user_limit", channel="zalo:thanh-ha") == 20
    assert value(s, "tiendo_bot_quota_exhausted", channel="zalo:thanh-ha") == 1
    assert ("tiendo_bot_messages_sent", (("channel", "telegram"),)) not in s  # not metered
    # The process's own figures, and what is running.
    assert value(s, "process_resident_memory_bytes") > 0
    assert (
        value(s, "tiendo_info", version=value_label(s, "tiendo_info", "version"), database=backend(database))
        == 1
    )


def figures_statuses() -> tuple[str, ...]:
    from storage.metrics import OUTBOX_STATES

    return OUTBOX_STATES


def value_label(samples: dict, name: str, label: str) -> str:
    return next(dict(labels)[label] for key, labels in samples if key == name)


def backend(database: Database) -> str:
    return database.engine.dialect.name


async def test_figures_follow_the_database_between_scrapes(
    stored: None, database: Database, services: Services, clock: FakeClock
) -> None:
    """Nothing is cached in the process: a message sent by another worker shows at the next scrape,
    and windows move with the clock."""
    app = app_for(database, services)
    async with client(app) as http:
        before = parse((await http.get("/metrics")).text)
        clock.advance(hours=1)
        with database.session() as session:  # another worker sends the due message
            due = outbox.claim(session, owner="other", now=services.now(), limit=1, hold=timedelta(minutes=1))
            outbox.mark_sent(session, due[0].id or 0, now=services.now())
        after = parse((await http.get("/metrics")).text)
    assert (
        value(after, "tiendo_outbox_messages", status="sent")
        == value(before, "tiendo_outbox_messages", status="sent") + 1
    )
    assert value(after, "tiendo_updates_received", channel="zalo", window="1h") == 0
    assert value(after, "tiendo_updates_received", channel="zalo", window="24h") == 4
    assert value(after, "tiendo_reports_stored", day="today") == 2


async def test_a_scrape_costs_a_few_statements(stored: None, database: Database, services: Services) -> None:
    """Every figure comes from a fixed number of queries, however many channels, bots and accounts."""

    async def statements() -> list[str]:
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:
            seen.append(statement)

        event.listen(database.engine, "before_cursor_execute", count)
        try:
            async with client(app_for(database, services)) as http:
                assert (await http.get("/metrics")).status_code == 200
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return [s for s in seen if s.lstrip().upper().startswith("SELECT")]

    before = await statements()
    now = services.now()
    with database.session() as session:  # more bots, months, accounts and deliveries
        for i in range(5):
            bots.save(session, f"zalo:xa-{i}", monthly_quota=100, now=now)
            bots.add_sent(session, f"zalo:xa-{i}", date(2023, 11, 1), i)
            account(session, "HN-X1-A", f"zalo:xa-{i}", f"x-{i}", Role.secretary, now)
            conversations.claim_delivery(session, f"zalo:xa-{i}", f"d-{i}", now=now)
    after = await statements()
    assert len(after) == len(before) <= 12, after


@pytest.mark.parametrize(
    ("address", "headers", "status"),
    [
        ("127.0.0.1", {}, 200),
        ("::1", {}, 200),
        ("::ffff:127.0.0.1", {}, 200),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, 403),  # came through a proxy on this machine
        ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}, 403),
        ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, 403),
        ("203.0.113.9", {}, 403),
        ("10.0.0.5", {}, 403),  # a private address is not this machine
        ("testclient", {}, 403),
    ],
)
async def test_without_a_token_only_loopback_may_read(
    database: Database, services: Services, address: str, headers: dict[str, str], status: int
) -> None:
    async with client(app_for(database, services), address, headers) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == status
    assert ("tiendo_database_up" in answer.text) == (status == 200)


@pytest.mark.parametrize(
    ("address", "authorization", "status"),
    [
        ("203.0.113.9", f"Bearer {TOKEN}", 200),
        ("203.0.113.9", f"bearer {TOKEN}", 200),
        ("127.0.0.1", f"Bearer {TOKEN}", 200),
        ("127.0.0.1", None, 401),  # with a token set, loopback needs it too
        ("203.0.113.9", None, 401),
        ("203.0.113.9", "Bearer wrong-token", 401),
        ("203.0.113.9", f"Basic {TOKEN}", 401),
        ("203.0.113.9", f"Bearer {TOKEN}x", 401),
    ],
)
async def test_with_a_token_the_bearer_decides(
    database: Database, services: Services, address: str, authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with client(app_for(database, services, token=TOKEN), address, headers) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == status
    if status == 401:
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "tiendo_" not in answer.text


async def test_a_database_that_does_not_answer_shows_as_down(
    database: Database, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from storage import metrics as figures

    def unreachable(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(figures, "snapshot", unreachable)
    async with client(app_for(database, services)) as http:
        answer = await http.get("/metrics")
    samples = parse(answer.text)
    assert answer.status_code == 200  # the process's own figures still come, and the alert can fire
    assert value(samples, "tiendo_database_up") == 0
    assert value(samples, "process_resident_memory_bytes") > 0
    assert not [key for key in samples if key[0] == "tiendo_outbox_messages"]


async def test_no_metrics_route_unless_serve_gives_one(database: Database, services: Services) -> None:
    async with client(create_app(WebRuntime(database, services))) as http:
        assert (await http.get("/metrics")).status_code == 404


def test_an_empty_database_gives_zeros_for_the_configured_channels(database: Database) -> None:
    clock = FakeClock(datetime(2023, 11, 1, 9, 0, tzinfo=services_zone()))
    collector = metrics.DatabaseCollector(
        database,
        clock=clock,
        zone=services_zone(),
        channels=CHANNELS,
        metered={"zalo": PLAN},
        default_plan=PLAN,
    )
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in collector.collect()
        for sample in family.samples
    }
    assert value(samples, "tiendo_updates_received", channel="telegram", window="1h") == 0
    assert value(samples, "tiendo_inbox_backlog", channel="zalo:thanh-ha") == 0
    assert value(samples, "tiendo_outbox_messages", status="uncertain") == 0
    assert value(samples, "tiendo_bot_messages_sent", channel="zalo") == 0
    assert value(samples, "tiendo_bot_quota_used_ratio", channel="zalo") == 0
    assert not [key for key in samples if key[0] == "tiendo_campaign_messages"]  # no campaign yet


def services_zone():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Ho_Chi_Minh")


# --- LOG_FORMAT=json: one JSON object per line, secrets masked at every level --------------------

LOGGING = r"""
import logging, sys, warnings
from bot.logs import configure_logging

token = "7012345678:AAHk3-EXAMPLE_token_value_1234567890"
configure_logging("DEBUG", ["webhook-secret-value-0123456789", "db-pass-word-42"], json_lines=True)
log = logging.getLogger("telegram.ext.ExtBot")
log.debug("Calling `%s` with `%s`", "setWebhook", {"secret_token": "webhook-secret-value-0123456789"})
log.info("POST https://api.telegram.org/bot%s/getMe", token)
logging.getLogger("sqlalchemy").warning("connect to postgresql://tiendo:db-pass-word-42@db/tiendo failed")
log.info("update %s", {"message": {"text": "/dangky abcde-23456", "from": "Nguyễn Văn Lâm"}})
try:
    raise RuntimeError(f"could not reach https://api.telegram.org/bot{token}/sendMessage")
except RuntimeError:
    log.exception("send failed for %s", "webhook-secret-value-0123456789")
warnings.warn(f"deprecated call with {token}")
print("not a log line", file=sys.stdout)
"""


def test_json_logs_are_one_object_per_line_and_keep_secrets_out(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    done = subprocess.run(
        [sys.executable, "-c", LOGGING],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is a JSON object
    assert [line["level"] for line in lines] == ["DEBUG", "INFO", "WARNING", "INFO", "ERROR", "WARNING"]
    for line in lines:
        assert set(line) >= {"time", "level", "logger", "message", "pid"}
        assert line["time"].endswith("+00:00")
    for secret in (
        "webhook-secret-value-0123456789",
        "AAHk3-EXAMPLE_token_value_1234567890",
        "db-pass-word-42",
        "abcde-23456",
    ):
        assert secret not in done.stderr
    failure = lines[4]
    assert failure["message"] == "send failed for ***" and "RuntimeError" in failure["exception"]
    assert "7012345678:***" in failure["exception"]
    assert lines[5]["logger"] == "py.warnings"
    assert "Nguyễn Văn Lâm" in lines[3]["message"]  # UTF-8 as it is, not \u escapes
    assert done.stdout == "not a log line\n"


@pytest.mark.parametrize(
    ("given", "accepted"), [("json", True), (" JSON ", True), ("text", True), ("xml", False)]
)
def test_log_format_setting(given: str, accepted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from bot.settings import Settings

    monkeypatch.setenv("LOG_FORMAT", given)
    if accepted:
        assert Settings(_env_file=None).log_format == given.strip().lower()
    else:
        with pytest.raises(ValidationError, match="log_format"):
            Settings(_env_file=None)
