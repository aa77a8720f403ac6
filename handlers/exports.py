"""Progress figures as files for the Ban Tổ chức: an Excel workbook and a PNG chart.

Both take the dict of `handlers.progress_json.progress_json` and tolerate missing keys, so a unit
without children, targets or reports still gives a valid file. A unit's primary target is its first
admissions target, as in the /tiendo reply.
"""

import math
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from handlers.formatting import day, number, percent

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Document layout (not chat replies): the wording of the tables a committee files.
PARTY = "ĐẢNG CỘNG SẢN VIỆT NAM"
TITLE = "TIẾN ĐỘ PHÁT TRIỂN ĐẢNG VIÊN"
AS_OF = "Tính đến ngày {day}"
PERIOD = "Số liệu từ ngày {start} đến ngày {end}"
PERIOD_OPEN = "Số liệu từ báo cáo đầu tiên đến ngày {end}"

SHEET_SUMMARY = "Tổng hợp"
SHEET_ADMISSIONS = "Kết nạp đảng viên"
SHEET_SHARES = "Cơ cấu đảng viên mới"
SHEET_CLASSES = "Lớp nhận thức"
SUBTITLES = {
    SHEET_SUMMARY: "Tổng hợp các chỉ tiêu và số liệu chung",
    SHEET_ADMISSIONS: "Kết nạp đảng viên so với chỉ tiêu",
    SHEET_SHARES: "Cơ cấu đảng viên mới được kết nạp",
    SHEET_CLASSES: "Bồi dưỡng nhận thức về Đảng",
}

COL_NO = "STT"
COL_UNIT = "Đơn vị"
COL_CONTENT = "Nội dung"
COL_SOURCE = "Nguồn chỉ tiêu"
COL_WINDOW = "Thời hạn"
COL_TARGET = "Chỉ tiêu"
COL_TARGET_MAX = "Chỉ tiêu tối đa"
COL_ADMITTED = "Đã kết nạp"
COL_ACHIEVED = "Đã đạt"
COL_REACHED = "Tỷ lệ đạt"
COL_REACHED_MAX = "Tỷ lệ so với mức tối đa"
COL_EXPECTED = "Theo tiến độ cần"
COL_SHORTFALL = "Còn thiếu"
COL_NOTE = "Ghi chú"
COL_ADMISSIONS_TOTAL = "Tổng số kết nạp"
COL_COUNT = "Số lượng"
COL_SHARE = "Tỷ lệ"
COL_CLASSES = "Số lớp đã mở"
COL_SENT = "Cử đi học"
COL_COMPLETED = "Hoàn thành"
COL_POOL = "Đã học lớp, chưa kết nạp"
COL_INDICATOR = "Chỉ số"
COL_FIGURE = "Số liệu"

SHARE_TITLES = {
    "youth_union": "Đoàn viên",
    "female": "Nữ",
    "religious": "Tôn giáo",
    "ethnic_minority": "Dân tộc thiểu số",
    "upper_secondary_or_above": "THPT trở lên",
}
METRIC_TITLES = {"admissions": "Kết nạp đảng viên", "class_completions": "Hoàn thành lớp nhận thức"}

NOTE_NO_TARGET = "Chưa có chỉ tiêu"
NOTE_ZERO_TARGET = "Chỉ tiêu bằng 0"
NOTE_LAGGING = "Chậm tiến độ"
NOTE_LAGGING_OTHER = "Chậm tiến độ chỉ tiêu {source} ({achieved}/{value})"
NOTE_NOT_STARTED = "Chưa bắt đầu"
NOTE_JUST_STARTED = "Mới bắt đầu"
NOTE_REACHED = "Đạt chỉ tiêu"
NOTE_EXCEEDED = "Vượt chỉ tiêu"
NOTE_COVERAGE = "{name}: trên {known}/{total} có thông tin"
NOTE_NO_DATA = "Chưa có số liệu"
NOTE_MEMBERS_AS_OF = "Số liệu ngày {day}"
SOURCE_UNKNOWN = "Chỉ tiêu"

