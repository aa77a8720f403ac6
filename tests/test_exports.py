"""The Excel workbook and the chart that the Ban Tổ chức downloads, built from the demo district."""

from datetime import date
from io import BytesIO
from typing import Any

import pytest
from matplotlib.image import imread
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot import demo
from handlers.exports import progress_chart, progress_filename, progress_workbook
from handlers.progress_json import progress_json
from storage import units
from storage.db import Database
from storage.progress import unit_progress

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AS_OF = date(2023, 11, 1)
ROOT_NAME = "Đảng bộ huyện Thanh Liêm"
LAGGING = {"Đảng bộ xã Thanh Nguyên", "Đảng bộ xã Thanh Phong"}


def progress_of(database: Database, code: str) -> dict[str, Any]:
    with database.session() as session:
        return progress_json(unit_progress(session, units.get_by_code(session, code), AS_OF))


@pytest.fixture
def demo_data(database: Database) -> dict[str, Any]:
    with database.session() as session:
        demo.load(session)
    return progress_of(database, demo.ROOT)


@pytest.fixture
def empty_data(database: Database) -> dict[str, Any]:
    """A unit just created: no children, no targets, no reports."""
    with database.session() as session:
        units.create_unit(session, code="MOI", name="Chi bộ thôn Mới", level="Chi bộ", parent=None)
    return progress_of(database, "MOI")


def open_workbook(data: dict[str, Any]) -> Any:
    return load_workbook(BytesIO(progress_workbook(data)))


def table(ws: Worksheet) -> dict[str, dict[str, Any]]:
    """Rows by the name in the second column, cells by header ("THPT trở lên Tỷ lệ" under a group)."""
    top = next(row for row in range(1, ws.max_row + 1) if ws.cell(row, 1).value == "STT")
    two_rows = f"A{top}:A{top + 1}" in {str(r) for r in ws.merged_cells.ranges}
    headers: list[str] = []
    group = ""
    for column in range(1, ws.max_column + 1):
        above, below = ws.cell(top, column).value, ws.cell(top + 1, column).value
        if not two_rows or below is None:
            headers.append(str(above))
            continue
        group = str(above) if above else group  # a merged group header has its text in its first cell only
        headers.append(f"{group} {below}")
    first = top + 2 if two_rows else top + 1
    rows: dict[str, dict[str, Any]] = {}
    for row in range(first, ws.max_row + 1):
        name = ws.cell(row, 2).value
        if name is None or name == "Chỉ số":  # the end of the table
            break
        rows[str(name)] = {header: ws.cell(row, column) for column, header in enumerate(headers, start=1)}
    return rows


def assert_png(png: bytes, width: int = 1100) -> None:
    assert png.startswith(PNG_SIGNATURE)
    pixels = imread(BytesIO(png), format="png")
    assert pixels.shape[1] == width
    assert pixels.shape[0] >= 200


def test_workbook_has_the_sheets_a_committee_files(demo_data: dict[str, Any]) -> None:
    wb = open_workbook(demo_data)
    assert wb.sheetnames == ["Tổng hợp", "Kết nạp đảng viên", "Cơ cấu đảng viên mới", "Lớp nhận thức"]
    for ws in wb:
        titles = [ws.cell(row, 1).value for row in range(1, 7)]
        assert titles[0] == ROOT_NAME.upper()
        assert "TIẾN ĐỘ PHÁT TRIỂN ĐẢNG VIÊN" in titles
        assert "Tính đến ngày 01/11/2023" in titles
        assert "Số liệu từ ngày 01/07/2020 đến ngày 01/11/2023" in titles
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.freeze_panes is not None


