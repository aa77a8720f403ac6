"""The committee's workflow: approval, deadlines and the lock, the probation clock, forecasts, the
tree's history, reminders. Driven through the channel-neutral conversation, as on Zalo (numbered
choices typed as digits)."""

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from handlers.conversation import handle
from handlers.i18n import refusal
from handlers.types import Incoming, Kind, Services
from handlers.workflow_nudges import plan
from storage import forecast, probation, reports, targets, units, workflow
from storage.clock import month_end
from storage.db import Database
from storage.errors import InvalidInput
from storage.models import Account, Metric, OutboxMessage, Role
from storage.progress import unit_progress
from tests.conftest import ZONE
from tests.utils.builders import Tree, build_tree, invite
from tests.utils.clock import FakeClock


def say(services: Services, user: str, text: str) -> str:
    replies = handle(Incoming(channel="zalo", user_id=user, chat_id=user, text=text), services)
    return "\n".join(r.text for r in replies)


def register(services: Services, database: Database, user: str, unit: str, role: Role) -> Account:
    assert "Đã đăng ký" in say(services, user, f"/dangky {invite(database, unit, role)}")
    with database.session() as session:
        return session.exec(select(Account).where(Account.channel_user_id == user)).one()


def admit(
    database: Database,
    code: str,
    count: int,
    month: date,
    *,
    account: Account | None = None,
    ceremony: date | None = None,
    now: datetime | None = None,
) -> str:
    with database.session() as session:
        report, _ = reports.confirm_report(
            session,
            reports.ReportInput(
                unit=units.get_by_code(session, code),
                channel="zalo",
                raw_text=f"kết nạp {count}",
                period_start=month,
                period_end=month_end(month),
                account_id=account.id if account else None,
                admission=reports.AdmissionInput(count, ceremony_date=ceremony),
            ),
            now=now or datetime(2023, 11, 1, 8, 0, tzinfo=ZONE),
        )
        return report.receipt_code


def configure(database: Database, code: str, **values: object) -> None:
    with database.session() as session:
        workflow.set_setting(session, units.get_by_code(session, code), **values)  # type: ignore[arg-type]


@pytest.fixture
def tree(database: Database) -> Tree:
    return build_tree(database)


def test_a_report_is_provisional_until_the_commune_approves_it_and_a_return_reaches_the_secretary(
    services: Services, database: Database, tree: Tree
) -> None:
    configure(database, tree.root, approval=True)
    secretary = register(services, database, "lan", tree.cell_a, Role.secretary)
    register(services, database, "minh", tree.commune, Role.staff)
    admit(database, tree.cell_a, 2, date(2023, 10, 1), account=secretary)

    assert "Số liệu tạm (chưa được duyệt): 2/2 đảng viên kết nạp, thuộc 1 báo cáo." in say(
        services, "minh", "/tiendo"
    )
    assert "đang chờ cấp trên duyệt" in say(services, "lan", "/tiendo")
    assert "dành cho cán bộ" in say(services, "lan", "/duyet")

    listing = say(services, "minh", "/duyet")
    assert "Báo cáo chờ duyệt (1):" in listing and "Chi bộ thôn An Hòa, tháng 10/2023: kết nạp 2" in listing
    detail = say(services, "minh", "1")
    assert "hạn báo cáo 05/11/2023" in detail and "gửi ngày 01/11/2023: Kết nạp 2 đảng viên" in detail
    assert "lý do trả lại" in say(services, "minh", "2")
    returned = say(services, "minh", "Thiếu danh sách người kết nạp")
    assert "Đã trả lại báo cáo tháng 10/2023 của Chi bộ thôn An Hòa" in returned
    assert "Bot đã báo cho 1 đồng chí bí thư." in returned
    with database.session() as session:
        message = session.exec(select(OutboxMessage)).one()
        assert message.account_id == secretary.id and message.chat_id == "lan"
        assert "bị Đảng bộ xã Kiện Khê trả lại" in message.text
        assert "Lý do: Thiếu danh sách người kết nạp" in message.text
    assert "bị cấp trên trả lại: Thiếu danh sách người kết nạp" in say(services, "lan", "/tiendo")
    assert "bị trả lại" in say(services, "lan", "/baocao")
    assert "trong đó 1 bị trả lại" in say(services, "minh", "/tiendo")

    # The cell sends the missing report: the month is to be reviewed again, then approved.
    admit(database, tree.cell_a, 1, date(2023, 10, 1), account=secretary)
    assert "3/3 đảng viên kết nạp" in say(services, "minh", "/tiendo")
    assert "Chi bộ thôn An Hòa, tháng 10/2023: kết nạp 3 (2 báo cáo)" in say(services, "minh", "/duyet")
    say(services, "minh", "1")
    approved = say(services, "minh", "1")
    assert "Đã duyệt báo cáo tháng 10/2023 của Chi bộ thôn An Hòa" in approved
    assert "Số liệu tạm" not in say(services, "minh", "/tiendo")
    with database.session() as session:
        texts = [m.text for m in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()]
        assert len(texts) == 2 and "đã được Đảng bộ xã Kiện Khê duyệt" in texts[1]


