"""Unit lists and target sheets from the files staff have: .xlsx or CSV as Excel saves them.

One importer for the CLI (`tiendo units import`, `tiendo targets import`) and the web page. A file is
read whole and checked whole before anything is written: every bad line is named with its number,
and a file with any error imports nothing.

What Excel really produces: CSV in UTF-8 with or without a BOM, in the Windows code page of the
machine (Windows-1258 on Vietnamese Windows, with tones as combining marks; Windows-1252 on English
Windows), UTF-16 for "Unicode Text"; comma, semicolon (where the decimal sign is a comma, as in
Vietnam) or tab between fields; .xlsx with real dates and numbers in the cells. Headers may be
Vietnamese or English, with or without diacritics.
"""

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from handlers.formatting import day, number, percent
from handlers.parser.extra import word_problems
from handlers.text import fold
from storage import extra_breakdowns, targets, units
from storage.errors import InvalidInput
from storage.models import FigureKind, Metric, Target, Unit
from storage.progress import subtree_figure

MAX_BYTES = 5 * 1024 * 1024  # a province's unit list is a few hundred kilobytes
MAX_ROWS = 20_000

UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "ma", "ma don vi", "ma dv", "unit code"),
    "name": ("name", "ten", "ten don vi", "ten dv", "unit name", "don vi"),
    "parent_code": ("parent_code", "parent", "parent code", "ma cap tren", "cap tren", "ma don vi cap tren"),
    "level": ("level", "cap", "cap don vi", "loai", "loai don vi", "loai hinh"),
}
UNIT_REQUIRED = ("code", "name", "level")
TARGET_COLUMNS: dict[str, tuple[str, ...]] = {
    "unit": ("unit", "code", "unit code", "ma", "ma don vi", "ma dv", "don vi"),
    "metric": ("metric", "loai", "loai chi tieu", "noi dung", "chi tieu ve"),
    "start": ("start", "from", "tu ngay", "ngay bat dau", "bat dau", "tu"),
    "end": ("end", "to", "den ngay", "ngay ket thuc", "ket thuc", "den"),
    "value": ("value", "target", "chi tieu", "so luong", "muc", "muc toi thieu", "gia tri"),
    "max": ("max", "maximum", "toi da", "muc toi da"),
    "source": ("source", "nguon", "nguon chi tieu", "can cu"),
}
TARGET_REQUIRED = ("unit", "start", "end", "value")
METRIC_WORDS = {
    Metric.admissions: (
        "admissions",
        "admission",
        "ket nap",
        "ket nap dang vien",
        "kn",
        "phat trien dang vien",
    ),
    Metric.class_completions: (
        "class_completions",
        "class completions",
        "lop nhan thuc",
        "hoan thanh lop",
        "hoan thanh lop nhan thuc",
        "boi duong nhan thuc",
    ),
}

UNIT_TEMPLATE_HEADER = ("Mã đơn vị", "Tên đơn vị", "Mã cấp trên", "Cấp")
UNIT_TEMPLATE_ROWS = (
    ("TL", "Đảng bộ huyện Thanh Liêm", "", "Đảng bộ huyện"),
    ("TL-KK", "Đảng bộ thị trấn Kiện Khê", "TL", "Đảng bộ thị trấn"),
    ("TL-KK-01", "Chi bộ tổ dân phố 1 Kiện Khê", "TL-KK", "Chi bộ"),
)
TARGET_TEMPLATE_HEADER = ("Mã đơn vị", "Loại chỉ tiêu", "Từ ngày", "Đến ngày", "Chỉ tiêu", "Tối đa", "Nguồn")
TARGET_TEMPLATE_ROWS = (
    ("TL", "kết nạp", "01/11/2023", "30/06/2025", "170", "200", "Kế hoạch BTV Huyện ủy"),
    ("TL-KK", "kết nạp", "01/01/2024", "31/12/2024", "12", "", "Kế hoạch năm 2024"),
    ("TL-KK-01", "kết nạp", "01/01/2024", "31/12/2024", "2%", "", "Kế hoạch năm 2024 (2% số đảng viên)"),
)


@dataclass(frozen=True)
class Problem:
    line: int  # 0: the file as a whole
    message: str

    def text(self) -> str:
        return f"Dòng {self.line}: {self.message}" if self.line else self.message


