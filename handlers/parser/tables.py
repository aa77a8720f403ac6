"""Tables pasted from Excel or typed with "|": rewritten as the label-value lines a cadre would type.

    Tháng  Kết nạp  Cử đi học          ->  tháng 9, Kết nạp: 1, Cử đi học: 2
    9      1        2                      tháng 10, Kết nạp: 2, Cử đi học: 3
    10     2        3

    STT | Nội dung          | Số lượng  ->  Kết nạp đảng viên: 2
    1   | Kết nạp đảng viên | 2             Trong đó nữ: 1

A header row of labels over rows of figures is read row by row (each row one line, its cells named
by the header); a two-column table of labels and figures, with or without a numbering column, is read
line by line. Anything else comes back as it was.
"""

from __future__ import annotations

import re

from handlers.text import fold

_FIGURE = re.compile(r"\d+(?:[.,]\d+)?")
# Header cells that name the row, not a figure: the period, the unit, a numbering column.
_PERIOD_HEADERS = {"thang": "tháng", "quy": "quý", "nam": "năm", "ky": "tháng", "thoi gian": ""}
_NUMBERING = {"stt", "tt", "so tt", "#"}
_CONTENT = {"noi dung", "chi tieu", "chi so", "hang muc", "danh muc", "muc"}
_PERIOD_HEADER = re.compile(r"(?:thang|quy|nam|t|q)\s*\.?\s*\d")


def rewrite_tables(text: str) -> str:
    """The text with each table turned into label-value lines (see the module's doc)."""
    if "\t" not in text and "|" not in text:
        text = _from_csv(text)
        if "\t" not in text:
            return text
    lines = text.split("\n")
    rows = [_cells(line) for line in lines]
    out: list[str] = []
    i = 0
    while i < len(lines):
        width = len(rows[i])
        j = i
        while j < len(lines) and width >= 2 and len(rows[j]) == width:
            j += 1
        if j - i >= 2:
            out.extend(_table(rows[i:j]))
            i = j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


_CSV_SEPARATORS = (",", ";")
_PERIOD_CELL = re.compile(r"(?:t|th|thang|q|quy)?\s*\d{1,2}(?:\s*/\s*\d{2,4})?", re.I)


def _from_csv(text: str) -> str:
    """A table saved as CSV ("Kết nạp,Nữ,ĐVTN\n2,1,2"): a header of three or more labels without
    figures over rows of figures (a period may open a row) becomes tab-separated. Sentences with
    commas never have rows of bare figures, so they come back as they were."""
    if "\n" not in text:
        return text
    lines = text.split("\n")
    out = list(lines)
    for sep in _CSV_SEPARATORS:
        for i, line in enumerate(lines[:-1]):
            header = [c.strip() for c in line.split(sep)]
            if len(header) < 3 or any(ch.isdigit() for ch in line) or not all(header):
                continue
            j = i + 1
            while j < len(lines):
                cells = [c.strip() for c in lines[j].split(sep)]
                if len(cells) != len(header) or not all(
                    _FIGURE.fullmatch(c) or (x == 0 and _PERIOD_CELL.fullmatch(c))
                    for x, c in enumerate(cells)
                ):
                    break
                j += 1
            if j > i + 1:
                for x in range(i, j):
                    out[x] = "\t".join(c.strip() for c in lines[x].split(sep))
    return "\n".join(out)


def _cells(line: str) -> list[str]:
    """The cells of a table's line; an empty cell stays (Excel copies one tab per cell)."""
    if "\t" in line:
        cells = [c.strip() for c in line.rstrip("\r").split("\t")]
    elif "|" in line:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
    else:
        return [line]
    return cells if len(cells) >= 2 else [line]


def _fold(cell: str) -> str:
    return " ".join(fold(cell).split())


def _table(rows: list[list[str]]) -> list[str]:
    header = [_fold(c) for c in rows[0]]
    body = rows[1:]
    if not any(_FIGURE.fullmatch(c.replace(" ", "")) for c in rows[0]):
        # a header of labels: "Nội dung | Số lượng" (a vertical table) or one label per column
        if any(h in _CONTENT for h in header) or (header[0] in _NUMBERING and len(header) == 3):
            # "Nội dung | Tháng 10": the column's period heads the lines
            periods = [c for c, h in zip(rows[0], header, strict=True) if _PERIOD_HEADER.match(h)]
            return [f"{p}:" for p in periods[:1]] + [_label_line(row, header) for row in body]
        return [_row_line(row, rows[0], header) for row in body]
    # no header: each row "label | figure", maybe after a numbering cell
    return [_label_line(row, None) for row in rows]


def _label_line(row: list[str], header: list[str] | None) -> str:
    cells = list(row)
    if len(cells) >= 3 and (
        (header is not None and header[0] in _NUMBERING) or _FIGURE.fullmatch(cells[0].rstrip("."))
    ):
        cells = cells[1:]  # the numbering column
    label, values = cells[0], [c for c in cells[1:] if c]
    return f"{label}: {', '.join(values)}" if values else label


def _row_line(row: list[str], labels: list[str], header: list[str]) -> str:
    parts: list[str] = []
    for cell, label, key in zip(row, labels, header, strict=False):
        if not cell or key in _NUMBERING:
            continue
        if key in _PERIOD_HEADERS:  # "Tháng | 9" -> "tháng 9"; "Thời gian | T9/2023" as it is
            figure = _FIGURE.fullmatch(cell.replace("/", "").replace(" ", ""))
            parts.append(f"{_PERIOD_HEADERS[key]} {cell}".strip() if figure else cell)
        else:
            parts.append(f"{label}: {cell}")
    return ", ".join(parts)