def test_admissions_sheet_has_the_whole_committee_first_then_each_unit(demo_data: dict[str, Any]) -> None:
    ws = open_workbook(demo_data)["Kết nạp đảng viên"]
    rows = table(ws)
    assert next(iter(rows)) == ROOT_NAME
    assert len(rows) == 1 + 15
    root = rows[ROOT_NAME]
    assert root["Chỉ tiêu"].value == 600 and root["Đã kết nạp"].value == 539
    assert root["Tỷ lệ đạt"].value == pytest.approx(0.8983, abs=1e-4)
    assert root["Tỷ lệ đạt"].number_format == "0.0%"
    assert root["Đã kết nạp"].number_format == "#,##0"
    assert root["Nguồn chỉ tiêu"].value == "Nghị quyết Đại hội"
    assert root["Thời hạn"].value == "01/07/2020–30/06/2025"
    assert root["Theo tiến độ cần"].value == 400  # whole members, as the lagging mark counts them
    assert root["Đơn vị"].font.b and root["STT"].value is None
    assert rows["Chi bộ Trường THPT A Thanh Liêm"]["STT"].value == 1
    assert ws.cell(8, 1).font.b  # the header row


def test_lagging_units_are_noted(demo_data: dict[str, Any]) -> None:
    rows = table(open_workbook(demo_data)["Kết nạp đảng viên"])
    noted = {name for name, row in rows.items() if row["Ghi chú"].value == "Chậm tiến độ"}
    assert noted == LAGGING
    phong = rows["Đảng bộ xã Thanh Phong"]
    assert phong["Đã kết nạp"].value == 28 and phong["Chỉ tiêu"].value == 44
    assert phong["Còn thiếu"].value == phong["Theo tiến độ cần"].value - 28 > 0
    assert rows["Chi bộ Trường THPT A Thanh Liêm"]["Ghi chú"].value == "Vượt chỉ tiêu"
    # A unit on time for its first target but behind on another one is still flagged, naming that one.
    for child in demo_data["children"]:
        other = [t for t in child["targets"][1:] if t["lagging"]]
        if other and not child["targets"][0]["lagging"]:
            note = rows[child["unit"]["name"]]["Ghi chú"].value
            assert f"Chậm tiến độ chỉ tiêu {other[0]['source']}" in note


def test_shares_sheet_gives_counts_percents_and_coverage(demo_data: dict[str, Any]) -> None:
    root = table(open_workbook(demo_data)["Cơ cấu đảng viên mới"])[ROOT_NAME]
    assert root["Tổng số kết nạp"].value == 539
    assert root["THPT trở lên Số lượng"].value == 504
    assert root["THPT trở lên Tỷ lệ"].value == pytest.approx(0.96)
    assert root["THPT trở lên Tỷ lệ"].number_format == "0.0%"
    assert root["Nữ Số lượng"].value == 389
    assert root["Đoàn viên Tỷ lệ"].value == pytest.approx(249 / 539)
    # Nobody's ethnicity is known: blank, not 0%.
    assert root["Dân tộc thiểu số Số lượng"].value is None
    assert root["Dân tộc thiểu số Tỷ lệ"].value is None
    assert root["Ghi chú"].value == "THPT trở lên: trên 525/539 có thông tin"


def test_classes_sheet_and_summary(demo_data: dict[str, Any]) -> None:
    wb = open_workbook(demo_data)
    root = table(wb["Lớp nhận thức"])[ROOT_NAME]
    assert [root[h].value for h in ("Số lớp đã mở", "Cử đi học", "Hoàn thành")] == [18, 921, 921]
    assert root["Đã học lớp, chưa kết nạp"].value == 406

    summary = wb["Tổng hợp"]
    targets = [
        [summary.cell(row, column).value for column in (3, 5, 6, 7)]
        for row in range(9, 12)  # below the header on row 8
    ]
    assert targets == [
        ["Nghị quyết Đại hội", 600, None, 539],
        ["Tỉnh ủy giao", 650, None, 539],
        ["Kế hoạch BTV Huyện ủy", 170, 200, 0],
    ]
    assert summary.cell(10, 8).value == pytest.approx(539 / 650)
    figures = {
        summary.cell(row, 2).value: (summary.cell(row, 3).value, summary.cell(row, 4).value)
        for row in range(13, summary.max_row + 1)
    }
    assert figures["Tổng số đảng viên"] == (7025, "Số liệu ngày 31/10/2023")
    assert figures["Quần chúng ưu tú đã học lớp nhận thức, chưa kết nạp"][0] == 406
    # Behind on any of their targets, not only the first one.
    behind = {c["unit"]["name"] for c in demo_data["children"] if c["lagging"]}
    assert behind >= LAGGING
    count, names = figures["Số đơn vị trực thuộc chậm tiến độ"]
    assert count == len(behind) and set(names.split(", ")) == behind


