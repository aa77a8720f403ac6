"""Storage: the arithmetic behind /tiendo, invites, reports and the schema."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text
from sqlmodel import Session, col, func, select

from bot import demo
from handlers.i18n import refusal
from storage import accounts, reports, units
from storage.db import MIGRATIONS, Database, normalise_url
from storage.errors import InvalidInput
from storage.models import (
    AdmissionEntry,
    AuditEvent,
    ClassAttendance,
    Report,
    Role,
    SubtreeMonthRollup,
    Unit,
)
from storage.progress import completeness, unit_progress
from storage.rollups import sum_totals
from tests.utils.builders import build_tree


def test_database_url_picks_drivers() -> None:
    assert normalise_url("postgresql://u:p@h:5432/d") == "postgresql+psycopg://u:p@h:5432/d"
    assert normalise_url("sqlite:///data/x.db") == "sqlite:///data/x.db"


def test_migrations_create_every_table(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    for name in (
        "unit",
        "account",
        "invite",
        "target",
        "report",
        "admissionentry",
        "awarenessclass",
        "classattendance",
        "auditevent",
        "conversation",
        "processeddelivery",
        "subtreemonthrollup",
        "unitfigure",
        "alembic_version",
    ):
        assert name in tables


def test_sqlite_file_is_in_wal_mode(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/sub/dir/x.db")
    db.migrate()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.dispose()


def test_demo_rollups_equal_a_plain_group_by_over_the_entries(database: Database) -> None:
    with database.session() as session:
        demo.load(session)
    with database.session() as session:
        root = units.get_by_code(session, demo.ROOT)
        total = sum_totals(session, root.id or 0, None, None)
        raw = session.exec(select(func.sum(AdmissionEntry.count), func.sum(AdmissionEntry.female))).one()
        assert (total.admissions, total.female) == (raw[0], raw[1]) == (539, 389)
        completed = session.exec(select(func.sum(ClassAttendance.completed))).one()
        assert total.completed == completed == 921
        # Every committee's rollup equals the sum over the entries of its cells.
        for committee in units.children(session, root):
            members = [u.id for u in units.subtree(session, committee)]
            raw_count = session.exec(
                select(func.coalesce(func.sum(AdmissionEntry.count), 0)).where(
                    col(AdmissionEntry.unit_id).in_(members)
                )
            ).one()
            assert sum_totals(session, committee.id or 0, None, None).admissions == raw_count


def test_demo_figures_match_the_article(database: Database) -> None:
    with database.session() as session:
        demo.load(session)
    with database.session() as session:
        figures = unit_progress(session, units.get_by_code(session, demo.ROOT), date(2023, 11, 1))
        assert figures.totals.admissions == 539
        by_source = {t.target.source: t for t in figures.targets}
        assert round(by_source["Nghị quyết Đại hội"].share or 0, 3) == 0.898
        assert round(by_source["Tỉnh ủy giao"].share or 0, 3) == 0.829
        assert by_source["Kế hoạch BTV Huyện ủy"].target.max_value == 200
        assert figures.totals.youth_union / figures.totals.youth_union_known > 0.46
        assert figures.totals.female / figures.totals.female_known > 0.72
        assert round(figures.totals.religious / figures.totals.religious_known, 3) == 0.045
        assert (
            round(figures.totals.upper_secondary_or_above / figures.totals.upper_secondary_or_above_known, 2)
            == 0.96
        )
        assert (figures.totals.classes_opened, figures.totals.completed) == (18, 921)
        assert figures.pool == 406
        assert figures.members_total is not None and figures.members_total.value == 7025
        kien_khe = unit_progress(session, units.get_by_code(session, demo.KIEN_KHE), date(2023, 11, 1))
        assert kien_khe.totals.admissions == 36 and kien_khe.totals.religious == 9
        plan_2023 = next(t for t in kien_khe.targets if t.target.source == "Kế hoạch năm 2023")
        assert (plan_2023.achieved, plan_2023.share) == (12, 1.0)
        sent_2023 = sum_totals(session, kien_khe.unit.id or 0, date(2023, 1, 1), date(2023, 12, 1)).sent
        assert sent_2023 == 16


def _report(unit, count: int, **breakdown: Any) -> reports.ReportInput:
    return reports.ReportInput(
        unit=unit,
        channel="test",
        raw_text=f"kết nạp {count}",
        period_start=date(2023, 10, 1),
        period_end=date(2023, 10, 31),
        admission=reports.AdmissionInput(count, **breakdown),
    )


def test_confirm_updates_every_ancestor_and_is_idempotent(database: Database) -> None:
    tree = build_tree(database)
    with database.session() as session:
        cell = units.get_by_code(session, tree.cell_a)
        data = _report(cell, 2, female=1)
        data = reports.ReportInput(**{**data.__dict__, "idempotency_key": "draft:abc"})
        first, created = reports.confirm_report(session, data)
        again, created_again = reports.confirm_report(session, data)
        assert created and not created_again and first.id == again.id
    with database.session() as session:
        for code in (tree.cell_a, tree.commune, tree.root):
            unit = units.get_by_code(session, code)
            totals = sum_totals(session, unit.id or 0, None, None)
            assert (totals.admissions, totals.female, totals.female_known, totals.reports) == (2, 1, 2, 1)
        assert (
            sum_totals(session, units.get_by_code(session, tree.cell_b).id or 0, None, None).admissions == 0
        )
        assert (
            session.exec(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "report.confirm")
            ).one()
            == 1
        )
        assert session.exec(select(func.count()).select_from(SubtreeMonthRollup)).one() == 3


def test_breakdown_larger_than_count_is_refused(database: Database) -> None:
    tree = build_tree(database)
    with pytest.raises(InvalidInput), database.session() as session:
        reports.confirm_report(session, _report(units.get_by_code(session, tree.cell_a), 2, female=3))
    with database.session() as session:
        assert session.exec(select(func.count()).select_from(Report)).one() == 0


def test_zero_report_counts_as_a_report_without_admissions(database: Database) -> None:
    tree = build_tree(database)
    with database.session() as session:
        reports.confirm_report(session, _report(units.get_by_code(session, tree.cell_a), 0))
    with database.session() as session:
        totals = sum_totals(session, units.get_by_code(session, tree.commune).id or 0, None, None)
        assert (totals.reports, totals.admissions) == (1, 0)


def test_pro_rata_and_lagging(database: Database) -> None:
    tree = build_tree(database, target=24)  # 2023 plan of 24 for the commune
    with database.session() as session:
        reports.confirm_report(session, _report(units.get_by_code(session, tree.cell_a), 10))
    with database.session() as session:
        commune = units.get_by_code(session, tree.commune)
        on_1_july = unit_progress(session, commune, date(2023, 7, 1)).targets[0]
        assert on_1_july.elapsed_days == 182 and on_1_july.total_days == 365
        assert round(on_1_july.expected_now, 2) == 11.97
        # 10 reported for October do not count on 1 July; on 1 November they do.
        assert on_1_july.achieved == 0 and on_1_july.is_lagging()
        on_1_nov = unit_progress(session, commune, date(2023, 11, 1)).targets[0]
        assert on_1_nov.achieved == 10 and on_1_nov.is_lagging()  # expected 20
        assert not on_1_nov.is_lagging(threshold=0.5)


def test_invites_expire_and_are_single_use(database: Database) -> None:
    tree = build_tree(database)
    now = datetime(2023, 11, 1, tzinfo=UTC)
    with database.session() as session:
        code = accounts.create_invite(
            session, unit=units.get_by_code(session, tree.cell_a), role=Role.secretary, days=2, now=now
        )
    with pytest.raises(InvalidInput) as refused, database.session() as session:
        accounts.redeem_invite(
            session,
            code=code,
            channel="telegram",
            channel_user_id="1",
            chat_id="1",
            display_name=None,
            now=now + timedelta(days=3),
        )
    assert refusal(refused.value) == "Mã đăng ký đã hết hạn."
    with database.session() as session:
        account = accounts.redeem_invite(
            session,
            code=code.lower(),
            channel="telegram",
            channel_user_id="1",
            chat_id="1",
            display_name=None,
            now=now + timedelta(days=1),
        )
        assert account.role == Role.secretary
    with pytest.raises(InvalidInput) as refused, database.session() as session:
        accounts.redeem_invite(
            session,
            code=code,
            channel="telegram",
            channel_user_id="2",
            chat_id="2",
            display_name=None,
            now=now + timedelta(days=1),
        )
    assert refusal(refused.value) == "Mã đăng ký này đã được sử dụng."


def _cells_afresh(session: Session) -> dict[str, tuple[bool, int]]:
    """Per unit code: (is a leaf, cells in its subtree), counted from parent ids and paths alone."""
    every = session.exec(select(Unit)).all()
    with_active_children = {u.parent_id for u in every if u.merged_into_id is None}
    cells = [u.path for u in every if u.id not in with_active_children and u.merged_into_id is None]
    return {
        u.code: (u.id not in with_active_children, sum(p.startswith(u.path) for p in cells)) for u in every
    }


def _assert_cells_kept(database: Database) -> None:
    with database.session() as session:
        stored = {u.code: (u.is_leaf, u.cells) for u in session.exec(select(Unit)).all()}
        assert stored == _cells_afresh(session)
        for root in session.exec(select(Unit).where(col(Unit.parent_id).is_(None))).all():
            check = completeness(session, root, date(2023, 11, 1))
            assert (check.cells, check.silent) == (root.cells, root.cells)  # nobody reported


def test_cell_counts_follow_import_create_move_and_merge(database: Database) -> None:
    csv = "code,name,parent_code,level\nR,Tỉnh,,Tỉnh ủy\nX1,Xã 1,R,Xã\nX2,Xã 2,R,Xã\n"
    csv += "A,Chi bộ A,X1,Chi bộ\nB,Chi bộ B,X1,Chi bộ\nC,Chi bộ C,X2,Chi bộ\nD,Chi bộ D,X2,Chi bộ\n"
    with database.session() as session:
        assert units.import_units(session, units.read_units_csv(csv)) == (7, 0)
    _assert_cells_kept(database)
    with database.session() as session:  # a second file: a cell gets a sub-unit, a name changes
        more = "code,name,parent_code,level\nE,Tổ E,A,Tổ\nX1,Xã Một,R,Xã\n"
        assert units.import_units(session, units.read_units_csv(more)) == (1, 1)
    _assert_cells_kept(database)
    with database.session() as session:
        get = lambda code: units.get_by_code(session, code)  # noqa: E731
        units.create_unit(session, code="F", name="Tổ F", level="Tổ", parent=get("C"))  # C stops being a cell
        units.create_unit(session, code="G", name="Chi bộ G", level="Chi bộ", parent=get("R"))
        assert (get("R").cells, get("X2").cells, get("C").cells) == (5, 2, 1)
    _assert_cells_kept(database)
    for code, parent in (("A", "X2"), ("X1", "X2")):  # a cell with its sub-unit; a commune under another
        with database.session() as session:
            units.move_unit(session, units.get_by_code(session, code), units.get_by_code(session, parent))
        _assert_cells_kept(database)
    # A cell into a cell: X1 is left without active units and becomes a cell. Then a commune with its
    # units into that cell, which stops being one.
    for code, into in (("B", "G"), ("X2", "G")):
        with database.session() as session:
            units.merge_unit(
                session,
                units.get_by_code(session, code),
                units.get_by_code(session, into),
                on=date(2023, 11, 15),
            )
        _assert_cells_kept(database)
    with database.session() as session:
        cells = {
            code for code, (leaf, _) in _cells_afresh(session).items() if leaf and code not in ("B", "X2")
        }
        assert cells == {"D", "E", "F", "X1"}
        assert units.get_by_code(session, "R").cells == 4


def _upgrade(database: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_migration_0002_counts_the_cells_of_existing_trees(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    try:
        _upgrade(database, "0001")
        # As 0001's code left them: 1 > {2 > {4, 5}, 3 > {6 > 7 (merged into 6)}, 8 (no units yet)}; 9 alone.
        tree = [
            (1, None, "/1/", False, None),
            (2, 1, "/1/2/", False, None),
            (3, 1, "/1/3/", False, None),
            (4, 2, "/1/2/4/", True, None),
            (5, 2, "/1/2/5/", True, None),
            (6, 3, "/1/3/6/", True, None),
            (7, 6, "/1/3/6/7/", True, 6),
            (8, 1, "/1/8/", True, None),
            (9, None, "/9/", True, None),
        ]
        with database.engine.begin() as connection:
            for uid, parent, path, leaf, merged in tree:
                connection.execute(
                    text(
                        "INSERT INTO unit (id, code, name, level, parent_id, path, merged_into_id, is_leaf, "
                        "created_at) VALUES (:id, :code, :code, 'x', :parent, :path, :merged, :leaf, :at)"
                    ),
                    {"id": uid, "code": f"U{uid}", "parent": parent, "path": path, "merged": merged,
                     "leaf": leaf, "at": datetime(2023, 1, 1, tzinfo=UTC)},
                )  # fmt: skip
        database.migrate()  # to the head, as at start-up
        with database.session() as session:
            stored = {u.id: u.cells for u in session.exec(select(Unit)).all()}
            assert stored == {1: 4, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1, 7: 0, 8: 1, 9: 1}
            check = completeness(session, units.get_by_id(session, 1), date(2023, 11, 1), names=3)
            # the names: U8 among the root's own units, then down U2 (before U3 by name)
            assert (check.cells, check.silent, check.silent_names) == (4, 4, ["U4", "U5", "U8"])
    finally:
        database.dispose()


def test_implausible_figures_in_a_report_are_not_stored(database: Database) -> None:
    tree = build_tree(database)
    with database.session() as session:
        cell = units.get_by_code(session, tree.cell_a)
        commune = units.get_by_code(session, tree.commune)
        refusals = [
            (
                cell,
                reports.AttendanceInput(sent=99_999),
                None,
                "Số quần chúng được cử đi học (99.999) quá lớn",
            ),
            (cell, reports.AttendanceInput(completed=501), None, "tối đa 500"),
            (cell, None, reports.AdmissionInput(101), "Số đảng viên kết nạp (101) quá lớn"),
            (commune, None, reports.AdmissionInput(201), "tối đa 200"),  # two cells
        ]
        for unit, attendance, admission, expected in refusals:
            data = reports.ReportInput(
                unit=unit,
                channel="test",
                raw_text="x",
                period_start=date(2023, 10, 1),
                period_end=date(2023, 10, 31),
                admission=admission,
                attendance=attendance,
            )
            with pytest.raises(InvalidInput) as refused:
                reports.confirm_report(session, data)
            assert expected in refusal(refused.value)
        ok = reports.ReportInput(
            unit=commune,
            channel="test",
            raw_text="x",
            period_start=date(2023, 10, 1),
            period_end=date(2023, 10, 31),
            attendance=reports.AttendanceInput(sent=1000, completed=1000),
        )
        reports.confirm_report(session, ok)
        assert session.exec(select(func.count()).select_from(Report)).one() == 1


def test_over_long_unit_names_are_refused_on_both_databases(database: Database) -> None:
    with database.session() as session:
        with pytest.raises(InvalidInput) as refused:
            units.create_unit(session, code="U1", name="N" * 300, level="Chi bộ", parent=None)
        assert "Tên đơn vị dài 300 ký tự, tối đa 255" in refusal(refused.value)
        units.create_unit(session, code="U2", name="N" * 255, level="Chi bộ", parent=None)


def test_migration_0005_keeps_existing_invites_usable(empty_database_url: str) -> None:
    """Invites stored as sha256(code) before 0005 are rehashed: their codes still register."""
    import hashlib

    database = Database(empty_database_url)
    try:
        _upgrade(database, "0003_kept_replies")
        at = datetime(2023, 1, 1, tzinfo=UTC)
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO unit (id, code, name, level, path, is_leaf, cells, created_at) "
                    "VALUES (1, 'U1', 'Chi bộ 1', 'Chi bộ', '/1/', true, 1, :at)"
                ),
                {"at": at},
            )
            connection.execute(
                text(
                    "INSERT INTO invite (code_hash, unit_id, role, created_at, expires_at) "
                    "VALUES (:hash, 1, 'secretary', :at, :until)"
                ),
                {
                    "hash": hashlib.sha256(b"ABCDE23456").hexdigest(),
                    "at": at,
                    "until": datetime(2099, 1, 1, tzinfo=UTC),
                },
            )
        database.migrate()
        with database.session() as session:
            account = accounts.redeem_invite(
                session,
                code="abcde-23456",
                channel="test",
                channel_user_id="u",
                chat_id="u",
                display_name=None,
            )
            assert account.unit_id == 1 and account.revoked_at is None
    finally:
        database.dispose()