INDICATOR_ADMISSIONS = "Tổng số đảng viên mới kết nạp trong kỳ"
INDICATOR_CLASSES = "Số lớp bồi dưỡng nhận thức về Đảng đã mở"
INDICATOR_SENT = "Số quần chúng cử đi học lớp nhận thức"
INDICATOR_COMPLETED = "Số quần chúng hoàn thành lớp nhận thức"
INDICATOR_POOL = "Quần chúng ưu tú đã học lớp nhận thức, chưa kết nạp"
INDICATOR_MEMBERS = "Tổng số đảng viên"
INDICATOR_LAGGING = "Số đơn vị trực thuộc chậm tiến độ"
INDICATOR_NO_TARGET = "Số đơn vị trực thuộc chưa có chỉ tiêu"

CHART_TITLE_CHILDREN = "Tỷ lệ đạt chỉ tiêu kết nạp đảng viên của các đơn vị trực thuộc"
CHART_TITLE_OWN = "Tỷ lệ đạt các chỉ tiêu"
CHART_TITLE_EMPTY = "Tiến độ phát triển đảng viên"
CHART_SOURCE = "Chỉ tiêu: {source} ({window})"
CHART_OVERALL = "Toàn đảng bộ: {reached} ({achieved}/{value})"
CHART_PRO_RATA = "Theo tiến độ thời gian: {share}"
CHART_PRO_RATA_EACH = "Theo tiến độ thời gian của từng chỉ tiêu"
CHART_FULL = "Chỉ tiêu (100%)"
CHART_ON_TRACK = "Đạt hoặc vượt tiến độ"
CHART_LAGGING = "Chậm tiến độ"
CHART_LAGGING_OTHER = "Đạt tiến độ chỉ tiêu này, chậm tiến độ chỉ tiêu khác"
CHART_NO_TARGET = "Chưa có chỉ tiêu (không có trên biểu đồ): {names}."
CHART_ZERO_TARGET = "Chỉ tiêu bằng 0 (không có trên biểu đồ): {names}."
CHART_MORE = "{names} và {n} đơn vị khác"
CHART_MAX_NAMES = 20
CHART_CLASS_PREFIX = "Lớp nhận thức: "

# Times New Roman is the typeface of party documents (Hướng dẫn thể thức văn bản của Đảng).
FONT_NAME = "Times New Roman"
INT_FORMAT = "#,##0"  # Excel swaps the separators for the user's locale: 7.025 in Vietnamese
PERCENT_FORMAT = "0.0%"
THIN = Side(style="thin")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
HEADER_ROW = 8  # below the title block

# Chart: 1100 px wide, readable on a phone without zooming into the labels.
CHART_FONT = "DejaVu Sans"  # bundled with matplotlib, has every Vietnamese glyph
CHART_DPI = 100
CHART_WIDTH = 11.0
COLOUR_ON_TRACK = "#1565c0"
COLOUR_LAGGING = "#e65100"
COLOUR_LAGGING_OTHER = "#ffb74d"
COLOUR_PRO_RATA = "#2e7d32"
COLOUR_FULL = "#616161"


# ---------------------------------------------------------------- reading the data


def _text(value: Any) -> str:
    # Names typed on phones may arrive decomposed (NFD); Excel and the chart font want composed text.
    return unicodedata.normalize("NFC", str(value)) if value is not None else ""


def _unit_name(data: dict[str, Any]) -> str:
    return _text((data.get("unit") or {}).get("name"))


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


def _children(data: dict[str, Any]) -> list[dict[str, Any]]:
    return list(data.get("children") or [])


def _primary(data: dict[str, Any]) -> dict[str, Any] | None:
    targets = [t for t in data.get("targets") or [] if t.get("metric", "admissions") == "admissions"]
    return targets[0] if targets else None


def _window(target: dict[str, Any]) -> str:
    start, end = _date(target.get("start")), _date(target.get("end"))
    return f"{day(start)}–{day(end)}" if start and end else ""


def _target_value_text(target: dict[str, Any]) -> str:
    value, top = target.get("value") or 0, target.get("max")
    return f"{number(value)}–{number(top)}" if top else number(value)


def _expected(target: dict[str, Any]) -> int:
    # The whole number the lagging mark is decided on (as in the chat), not a rounded one.
    if "expected_whole" in target:
        return int(target["expected_whole"])
    return math.floor(target.get("expected_now") or 0)