def test_chart_is_a_png_readable_on_a_phone(demo_data: dict[str, Any]) -> None:
    png = progress_chart(demo_data)
    assert_png(png)
    assert imread(BytesIO(png), format="png").shape[0] > 800  # 15 bars, each tall enough to read


def test_chart_of_a_unit_without_children_shows_its_own_targets(database: Database) -> None:
    with database.session() as session:
        demo.load(session)
    data = progress_of(database, "TL-THPTA")
    assert "children" not in data and data["targets"]
    assert_png(progress_chart(data))


def test_an_empty_unit_still_gives_files(empty_data: dict[str, Any]) -> None:
    assert not empty_data["targets"] and "children" not in empty_data
    wb = open_workbook(empty_data)
    row = table(wb["Kết nạp đảng viên"])["Chi bộ thôn Mới"]
    assert row["Đã kết nạp"].value == 0 and row["Ghi chú"].value == "Chưa có chỉ tiêu"
    assert row["Tỷ lệ đạt"].value is None
    assert_png(progress_chart(empty_data))
    # Even without any key at all.
    assert load_workbook(BytesIO(progress_workbook({}))).sheetnames[0] == "Tổng hợp"
    assert_png(progress_chart({}))


def test_children_without_target_are_left_out_of_the_chart_not_the_workbook(
    demo_data: dict[str, Any],
) -> None:
    demo_data["children"][0]["targets"] = []
    assert_png(progress_chart(demo_data))
    rows = table(open_workbook(demo_data)["Kết nạp đảng viên"])
    assert rows["Chi bộ Trường THPT A Thanh Liêm"]["Ghi chú"].value == "Chưa có chỉ tiêu"
    assert rows["Chi bộ Trường THPT A Thanh Liêm"]["Đã kết nạp"].value == 34


def test_names_are_text_never_formulas_and_composed(demo_data: dict[str, Any]) -> None:
    demo_data["children"][0]["unit"]["name"] = '=HYPERLINK("http://x")'
    demo_data["children"][1]["unit"]["name"] = "Đảng bộ xã Thanh Thủy".replace("ủ", "u\u0309")  # NFD
    rows = table(open_workbook(demo_data)["Kết nạp đảng viên"])
    formula = rows['=HYPERLINK("http://x")']["Đơn vị"]
    assert formula.data_type == "s"
    assert "Đảng bộ xã Thanh Thủy" in rows


def test_filename_is_ascii_and_dated(demo_data: dict[str, Any]) -> None:
    assert progress_filename(demo_data, "xlsx") == "tien-do-TL-2023-11-01.xlsx"
    assert progress_filename(demo_data, ".png") == "tien-do-TL-2023-11-01.png"
    odd = {"unit": {"code": "Đảng/ủy xã*1"}, "as_of": "2025-07-01"}
    assert progress_filename(odd, "xlsx") == "tien-do-Dang-uy-xa-1-2025-07-01.xlsx"
    assert progress_filename({}, "xlsx") == "tien-do.xlsx"


def test_chart_never_shows_as_on_track_a_unit_the_text_flags(demo_data: dict[str, Any]) -> None:
    from handlers.exports import _chart_bars

    bars, _, _ = _chart_bars(demo_data)
    by_name = {bar.label: bar for bar in bars}
    for child in demo_data["children"]:
        flagged = any(t["lagging"] for t in child["targets"])
        bar = by_name[child["unit"]["name"]]
        assert (bar.lagging or bar.lagging_other) == flagged, child["unit"]["name"]
    assert by_name["Đảng bộ xã Thanh Hải"].lagging_other  # behind on its 2023 plan only