def test_a_tree_without_approval_is_not_slowed_down(
    services: Services, database: Database, tree: Tree
) -> None:
    register(services, database, "minh", tree.commune, Role.staff)
    admit(database, tree.cell_a, 2, date(2023, 10, 1))
    assert "Số liệu tạm" not in say(services, "minh", "/tiendo")
    assert "Không có báo cáo nào chờ duyệt." in say(services, "minh", "/duyet")


def test_staff_approve_only_below_their_unit(services: Services, database: Database, tree: Tree) -> None:
    configure(database, tree.root, approval=True)
    register(services, database, "minh", tree.commune, Role.staff)
    admit(database, tree.commune, 1, date(2023, 10, 1))  # the commune's own report: its level above decides
    admit(database, tree.cell_b, 1, date(2023, 10, 1))
    listing = say(services, "minh", "/duyet")
    assert "Chi bộ thôn Bình Minh" in listing and "Đảng bộ xã Kiện Khê, tháng" not in listing
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        forged = f"rva:{commune.id}:202310"
    refused = "\n".join(
        r.text
        for r in handle(
            Incoming(channel="zalo", user_id="minh", chat_id="minh", choice=forged, kind=Kind.choice),
            services,
        )
    )
    assert "không thuộc phạm vi" in refused


def test_a_closed_month_refuses_a_secretary_until_staff_reopen_it(
    services: Services, database: Database, tree: Tree, clock: FakeClock
) -> None:
    configure(database, tree.root, deadline_day=5, grace_days=3)
    secretary = register(services, database, "lan", tree.cell_a, Role.secretary)
    register(services, database, "minh", tree.commune, Role.staff)
    september = date(2023, 9, 1)
    late = datetime(2023, 10, 20, 9, 0, tzinfo=ZONE)
    with pytest.raises(workflow.PeriodLocked) as refused:
        admit(database, tree.cell_a, 1, september, account=secretary, now=late)
    assert "đã khóa sổ từ ngày 09/10/2023" in refusal(refused.value)
    # Staff (and the command line) may still enter figures for a closed month.
    admit(database, tree.cell_b, 1, september, now=late)
    clock.now = late
    reopened = say(services, "minh", "/moky an hoa tháng 9/2023")
    assert "Đã mở lại kỳ báo cáo tháng 09/2023 cho Chi bộ thôn An Hòa đến hết ngày 23/10/2023" in reopened
    code = admit(database, tree.cell_a, 1, september, account=secretary, now=late)
    listing = say(services, "lan", "/baocao")
    assert code in listing and "nộp muộn" in listing
    with database.session() as session:
        period = workflow.unit_period(session, units.get_by_code(session, tree.cell_a), september)
        assert period is not None and period.late
        # After the reopening ends, the month is closed again.
        with pytest.raises(workflow.PeriodLocked):
            workflow.check_open(
                session,
                units.get_by_code(session, tree.cell_a),
                september,
                month_end(september),
                account_id=secretary.id,
                now=late + timedelta(days=4),
            )