def _target_notes(data: dict[str, Any], target: dict[str, Any] | None) -> list[str]:
    if target is None:
        return [NOTE_NO_TARGET]
    notes = []
    if target.get("reached") is None:
        notes.append(NOTE_ZERO_TARGET)
    elif target.get("started") is False:
        notes.append(NOTE_NOT_STARTED)
    elif not target.get("achieved") and not _expected(target):
        notes.append(NOTE_JUST_STARTED)
    elif target.get("lagging"):
        notes.append(NOTE_LAGGING)
    elif (target.get("achieved") or 0) > (target.get("value") or 0):
        notes.append(NOTE_EXCEEDED)
    elif (target.get("achieved") or 0) == target.get("value"):
        notes.append(NOTE_REACHED)
    # The unit may lag on another target than the one in its row: staff must still see it.
    for other in data.get("targets") or []:
        if other is not target and other.get("lagging"):
            # Its own figure beside its own mark: the row's figures are the first target's.
            notes.append(
                NOTE_LAGGING_OTHER.format(
                    source=_text(other.get("source")) or SOURCE_UNKNOWN,
                    achieved=number(other.get("achieved") or 0),
                    value=_target_value_text(other),
                )
            )
    return notes


# ---------------------------------------------------------------- workbook


@dataclass(frozen=True)
class Column:
    title: str
    width: float
    number_format: str | None = None  # None: text
    group: str | None = None  # a header cell spanning the adjacent columns of the same group


Row = tuple[list[Any], bool]  # values, is the total row


def _put(ws: Worksheet, row: int, column: int, value: Any, **style: Any) -> Cell:
    cell = ws.cell(row=row, column=column)
    assert isinstance(cell, Cell)  # written at a merged range's first cell only, never inside it
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", _text(value))
        cell.value = value
        cell.data_type = "s"  # a name typed as "=…" stays text, never a formula
    else:
        cell.value = value
    cell.font = Font(
        name=FONT_NAME, size=12, bold=style.pop("bold", False), italic=style.pop("italic", False)
    )
    for key, item in style.items():
        setattr(cell, key, item)
    return cell


def _title_block(ws: Worksheet, data: dict[str, Any], sheet: str, width: int) -> None:
    half = max(2, width // 2)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=half)
    ws.merge_cells(start_row=1, start_column=half + 1, end_row=1, end_column=max(width, half + 1))
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)
    _put(ws, 1, 1, _unit_name(data).upper(), bold=True, alignment=centre)
    _put(ws, 1, half + 1, PARTY, bold=True, alignment=centre)
    ws.row_dimensions[1].height = 32
    as_of = _date(data.get("as_of"))
    period = data.get("period") or {}
    start, end = _date(period.get("start")), _date(period.get("end")) or as_of
    lines: list[tuple[str, dict[str, Any]]] = [
        (TITLE, {"bold": True}),
        (SUBTITLES[sheet], {"bold": True}),
        (AS_OF.format(day=day(as_of)) if as_of else "", {"italic": True}),
        (
            PERIOD.format(start=day(start), end=day(end))
            if start and end
            else PERIOD_OPEN.format(end=day(end))
            if end
            else "",
            {"italic": True},
        ),
    ]
    for row, (text, style) in enumerate(lines, start=3):
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        cell = _put(ws, row, 1, text, alignment=Alignment(horizontal="center"), **style)
        if text == TITLE:
            cell.font = Font(name=FONT_NAME, size=14, bold=True)


def _header(ws: Worksheet, top: int, columns: Sequence[Column]) -> int:
    """Writes the header from row `top`; two rows when some columns are grouped. Returns the last row."""
    two_rows = any(c.group for c in columns)
    bottom = top + 1 if two_rows else top
    style = {
        "bold": True,
        "alignment": Alignment(horizontal="center", vertical="center", wrap_text=True),
        "fill": HEADER_FILL,
        "border": BORDER,
    }
    index = 1
    while index <= len(columns):
        column = columns[index - 1]
        if column.group is None:
            _put(ws, top, index, column.title, **style)
            if two_rows:
                _put(ws, bottom, index, None, **style)
                ws.merge_cells(start_row=top, start_column=index, end_row=bottom, end_column=index)
            index += 1
            continue
        span = 1
        while index + span <= len(columns) and columns[index + span - 1].group == column.group:
            span += 1
        for offset in range(span):
            _put(ws, top, index + offset, column.group if offset == 0 else None, **style)
            _put(ws, bottom, index + offset, columns[index + offset - 1].title, **style)
        if span > 1:
            ws.merge_cells(start_row=top, start_column=index, end_row=top, end_column=index + span - 1)
        index += span
    for row in range(top, bottom + 1):
        ws.row_dimensions[row].height = 33
    return bottom