@dataclass
class Table:
    """A file read into rows of text cells; the header mapped to our column names."""

    columns: dict[str, int]  # our name -> index in the row
    rows: list[tuple[int, list[Any]]]  # (line number in the file, cells)
    encoding: str  # what was detected, said in the preview ("UTF-8", "Windows-1258", "xlsx")
    delimiter: str = ""
    width: int = 0  # columns in the header


@dataclass
class UnitPlan:
    line: int
    code: str
    name: str
    parent_code: str
    level: str
    new: bool


@dataclass
class TargetPlan:
    line: int
    unit: Unit
    metric: Metric
    start: date
    end: date
    value: int
    max_value: int | None
    source: str
    share: float | None = None  # given as a share of the unit's members
    members: int | None = None
    replaces: bool = False

    def value_text(self) -> str:
        shown = number(self.value) + (f"–{number(self.max_value)}" if self.max_value is not None else "")
        if self.share is not None and self.members is not None:
            shown += f" ({percent(self.share)} của {number(self.members)} đảng viên)"
        return shown


@dataclass
class BreakdownPlan:
    line: int
    key: str
    label: str
    words: tuple[str, ...]
    question: str
    position: int | None
    share: bool


@dataclass
class Preview:
    """What an import would do, or why it cannot: nothing is written while `problems` is not empty."""

    kind: str  # "units" | "targets" | "breakdowns"
    encoding: str = ""
    problems: list[Problem] = field(default_factory=list)
    units: list[UnitPlan] = field(default_factory=list)
    targets: list[TargetPlan] = field(default_factory=list)
    breakdowns: list[BreakdownPlan] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.units or self.targets or self.breakdowns)


# --- reading files ------------------------------------------------------------------------------


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        # Excel pads cells; Windows-1258 writes tones as combining marks: compose them.
        return unicodedata.normalize("NFC", value.replace("\u00a0", " ")).strip()
    return value


