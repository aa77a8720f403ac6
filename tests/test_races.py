"""Two people changing the same report at the same moment: it is taken out of the figures once.

Two staff chats send /huy (or /sua) for one report and confirm at the same instant, each in its own
thread with its own database session. A barrier holds each worker just before it subtracts the report
from the rollups, so that without a lock both would pass the status check first (as they did on
PostgreSQL: the rollup went 2 -> -2). Afterwards the rollups must equal the raw entries.
"""

import contextlib
import threading
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from handlers.conversation import handle
from handlers.types import Incoming, Services
from storage import accounts, reports, units
from storage.clock import month_end
from storage.db import Database
from storage.models import Report, ReportStatus, Role
from storage.rollups import sum_totals
from tests.utils.clock import FakeClock
from tests.utils.rollup_check import differences

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
FULL = "kết nạp 3 đảng viên, 2 nữ, 1 đoàn viên, 0 tôn giáo, 0 dân tộc, 3 THPT"


@pytest.fixture
def staff_pair(database: Database) -> list[str]:
    """Commune X > cell A; two staff of X (chats s1, s2); receipt codes of five reports of A."""
    with database.session() as session:
        commune = units.create_unit(session, code="X", name="Đảng bộ xã Kiện Khê", level="Xã", parent=None)
        cell = units.create_unit(session, code="X-A", name="Chi bộ thôn An", level="Chi bộ", parent=commune)
        codes = []
        for n in range(5):
            stored, _ = reports.confirm_report(
                session,
                reports.ReportInput(
                    unit=cell,
                    channel="test",
                    raw_text=f"kết nạp {n + 1}",
                    period_start=date(2023, 10, 1),
                    period_end=month_end(date(2023, 10, 1)),
                    admission=reports.AdmissionInput(n + 1, female=1),
                ),
                now=datetime(2023, 10, 30, 9, tzinfo=ZONE),
            )
            codes.append(stored.receipt_code)
        for user in ("s1", "s2"):
            code = accounts.create_invite(session, unit=commune, role=Role.staff)
            accounts.redeem_invite(
                session, code=code, channel="test", channel_user_id=user, chat_id=user, display_name=None
            )
    return codes


def _sender(database: Database, clock: FakeClock) -> Callable[[str, str], str]:
    # Five reports of one cell in a month are more than a cell usually admits: not what is tested here.
    services = Services(session=database.session, timezone=ZONE, clock=clock, plausible_admissions=100)

    def send(user: str, text: str) -> str:
        return "\n".join(r.text for r in handle(Incoming("test", user, user, text), services))

    return send


def _at_once(send: Callable[[str, str], str], texts: dict[str, str]) -> dict[str, str]:
    """Each user's message in its own thread, started together; their answers."""
    answers: dict[str, str] = {}
    errors: list[BaseException] = []

    def run(user: str) -> None:
        try:
            answers[user] = send(user, texts[user])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(user,)) for user in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return answers


@pytest.fixture
def meet_before_subtracting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both workers wait for each other right before a report's figures are read for subtracting.

    With the row locked by the first, the second cannot get there: the barrier then times out and the
    first goes on alone (the test is slower by the timeout, not wrong).
    """
    barrier = threading.Barrier(2, timeout=1.5)
    original = reports.stored_facts

    def stored_facts(session, report):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        return original(session, report)

    monkeypatch.setattr(reports, "stored_facts", stored_facts)


def _admissions(database: Database) -> int:
    with database.session() as session:
        return sum_totals(session, units.get_by_code(session, "X").id or 0, None, None).admissions


def _statuses(database: Database, codes: list[str]) -> list[str]:
    with database.session() as session:
        return [
            session.exec(select(Report.status).where(Report.receipt_code == code)).one() for code in codes
        ]


def test_two_withdrawals_at_the_same_moment_subtract_once(
    database: Database, clock: FakeClock, staff_pair: list[str], request: pytest.FixtureRequest
) -> None:
    send = _sender(database, clock)
    code = staff_pair[1]  # 2 admissions
    for user in ("s1", "s2"):
        assert "Đồng chí muốn rút báo cáo" in send(user, f"/huy {code}")
    assert _admissions(database) == 15
    request.getfixturevalue("meet_before_subtracting")
    answers = _at_once(send, {"s1": "1", "s2": "1"})
    assert sorted("Đã rút" in a for a in answers.values()) == [False, True], answers
    assert any("đã được rút" in a for a in answers.values()), answers
    assert _admissions(database) == 13
    with database.session() as session:
        assert differences(session) == []


def test_two_corrections_at_the_same_moment_store_one(
    database: Database, clock: FakeClock, staff_pair: list[str], request: pytest.FixtureRequest
) -> None:
    send = _sender(database, clock)
    code = staff_pair[0]  # 1 admission, corrected to 3
    for user in ("s1", "s2"):
        assert code in send(user, f"/sua {code}")
        assert "Xác nhận" in send(user, FULL)
    request.getfixturevalue("meet_before_subtracting")
    answers = _at_once(send, {"s1": "1", "s2": "1"})
    assert sorted("Đã sửa" in a for a in answers.values()) == [False, True], answers
    assert _admissions(database) == 15 - 1 + 3
    with database.session() as session:
        assert (
            len(session.exec(select(Report).where(Report.status == ReportStatus.confirmed.value)).all()) == 5
        )
        assert differences(session) == []


def test_a_withdrawal_and_a_correction_at_the_same_moment(
    database: Database, clock: FakeClock, staff_pair: list[str], request: pytest.FixtureRequest
) -> None:
    send = _sender(database, clock)
    code = staff_pair[4]  # 5 admissions
    assert "Đồng chí muốn rút báo cáo" in send("s1", f"/huy {code}")
    assert code in send("s2", f"/sua {code}")
    assert "Xác nhận" in send("s2", FULL)
    request.getfixturevalue("meet_before_subtracting")
    answers = _at_once(send, {"s1": "1", "s2": "1"})
    done = ["Đã rút" in answers["s1"], "Đã sửa" in answers["s2"]]
    assert sorted(done) == [False, True], answers
    assert _admissions(database) == (15 - 5 if done[0] else 15 - 5 + 3)
    assert _statuses(database, [code]) == [ReportStatus.withdrawn.value]
    with database.session() as session:
        assert differences(session) == []


def test_many_rounds_of_racing_changes_keep_rollups_equal_to_entries(
    database: Database, clock: FakeClock, staff_pair: list[str]
) -> None:
    """Without the barrier: rounds of simultaneous /huy and /sua on each report, as the attack did."""
    send = _sender(database, clock)
    for round_, code in enumerate(staff_pair):
        if round_ % 2:
            for user in ("s1", "s2"):
                send(user, f"/huy {code}")
        else:
            for user in ("s1", "s2"):
                send(user, f"/sua {code}")
                send(user, FULL)
        answers = _at_once(send, {"s1": "1", "s2": "1"})
        assert sum(("Đã rút" in a) or ("Đã sửa" in a) for a in answers.values()) == 1, answers
    with database.session() as session:
        assert differences(session) == []
        assert sum_totals(session, units.get_by_code(session, "X").id or 0, None, None).admissions == 9