def _rows(ws: Worksheet, first: int, columns: Sequence[Column], rows: Sequence[Row]) -> int:
    """Writes the table body from row `first`. Returns the last row written."""
    row = first - 1
    for row, (values, total) in enumerate(rows, start=first):
        for index, (column, value) in enumerate(zip(columns, values, strict=True), start=1):
            numeric = column.number_format is not None
            _put(
                ws,
                row,
                index,
                value,
                bold=total,
                border=BORDER,
                fill=TOTAL_FILL if total else PatternFill(),
                number_format=column.number_format or "General",
                alignment=Alignment(
                    horizontal="right" if numeric else "center" if index == 1 else "left",
                    vertical="center",
                    wrap_text=not numeric,
                ),
            )
    return row


def _finish(ws: Worksheet, columns: Sequence[Column], header_top: int, header_bottom: int) -> None:
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    # Freeze the header and the unit names, so both stay on screen while scrolling.
    ws.freeze_panes = ws.cell(row=header_bottom + 1, column=3).coordinate
    ws.print_title_rows = f"{header_top}:{header_bottom}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as needed
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5


def _unit_width(data: dict[str, Any]) -> float:
    names = [_unit_name(data)] + [_unit_name(c) for c in _children(data)]
    return min(48.0, max(24.0, max(len(n) for n in names) + 3))


def _table_sheet(
    wb: Workbook, data: dict[str, Any], sheet: str, columns: Sequence[Column], rows: Sequence[Row]
) -> Worksheet:
    ws = wb.create_sheet(sheet)
    _title_block(ws, data, sheet, len(columns))
    bottom = _header(ws, HEADER_ROW, columns)
    _rows(ws, bottom + 1, columns, rows)
    _finish(ws, columns, HEADER_ROW, bottom)
    return ws


def _units(data: dict[str, Any]) -> list[tuple[int | None, dict[str, Any]]]:
    """The unit itself first (its row is the total of the whole committee), then its children."""
    return [(None, data)] + [(i, c) for i, c in enumerate(_children(data), start=1)]


def _admissions_sheet(wb: Workbook, data: dict[str, Any]) -> None:
    columns = [
        Column(COL_NO, 6),
        Column(COL_UNIT, _unit_width(data)),
        Column(COL_SOURCE, 22),
        Column(COL_WINDOW, 23),
        Column(COL_TARGET, 10, INT_FORMAT),
        Column(COL_TARGET_MAX, 10, INT_FORMAT),
        Column(COL_ADMITTED, 11, INT_FORMAT),
        Column(COL_REACHED, 10, PERCENT_FORMAT),
        Column(COL_EXPECTED, 11, INT_FORMAT),
        Column(COL_SHORTFALL, 10, INT_FORMAT),
        Column(COL_NOTE, 26),
    ]
    rows: list[Row] = []
    for no, unit in _units(data):
        target = _primary(unit)
        note = "; ".join(_target_notes(unit, target))
        if target is None:
            values = [no, _unit_name(unit), None, None, None, None, unit.get("admissions") or 0]
            values += [None, None, None, note]
        else:
            values = [
                no,
                _unit_name(unit),
                _text(target.get("source")),
                _window(target),
                target.get("value"),
                target.get("max"),
                target.get("achieved") or 0,
                target.get("reached"),
                _expected(target),
                target.get("shortfall") or 0,
                note,
            ]
        rows.append((values, no is None))
    _table_sheet(wb, data, SHEET_ADMISSIONS, columns, rows)