def test_timeliness_counts_cells_on_time_and_late(database: Database, tree: Tree) -> None:
    october = date(2023, 10, 1)
    admit(database, tree.cell_a, 1, october, now=datetime(2023, 11, 3, 9, tzinfo=ZONE))
    admit(database, tree.cell_b, 0, october, now=datetime(2023, 11, 7, 9, tzinfo=ZONE))
    admit(
        database, tree.cell_b, 1, october, now=datetime(2023, 11, 2, 9, tzinfo=ZONE)
    )  # later report, same month
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        row = workflow.timeliness(session, commune, [october])[0]
        assert (row.cells, row.reported, row.on_time, row.late) == (2, 2, 1, 1)
        assert row.deadline == date(2023, 11, 5)
        assert workflow.month_to_report(session, commune, date(2023, 11, 5)) == october
        assert workflow.month_to_report(session, commune, date(2023, 11, 6)) == date(2023, 11, 1)
        assert workflow.deadline_for(
            workflow.setting_for(session, commune), date(2023, 7, 1), date(2023, 9, 30)
        ) == date(2023, 10, 10)


def test_the_probation_clock(database: Database, tree: Tree) -> None:
    # Ceremonies on 10/03/2022 (2 members) and 20/10/2022 (1); a quarter's report without a date (1).
    admit(database, tree.cell_a, 2, date(2022, 3, 1), ceremony=date(2022, 3, 10))
    admit(database, tree.cell_a, 1, date(2022, 10, 1), ceremony=date(2022, 10, 20))
    admit(database, tree.cell_b, 1, date(2022, 11, 1))
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        status = probation.status(session, commune, date(2023, 11, 1))
        # 10/03/2023 + 30 working days is long past, and more than three months: explanation needed.
        assert (status.in_probation, status.overdue, status.needs_explanation) == (4, 2, 2)
        assert status.ended_waiting == 1  # 20/10/2023: still within its 30 working days
        assert status.due_this_month == 1  # the member admitted in November 2022
        cell_a = units.get_by_code(session, tree.cell_a)
        with pytest.raises(InvalidInput) as refused:
            probation.check_recognition(session, cell_a, 4, date(2023, 11, 1))
        assert "có 3 đảng viên dự bị đã hết 12 tháng" in refusal(refused.value)
        report, _ = reports.confirm_report(
            session,
            reports.ReportInput(
                unit=cell_a,
                channel="cli",
                raw_text="công nhận 2",
                period_start=date(2023, 11, 1),
                period_end=date(2023, 11, 1),
                recognition=reports.RecognitionInput(2),
            ),
        )
        # The earliest are recognised first: the overdue pair.
        status = probation.status(session, commune, date(2023, 11, 1))
        assert (status.in_probation, status.overdue, status.recognized_this_month) == (2, 0, 2)
        reports.withdraw_report(session, report, account_id=None)
        assert probation.status(session, commune, date(2023, 11, 1)).overdue == 2


def test_working_days_skip_weekends_and_tet() -> None:
    # Tết 2023 (20–26/01) and the weekends: 30 working days after 10/01/2023 is 28/02/2023.
    assert not probation.is_working_day(date(2023, 1, 23))
    assert probation.add_working_days(date(2023, 1, 10), 30) == date(2023, 2, 28)
    assert probation.add_working_days(date(2023, 6, 9), 30) == date(2023, 7, 21)  # no holiday in between
    assert probation.probation_end(date(2020, 2, 29)) == date(2021, 2, 28)


def test_congnhan_asks_step_by_step_and_closes_the_probations(
    services: Services, database: Database, tree: Tree
) -> None:
    register(services, database, "lan", tree.cell_a, Role.secretary)
    register(services, database, "minh", tree.commune, Role.staff)
    assert "chưa có đảng viên dự bị nào hết 12 tháng" in say(services, "lan", "/congnhan")
    admit(database, tree.cell_a, 3, date(2022, 9, 1), ceremony=date(2022, 9, 15))
    asked = say(services, "lan", "/congnhan")
    assert "có 3 đảng viên dự bị đã hết 12 tháng dự bị" in asked
    assert "lớn hơn" in say(services, "lan", "5")
    assert "công nhận 2 đảng viên chính thức, ngày 01/11/2023" in say(services, "lan", "hai")
    done = say(services, "lan", "1")
    assert "Đã ghi: Chi bộ thôn An Hòa công nhận 2 đảng viên chính thức. Mã biên nhận: BN-" in done
    progress = say(services, "minh", "/tiendo")
    assert "Đảng viên dự bị chưa được công nhận chính thức: 1;" in progress
    assert "Quá hạn xét công nhận (quá 30 ngày làm việc): 1" in progress


