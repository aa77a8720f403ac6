"""Unit lists and target sheets as Excel saves them: every encoding, separator and header language."""

import io
import unicodedata
from datetime import date

import pytest
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import select

from handlers import imports
from storage import figures, units
from storage.db import Database
from storage.models import FigureKind, Target, Unit

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def cp1258(text: str) -> bytes:
    """What Vietnamese Windows writes: letters with ^ ( + precomposed, tones as combining marks."""
    out = []
    for char in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
        out.append(base + "".join(c for c in parts if c in TONES))
    return "".join(out).encode("cp1258")


UNITS_VI = [
    ["Mã đơn vị", "Tên đơn vị", "Mã cấp trên", "Cấp"],
    ["HN", "Đảng bộ tỉnh Hà Nam", "", "Tỉnh ủy"],
    ["HN-KK", "Đảng bộ xã Kiện Khê", "HN", "Đảng bộ xã"],
    ["HN-KK-01", "Chi bộ thôn Phù Vân", "HN-KK", "Chi bộ"],
]


def csv_text(rows: list[list[str]], sep: str) -> str:
    return "\r\n".join(sep.join(row) for row in rows) + "\r\n"


def xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbf" + csv_text(UNITS_VI, ";").encode("utf-8"), "UTF-8"),
        (csv_text(UNITS_VI, ",").encode("utf-8"), "UTF-8"),
        (cp1258(csv_text(UNITS_VI, ";")), "Windows-1258"),
        (csv_text(UNITS_VI, "\t").encode("utf-16"), "UTF-16"),
        (xlsx(UNITS_VI), "xlsx"),  # type: ignore[arg-type]
    ],
    ids=["utf8-bom-semicolon", "utf8-comma", "cp1258-semicolon", "utf16-tab", "xlsx"],
)
def test_unit_lists_import_in_every_form_excel_saves(database: Database, data: bytes, encoding: str) -> None:
    with database.session() as session:
        preview = imports.import_units(session, data, "don-vi.xlsx" if encoding == "xlsx" else "don-vi.csv")
        assert preview.problems == [] and preview.encoding == encoding
        assert [u.code for u in preview.units] == ["HN", "HN-KK", "HN-KK-01"]
    with database.session() as session:
        cell = units.get_by_code(session, "HN-KK-01")
        assert cell.name == "Chi bộ thôn Phù Vân"  # composed (NFC), whatever the file had
        assert units.get_by_code(session, "HN-KK").name == "Đảng bộ xã Kiện Khê"


def test_english_headers_in_windows_1252(database: Database) -> None:
    data = (
        "code,name,parent_code,level\r\nHN,Ha Nam Province Committee,,Province\r\nHN-X,Café Cell,HN,Cell\r\n"
    )
    with database.session() as session:
        preview = imports.import_units(session, data.encode("cp1252"), "units.csv")
        assert preview.problems == [] and preview.encoding == "Windows-1252"
    with database.session() as session:
        assert units.get_by_code(session, "HN-X").name == "Café Cell"


def test_three_bad_lines_import_nothing_and_are_all_named(database: Database) -> None:
    rows = [
        *UNITS_VI,
        ["HN-KK-02", "", "HN-KK", "Chi bộ"],  # line 5: no name
        ["HN-KK-03", "Chi bộ thôn 3", "NOWHERE", "Chi bộ"],  # line 6: unknown parent
        ["HN-KK-04", "Chi bộ thôn 4", "HN-KK", "Chi bộ"],
        ["HN-KK 05", "Chi bộ thôn 5", "HN-KK", ""],  # line 8: space in code, no level
    ]
    for data, name in ((xlsx(rows), "don-vi.xlsx"), (cp1258(csv_text(rows, ";")), "don-vi.csv")):  # type: ignore[arg-type]
        with database.session() as session:
            preview = imports.import_units(session, data, name)
            assert [p.line for p in preview.problems] == [5, 6, 8]
            assert "thiếu tên" in preview.problems[0].message
            assert "NOWHERE" in preview.problems[1].message
            assert (
                "không hợp lệ" in preview.problems[2].message and "thiếu cấp" in preview.problems[2].message
            )
        with database.session() as session:
            assert session.exec(select(Unit)).all() == []


def test_every_line_problem_is_listed_not_only_the_first(database: Database) -> None:
    rows = [
        UNITS_VI[0],
        ["A", "", "", "Chi bộ"],
        ["B", "Tên B", "", ""],
        ["C D", "Tên C", "", "Chi bộ"],
        ["E", "Tên E", "", "Chi bộ"],
    ]
    with database.session() as session:
        preview = imports.preview_units(session, csv_text(rows, ";").encode("utf-8"), "u.csv")
    assert [p.line for p in preview.problems] == [2, 3, 4]
    assert "thiếu tên" in preview.problems[0].message and "thiếu cấp" in preview.problems[1].message