def _shares_sheet(wb: Workbook, data: dict[str, Any]) -> None:
    columns = [
        Column(COL_NO, 6),
        Column(COL_UNIT, _unit_width(data)),
        Column(COL_ADMISSIONS_TOTAL, 11, INT_FORMAT),
    ]
    for title in SHARE_TITLES.values():
        columns += [Column(COL_COUNT, 9, INT_FORMAT, title), Column(COL_SHARE, 9, PERCENT_FORMAT, title)]
    # Then the breakdowns the tree adds, in its order: a share like the five, or a count alone.
    added = [b for b in data.get("breakdowns") or [] if isinstance(b, dict) and b.get("key")]
    for extra in added:
        title = _text(extra.get("title") or extra.get("key"))
        columns.append(Column(COL_COUNT, 9, INT_FORMAT, title))
        if extra.get("share_of_members", True):
            columns.append(Column(COL_SHARE, 9, PERCENT_FORMAT, title))
    columns.append(Column(COL_NOTE, 34))
    rows: list[Row] = []
    for no, unit in _units(data):
        admissions = unit.get("admissions") or 0
        values: list[Any] = [no, _unit_name(unit), admissions]
        notes = []
        shares = unit.get("shares") or {}
        for key, title in SHARE_TITLES.items():
            share = shares.get(key) or {}
            known = share.get("known") or 0
            # Nothing known is not 0%: leave it blank rather than suggest no one qualifies.
            values += [share.get("count"), share.get("share")] if known else [None, None]
            if 0 < known < admissions:
                notes.append(NOTE_COVERAGE.format(name=title, known=number(known), total=number(admissions)))
        own = {b.get("key"): b for b in unit.get("breakdowns") or [] if isinstance(b, dict)}
        for extra in added:
            figure = own.get(extra["key"]) or {}
            known = figure.get("known") or 0
            shown = [figure.get("count"), figure.get("share")] if known else [None, None]
            values += shown if extra.get("share_of_members", True) else shown[:1]
            if 0 < known < admissions:
                title = _text(extra.get("title") or extra.get("key"))
                notes.append(NOTE_COVERAGE.format(name=title, known=number(known), total=number(admissions)))
        values.append("; ".join(notes))
        rows.append((values, no is None))
    _table_sheet(wb, data, SHEET_SHARES, columns, rows)


def _classes_sheet(wb: Workbook, data: dict[str, Any]) -> None:
    columns = [
        Column(COL_NO, 6),
        Column(COL_UNIT, _unit_width(data)),
        Column(COL_CLASSES, 12, INT_FORMAT),
        Column(COL_SENT, 12, INT_FORMAT),
        Column(COL_COMPLETED, 12, INT_FORMAT),
        Column(COL_POOL, 16, INT_FORMAT),
    ]
    rows: list[Row] = []
    for no, unit in _units(data):
        classes = unit.get("classes") or {}
        values = [no, _unit_name(unit)]
        values += [classes.get("opened") or 0, classes.get("sent") or 0, classes.get("completed") or 0]
        values.append(unit.get("pool"))
        rows.append((values, no is None))
    _table_sheet(wb, data, SHEET_CLASSES, columns, rows)


