"""Taking a role away (CLI and /thuhoi), cancelling invites, and what the bot keeps and for how long."""

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text
from sqlmodel import select

from bot.cli import main
from handlers.campaign import plan_campaign
from handlers.conversation import handle
from handlers.types import Incoming, Kind, Services
from storage import accounts, conversations, inbox, outbox, retention, units
from storage.db import Database
from storage.models import (
    Account,
    AuditEvent,
    Conversation,
    InboxUpdate,
    Invite,
    OutboxMessage,
    OutboxStatus,
    ProcessedDelivery,
    Role,
)
from storage.outbox import NewMessage
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.clock import FakeClock

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database)


@pytest.fixture
def chat(database: Database, clock: FakeClock):
    services = Services(session=database.session, timezone=ZONE, clock=clock, messages_per_minute=0)

    def send(user: str, text: str = "", *, choice: str | None = None) -> str:
        incoming = (
            Incoming("telegram", user, user, kind=Kind.choice, choice=choice)
            if choice is not None
            else Incoming("telegram", user, user, text, display_name=f"Đồng chí {user}")
        )
        replies = handle(incoming, services)
        return "\n".join(r.text + "".join(f"\n[{o.label}]" for o in r.options) for r in replies)

    return send


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _account(database: Database, user: str) -> Account:
    with database.session() as session:
        found = accounts.find_account(session, "telegram", user)
        assert found is not None
        return found


def _audit(database: Database, action: str) -> list[AuditEvent]:
    with database.session() as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_cli_revokes_an_account_which_can_no_longer_report_or_see_figures(
    tree: Tree,
    database: Database,
    chat,
    cli,
) -> None:
    assert "Đã đăng ký" in chat("sec", f"/dangky {invite(database, tree.cell_a, Role.secretary)}")
    assert "Đã đăng ký" in chat("boss", f"/dangky {invite(database, tree.commune, Role.staff)}")
    assert "Xác nhận" in chat("sec", "kết nạp 2 đảng viên, 1 nữ, 2 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT")
    secretary = _account(database, "sec")
    with database.session() as session:  # a campaign message waiting for them
        outbox.enqueue(
            session, [NewMessage("k1", "campaign", secretary, "Kính gửi…", "2023-11")], now=datetime.now(ZONE)
        )

    code, out, _ = cli("accounts", "list", "--json")
    listed = {row["user_id"]: row for row in json.loads(out)}
    assert code == 0 and listed["sec"]["role"] == "secretary" and listed["sec"]["status"] == "active"
    assert listed["sec"]["unit_code"] == tree.cell_a and listed["sec"]["display_name"] == "Đồng chí sec"

    code, out, _ = cli("accounts", "revoke", str(secretary.id))
    assert code == 0 and f"Đã thu hồi tài khoản số {secretary.id}" in out

    # No report, no figures, the draft gone (a press of the old Xác nhận stores nothing).
    assert "đã được thu hồi" in chat("sec", "1")
    assert "đã được thu hồi" in chat("sec", "/tiendo")
    assert "đã được thu hồi" in chat("sec", "kết nạp 1 đảng viên")
    boss = _account(database, "boss")
    with database.session() as session:
        assert conversations.load_state(session, "telegram", "sec") == {}
        assert session.exec(select(OutboxMessage.status)).all() == [OutboxStatus.failed.value]
        assert [r.account.id for r in plan_campaign(session, date(2023, 11, 1)).recipients] == [boss.id]
    [event] = _audit(database, "account.revoke")
    assert (
        json.loads(event.detail)["revoked_account"] == secretary.id
        and json.loads(event.detail)["via"] == "cli"
    )

    code, out, _ = cli("accounts", "list", "--json")
    assert "sec" not in {row["user_id"] for row in json.loads(out)}
    code, out, _ = cli("accounts", "list", "--all", "--json")
    assert {row["user_id"]: row["status"] for row in json.loads(out)}["sec"] == "revoked"
    code, out, _ = cli("accounts", "revoke", str(secretary.id))
    assert code == 0 and "đã được thu hồi trước đó" in out and len(_audit(database, "account.revoke")) == 1
    code, _, err = cli("accounts", "revoke", "999")
    assert code == 1 and "Không có tài khoản số 999" in err

    # A new code gives the role back.
    assert "Đã đăng ký" in chat("sec", f"/dangky {invite(database, tree.cell_b, Role.secretary)}")
    assert "TIẾN ĐỘ" in chat("sec", "/tiendo")