def test_unknown_header_says_what_is_expected(database: Database) -> None:
    with database.session() as session:
        preview = imports.preview_units(session, b"foo;bar\n1;2\n", "u.csv")
    assert preview.problems[0].line == 1 and "thiếu cột" in preview.problems[0].message


def test_old_xls_and_garbage_are_refused_with_a_way_out(database: Database) -> None:
    with database.session() as session:
        old = imports.preview_units(session, b"\xd0\xcf\x11\xe0" + b"\0" * 100, "don-vi.xls")
        broken = imports.preview_units(session, b"PK\x03\x04garbage", "don-vi.xlsx")
    assert ".xlsx hoặc CSV" in old.problems[0].message
    assert "Không đọc được" in broken.problems[0].message


def _tree(database: Database) -> None:
    with database.session() as session:
        imports.import_units(session, xlsx(UNITS_VI), "u.xlsx")  # type: ignore[arg-type]
        figures.set_figure(
            session,
            unit=units.get_by_code(session, "HN-KK-01"),
            kind=FigureKind.members_total,
            as_of=date(2023, 10, 31),
            value=150,
        )


def test_target_sheet_with_dates_ranges_and_shares_of_members(database: Database) -> None:
    _tree(database)
    rows: list[list[object]] = [
        ["Mã đơn vị", "Loại chỉ tiêu", "Từ ngày", "Đến ngày", "Chỉ tiêu", "Tối đa", "Nguồn"],
        ["HN", "kết nạp", date(2023, 11, 1), date(2025, 6, 30), 170, 200, "Kế hoạch BTV"],
        ["HN-KK", "Kết nạp đảng viên", "01/01/2024", "31/12/2024", "1.200", "", "Kế hoạch năm 2024"],
        ["HN-KK-01", "", "2024-01-01", "2024-12-31", "2%", None, "2% số đảng viên"],
        ["HN-KK-01", "lớp nhận thức", "01/01/2024", "31/12/2024", 10, None, "Lớp 2024"],
    ]
    with database.session() as session:
        preview = imports.import_targets(session, xlsx(rows), "chi-tieu.xlsx")
        assert preview.problems == []
        share = preview.targets[2]
        assert (share.value, share.members) == (3, 150) and "2,0% của 150 đảng viên" in share.value_text()
    with database.session() as session:
        stored = {(t.source, t.metric, t.value, t.max_value) for t in session.exec(select(Target)).all()}
    assert stored == {
        ("Kế hoạch BTV", "admissions", 170, 200),
        ("Kế hoạch năm 2024", "admissions", 1200, None),
        ("2% số đảng viên", "admissions", 3, None),
        ("Lớp 2024", "class_completions", 10, None),
    }


def test_a_target_sheet_with_three_bad_lines_sets_nothing(database: Database) -> None:
    _tree(database)
    text = (
        "ma don vi;chi tieu;tu ngay;den ngay;nguon\n"
        "HN;10;01/01/2024;31/12/2024;A\n"
        "XX;10;01/01/2024;31/12/2024;B\n"  # unknown unit
        "HN-KK;10;31/12/2024;01/01/2024;C\n"  # ends before it starts
        "HN-KK;10;01/01/2024;31/12/2024;D\n"
        "HN;mười;01/01/2024;31/13/2024;E\n"  # not a number, not a date
    )
    with database.session() as session:
        preview = imports.import_targets(session, cp1258(text), "chi-tieu.csv")
        assert [p.line for p in preview.problems] == [3, 4, 6]
        assert "không có đơn vị mã 'XX'" in preview.problems[0].message
        assert "ngày kết thúc trước" in preview.problems[1].message
        assert "31/13/2024" in preview.problems[2].message and "mười" in preview.problems[2].message
    with database.session() as session:
        assert session.exec(select(Target)).all() == []


@pytest.mark.parametrize("kind", ["units", "targets"])
def test_templates_import_as_they_are(database: Database, kind: str) -> None:
    with database.session() as session:
        for data, name in (
            (imports.template_xlsx("units"), "u.xlsx"),
            (imports.template_csv("units"), "u.csv"),
        ):
            assert imports.import_units(session, data, name).problems == []
        figures.set_figure(
            session,
            unit=units.get_by_code(session, "TL-KK-01"),
            kind=FigureKind.members_total,
            as_of=date(2023, 10, 31),
            value=100,
        )
        template = imports.template_xlsx(kind), imports.template_csv(kind)
        if kind == "targets":
            for data, name in ((template[0], "t.xlsx"), (template[1], "t.csv")):
                preview = imports.import_targets(session, data, name)
                assert preview.problems == [] and len(preview.targets) == 3


@pytest.mark.parametrize("cell", ["²", "①", "1²", "٣", "١٢"])
def test_a_count_in_digits_int_refuses_is_no_count(cell: str) -> None:
    """str.isdigit() takes superscripts, circled and Arabic-Indic digits; int() refuses some of them
    (a ValueError that stopped the whole import) and reads others as numbers nobody typed."""
    assert imports.parse_count(cell) is None
    assert imports.parse_count("1.200") == 1200