def test_forecast_at_the_current_pace(database: Database, tree: Tree) -> None:
    with database.session() as session:
        targets.set_target(
            session,
            unit=units.get_by_code(session, tree.commune),
            metric=Metric.admissions,
            start=date(2022, 1, 1),
            end=date(2024, 12, 31),
            value=60,
            source="Nghị quyết Đại hội",
        )
    last_12 = [date(2022, 11, 1), date(2022, 12, 1)] + [date(2023, m, 1) for m in range(1, 11)]
    for month in last_12:  # 24 in the last 12 whole months: 2 a month
        admit(database, tree.cell_a, 2, month)
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        progress = unit_progress(session, commune, date(2023, 11, 1))
        term = next(tp for tp in progress.targets if tp.target.value == 60)
        outlook = forecast.forecast(session, commune.id or 0, term, date(2023, 11, 1))
        assert outlook is not None
        assert outlook.pace == 2.0 and outlook.months_left == 14
        assert outlook.remaining == 36 and outlook.needed_per_month == 3
        assert outlook.projected == 24 + 28 and not outlook.on_course


def test_a_merger_keeps_the_old_units_for_the_old_days(database: Database, tree: Tree) -> None:
    admit(database, tree.cell_a, 2, date(2023, 3, 1))
    admit(database, tree.cell_b, 3, date(2023, 3, 1))
    with database.session() as session:
        root = units.get_by_code(session, tree.root)
        units.get_by_code(session, tree.commune)
        other = units.create_unit(
            session, code="HN-X2", name="Đảng bộ xã Thanh Hà", level="Đảng bộ xã", parent=root
        )
        units.create_unit(session, code="HN-X2-A", name="Chi bộ thôn Đông", level="Chi bộ", parent=other)
    admit(database, "HN-X2-A", 4, date(2023, 3, 1))
    with database.session() as session:
        root = units.get_by_code(session, tree.root)
        new = units.create_unit(
            session, code="HN-NEW", name="Đảng bộ xã Kiện Khê mới", level="Đảng bộ xã", parent=root,
            valid_from=date(2025, 7, 1),
        )  # fmt: skip
        for code in (tree.commune, "HN-X2"):
            units.merge_unit(session, units.get_by_code(session, code), new, on=date(2025, 7, 1))
    with database.session() as session:
        root = units.get_by_code(session, tree.root)
        then = unit_progress(session, root, date(2023, 11, 1))
        assert [(c.unit.code, c.totals.admissions) for c in then.children] == [
            (tree.commune, 5),
            ("HN-X2", 4),
        ]
        now = unit_progress(session, root, date(2025, 8, 1))
        assert [(c.unit.code, c.totals.admissions) for c in now.children] == [("HN-NEW", 9)]
        assert then.totals.admissions == now.totals.admissions == 9


def test_reminders_before_the_deadline_and_probation_nudges(
    services: Services, database: Database, tree: Tree
) -> None:
    register(services, database, "lan", tree.cell_a, Role.secretary)
    register(services, database, "hoa", tree.cell_b, Role.secretary)
    register(services, database, "minh", tree.commune, Role.staff)
    admit(database, tree.cell_b, 1, date(2023, 10, 1))
    admit(database, tree.cell_b, 1, date(2022, 12, 1), ceremony=date(2022, 12, 8))
    admit(database, tree.cell_a, 2, date(2022, 6, 1), ceremony=date(2022, 6, 8))
    with database.session() as session:
        assert plan(session, date(2023, 11, 1)) == [] or all(
            not m.key.startswith("deadline:") for m in plan(session, date(2023, 11, 1))
        )
        messages = {
            m.key.split(":account:")[0] + ":" + m.account.channel_user_id: m.text
            for m in plan(session, date(2023, 11, 3))
        }
    assert "hạn báo cáo tháng 10/2023 là ngày 05/11/2023" in messages["deadline:2023-10:lan"]
    assert "deadline:2023-10:hoa" not in messages  # it reported
    assert (
        "1 đảng viên dự bị của chi bộ hết 12 tháng dự bị trong tháng 12/2023"
        in messages["probation:2023-12:hoa"]
    )
    assert "Chi bộ thôn An Hòa (2, 2 quá 3 tháng)" in messages["probation-overdue:2023-11:minh"]