def test_cli_lists_and_cancels_invites_without_showing_codes(
    tree: Tree, database: Database, chat, cli
) -> None:
    first = invite(database, tree.cell_a, Role.secretary)
    second = invite(database, tree.cell_b, Role.secretary)
    code, out, _ = cli("invite", "list", "--json")
    rows = json.loads(out)
    assert code == 0 and [r["unit_code"] for r in rows] == [tree.cell_a, tree.cell_b]
    assert all(r["status"] == "open" for r in rows)
    assert first not in out and first.replace("-", "") not in out  # only hashes are kept
    code, out, _ = cli("invite", "cancel", str(rows[0]["id"]))
    assert code == 0 and f"Đã hủy mã đăng ký số {rows[0]['id']}" in out
    assert "đã bị hủy" in chat("someone", f"/dangky {first}")
    code, _, err = cli("invite", "cancel", str(rows[0]["id"]))
    assert code == 1 and "đã bị hủy" in err
    assert "Đã đăng ký" in chat("other", f"/dangky {second}")
    code, _, err = cli("invite", "cancel", str(rows[1]["id"]))
    assert code == 1 and "đã được sử dụng" in err
    code, out, _ = cli("invite", "list", "--json")
    assert json.loads(out) == []
    code, out, _ = cli("invite", "list", "--all")
    assert code == 0 and "đã hủy" in out and "đã dùng" in out
    assert "cancelled" not in out and re.search(r"\t\d\d/\d\d/\d{4} \d\d:\d\d\t", out)
    [event] = _audit(database, "invite.cancel")
    assert event.unit_id is not None
    code, _, err = cli("invite")
    assert code == 1 and "tiendo invite list" in err


def test_staff_revoke_a_secretary_of_their_subtree_in_chat_after_confirming(
    tree: Tree,
    database: Database,
    chat,
) -> None:
    with database.session() as session:  # another commune, with its own cell and secretary
        root = units.get_by_code(session, tree.root)
        other = units.create_unit(session, code="HN-Y", name="Đảng bộ xã Thanh Hà", level="Xã", parent=root)
        units.create_unit(session, code="HN-Y-A", name="Chi bộ thôn Yên", level="Chi bộ", parent=other)
    chat("sec_a", f"/dangky {invite(database, tree.cell_a, Role.secretary)}")
    chat("sec_b", f"/dangky {invite(database, tree.cell_b, Role.secretary)}")
    chat("sec_y", f"/dangky {invite(database, 'HN-Y-A', Role.secretary)}")
    chat("staff", f"/dangky {invite(database, tree.commune, Role.staff)}")

    assert "dành cho cán bộ" in chat("sec_a", "/thuhoi")
    listing = chat("staff", "/thuhoi")
    assert "Chi bộ thôn An Hòa" in listing and "Chi bộ thôn Bình Minh" in listing
    assert "Chi bộ thôn Yên" not in listing
    assert "An Hòa" in chat("staff", "/thuhoi an hoa") and "Bình Minh" not in chat("staff", "/thuhoi an hoa")
    assert "Không có bí thư" in chat("staff", "/thuhoi thôn Yên")

    sec_a, sec_y = _account(database, "sec_a"), _account(database, "sec_y")
    chat("staff", "/thuhoi an hoa")
    question = chat("staff", "1")
    assert "Thu hồi quyền của đồng chí Đồng chí sec_a, bí thư Chi bộ thôn An Hòa?" in question
    assert "Đã giữ nguyên" in chat("staff", "2")
    assert "TIẾN ĐỘ" in chat("sec_a", "/tiendo")
    chat("staff", f"/thuhoi {sec_a.display_name}")
    chat("staff", "1")
    assert "Đã thu hồi quyền" in chat("staff", "1")
    assert "đã được thu hồi" in chat("sec_a", "/tiendo")
    [event] = _audit(database, "account.revoke")
    assert event.account_id == _account(database, "staff").id and json.loads(event.detail)["via"] == "chat"
    # A forged or stale button: someone else's secretary, or one revoked already.
    assert "chỉ thu hồi được" in chat("staff", choice=f"revoke_yes:{sec_y.id}")
    assert "thu hồi trước đó" in chat("staff", choice=f"revoke_yes:{sec_a.id}")
    assert "dành cho cán bộ" in chat("sec_b", choice=f"revoke_yes:{sec_y.id}")
    assert "TIẾN ĐỘ" in chat("sec_y", "/tiendo")
    assert len(_audit(database, "account.revoke")) == 1


