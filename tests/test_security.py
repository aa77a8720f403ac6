"""Who may do what: every command × role × scope, inside and outside the subtree; throttles; logs."""

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from handlers.conversation import handle
from handlers.types import Incoming, Services
from storage import accounts, reports, targets, units
from storage.clock import month_end
from storage.db import Database
from storage.models import Invite, Metric, Report, ReportStatus, Role
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
def chat(database: Database, clock: FakeClock):  # type: ignore[no-untyped-def]
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
def test_tiendo_scope(world: dict[str, str], chat, user: str, unit: str, expected: str) -> None:  # type: ignore[no-untyped-def]
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
    cell: str,  # type: ignore[no-untyped-def]
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
def test_commands_by_role(world: dict[str, str], chat, command: str, user: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    answer = chat(user, command)
    if expected == "Kế hoạch":
        assert "Chi bộ thôn An" in answer and "Chi bộ thôn Yên" not in answer  # only the subtree
    elif expected == "Chi bộ thôn An":
        assert "kết nạp 1" in answer or "BN-" in answer
    else:
        assert expected in answer


def test_secretary_sees_only_own_unit_reports(world: dict[str, str], chat) -> None:  # type: ignore[no-untyped-def]
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