def decode_text(data: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding found, for any encoding Excel saves in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1258", errors="replace")
    # Bytes Vietnamese text has in Windows-1258 and not in Western text: ă â đ ơ ư and the tone marks.
    vietnamese = re.search("[ăĂđĐơƠưƯ\u0300\u0301\u0303\u0309\u0323]", text)
    if vietnamese:
        return unicodedata.normalize("NFC", text), "Windows-1258"
    return data.decode("cp1252", errors="replace"), "Windows-1252"


def _sniff(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = {sep: first.count(sep) for sep in (";", ",", "\t", "|")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def read_table(
    data: bytes, filename: str, columns: dict[str, tuple[str, ...]], required: tuple[str, ...]
) -> Table | Problem:
    """Rows of a .xlsx or CSV file with the header recognised; a Problem when the file cannot be read."""
    if not data.strip():
        return Problem(0, "Tệp trống.")
    if len(data) > MAX_BYTES:
        return Problem(0, f"Tệp quá lớn (tối đa {number(MAX_BYTES // (1024 * 1024))} MB).")
    name = filename.lower()
    if data.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        return Problem(0, "Tệp Excel 97–2003 (.xls) chưa đọc được: đồng chí lưu lại dạng .xlsx hoặc CSV.")
    if data.startswith(b"PK\x03\x04"):
        raw, encoding, delimiter = _xlsx_rows(data)
        if isinstance(raw, Problem):
            return raw
    else:
        text, encoding = decode_text(data)
        delimiter = _sniff(text)
        raw = [
            (i, [_clean(c) for c in row])
            for i, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1)
        ]
    raw = [(line, cells) for line, cells in raw if any(c not in (None, "") for c in cells)]
    if not raw:
        return Problem(0, "Tệp không có dòng nào.")
    header_line, header = raw[0]
    mapped: dict[str, int] = {}
    unknown: list[str] = []
    for index, title in enumerate(header):
        key = fold(str(title or "")).replace("_", " ").strip(" *:")
        found = next(
            (ours for ours, names in columns.items() if key in {n.replace("_", " ") for n in names}), None
        )
        if found is None:
            if key:
                unknown.append(str(title))
            continue
        if found in mapped:
            return Problem(header_line, f"cột '{title}' bị trùng nghĩa với một cột trước.")
        mapped[found] = index
    missing = [c for c in required if c not in mapped]
    if missing:
        expected = "; ".join(f"{c}: {' / '.join(columns[c][:3])}" for c in missing)
        return Problem(
            header_line,
            f"thiếu cột {', '.join(missing)} (tiêu đề nhận được: {', '.join(str(h) for h in header if h)}; "
            f"cần: {expected}). Tải tệp mẫu để xem.",
        )
    rows = raw[1:]
    if len(rows) > MAX_ROWS:
        return Problem(0, f"Tệp có {number(len(rows))} dòng, tối đa {number(MAX_ROWS)}.")
    return Table(mapped, rows, encoding, delimiter, width=len(header))


def _xlsx_rows(data: bytes) -> tuple[list[tuple[int, list[Any]]] | Problem, str, str]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return Problem(0, "Không đọc được tệp .xlsx (tệp hỏng hoặc không phải Excel)."), "xlsx", ""
    sheet = workbook.worksheets[0]
    rows = [(i, [_clean(c) for c in row]) for i, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    workbook.close()
    return rows, "xlsx", ""


def _extra_cells(row: list[Any], table: Table, header_width: int) -> str | None:
    """A row with filled cells beyond the header: usually a separator inside a name."""
    extra = [c for c in row[header_width:] if c not in (None, "")]
    if extra:
        return f"có {len(row)} cột, tiêu đề có {header_width} (dấu phân cách trong một ô chưa có ngoặc kép?)"
    return None


def _cell(row: list[Any], table: Table, name: str) -> Any:
    index = table.columns.get(name)
    if index is None or index >= len(row):
        return None
    value = row[index]
    return None if value == "" else value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number in Excel
    return str(value).strip()


_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_day(value: Any) -> date | None:
    """A date from a cell: Excel's own, dd/mm/yyyy (never month first) or yyyy-mm-dd."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    try:
        if match := _DAY_FIRST.match(text):
            return date(int(match[3]), int(match[2]), int(match[1]))
        if match := _ISO.match(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return None


def parse_count(value: Any) -> int | None:
    """A whole number: 1200, "1.200" (Vietnamese thousands), "1 200"; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = _text(value).replace(" ", "")
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        text = text.replace(".", "")
    return int(text) if text.isascii() and text.isdigit() else None  # "²" is a digit to isdigit()


def parse_share(value: Any) -> float | None:
    """ "2%", "2,5 %" -> 0.02, 0.025; None when the cell is not a percentage."""
    text = _text(value).replace(" ", "")
    if not text.endswith("%"):
        return None
    try:
        return float(text[:-1].replace(",", ".")) / 100
    except ValueError:
        return None


# --- units --------------------------------------------------------------------------------------


def preview_units(session: Session, data: bytes, filename: str) -> Preview:
    preview = Preview("units")
    table = read_table(data, filename, UNIT_COLUMNS, UNIT_REQUIRED)
    if isinstance(table, Problem):
        preview.problems.append(table)
        return preview
    preview.encoding = table.encoding
    rows: list[units.UnitRow] = []
    seen: dict[str, int] = {}
    for line, cells in table.rows:
        code = _text(_cell(cells, table, "code"))
        name = _text(_cell(cells, table, "name"))
        parent_code = _text(_cell(cells, table, "parent_code"))
        level = _text(_cell(cells, table, "level"))
        problems = []
        if extra := _extra_cells(cells, table, table.width):
            problems.append(extra)
        if not code:
            problems.append("thiếu mã đơn vị")
        elif len(code) > 64 or any(ch.isspace() for ch in code):
            problems.append(f"mã đơn vị '{code}' không hợp lệ (không dấu cách, tối đa 64 ký tự)")
        elif code in seen:
            problems.append(f"mã '{code}' bị trùng với dòng {seen[code]}")
        if not name:
            problems.append("thiếu tên đơn vị")
        elif len(name) > 255:
            problems.append("tên đơn vị dài quá 255 ký tự")
        if not level:
            problems.append("thiếu cấp đơn vị (ví dụ 'Chi bộ')")
        elif len(level) > 100:
            problems.append("tên cấp dài quá 100 ký tự")
        if code and parent_code == code:
            problems.append(f"đơn vị '{code}' không thể là cấp trên của chính nó")
        if problems:
            preview.problems.append(Problem(line, "; ".join(problems) + "."))
        if code and code not in seen:
            seen[code] = line
        rows.append(units.UnitRow(line, code, name, parent_code, level))
    if not rows:
        preview.problems.append(Problem(0, "Tệp không có đơn vị nào."))
        return preview
    # Against the stored tree too (unknown parents, moves, cycles), for every line with a code, so
    # that one pass names every bad line, whatever is wrong with it.
    found = {p.line: p for p in preview.problems}
    for line, message in units.check_units(session, [r for r in rows if r.code]):
        if line in found:
            found[line] = Problem(line, found[line].message.rstrip(".") + "; " + message)
        else:
            found[line] = Problem(line, message)
    preview.problems = [found[line] for line in sorted(found)]
    if preview.problems:
        return preview
    existing = set(session.exec(select(Unit.code)).all())
    preview.units = [
        UnitPlan(r.line, r.code, r.name, r.parent_code, r.level, r.code not in existing) for r in rows
    ]
    return preview


def import_units(session: Session, data: bytes, filename: str) -> Preview:
    """Check the whole file, then write it in the caller's transaction; nothing when any line is bad."""
    preview = preview_units(session, data, filename)
    if preview.ok:
        units.import_units(
            session, [units.UnitRow(u.line, u.code, u.name, u.parent_code, u.level) for u in preview.units]
        )
    return preview


# --- targets ------------------------------------------------------------------------------------


def _metric(value: Any) -> Metric | None:
    text = fold(_text(value)).replace("_", " ")
    if not text:
        return Metric.admissions
    for metric, words in METRIC_WORDS.items():
        if text in {w.replace("_", " ") for w in words}:
            return metric
    return None


def preview_targets(session: Session, data: bytes, filename: str, *, scope: Unit | None = None) -> Preview:
    preview = Preview("targets")
    table = read_table(data, filename, TARGET_COLUMNS, TARGET_REQUIRED)
    if isinstance(table, Problem):
        preview.problems.append(table)
        return preview
    preview.encoding = table.encoding
    by_code = {u.code: u for u in session.exec(select(Unit)).all()}
    seen: dict[tuple[int, str, date, date, str], int] = {}
    for line, cells in table.rows:
        problems: list[str] = []
        if extra := _extra_cells(cells, table, table.width):
            problems.append(extra)
        code = _text(_cell(cells, table, "unit"))
        unit = by_code.get(code)
        if not code:
            problems.append("thiếu mã đơn vị")
        elif unit is None:
            problems.append(f"không có đơn vị mã '{code}'")
        elif scope is not None and not units.is_within(unit, scope):
            problems.append(f"đơn vị '{code}' không thuộc {scope.name}")
        elif unit.merged_into_id is not None:
            problems.append(f"đơn vị '{code}' đã sáp nhập vào đơn vị khác")
        metric = _metric(_cell(cells, table, "metric"))
        if metric is None:
            problems.append(
                f"loại chỉ tiêu '{_text(_cell(cells, table, 'metric'))}' không rõ (kết nạp / lớp nhận thức)"
            )
        start, end = parse_day(_cell(cells, table, "start")), parse_day(_cell(cells, table, "end"))
        if start is None:
            problems.append(
                f"ngày bắt đầu '{_text(_cell(cells, table, 'start'))}' không đúng dạng dd/mm/yyyy"
            )
        if end is None:
            problems.append(f"ngày kết thúc '{_text(_cell(cells, table, 'end'))}' không đúng dạng dd/mm/yyyy")
        if start and end and end < start:
            problems.append("ngày kết thúc trước ngày bắt đầu")
        raw_value = _cell(cells, table, "value")
        share = parse_share(raw_value)
        value = parse_count(raw_value) if share is None else None
        members = None
        if share is not None:
            if not 0 < share <= 1:
                problems.append(f"tỷ lệ '{_text(raw_value)}' phải từ trên 0% đến 100%")
            elif unit is not None and start is not None:
                figure = subtree_figure(session, unit, FigureKind.members_total, start) or subtree_figure(
                    session, unit, FigureKind.members_total, date.max
                )
                if figure is None:
                    problems.append(
                        f"chỉ tiêu theo tỷ lệ cần tổng số đảng viên của '{code}' (chưa có số liệu)"
                    )
                else:
                    members = figure.value
                    value = round(members * share)
        elif value is None:
            problems.append(f"chỉ tiêu '{_text(raw_value)}' phải là số nguyên không âm hoặc tỷ lệ như 2%")
        raw_max = _cell(cells, table, "max")
        max_value = parse_count(raw_max) if raw_max is not None else None
        if raw_max is not None and max_value is None:
            problems.append(f"mức tối đa '{_text(raw_max)}' phải là số nguyên")
        elif max_value is not None and value is not None and max_value < value:
            problems.append("mức tối đa nhỏ hơn chỉ tiêu")
        source = _text(_cell(cells, table, "source"))
        if len(source) > 255:
            problems.append("nguồn chỉ tiêu dài quá 255 ký tự")
        if unit is not None and metric is not None and start and end:
            key = (unit.id or 0, metric.value, start, end, source)
            if key in seen:
                problems.append(f"trùng chỉ tiêu ở dòng {seen[key]} (cùng đơn vị, loại, thời gian, nguồn)")
            seen.setdefault(key, line)
        if problems:
            preview.problems.append(Problem(line, "; ".join(problems) + "."))
            continue
        assert unit is not None and metric is not None and start and end and value is not None
        replaces = (
            session.exec(
                select(Target.id).where(
                    Target.unit_id == unit.id,
                    Target.metric == metric.value,
                    Target.start_date == start,
                    Target.end_date == end,
                    Target.source == source,
                )
            ).first()
            is not None
        )
        preview.targets.append(
            TargetPlan(line, unit, metric, start, end, value, max_value, source, share, members, replaces)
        )
    if not table.rows:
        preview.problems.append(Problem(0, "Tệp không có chỉ tiêu nào."))
    return preview


def import_targets(session: Session, data: bytes, filename: str, *, scope: Unit | None = None) -> Preview:
    preview = preview_targets(session, data, filename, scope=scope)
    if preview.ok:
        for plan in preview.targets:
            targets.set_target(
                session,
                unit=plan.unit,
                metric=plan.metric,
                start=plan.start,
                end=plan.end,
                value=plan.value,
                max_value=plan.max_value,
                source=plan.source,
            )
    return preview


def window_text(plan: TargetPlan) -> str:
    return f"{day(plan.start)}–{day(plan.end)}"


def problems_text(preview: Preview) -> str:
    """Every problem, one per line (for the CLI)."""
    return "\n".join(p.text() for p in preview.problems)


def bulk_target_sheet(
    session: Session,
    scope: Unit,
    *,
    who: str,
    metric: str,
    start: str,
    end: str,
    value: str,
    maximum: str,
    source: str,
) -> bytes:
    """One target for each sub-unit (or each cell) of `scope`, as a sheet for `preview_targets`: the
    same checks, preview and confirmation as an uploaded file (a share like "2%" per unit's members)."""
    members = [u for u in units.subtree(session, scope) if u.merged_into_id is None and u.id != scope.id]
    if who == "cells":
        chosen = [u for u in members if u.is_leaf]
    else:
        chosen = [u for u in members if u.parent_id == scope.id]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["unit", "metric", "start", "end", "value", "max", "source"])
    for unit in chosen:
        writer.writerow([unit.code, metric, start, end, value, maximum, source])
    return out.getvalue().encode("utf-8")


# --- breakdowns a tree adds to the five ---------------------------------------------------------

BREAKDOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    "key": ("key", "khoa", "ma", "ma nhom"),
    "label": ("label", "ten", "ten nhom", "nhom"),
    "words": ("words", "cach viet", "tu ngu", "cach go", "tu khoa"),
    "question": ("question", "cau hoi"),
    "position": ("position", "thu tu", "vi tri"),
    "kind": ("kind", "loai", "hien thi", "share"),
}
BREAKDOWN_REQUIRED = ("key", "label", "words")
SHARE_WORDS = ("ty le", "ti le", "share", "co", "yes", "1", "true", "")
COUNT_WORDS = ("so luong", "so", "count", "khong", "no", "0", "false")


def preview_breakdowns(session: Session, unit: Unit, data: bytes, filename: str) -> Preview:
    """A list of breakdowns for `unit`'s tree, one a line (key, label, words separated by ';', question,
    position, kind): every line checked, against the file and the stored tree, before anything is written."""
    preview = Preview("breakdowns")
    table = read_table(data, filename, BREAKDOWN_COLUMNS, BREAKDOWN_REQUIRED)
    if isinstance(table, Problem):
        preview.problems.append(table)
        return preview
    preview.encoding = table.encoding
    keys: dict[str, int] = {}
    words_seen: dict[str, int] = {}
    for line, cells in table.rows:
        key = _text(_cell(cells, table, "key"))
        label = " ".join(_text(_cell(cells, table, "label")).split())
        words = extra_breakdowns.split_words(_text(_cell(cells, table, "words")))
        question = " ".join(_text(_cell(cells, table, "question")).split()) or label
        position_cell = _cell(cells, table, "position")
        position = parse_count(position_cell) if position_cell is not None else None
        kind = fold(_text(_cell(cells, table, "kind")))
        found: list[str] = []
        if extra := _extra_cells(cells, table, table.width):
            found.append(extra)
        if position_cell is not None and position is None:
            found.append(f"thứ tự '{_text(position_cell)}' không phải số")
        if kind not in SHARE_WORDS and kind not in COUNT_WORDS:
            found.append(f"loại '{_text(_cell(cells, table, 'kind'))}' không rõ: 'tỷ lệ' hoặc 'số lượng'")
        found += extra_breakdowns.problems(
            session, unit, key=key, label=label, words=words, question=question, position=position
        )
        found += word_problems(label, words)
        if key in keys:
            found.append(f"khóa '{key}' trùng với dòng {keys[key]}")
        for word in words:
            folded = fold(word)
            if folded in words_seen and words_seen[folded] != line:
                found.append(f"cách viết '{word}' trùng với dòng {words_seen[folded]}")
            words_seen.setdefault(folded, line)
        keys.setdefault(key, line)
        if found:
            preview.problems.append(Problem(line, "; ".join(found) + "."))
        else:
            preview.breakdowns.append(
                BreakdownPlan(line, key, label, words, question, position, kind not in COUNT_WORDS)
            )
    if not table.rows:
        preview.problems.append(Problem(0, "Tệp không có nhóm nào."))
    if preview.problems:
        preview.breakdowns = []
    return preview


def import_breakdowns(
    session: Session, unit: Unit, data: bytes, filename: str, *, account_id: int | None = None
) -> Preview:
    """Check the whole file, then add (or change) every breakdown in it; nothing when any line is bad.
    Breakdowns of the tree that the file does not list stay as they are."""
    preview = preview_breakdowns(session, unit, data, filename)
    if preview.ok:
        for plan in preview.breakdowns:
            extra_breakdowns.add(
                session,
                unit,
                key=plan.key,
                label=plan.label,
                words=plan.words,
                question=plan.question,
                position=plan.position,
                share=plan.share,
                account_id=account_id,
            )
    return preview


# --- templates ----------------------------------------------------------------------------------


def template_csv(kind: str) -> bytes:
    """A template as Excel opens it right on a Vietnamese Windows: UTF-8 with a BOM, semicolons."""
    header, rows = _template(kind)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def template_xlsx(kind: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.worksheet.worksheet import Worksheet

    header, rows = _template(kind)
    workbook = Workbook()
    sheet = workbook.active
    assert isinstance(sheet, Worksheet)  # a new workbook's one sheet
    sheet.title = "Đơn vị" if kind == "units" else "Chỉ tiêu"
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        values: list[Any] = list(row)
        if kind == "targets":  # real dates in the cells, as staff will type them in Excel
            values[2], values[3] = parse_day(row[2]), parse_day(row[3])
            values[4] = int(row[4]) if row[4].isascii() and row[4].isdigit() else row[4]
            values[5] = int(row[5]) if row[5] else None
        sheet.append(values)
    for column, width in zip("ABCDEFG", (14, 36, 16, 16, 12, 10, 36), strict=False):
        sheet.column_dimensions[column].width = width
    if kind == "targets":
        for cells in sheet.iter_rows(min_row=2, min_col=3, max_col=4):
            for cell in cells:
                cell.number_format = "dd/mm/yyyy"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _template(kind: str) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    if kind == "units":
        return UNIT_TEMPLATE_HEADER, UNIT_TEMPLATE_ROWS
    if kind == "targets":
        return TARGET_TEMPLATE_HEADER, TARGET_TEMPLATE_ROWS
    raise InvalidInput("imports.no_template", kind=kind)