def _summary_sheet(wb: Workbook, data: dict[str, Any]) -> None:
    columns = [
        Column(COL_NO, 6),
        Column(COL_CONTENT, 30),
        Column(COL_SOURCE, 24),
        Column(COL_WINDOW, 23),
        Column(COL_TARGET, 10, INT_FORMAT),
        Column(COL_TARGET_MAX, 10, INT_FORMAT),
        Column(COL_ACHIEVED, 10, INT_FORMAT),
        Column(COL_REACHED, 10, PERCENT_FORMAT),
        Column(COL_REACHED_MAX, 12, PERCENT_FORMAT),
        Column(COL_EXPECTED, 11, INT_FORMAT),
        Column(COL_SHORTFALL, 10, INT_FORMAT),
        Column(COL_NOTE, 22),
    ]
    targets = list(data.get("targets") or []) + list(data.get("class_targets") or [])
    rows: list[Row] = []
    for no, target in enumerate(targets, start=1):
        notes = [NOTE_ZERO_TARGET] if target.get("reached") is None else []
        if target.get("lagging"):
            notes.append(NOTE_LAGGING)
        rows.append(
            (
                [
                    no,
                    METRIC_TITLES.get(target.get("metric", ""), _text(target.get("metric"))),
                    _text(target.get("source")),
                    _window(target),
                    target.get("value"),
                    target.get("max"),
                    target.get("achieved") or 0,
                    target.get("reached"),
                    target.get("reached_of_max"),
                    _expected(target),
                    target.get("shortfall") or 0,
                    "; ".join(notes),
                ],
                False,
            )
        )
    if not targets:
        values = [1, METRIC_TITLES["admissions"], None, None, None, None, data.get("admissions") or 0]
        rows.append(([*values, None, None, None, None, NOTE_NO_TARGET], False))

    ws = wb.create_sheet(SHEET_SUMMARY)
    _title_block(ws, data, SHEET_SUMMARY, len(columns))
    bottom = _header(ws, HEADER_ROW, columns)
    last = _rows(ws, bottom + 1, columns, rows)
    _finish(ws, columns, HEADER_ROW, bottom)

    # Second table below the first: STT, indicator, figure, note.
    figures = [
        Column(COL_NO, 6),
        Column(COL_INDICATOR, 30),
        Column(COL_FIGURE, 24, INT_FORMAT),
        Column(COL_NOTE, 23),
    ]
    classes = data.get("classes") or {}
    members = data.get("members_total")
    members_day = _date(members.get("as_of")) if members else None
    items: list[tuple[str, Any, str]] = [
        (INDICATOR_ADMISSIONS, data.get("admissions") or 0, ""),
        (INDICATOR_CLASSES, classes.get("opened") or 0, ""),
        (INDICATOR_SENT, classes.get("sent") or 0, ""),
        (INDICATOR_COMPLETED, classes.get("completed") or 0, ""),
        (INDICATOR_POOL, data.get("pool"), "" if data.get("pool") is not None else NOTE_NO_DATA),
        (
            INDICATOR_MEMBERS,
            members.get("value") if members else None,
            NOTE_MEMBERS_AS_OF.format(day=day(members_day)) if members_day else NOTE_NO_DATA,
        ),
    ]
    children = _children(data)
    if children:
        lagging = [_unit_name(c) for c in children if c.get("lagging")]
        no_target = [_unit_name(c) for c in children if _primary(c) is None]
        items.append((INDICATOR_LAGGING, len(lagging), ", ".join(lagging)))
        if no_target:
            items.append((INDICATOR_NO_TARGET, len(no_target), ", ".join(no_target)))
    top = last + 2
    _header(ws, top, figures)
    body = [([no, label, value, note], False) for no, (label, value, note) in enumerate(items, start=1)]
    end = _rows(ws, top + 1, figures, body)
    # The note spans the rest of the width: lists of unit names need the room.
    for row in range(top, end + 1):
        for column in range(len(figures) + 1, len(columns) + 1):
            _put(ws, row, column, None, border=BORDER)
        ws.merge_cells(start_row=row, start_column=len(figures), end_row=row, end_column=len(columns))


def progress_workbook(data: dict[str, Any]) -> bytes:
    """The figures as the .xlsx a committee files: a summary, then admissions, shares and classes by unit."""
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    _summary_sheet(wb, data)
    _admissions_sheet(wb, data)
    _shares_sheet(wb, data)
    _classes_sheet(wb, data)
    wb.properties.title = f"{TITLE} – {_unit_name(data)}"
    wb.properties.creator = "Tiến độ"
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- chart


@dataclass(frozen=True)
class Bar:
    label: str
    reached: float
    achieved: int
    value_text: str
    elapsed: float
    lagging: bool
    lagging_other: bool = False  # on pace for this bar's target, behind on another one of the unit


def _bar(label: str, target: dict[str, Any], unit: dict[str, Any] | None = None) -> Bar:
    lagging = bool(target.get("lagging"))
    others = [] if unit is None else [o for o in unit.get("targets") or [] if o is not target]
    return Bar(
        label=label,
        reached=float(target["reached"]),
        achieved=int(target.get("achieved") or 0),
        value_text=_target_value_text(target),
        elapsed=float(target.get("elapsed") or 0.0),
        lagging=lagging,
        lagging_other=not lagging and any(o.get("lagging") for o in others),
    )


