"""Who may do what: every command × role × scope, inside and outside the subtree; throttles; logs."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlmodel import func, select

from bot import http_limits
from bot.http_limits import Limits
from handlers.conversation import handle
from handlers.types import Incoming, Kind, Services
from storage import accounts, reports, targets, units
from storage.clock import month_end
from storage.db import Database
from storage.models import AuditEvent, Invite, Metric, Report, ReportStatus, Role
from tests.utils import web_stack
from tests.utils.clock import FakeClock

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

# Province P > communes X, Y > cells X-A, X-B, Y-A. Users: a secretary of X-A, staff of X, staff of P,
# an admin at P, and a stranger.
USERS = {
    "sec": ("X-A", Role.secretary),
    "staff_x": ("X", Role.staff),
    "staff_p": ("P", Role.staff),
    "admin": ("P", Role.admin),
}


@pytest.fixture
def world(database: Database) -> dict[str, str]:
    """Receipt codes of one report in each cell."""
    with database.session() as session:
        province = units.create_unit(
            session, code="P", name="Đảng bộ tỉnh Hà Nam", level="Tỉnh ủy", parent=None
        )
        x = units.create_unit(
            session, code="X", name="Đảng bộ xã Kiện Khê", level="Đảng bộ xã", parent=province
        )
        y = units.create_unit(
            session, code="Y", name="Đảng bộ xã Thanh Hà", level="Đảng bộ xã", parent=province
        )
        receipts = {}
        for code, name, parent in (
            ("X-A", "Chi bộ thôn An", x),
            ("X-B", "Chi bộ thôn Bình", x),
            ("Y-A", "Chi bộ thôn Yên", y),
        ):
            cell = units.create_unit(session, code=code, name=name, level="Chi bộ", parent=parent)
            targets.set_target(
                session,
                unit=cell,
                metric=Metric.admissions,
                start=date(2023, 1, 1),
                end=date(2023, 12, 31),
                value=3,
                source="Kế hoạch năm 2023",
            )
            stored, _ = reports.confirm_report(
                session,
                reports.ReportInput(
                    unit=cell,
                    channel="test",
                    raw_text="kết nạp 1",
                    period_start=date(2023, 10, 1),
                    period_end=month_end(date(2023, 10, 1)),
                    admission=reports.AdmissionInput(1),
                ),
                now=datetime(2023, 10, 30, 9, tzinfo=ZONE),
            )
            receipts[code] = stored.receipt_code
        for user, (code, role) in USERS.items():
            invite = accounts.create_invite(session, unit=units.get_by_code(session, code), role=role)
            accounts.redeem_invite(
                session, code=invite, channel="test", channel_user_id=user, chat_id=user, display_name=None
            )
    return receipts


@pytest.fixture
def chat(database: Database, clock: FakeClock):
    services = Services(session=database.session, timezone=ZONE, clock=clock)

    def send(user: str, text: str) -> str:
        replies = handle(Incoming(channel="test", user_id=user, chat_id=user, text=text), services)
        return "\n".join(r.text for r in replies)

    return send


SEES_OWN = "TIẾN ĐỘ PHÁT TRIỂN ĐẢNG VIÊN"
REFUSED_VIEW = "chỉ xem được tiến độ"
NOT_FOUND = "Không tìm thấy đơn vị"

# /tiendo <unit>: who sees what. Staff look inside their subtree; the admin everywhere.
VIEW_MATRIX = [
    ("sec", "X-A", SEES_OWN),
    ("sec", "X-B", REFUSED_VIEW),
    ("sec", "X", REFUSED_VIEW),
    ("sec", "Y-A", REFUSED_VIEW),
    ("staff_x", "X", SEES_OWN),
    ("staff_x", "X-B", SEES_OWN),
    ("staff_x", "Y-A", NOT_FOUND),
    ("staff_x", "P", NOT_FOUND),
    ("staff_p", "Y-A", SEES_OWN),
    ("staff_p", "X-A", SEES_OWN),
    ("admin", "Y-A", SEES_OWN),
    ("stranger", "X-A", "chưa đăng ký"),
]


@pytest.mark.parametrize(("user", "unit", "expected"), VIEW_MATRIX)
def test_tiendo_scope(world: dict[str, str], chat, user: str, unit: str, expected: str) -> None:
    assert expected in chat(user, f"/tiendo {unit}")


CHANGE_OK, CHANGE_REFUSED, UNREGISTERED = "nội dung đúng", "không có quyền", "chưa đăng ký"
CHANGE_MATRIX = [
    ("sec", "X-A", CHANGE_OK),
    ("sec", "X-B", CHANGE_REFUSED),
    ("sec", "Y-A", CHANGE_REFUSED),
    ("staff_x", "X-A", CHANGE_OK),
    ("staff_x", "X-B", CHANGE_OK),
    ("staff_x", "Y-A", CHANGE_REFUSED),
    ("staff_p", "Y-A", CHANGE_OK),
    ("admin", "Y-A", CHANGE_OK),
    ("stranger", "X-A", UNREGISTERED),
]


@pytest.mark.parametrize(("user", "cell", "expected"), CHANGE_MATRIX)
def test_sua_and_huy_scope(
    world: dict[str, str],
    chat,
    database: Database,
    user: str,
    cell: str,
    expected: str,
) -> None:
    assert expected in chat(user, f"/sua {world[cell]}")
    chat(user, "/huy")
    answer = chat(user, f"/huy {world[cell]}")
    if expected == CHANGE_OK:
        assert "Đồng chí muốn rút báo cáo" in answer
        assert "Đã rút" in chat(user, "1")
        status = ReportStatus.withdrawn
    else:
        assert expected in answer
        status = ReportStatus.confirmed
    with database.session() as session:
        assert session.exec(select(Report.status).where(Report.receipt_code == world[cell])).one() == status


COMMAND_MATRIX = [
    # command, who, what the answer says
    ("/ketnap", "sec", "tháng nào"),  # the 1st of the month: which month is asked first
    ("/ketnap", "staff_x", "bí thư chi bộ gửi"),
    ("/lop", "sec", "tháng nào"),
    ("/lop", "admin", "bí thư chi bộ gửi"),
    ("kết nạp 1 đảng viên", "staff_p", "bí thư chi bộ gửi"),
    ("kết nạp 1 đảng viên", "stranger", "chưa đăng ký"),
    ("/nhacnho", "sec", "dành cho cán bộ"),
    ("/nhacnho", "staff_x", "Đợt nhắc việc"),
    ("/thidua 2023", "staff_x", "Kế hoạch"),
    ("/thidua 2023", "stranger", "chưa đăng ký"),
    ("/baocao", "sec", "Chi bộ thôn An"),
    ("/baocao", "stranger", "chưa đăng ký"),
    ("/xuat", "stranger", "chưa đăng ký"),
]


@pytest.mark.parametrize(("command", "user", "expected"), COMMAND_MATRIX)
def test_commands_by_role(world: dict[str, str], chat, command: str, user: str, expected: str) -> None:
    answer = chat(user, command)
    if expected == "Kế hoạch":
        assert "Chi bộ thôn An" in answer and "Chi bộ thôn Yên" not in answer  # only the subtree
    elif expected == "Chi bộ thôn An":
        assert "kết nạp 1" in answer or "BN-" in answer
    else:
        assert expected in answer


def test_secretary_sees_only_own_unit_reports(world: dict[str, str], chat) -> None:
    listing = chat("sec", "/baocao")
    assert world["X-A"] in listing and world["X-B"] not in listing and world["Y-A"] not in listing
    staff = chat("staff_x", "/baocao")
    assert world["X-A"] in staff and world["X-B"] in staff and world["Y-A"] not in staff


def test_invite_guessing_is_throttled(
    world: dict[str, str], chat, database: Database, clock: FakeClock
) -> None:
    for _ in range(5):
        assert "không đúng" in chat("guesser", "/dangky AAAAA-BBBBB")
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, "X-B"), role=Role.secretary)
    assert "thử lại sau 60 phút" in chat("guesser", f"/dangky {code}")  # even a right code waits
    clock.advance(minutes=61)
    assert "Đã đăng ký" in chat("guesser", f"/dangky {code}")


def test_ones_own_invite_code_sent_again_says_registered(
    world: dict[str, str], chat, database: Database
) -> None:
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, "X-B"), role=Role.secretary)
    assert "Đã đăng ký" in chat("newcomer", f"/dangky {code}")
    assert "Đã đăng ký" in chat("newcomer", f"/dangky {code}")  # the first answer came late
    assert "đã được sử dụng" in chat("someone-else", f"/dangky {code}")


def test_invite_codes_are_hashed_single_use_and_expire(
    world: dict[str, str], chat, database: Database, clock: FakeClock
) -> None:
    with database.session() as session:
        code = accounts.create_invite(
            session, unit=units.get_by_code(session, "X-B"), role=Role.secretary, days=1, now=clock()
        )
        stored = session.exec(select(Invite.code_hash)).all()
    assert all(code.replace("-", "") not in h for h in stored) and all(len(h) == 64 for h in stored)
    clock.advance(days=2)
    assert "hết hạn" in chat("late", f"/dangky {code}")


def test_message_flood_gets_one_warning_then_silence(
    world: dict[str, str], chat, database: Database, clock: FakeClock
) -> None:
    answers = [chat("sec", "/tiendo") for _ in range(33)]
    assert all(SEES_OWN in a for a in answers[:30])
    assert "quá nhanh" in answers[30] and answers[31:] == ["", ""]
    clock.advance(seconds=61)
    assert SEES_OWN in chat("sec", "/tiendo")
    with database.session() as session:
        assert (
            session.exec(select(func.count()).select_from(Report)).one() == 3
        )  # nothing stored by the flood


def test_logs_hold_no_token_nor_names(
    world: dict[str, str], caplog: pytest.LogCaptureFixture, database: Database, clock: FakeClock
) -> None:
    services = Services(session=database.session, timezone=ZONE, clock=clock)
    caplog.set_level(logging.DEBUG)
    for text in ("kết nạp đồng chí Trần Thị Mai Phương", "/dangky SAIMA-12345", "1"):
        handle(
            Incoming(
                channel="test",
                user_id="sec",
                chat_id="sec",
                text=text,
                display_name="Nguyễn Văn Lâm",
                delivery_id=f"d-{text[:3]}",
            ),
            services,
        )
        handle(
            Incoming(channel="test", user_id="sec", chat_id="sec", text=text, delivery_id=f"d-{text[:3]}"),
            services,
        )
    logged = caplog.text
    for secret in ("Trần Thị Mai Phương", "Nguyễn Văn Lâm", "SAIMA-12345"):
        assert secret not in logged
    assert "duplicate delivery" in logged  # the capture works: the redeliveries were logged


# --- hostile input inside the handlers: every message answered, never an exception -------------

# Unicode digits that str.isdigit() accepts and int() refuses (superscripts, circled digits), lone
# surrogates (a JSON escape makes one), and ids or numbers no database column holds.
HOSTILE_CHOICES = [
    "unit:²",
    "unit:²:-",
    "unit:¹²:20230101²⁰²³¹²³¹",
    "page:1:-:²",
    "page:²:-:1",
    "page:1:²⁰²³⁰¹⁰¹²⁰²³¹²³¹:1",
    "page:1:2023010120231231:99999999999999999999",
    "chart:²:-",
    "xlsx:①:-",
    "withdraw:²",
    "keep:²",
    "confirm:²",
    "ans:²:²",
    "edit:²",
    "cancel:\ud800",
    "unit:\ud800",
    "confirm:\udfff",
    "withdraw:99999999999",
    "unit:-1",
    "",
    ":",
    "::::",
]
HOSTILE_TEXTS = [
    "/tiendo ²⁰²³",
    "/tiendo năm ²⁰²³",
    "/thidua ²⁰²³",
    "/thidua ¹²³⁴",
    "/xuat ²⁰²³",
    "/huy BN-²²²²²²",
    "/sua ²",
    "/dangky ²²²²²-²²²²²",
    "kết nạp ² đảng viên",
    "tháng ¹² năm ²⁰²³ kết nạp 1 đảng viên",
    "/tiendo \ud800",
    "kết nạp 1 đảng viên \udc00",
    "\ud800",
]


@pytest.mark.parametrize("user", ["sec", "staff_x", "admin", "stranger"])
def test_hostile_buttons_and_texts_are_answered(
    world: dict[str, str], database: Database, clock: FakeClock, user: str
) -> None:
    services = Services(session=database.session, timezone=ZONE, clock=clock, messages_per_minute=0)
    for n, data in enumerate(HOSTILE_CHOICES):
        replies = handle(
            Incoming("test", user, user, kind=Kind.choice, choice=data, delivery_id=f"c{n}"), services
        )
        assert replies and all(r.text for r in replies), data
    for n, text in enumerate(HOSTILE_TEXTS):
        replies = handle(Incoming("test", user, user, text, delivery_id=f"t{n}"), services)
        assert replies and all(r.text for r in replies), text


def test_lone_surrogates_in_ids_and_names_are_answered(
    world: dict[str, str], database: Database, clock: FakeClock
) -> None:
    services = Services(session=database.session, timezone=ZONE, clock=clock)
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, "X-B"), role=Role.secretary)
    replies = handle(
        Incoming(
            "test", "u\ud800", "c\udfff", f"/dangky {code}", display_name="Lâm\ud800", delivery_id="\ud800"
        ),
        services,
    )
    assert "Đã đăng ký" in replies[0].text
    replies = handle(Incoming("test", "u\ud800", "c\udfff", "/tiendo", delivery_id="\udc00"), services)
    assert "TIẾN ĐỘ" in replies[0].text
    # the same delivery id again is a redelivery: its kept replies, not a new draft
    first = handle(
        Incoming("test", "u\ud800", "c\udfff", "kết nạp 1 đảng viên", delivery_id="\udbff"), services
    )
    again = handle(
        Incoming("test", "u\ud800", "c\udfff", "kết nạp 1 đảng viên", delivery_id="\udbff"), services
    )
    assert first == again and first[0].options
    # ids longer than the columns (a forged update) are answered too, and stay apart
    long_user, long_delivery = "z" * 300, "m" * 300
    replies = handle(Incoming("test", long_user, long_user, "/tiendo", delivery_id=long_delivery), services)
    assert "chưa đăng ký" in replies[0].text
    assert (
        handle(Incoming("test", long_user, long_user, "/tiendo", delivery_id=long_delivery), services)
        == replies
    )
    assert handle(Incoming("test", long_user, long_user, "/tiendo", delivery_id="m" * 299), services)


def test_implausible_figures_from_a_cell_are_not_stored(
    world: dict[str, str], chat, database: Database
) -> None:
    # The dialogue asks such a figure back first; told it is right, storage still refuses it.
    assert "99.999" in chat("sec", "cử 99999 quần chúng đi học lớp nhận thức")
    assert "99.999" in chat("sec", "đúng")
    answer = chat("sec", "1")
    assert "Chưa ghi được báo cáo" in answer and "quá lớn" in answer and "tối đa 500" in answer
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Report)).one() == 3
        x = units.get_by_code(session, "X")
        assert reports.rollups.sum_totals(session, x.id or 0, None, None).sent == 0


# --- secrets and files kept private ------------------------------------------------------------


def test_settings_never_print_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import Settings

    values = {
        "TELEGRAM_BOT_TOKEN": "7012345678:AAHk3-EXAMPLE_token_value_1234567890",
        "ZALO_BOT_TOKEN": "zalo-token-value-0123456789",
        "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-value-0123456789",
        "SECRET_KEY": "file-link-signing-key-abcdef",
        "DATABASE_URL": "postgresql://tiendo:db-pass-word-42@127.0.0.1:5432/tiendo",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    shown = repr(settings) + str(settings)
    for secret in (*list(values.values())[:4], "db-pass-word-42"):
        assert secret not in shown
    assert settings.telegram_bot_token.get_secret_value() == values["TELEGRAM_BOT_TOKEN"]
    assert "db-pass-word-42" in settings.secrets() and values["SECRET_KEY"] in settings.secrets()


def test_log_records_are_redacted_whatever_handler_writes_them(caplog: pytest.LogCaptureFixture) -> None:
    from bot.logs import install_redaction

    token = "7012345678:AAHk3-EXAMPLE_token_value_1234567890"
    install_redaction(["webhook-secret-value-0123456789"])
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("telegram.ext.ExtBot")
    log.debug(
        "Calling Bot API endpoint `%s` with parameters `%s`",
        "setWebhook",
        {"secret_token": "webhook-secret-value-0123456789"},
    )
    log.debug("POST https://api.telegram.org/bot%s/getMe", token)
    log.info("update %s", {"message": {"text": "/dangky abcde-23456"}})
    try:
        raise RuntimeError(f"could not reach https://api.telegram.org/bot{token}/sendMessage")
    except RuntimeError:
        log.exception("send failed")
    logged = caplog.text
    for secret in ("webhook-secret-value-0123456789", token, token.split(":")[1], "abcde-23456"):
        assert secret not in logged
    assert "setWebhook" in logged and "7012345678:***" in logged and "/dangky ***" in logged


def test_backups_and_the_database_file_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    import os
    import stat

    from bot.backup import backup

    previous = os.umask(0o022)
    try:
        url = f"sqlite:///{tmp_path}/data/tiendo.db"
        database = Database(url)
        database.migrate()
        database.dispose()
        target = tmp_path / "backups" / "tiendo.db"
        target.parent.mkdir()
        target.write_bytes(b"")
        os.chmod(target, 0o644)  # an earlier, world-readable copy
        backup(url, target)
        for path in (tmp_path / "data" / "tiendo.db", target):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert target.stat().st_size > 0
    finally:
        os.umask(previous)


def test_postgresql_backups_are_written_0600(database_url: str, tmp_path: Path) -> None:
    import os
    import stat

    from bot.backup import backup

    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    previous = os.umask(0o022)
    try:
        target = tmp_path / "tiendo.dump"
        backup(database_url, target)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.stat().st_size > 0


def test_a_secretary_naming_another_cell_by_a_near_name_is_refused(
    database: Database, clock: FakeClock
) -> None:
    with database.session() as session:
        commune = units.create_unit(session, code="K", name="Đảng bộ xã Kim Bảng", level="Xã", parent=None)
        for code, name in (("K1", "Chi bộ thôn 1"), ("K2", "Chi bộ thôn 2"), ("K3", "Chi bộ thôn Bình An")):
            units.create_unit(session, code=code, name=name, level="Chi bộ", parent=commune)
        code = accounts.create_invite(session, unit=units.get_by_code(session, "K1"), role=Role.secretary)
    services = Services(session=database.session, timezone=ZONE, clock=clock, messages_per_minute=0)

    def ask(text: str) -> str:
        return handle(Incoming("test", "s", "s", text), services)[0].text

    assert "Đã đăng ký" in ask(f"/dangky {code}")
    for own in (
        "/tiendo",
        "/tiendo thôn 1",
        "/tiendo chi bo thon 1",
        "/tiendo K1",
        "/tiendo thon 1 nam 2023",
    ):
        assert "TIẾN ĐỘ PHÁT TRIỂN ĐẢNG VIÊN: Chi bộ thôn 1" in ask(own), own
    for other in (
        "/tiendo thon 2",
        "/tiendo thôn 3",
        "/tiendo thon 11",
        "/tiendo binh an",
        "/tiendo kim bang",
        "/tiendo K2",
    ):
        answer = ask(other)
        assert "chỉ xem được tiến độ của Chi bộ thôn 1" in answer and "TIẾN ĐỘ" not in answer, other


def test_invite_guessing_from_many_chats_is_throttled_globally(
    world: dict[str, str], database: Database, clock: FakeClock
) -> None:
    services = Services(session=database.session, timezone=ZONE, clock=clock, invite_failures_per_hour=10)

    def send(user: str, text: str) -> str:
        return handle(Incoming("test", user, user, text), services)[0].text

    for n in range(10):  # one guess per chat: the per-chat limit never trips
        assert "không đúng" in send(f"guesser{n}", f"/dangky AAAA{n % 10 + 2}-BBBBB")
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, "X-B"), role=Role.secretary)
    assert "tạm dừng nhận mã đăng ký" in send("newcomer", f"/dangky {code}")  # not even looked at
    clock.advance(minutes=61)
    assert "Đã đăng ký" in send("newcomer", f"/dangky {code}")
    with database.session() as session:
        events = session.exec(select(AuditEvent.detail).where(AuditEvent.action == "invite.refused")).all()
    assert len(events) == 10 and all("AAAA" not in e for e in events)


def test_dangky_asks_before_replacing_a_role(
    world: dict[str, str], chat, database: Database, clock: FakeClock
) -> None:
    with database.session() as session:
        code = accounts.create_invite(session, unit=units.get_by_code(session, "X"), role=Role.staff)
        other = accounts.create_invite(session, unit=units.get_by_code(session, "Y"), role=Role.staff)
        [other_id] = session.exec(select(Invite.id).order_by(Invite.id.desc()).limit(1)).all()  # type: ignore[union-attr]
    question = chat("sec", f"/dangky {code}")
    assert "Đồng chí đang là bí thư chi bộ của Chi bộ thôn An" in question
    assert "sẽ là cán bộ theo dõi của Đảng bộ xã Kiện Khê" in question
    assert "vẫn là bí thư chi bộ của Chi bộ thôn An" in chat("sec", "2")
    assert "chỉ xem được tiến độ" in chat("sec", "/tiendo X")  # nothing changed
    chat("sec", f"/dangky {code}")
    clock.advance(hours=2)
    assert "hết hạn" in chat("sec", "1")
    chat("sec", f"/dangky {code}")
    handle(
        Incoming("test", "sec", "sec", kind=Kind.choice, choice=f"register_yes:{other_id}"),
        Services(session=database.session, timezone=ZONE, clock=clock),
    )
    assert "chỉ xem được tiến độ" in chat("sec", "/tiendo X")  # a forged button changes nothing
    chat("sec", f"/dangky {code}")
    assert "Đã đăng ký" in chat("sec", "1")
    assert SEES_OWN in chat("sec", "/tiendo X-B")  # now staff of X
    assert "Đã đăng ký" in chat("newbie", f"/dangky {other}")


INVISIBLE = "\u202e\u200b\u200d\u2066\u2069\ufeff\u00ad\u200f"


def test_invisible_and_bidi_characters_never_reach_staff(
    world: dict[str, str], chat, database: Database
) -> None:
    # Typed in a report: stored without them.
    assert "Xác nhận" in chat(
        "sec", "kết\u200b nạp 2 đảng viên\u202e, 1 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT\u2066"
    )
    assert "Đã ghi nhận" in chat("sec", "1")
    # Already stored (an older version kept them): not shown either.
    with database.session() as session:
        old = session.exec(select(Report).where(Report.receipt_code == world["X-B"])).one()
        old.raw_text = f"kết nạp 1{INVISIBLE} đồng chí Trần\u202eThị"
        session.add(old)
    listing = chat("staff_x", "/baocao")
    prompt = chat("staff_x", f"/sua {world['X-B']}")
    with database.session() as session:
        stored = session.exec(
            select(Report.raw_text).where(Report.unit_id == units.get_by_code(session, "X-A").id)
        ).all()
    for text in (listing, prompt, *stored):
        assert not any(ch in text for ch in INVISIBLE), repr(text)
    assert "TrầnThị" in prompt


# --- hostile requests at the web layer: refused with 4xx, nothing stored ---------------------------


def client_of(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=web_stack.BASE)  # type: ignore[arg-type]


def _update(**changes: object) -> bytes:
    """A Telegram update with some of its parts replaced (given as JSON text, to write NaN and
    escapes JSON encoders do not write)."""
    parts = {
        "update_id": "77",
        "message": '{"message_id": 1, "date": 1698800000, "chat": {"id": 5, "type": "private"}, '
        '"from": {"id": 5, "is_bot": false, "first_name": "Lan"}, "text": "/start"}',
        **changes,
    }
    return ("{" + ", ".join(f'"{key}": {value}' for key, value in parts.items()) + "}").encode()


def _zalo(message_id: str = '"abc123"', **changes: str) -> bytes:
    parts = {
        "from": '{"id": "u1", "display_name": "Lan", "is_bot": false}',
        "chat": '{"id": "u1", "chat_type": "PRIVATE"}',
        "text": '"/start"',
        "message_id": message_id,
        **changes,
    }
    message = "{" + ", ".join(f'"{key}": {value}' for key, value in parts.items()) + "}"
    return f'{{"event_name": "message.text.received", "message": {message}}}'.encode()


# Bodies a platform never sends, each answered 400 with the right secret (a 5xx would be delivered
# again, for ever): what the attack on `tiendo serve` found, and variants of each kind.
HOSTILE_WEBHOOK_BODIES = {
    # valid JSON, but no object
    "42": ("/telegram/webhook", b"42"),
    "true": ("/telegram/webhook", b"true"),
    "null": ("/telegram/webhook", b"null"),
    "string": ("/telegram/webhook", b'"update"'),
    "list": ("/telegram/webhook", b'[{"update_id": 1}]'),
    "zalo list": ("/zalo/webhook", b"[]"),
    # nesting: far deeper than the parser's recursion, just under it, and just past the limit
    "nested 100000": ("/telegram/webhook", b"[" * 100_000 + b"]" * 100_000),
    "nested 995": ("/telegram/webhook", _update(x=("[" * 995 + "]" * 995))),
    "nested 70 objects": ("/zalo/webhook", _zalo(text='{"a": ' * 70 + "1" + "}" * 70)),
    # lone surrogates: in a text, a key, a name, an id
    "surrogate text": ("/telegram/webhook", _update(message='{"chat": {"id": 5}, "text": "a\\ud800"}')),
    "surrogate key": ("/telegram/webhook", _update(**{"\\udfff": "{}"})),
    "surrogate zalo name": ("/zalo/webhook", _zalo(**{"from": '{"id": "u1", "display_name": "\\udbff"}'})),
    "surrogate zalo id": ("/zalo/webhook", _zalo('"\\ud800"')),
    # not JSON: NaN, Infinity, a number no float holds, bad UTF-8, a BOM, an integer of 5,000 digits
    "NaN": ("/telegram/webhook", _update(update_id="NaN")),
    "Infinity": ("/zalo/webhook", _zalo(text="-Infinity")),
    "1e999": ("/telegram/webhook", _update(x="1e999")),
    "bad UTF-8": ("/telegram/webhook", _update(message='{"text": "\xff"}').replace(b"\xc3\xbf", b"\xff")),
    "BOM": ("/telegram/webhook", b"\xef\xbb\xbf" + _update()),
    "5000 digits": ("/telegram/webhook", _update(update_id="9" * 5000)),
    # delivery ids that are no delivery id
    "update_id null": ("/telegram/webhook", _update(update_id="null")),
    "update_id float": ("/telegram/webhook", _update(update_id="77.0")),
    "update_id true": ("/telegram/webhook", _update(update_id="true")),
    "update_id object": ("/telegram/webhook", _update(update_id='{"a": 1}')),
    "update_id string": ("/telegram/webhook", _update(update_id='"77"')),
    "update_id negative": ("/telegram/webhook", _update(update_id="-1")),
    "update_id 100 digits": ("/telegram/webhook", _update(update_id="9" * 100)),
    "no update_id": ("/telegram/webhook", b'{"message": {}}'),
    "message a string": ("/telegram/webhook", _update(message='"hello"')),
    "zalo message_id object": ("/zalo/webhook", _zalo('{"a": 1}')),
    "zalo message_id true": ("/zalo/webhook", _zalo("true")),
    "zalo message_id 65 chars": ("/zalo/webhook", _zalo('"' + "a" * 65 + '"')),
    "zalo message a list": ("/zalo/webhook", b'{"event_name": "message.text.received", "message": []}'),
    "zalo from a string": ("/zalo/webhook", _zalo(**{"from": '"u1"'})),
    "zalo event_name a number": ("/zalo/webhook", b'{"event_name": 1, "message": {}}'),
    "empty": ("/telegram/webhook", b""),
    "not JSON": ("/zalo/webhook", b"<xml/>"),
}


@pytest.fixture
async def stack(database: Database, services: Services) -> AsyncIterator[web_stack.Stack]:
    with web_stack.web_stack(database, services) as stack:
        async with stack.started():
            yield stack


@pytest.mark.parametrize("case", list(HOSTILE_WEBHOOK_BODIES))
async def test_hostile_webhook_bodies_are_refused_with_400_and_not_stored(
    stack: web_stack.Stack, case: str
) -> None:
    path, body = HOSTILE_WEBHOOK_BODIES[case]
    header, secret = stack.secrets()[path]
    async with client_of(stack.app()) as client:
        answer = await client.post(path, content=body, headers={header: secret})
    assert answer.status_code == 400, answer.text
    assert answer.json()["ok"] is False
    assert stack.stored() == 0


async def test_the_well_formed_twins_of_the_hostile_bodies_are_taken(stack: web_stack.Stack) -> None:
    """The probes above are refused for what is wrong in them, not for their shape."""
    bodies = [
        ("/telegram/webhook", _update()),
        ("/telegram/webhook", _update(update_id="78", x='{"a": ' * 60 + "1" + "}" * 60)),
        (
            "/telegram/webhook",
            _update(update_id="79", message='{"chat": {"id": 5}, "text": "a\\ud83d\\ude00"}'),
        ),
        ("/zalo/webhook", _zalo()),
        ("/zalo/webhook", _zalo("12345")),
        ("/zalo/webhook", _zalo("null")),  # no message id: the update's digest is its delivery id
        ("/zalo/webhook", _zalo('"' + "b" * 64 + '"')),
    ]
    async with client_of(stack.app()) as client:
        for path, body in bodies:
            header, secret = stack.secrets()[path]
            answer = await client.post(path, content=body, headers={header: secret})
            assert answer.status_code == 200, (body[:80], answer.text)
    assert stack.stored() == len(bodies)


async def test_a_ten_megabyte_update_is_refused_before_it_is_read(stack: web_stack.Stack) -> None:
    big = _update(x='"' + "x" * 10_000_000 + '"')
    async with client_of(stack.app()) as client:
        for path in ("/telegram/webhook", "/zalo/webhook"):
            header, secret = stack.secrets()[path]
            answer = await client.post(path, content=big, headers={header: secret})
            assert answer.status_code == 413 and answer.json()["ok"] is False
            # without a length: the same, as soon as the bytes read pass the limit
            pulled: list[int] = []

            async def chunks(pulled: list[int] = pulled) -> AsyncIterator[bytes]:
                for start in range(0, len(big), 64 * 1024):
                    pulled.append(start)
                    yield big[start : start + 64 * 1024]

            answer = await client.post(path, content=chunks(), headers={header: secret})
            assert answer.status_code == 413
            assert len(pulled) <= 17  # 1 MiB and a chunk: the other 9 MB were never read
    assert stack.stored() == 0


@pytest.mark.parametrize(
    "path",
    [
        "/files/x?e=²&s=x",
        "/files/x?e=¹²³&s=" + "0" * 32,
        "/files/" + "A" * 32 + "?e=²²²²²²²²²²&s=" + "0" * 32,
        "/files/" + "A" * 32 + "?e=-1&s=" + "0" * 32,
        "/files/" + "A" * 32 + "?e=1e9&s=" + "0" * 32,
        "/files/" + "A" * 32 + "?e=" + "9" * 400 + "&s=" + "0" * 32,
        "/files/" + "A" * 32 + "?e=1700000000&s=%ff%fe",
        "/files/%00" + "A" * 31 + "?e=1700000000&s=" + "0" * 32,
        "/files/" + "A" * 5000,
        "/files/x",
    ],
)
async def test_malformed_file_links_are_not_found(stack: web_stack.Stack, path: str) -> None:
    async with client_of(stack.app()) as client:
        answer = await client.get(path)
    assert answer.status_code == 404


async def test_slow_heads_and_bodies_do_not_hold_a_connection(stack: web_stack.Stack) -> None:
    """Slowloris against uvicorn as `tiendo serve` runs it (with shorter deadlines): a head sent a byte
    at a time, a body that stops coming, and a next request trickled on a kept-alive connection."""
    import uvicorn

    limits = Limits(header_seconds=0.5, request_seconds=2.0, body_seconds=0.5)
    config = uvicorn.Config(
        stack.app(limits=limits),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        **http_limits.server_options(limits),
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        header, secret = stack.secrets()["/telegram/webhook"]
        head = f"POST /telegram/webhook HTTP/1.1\r\nHost: x\r\n{header}: {secret}\r\n".encode()

        async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> float:
            """Seconds until the server closed the connection, sending a byte every 50 ms."""
            started = time.monotonic()
            for byte in data:
                try:
                    writer.write(bytes([byte]))
                    await writer.drain()
                    if await asyncio.wait_for(reader.read(4096), 0.05) == b"":
                        break
                except TimeoutError:
                    continue
                except ConnectionError:
                    break
            writer.close()
            return time.monotonic() - started

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await trickle(reader, writer, head + b"X-Padding: " + b"a" * 200) < 1.5

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head + b"Content-Length: 500\r\n\r\n" + _update()[:20])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 2)
        assert answer.startswith(b"HTTP/1.1 408")
        assert await asyncio.wait_for(reader.read(4096), 2) == b""  # and closed
        writer.close()

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = _update()
        writer.write(head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        assert (await asyncio.wait_for(reader.read(4096), 2)).startswith(b"HTTP/1.1 200")
        assert await trickle(reader, writer, head + b"X-Padding: " + b"a" * 200) < 1.5
    finally:
        server.should_exit = True
        await serving
    assert stack.stored() == 1