# --- invite codes never in clear ---------------------------------------------------------------

TELEGRAM_UPDATE = {
    "update_id": 9,
    "message": {
        "message_id": 1,
        "date": 1698800000,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Lan"},
        "text": "",
    },
}


def _with_text(message: str, update_id: int = 9) -> dict:
    update = json.loads(json.dumps(TELEGRAM_UPDATE))
    update["update_id"] = update_id
    update["message"]["text"] = message
    return update


def _everything_stored(database: Database) -> str:
    """Every value of every row of every table, as text."""
    names = inspect(database.engine).get_table_names()
    with database.engine.connect() as connection:
        return "\n".join(
            repr(tuple(row)) for name in names for row in connection.execute(text(f'SELECT * FROM "{name}"'))
        )


@pytest.mark.parametrize(
    "typed",
    [
        "/dangky {code}",
        "/DangKy@tiendo_bot   {lower}",
        " \u200b/dangky {bare}",
        "{code}",
        "mã của tôi là {lower} nhé",
    ],
)
def test_invite_codes_are_sealed_before_an_update_is_stored(
    tree: Tree, database: Database, clock: FakeClock, typed: str
) -> None:
    code = invite(database, tree.cell_a, Role.secretary)
    message = typed.format(code=code, lower=code.lower(), bare=code.replace("-", ""))
    with database.session() as session:
        inbox.store(session, channel="telegram", delivery_id="9", payload=_with_text(message), now=clock())
    everything = _everything_stored(database)
    for form in (code, code.lower(), code.replace("-", ""), code.replace("-", "").lower()):
        assert form not in everything
    # The update as the sweep of another process would find it still registers the sender.
    with database.session() as session:
        row = session.exec(select(InboxUpdate)).one()
    stored_text = json.loads(row.payload)["message"]["text"]
    services = Services(session=database.session, timezone=ZONE, clock=clock)
    answer = handle(Incoming("telegram", "5", "5", stored_text, delivery_id="9"), services)[0].text
    if typed.startswith(("/", " ")):
        assert "Đã đăng ký" in answer
        assert code not in _everything_stored(database)


def test_a_seal_read_from_the_database_registers_nobody(
    tree: Tree, database: Database, clock: FakeClock
) -> None:
    code = invite(database, tree.cell_a, Role.secretary)
    services = Services(session=database.session, timezone=ZONE, clock=clock)
    with database.session() as session:
        stored_hash = session.exec(select(Invite.code_hash)).one()
    typed = handle(Incoming("telegram", "7", "7", f"/dangky #{stored_hash}"), services)[0].text
    assert "không đúng" in typed
    # A seal typed into a webhook is sealed again: it matches nothing either.
    seal = accounts.seal(code)
    with database.session() as session:
        inbox.store(
            session,
            channel="telegram",
            delivery_id="8",
            payload=_with_text(f"/dangky #{seal}", 8),
            now=clock(),
        )
        resealed = json.loads(session.exec(select(InboxUpdate)).one().payload)["message"]["text"]
    assert resealed != f"/dangky #{seal}"
    assert "không đúng" in handle(Incoming("telegram", "7", "7", resealed), services)[0].text
    assert "Đã đăng ký" in handle(Incoming("telegram", "7", "7", f"/dangky {code}"), services)[0].text