def _names(names: list[str]) -> str:
    if len(names) <= CHART_MAX_NAMES:
        return ", ".join(names)
    return CHART_MORE.format(names=", ".join(names[:CHART_MAX_NAMES]), n=number(len(names) - CHART_MAX_NAMES))


def _chart_bars(data: dict[str, Any]) -> tuple[list[Bar], list[str], bool]:
    """The bars, footnotes on what is left out, and whether the bars are the children (else own targets)."""
    bars: list[Bar] = []
    no_target: list[str] = []
    zero: list[str] = []
    for child in _children(data):
        target = _primary(child)
        if target is None:
            no_target.append(_unit_name(child))
        elif target.get("reached") is None:
            zero.append(_unit_name(child))
        else:
            bars.append(_bar(_unit_name(child), target, child))
    children = bool(bars)
    if not children:
        # No child has a target to compare: show how the unit itself stands against each of its own.
        for target in list(data.get("targets") or []) + list(data.get("class_targets") or []):
            label = _text(target.get("source")) or SOURCE_UNKNOWN
            if target.get("metric") == "class_completions":
                label = CHART_CLASS_PREFIX + label
            if target.get("reached") is None:
                zero.append(label)
            else:
                bars.append(_bar(f"{label}\n{_window(target)}", target))
    notes = [CHART_NO_TARGET.format(names=_names(no_target))] if no_target else []
    notes += [CHART_ZERO_TARGET.format(names=_names(zero))] if zero else []
    return bars, notes, children


def _subtitle(data: dict[str, Any], children: bool) -> str:
    as_of = _date(data.get("as_of"))
    first = [AS_OF.format(day=day(as_of))] if as_of else []
    primary = _primary(data)
    if not children or primary is None:
        return " · ".join(first)
    if primary.get("reached") is not None:
        first.append(
            CHART_OVERALL.format(
                reached=percent(primary["reached"]),
                achieved=number(primary.get("achieved") or 0),
                value=_target_value_text(primary),
            )
        )
    # The source on a line of its own: one line overflows 1100 px.
    source = _text(primary.get("source")) or SOURCE_UNKNOWN
    return "\n".join([" · ".join(first), CHART_SOURCE.format(source=source, window=_window(primary))])


