"""The documents a committee must produce: the monthly briefing (giao ban) as a Word document and the
quarterly or yearly statistics as a workbook, in the party's document layout (Hướng dẫn thể thức văn
bản của Đảng: "ĐẢNG CỘNG SẢN VIỆT NAM", place and date, numbered sections, signature block).

Their figures are the /tiendo figures: the same `unit_progress`, and the same sentences where the
briefing says what /tiendo says.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from io import BytesIO
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from handlers import progress_text, workflow_text
from handlers.exports import _ascii
from handlers.formatting import day, month, number
from handlers.i18n import t
from handlers.text import fold
from handlers.types import File, Reply
from storage import probation, workflow
from storage.clock import month_end, month_start
from storage.models import RecognitionEntry, Report, ReportStatus, Role, Unit, UnitChange
from storage.progress import UnitProgress, completeness, unit_progress
from storage.rollups import sum_totals

if TYPE_CHECKING:
    from handlers.conversation import Context

# Document wording: the fixed shape of the party's documents, not chat replies.
PARTY = "ĐẢNG CỘNG SẢN VIỆT NAM"
FONT = "Times New Roman"
BRIEFING_WORDS = ("baocao", "bao cao", "giaoban", "giao ban", "word")
STATISTICS_WORDS = ("thongke", "thong ke", "bieu", "bieu thong ke")
ROMAN = ("I", "II", "III", "IV")

STAT_COLUMNS = (
    "STT",
    "Đơn vị",
    "Kết nạp trong kỳ",
    "Nữ",
    "Đoàn viên",
    "Tôn giáo",
    "Dân tộc thiểu số",
    "THPT trở lên",
    "Lớp nhận thức đã mở",
    "Cử đi học",
    "Hoàn thành lớp",
    "Công nhận chính thức",
    "Đảng viên dự bị cuối kỳ",
)
BREAKDOWN_ORDER = ("female", "youth_union", "religious", "ethnic_minority", "upper_secondary_or_above")


def place_name(unit: Unit) -> str:
    """ "Đảng bộ huyện Thanh Liêm" → "Thanh Liêm": the place in "Thanh Liêm, ngày … tháng … năm …"."""
    name = unit.name
    for prefix in (unit.level + " ", "Đảng bộ ", "Chi bộ "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    for word in ("huyện ", "xã ", "thị trấn ", "phường ", "tỉnh ", "thành phố "):
        name = name.removeprefix(word)
    return name


def dated(unit: Unit, when: date) -> str:
    return f"{place_name(unit)}, ngày {when:%d} tháng {when:%m} năm {when:%Y}"


def period_title(start: date, end: date) -> str:
    if start.month == 1 and start.day == 1 and end.month == 12 and end.day == 31 and start.year == end.year:
        return f"Năm {start.year}"
    if start.day == 1 and end == month_end(end) and (end.month - start.month) == 2 and start.year == end.year:
        return f"Quý {ROMAN[(start.month - 1) // 3]} năm {start.year}"
    return f"Từ ngày {day(start)} đến ngày {day(end)}"


# --- the monthly briefing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


def briefing_sections(session: Session, unit: Unit, report_month: date, today: date) -> list[Section]:
    """The briefing's content, as text: what /tiendo says, plus the month's changes."""
    first = month_start(report_month)
    as_of = min(today, month_end(first))
    figures = unit_progress(session, unit, as_of)
    threshold = 1.0  # as the /tiendo default (LAGGING_THRESHOLD)
    results = [progress_text.headline(figures)]
    results += [progress_text.target_line(tp, threshold) for tp in figures.targets]
    results += workflow_text.forecast_lines(session, figures, as_of)
    shares = progress_text.shares_line(figures.totals, figures.breakdowns)
    if shares:
        results.append(shares)
    pipeline = []
    totals = figures.totals
    if totals.classes_opened or totals.sent or totals.completed:
        pipeline.append(
            t(
                "progress.classes",
                classes=number(totals.classes_opened),
                sent=number(totals.sent),
                completed=number(totals.completed),
            )
        )
    if figures.pool is not None:
        pipeline.append(t("progress.pool", n=number(figures.pool)))
    if figures.members_total is not None:
        pipeline.append(
            t(
                "progress.members",
                n=number(figures.members_total.value),
                as_of=day(figures.members_total.as_of),
                units=number(figures.members_total.units),
            )
        )
    lagging = [c for c in figures.children if c.is_lagging(threshold)]
    attention = [
        t("briefing.lagging", n=number(len(lagging)), names=", ".join(c.unit.name for c in lagging))
        if lagging
        else t("briefing.no_lagging")
    ]
    check = completeness(session, unit, first)
    if check.silent:
        attention.append(progress_text.completeness_line(check))
    else:
        attention.append(t("completeness.all", month=month(first), cells=number(check.cells)))
    timely = workflow.timeliness(session, unit, [first])[0]
    attention.append(
        t(
            "briefing.timeliness",
            month=month(first),
            deadline=day(timely.deadline),
            reported=number(timely.reported),
            cells=number(timely.cells),
            on_time=number(timely.on_time),
            late=number(timely.late),
        )
    )
    provisional = workflow_text.provisional_line(session, figures)
    if provisional:
        attention.append(provisional)
    # The probation clock as on the day of the meeting (the month it is in), as /tiendo that day.
    probation_lines = workflow_text.probation_lines(session, unit, today) or [t("briefing.no_probation")]
    return [
        Section(t("briefing.section.results"), results),
        Section(t("briefing.section.pipeline"), pipeline or [t("briefing.nothing")]),
        Section(t("briefing.section.attention"), attention),
        Section(t("briefing.section.probation"), probation_lines),
        Section(t("briefing.section.changes", month=month(first)), month_changes(session, unit, first)),
    ]


def month_changes(session: Session, unit: Unit, first: date) -> list[str]:
    """What happened in the month: admissions, classes, recognitions, reviews, the tree."""
    totals = sum_totals(session, unit.id or 0, first, first)
    lines = [
        t(
            "briefing.month_figures",
            month=month(first),
            admissions=number(totals.admissions),
            classes=number(totals.classes_opened),
            sent=number(totals.sent),
            completed=number(totals.completed),
            reports=number(totals.reports),
        )
    ]
    recognized = _recognized(session, unit, first, month_end(first))
    if recognized:
        lines.append(t("briefing.month_recognized", n=number(recognized)))
    changes = session.exec(
        select(UnitChange, Unit)
        .join(Unit, col(Unit.id) == UnitChange.unit_id)
        .where(
            UnitChange.kind == "merge",
            UnitChange.on >= first,
            UnitChange.on <= month_end(first),
            col(Unit.path).startswith(unit.path),
        )
    ).all()
    for change, merged in changes:
        into = session.get(Unit, change.into_id) if change.into_id else None
        lines.append(
            t("briefing.merged", unit=merged.name, into=into.name if into else "", on=day(change.on))
        )
    return lines


def _recognized(session: Session, unit: Unit, start: date, end: date) -> int:
    value = session.exec(
        select(func.coalesce(func.sum(RecognitionEntry.count), 0))
        .join(Report, col(Report.id) == RecognitionEntry.report_id)
        .join(Unit, col(Unit.id) == RecognitionEntry.unit_id)
        .where(
            col(Unit.path).startswith(unit.path),
            RecognitionEntry.month >= month_start(start),
            RecognitionEntry.month <= month_start(end),
            Report.status == ReportStatus.confirmed.value,
        )
    ).one()
    return int(value)


def _header_table(document, unit: Unit, parent: Unit | None, when: date, number_line: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    table = document.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    issuer = (parent.name if parent is not None else unit.name).upper()
    lines_left = [(issuer, False), (unit.name.upper() if parent is not None else "", True), ("*", False)]
    lines_left.append((number_line, False))
    left.paragraphs[0].text = ""
    for index, (text, bold) in enumerate(line for line in lines_left if line[0]):
        paragraph = left.paragraphs[0] if index == 0 else left.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.size = Pt(13)
    party = right.paragraphs[0]
    party.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = party.add_run(PARTY)
    run.bold, run.underline = True, True
    run.font.size = Pt(14)
    place = right.add_paragraph()
    place.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    run = place.add_run(dated(unit, when))
    run.italic = True
    run.font.size = Pt(13)


def briefing_docx(session: Session, unit: Unit, report_month: date, today: date) -> bytes:
    """The monthly briefing as a .docx (python-docx)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    first = month_start(report_month)
    document = Document()
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(14)
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)
    section.left_margin, section.right_margin = Cm(3), Cm(1.5)
    parent = session.get(Unit, unit.parent_id) if unit.parent_id else None
    _header_table(document, unit, parent, today, "Số:      -BC/BTC")
    for text, bold, size in (
        (t("briefing.title"), True, 15),
        (t("briefing.subtitle", month=month(first)), True, 14),
        ("-----", False, 14),
    ):
        paragraph = document.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.size = Pt(size)
    intro = document.add_paragraph(
        t("briefing.intro", unit=unit.name, month=month(first), as_of=day(min(today, month_end(first))))
    )
    intro.paragraph_format.first_line_indent = Cm(1)
    for index, block in enumerate(briefing_sections(session, unit, first, today), start=1):
        heading = document.add_paragraph()
        run = heading.add_run(f"{index}. {block.title}")
        run.bold = True
        for line in block.lines:
            paragraph = document.add_paragraph(line)
            paragraph.paragraph_format.first_line_indent = Cm(1)
            paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _signature(document, unit)
    document.core_properties.title = t("briefing.subtitle", month=month(first))
    document.core_properties.author = "Tiến độ"
    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _signature(document, unit: Unit) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    table = document.add_table(rows=1, cols=2)
    left, right = table.rows[0].cells
    recipients = left.paragraphs[0]
    run = recipients.add_run(t("briefing.recipients_header"))
    run.bold, run.italic = True, True
    run.font.size = Pt(12)
    for line in t("briefing.recipients").split("\n"):
        paragraph = left.add_paragraph()
        paragraph.add_run(line).font.size = Pt(11)
    sign = right.paragraphs[0]
    sign.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = sign.add_run(t("briefing.signer"))
    run.bold = True
    for text in ("", "", "", t("briefing.sign_here")):
        paragraph = right.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.add_run(text).italic = True