# --- retention ---------------------------------------------------------------------------------


def test_processed_updates_lose_their_body_and_old_rows_are_pruned(
    tree: Tree, database: Database, clock: FakeClock
) -> None:
    now = clock()
    with database.session() as session:
        first = inbox.store(
            session, channel="telegram", delivery_id="1", payload=_with_text("kết nạp 1"), now=now
        )
        failed = inbox.store(
            session, channel="telegram", delivery_id="2", payload=_with_text("x", 2), now=now
        )
        assert first is not None and failed is not None
        inbox.mark_processed(session, first, now=now)
        for _ in range(inbox.MAX_ATTEMPTS):
            inbox.mark_failed(session, failed, error="boom")
        conversations.claim_delivery(session, "telegram", "1", now=now)
        conversations.save_state(
            session, "telegram", "5", {"draft": {"text": "kết nạp Nguyễn Văn A"}}, now=now
        )
    with database.session() as session:
        assert session.get(InboxUpdate, first).payload == ""  # type: ignore[union-attr]
        policy = retention.Retention(deliveries=timedelta(days=7), conversations=timedelta(days=7))
        # Within the retention: nothing goes (a redelivery is still recognised).
        assert not any(retention.prune(session, now=now + timedelta(days=6), policy=policy).values())
        assert not conversations.claim_delivery(session, "telegram", "1")
    with database.session() as session:
        removed = retention.prune(session, now=now + timedelta(days=8), policy=policy)
    assert removed["inboxupdate"] == 2 and removed["processeddelivery"] == 1 and removed["conversation"] == 1
    with database.session() as session:
        for model in (InboxUpdate, ProcessedDelivery, Conversation):
            assert session.exec(select(model)).all() == []


async def test_the_running_bot_prunes_every_hour(tree: Tree, database: Database) -> None:
    from bot.outbox_sender import OutboxSender
    from bot.scheduler import CampaignScheduler

    clock = FakeClock(datetime(2023, 11, 20, 12, 0, tzinfo=ZONE))
    with database.session() as session:
        conversations.save_state(session, "telegram", "5", {"draft": {}}, now=clock() - timedelta(days=8))

    async def deliver(*_: object) -> None:
        raise AssertionError("nothing to send")

    sender = OutboxSender(database, deliver, clock=clock)  # type: ignore[arg-type]
    scheduler = CampaignScheduler(
        database, sender, clock=clock, zone=ZONE, day=1, grace=timedelta(0), retention=retention.Retention()
    )
    await scheduler.tick()
    with database.session() as session:
        assert session.exec(select(Conversation)).all() == []
        conversations.save_state(session, "telegram", "6", {"draft": {}}, now=clock() - timedelta(days=8))
    clock.advance(minutes=30)
    await scheduler.tick()  # within the hour: not again
    with database.session() as session:
        assert len(session.exec(select(Conversation)).all()) == 1
    clock.advance(minutes=31)
    await scheduler.tick()
    with database.session() as session:
        assert session.exec(select(Conversation)).all() == []


def test_tiendo_prune(tree: Tree, database: Database, cli) -> None:
    with database.session() as session:
        conversations.save_state(
            session, "telegram", "5", {"draft": {}}, now=datetime.now(ZONE) - timedelta(days=30)
        )
    code, out, _ = cli("prune")
    assert code == 0 and "conversation 1" in out