def _draw_bars(fig: "Figure", ax: "Axes", bars: list[Bar], fontsize: float, rank: bool) -> None:
    from matplotlib.patches import Patch
    from matplotlib.transforms import offset_copy

    # Ranked units: highest first. Own targets: in their order. Read from the top; barh starts at the bottom.
    ordered = sorted(bars, key=lambda b: (-b.reached, b.label)) if rank else list(bars)
    ordered.reverse()
    positions = range(len(ordered))
    # The same marks as the text: never "on track" blue for a unit the reply flags as lagging.
    colours = [
        COLOUR_LAGGING if b.lagging else COLOUR_LAGGING_OTHER if b.lagging_other else COLOUR_ON_TRACK
        for b in ordered
    ]
    ax.barh(positions, [b.reached for b in ordered], color=colours, height=0.65, zorder=2)
    ax.set_yticks(list(positions), [b.label for b in ordered], fontsize=fontsize)
    ax.set_ylim(-0.6, len(ordered) - 0.4)

    top = max([1.0] + [b.reached for b in ordered] + [b.elapsed for b in ordered])
    ax.set_xlim(0, top * 1.3)
    for y, b in zip(positions, ordered, strict=True):
        ax.text(
            b.reached + top * 0.01,
            y,
            f"{percent(b.reached)} ({number(b.achieved)}/{b.value_text})",
            va="center",
            fontsize=fontsize - 1,
            color="#212121",
            zorder=4,
            # Readable where a label crosses the pro-rata or the 100% line.
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
        )

    handles: list[Any] = [Patch(color=COLOUR_ON_TRACK, label=CHART_ON_TRACK)]
    if any(b.lagging for b in ordered):
        handles.append(Patch(color=COLOUR_LAGGING, label=CHART_LAGGING))
    if any(b.lagging_other for b in ordered):
        handles.append(Patch(color=COLOUR_LAGGING_OTHER, label=CHART_LAGGING_OTHER))
    elapsed = {round(b.elapsed, 6) for b in ordered}
    if len(elapsed) == 1:
        share = ordered[0].elapsed
        handles.append(
            ax.axvline(
                share,
                color=COLOUR_PRO_RATA,
                linewidth=2,
                zorder=3,
                label=CHART_PRO_RATA.format(share=percent(share)),
            )
        )
    else:
        # Windows differ (e.g. a term target and a two-year plan): one tick per bar at its own pace.
        handles.append(
            ax.vlines(
                [b.elapsed for b in ordered],
                [y - 0.45 for y in positions],
                [y + 0.45 for y in positions],
                color=COLOUR_PRO_RATA,
                linewidth=3,
                zorder=3,
                label=CHART_PRO_RATA_EACH,
            )
        )
    handles.append(
        ax.axvline(1.0, color=COLOUR_FULL, linestyle="--", linewidth=1.5, zorder=3, label=CHART_FULL)
    )
    # An axes legend (not a figure one) so the layout makes room for it above the footnote.
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        bbox_transform=offset_copy(ax.transAxes, fig=fig, y=-28, units="points"),  # below the tick labels
        ncols=2,
        fontsize=fontsize - 1,
        frameon=False,
    )

    ax.xaxis.set_major_formatter(lambda x, _: f"{round(x * 100)}%")  # whole percents: no decimal sign
    # A long chart gets the scale at the top too, so it reads without scrolling down.
    ax.tick_params(axis="x", labelsize=fontsize - 1, labeltop=len(bars) > 30)
    ax.grid(axis="x", color="#e0e0e0", zorder=0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def progress_chart(data: dict[str, Any]) -> bytes:
    """A PNG of each child unit's share of its primary target (or of the unit's own targets)."""
    # Imported here: matplotlib takes a while to load and only this function needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    bars, footnotes, children = _chart_bars(data)
    name = _unit_name(data)
    if not bars:
        fig = Figure(figsize=(CHART_WIDTH, 3.2), dpi=CHART_DPI, layout="constrained")
        fig.suptitle(name or CHART_TITLE_EMPTY, fontsize=16, fontweight="bold")
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title(_subtitle(data, False), fontsize=12)
        ax.text(0.5, 0.45, NOTE_NO_DATA, ha="center", va="center", fontsize=22, color=COLOUR_FULL)
    else:
        # Many units (a province has over a hundred communes): thinner bars and smaller text.
        many = len(bars) > 30
        per_bar = (0.32 if many else 0.5) * (1.6 if not children else 1.0)
        fontsize = 10 if many else 13
        fig = Figure(figsize=(CHART_WIDTH, 3.4 + per_bar * len(bars)), dpi=CHART_DPI, layout="constrained")
        title = CHART_TITLE_CHILDREN if children else CHART_TITLE_OWN
        fig.suptitle(f"{name}\n{title}" if name else title, fontsize=16, fontweight="bold")
        ax = fig.add_subplot()
        subtitle = _subtitle(data, children)
        if subtitle:
            ax.set_title(subtitle, fontsize=fontsize - 1, color="#424242")
        _draw_bars(fig, ax, bars, fontsize, rank=children)
        if footnotes:
            footnote = "\n".join(textwrap.fill(note, 140) for note in footnotes)
            fig.supxlabel(footnote, fontsize=fontsize - 2, color="#424242", ha="left", x=0.01)
    for text in fig.findobj(Text):
        text.set_fontfamily(CHART_FONT)  # not via rcParams: global state, shared across threads
    FigureCanvasAgg(fig)
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI)
    return buffer.getvalue()


# ---------------------------------------------------------------- file name


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d"))
    folded = folded.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9]+", "-", folded).strip("-")


def progress_filename(data: dict[str, Any], ext: str) -> str:
    """An ASCII name safe on every system and in chat clients: tien-do-TL-2023-11-01.xlsx."""
    code = _ascii(_text((data.get("unit") or {}).get("code")))[:40]
    as_of = _date(data.get("as_of"))
    parts = ["tien-do", code, as_of.isoformat() if as_of else ""]
    suffix = _ascii(ext.lstrip(".")).lower()
    stem = "-".join(p for p in parts if p)
    return f"{stem}.{suffix}" if suffix else stem