# --- the statistics workbook ------------------------------------------------------------------


@dataclass(frozen=True)
class StatRow:
    name: str
    values: list[int | None]  # the fixed columns from (3) on, then one per breakdown the tree adds


def statistics_rows(
    session: Session, unit: Unit, start: date, end: date, today: date
) -> tuple[UnitProgress, list[StatRow], StatRow]:
    """Per sub-unit and for the whole committee: the period's standard figures."""
    figures = unit_progress(session, unit, today, period=(start, end))
    last = figures.as_of

    def row(member: Unit, progress: UnitProgress) -> StatRow:
        totals = progress.totals
        values: list[int | None] = [totals.admissions]
        values += [getattr(totals, name) for name in BREAKDOWN_ORDER]
        values += [totals.classes_opened, totals.sent, totals.completed]
        values += [
            _recognized(session, member, start, last),
            probation.status(session, member, last).in_probation,
        ]
        # After the fixed columns, so that theirs keep their numbers: the breakdowns the tree adds.
        # Nothing known of a unit that admitted members is not 0: blank, as in the progress workbook.
        values += [
            figure.value if figure.known or not totals.admissions else None for figure in progress.breakdowns
        ]
        return StatRow(member.name, values)

    rows = [row(child.unit, child) for child in figures.children]
    return figures, rows, row(unit, figures)


def statistics_xlsx(session: Session, unit: Unit, start: date, end: date, today: date) -> bytes:
    """The quarterly or yearly statistics: fixed columns, a total row, a signature block (openpyxl)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import Cell
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties
    from openpyxl.worksheet.worksheet import Worksheet

    figures, rows, total = statistics_rows(session, unit, start, end, today)
    columns = STAT_COLUMNS + tuple(figure.breakdown.title for figure in figures.breakdowns)
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook's one sheet
    ws.title = "Thống kê"
    width = len(columns)
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    centre = Alignment(horizontal="center", vertical="center", wrap_text=True)

    def put(
        row: int,
        column: int,
        value: str | int | None,
        *,
        bold: bool = False,
        italic: bool = False,
        **style: object,
    ) -> Cell:
        cell = ws.cell(row=row, column=column, value=value)
        cell.font = Font(name=FONT, size=12, bold=bold, italic=italic)
        for key, item in style.items():
            setattr(cell, key, item)
        return cell

    half = width // 2
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=half)
    ws.merge_cells(start_row=1, start_column=half + 1, end_row=1, end_column=width)
    put(1, 1, unit.name.upper(), bold=True, alignment=centre)
    put(1, half + 1, PARTY, bold=True, alignment=centre)
    ws.merge_cells(start_row=2, start_column=half + 1, end_row=2, end_column=width)
    put(2, half + 1, dated(unit, today), italic=True, alignment=centre)
    for row_no, (text, bold) in enumerate(
        (
            (t("statistics.title"), True),
            (period_title(start, end) + f" (từ ngày {day(start)} đến ngày {day(figures.as_of)})", False),
        ),
        start=4,
    ):
        ws.merge_cells(start_row=row_no, start_column=1, end_row=row_no, end_column=width)
        put(row_no, 1, text, bold=bold, alignment=centre)
    header = 7
    for column, title in enumerate(columns, start=1):
        put(
            header,
            column,
            title,
            bold=True,
            alignment=centre,
            border=border,
            fill=PatternFill("solid", fgColor="D9E1F2"),
        )
        put(header + 1, column, f"({column})", italic=True, alignment=centre, border=border)
    ws.row_dimensions[header].height = 48
    row_no = header + 1
    for index, item in enumerate(rows, start=1):
        row_no += 1
        put(row_no, 1, index, alignment=centre, border=border)
        put(row_no, 2, item.name, border=border)
        for column, value in enumerate(item.values, start=3):
            put(row_no, column, value, border=border, number_format="#,##0")
    row_no += 1
    put(row_no, 1, "", border=border)
    put(row_no, 2, t("statistics.total"), bold=True, border=border)
    for column, value in enumerate(total.values, start=3):
        put(
            row_no,
            column,
            value,
            bold=True,
            border=border,
            number_format="#,##0",
            fill=PatternFill("solid", fgColor="F2F2F2"),
        )
    note = row_no + 1
    ws.merge_cells(start_row=note, start_column=1, end_row=note, end_column=width)
    notes = [t("statistics.note")]
    for column, figure in enumerate(figures.breakdowns, start=len(STAT_COLUMNS) + 1):
        if figure.known < figures.totals.admissions:  # as the five: counted over the reports that gave it
            notes.append(
                t(
                    "statistics.note.extra",
                    column=column,
                    label=figure.breakdown.title,
                    known=number(figure.known),
                    total=number(figures.totals.admissions),
                )
            )
    put(note, 1, " ".join(notes), italic=True, alignment=Alignment(wrap_text=True))
    ws.row_dimensions[note].height = 32 if len(notes) == 1 else 48
    sign = note + 2
    ws.merge_cells(start_row=sign, start_column=1, end_row=sign, end_column=half)
    ws.merge_cells(start_row=sign, start_column=half + 1, end_row=sign, end_column=width)
    put(sign, 1, t("statistics.preparer"), bold=True, alignment=centre)
    put(sign, half + 1, t("briefing.signer"), bold=True, alignment=centre)
    ws.merge_cells(start_row=sign + 1, start_column=1, end_row=sign + 1, end_column=half)
    ws.merge_cells(start_row=sign + 1, start_column=half + 1, end_row=sign + 1, end_column=width)
    put(sign + 1, 1, t("briefing.sign_here"), italic=True, alignment=centre)
    put(sign + 1, half + 1, t("briefing.sign_here"), italic=True, alignment=centre)
    widths = [6, 34] + [11] * (width - 2)
    for column, value in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(column)].width = value
    ws.freeze_panes = ws.cell(row=header + 2, column=3).coordinate
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    wb.properties.title = t("statistics.title")
    wb.properties.creator = "Tiến độ"
    buffer = BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def filename(kind: str, unit: Unit, start: date, end: date, ext: str) -> str:
    code = _ascii(unit.code)[:40]
    return f"{kind}-{code}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


# --- /xuat baocao, /xuat thongke ------------------------------------------------------------------


def wanted(args: str) -> tuple[str, str] | None:
    """("briefing" | "statistics", the rest) when /xuat asks for a document."""
    folded = fold(args)
    for kind, words in (("briefing", BRIEFING_WORDS), ("statistics", STATISTICS_WORDS)):
        for word in sorted(words, key=len, reverse=True):
            if folded == word or folded.startswith(word + " "):
                return kind, " ".join(args.split()[len(word.split()) :])
    return None


def export(ctx: "Context", kind: str, rest: str) -> list[Reply]:
    from handlers import progress_view

    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return [Reply(t("documents.staff_only"))]
    replies = progress_view.progress(ctx, rest)
    options = dict((o.data.split(":", 1)[0], o.data) for o in replies[0].options)
    if "xlsx" not in options:  # refused, not found, or a question which unit
        return replies
    _, unit_id, encoded = options["xlsx"].split(":")
    unit = ctx.session.get(Unit, int(unit_id))
    assert unit is not None
    period = progress_view.decode_period(encoded)
    ctx.reset()
    if kind == "briefing":
        # The briefing is about a month: the one asked for, else the month just ended.
        first = month_start(period[1]) if period else month_start(month_start(ctx.today) - timedelta(days=1))
        data = briefing_docx(ctx.session, unit, first, ctx.today)
        name = filename("bao-cao-giao-ban", unit, first, month_end(first), "docx")
        caption = t("documents.briefing_caption", unit=unit.name, month=month(first))
    else:
        start, end = period if period else (date(ctx.today.year, 1, 1), date(ctx.today.year, 12, 31))
        data = statistics_xlsx(ctx.session, unit, start, end, ctx.today)
        name = filename("thong-ke", unit, start, end, "xlsx")
        caption = t("documents.statistics_caption", unit=unit.name, period=period_title(start, end))
    return [Reply(caption, files=(File("document", name, data),))]
