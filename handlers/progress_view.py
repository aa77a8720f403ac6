"""/tiendo, /thidua and /xuat: which unit and period were asked for, who may see it, and the replies."""

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlmodel import Session

from handlers import progress_text, workflow_text
from handlers.formatting import day, number
from handlers.i18n import t
from handlers.periods import parse_period
from handlers.progress_json import progress_json
from handlers.text import fold
from handlers.types import File, Option, Reply, small_int
from handlers.unit_match import match_units
from storage import units, workflow
from storage.clock import month_end
from storage.models import Metric, Role, Unit
from storage.progress import Completeness, completeness, emulation, unit_progress
from storage.targets import targets_covering

if TYPE_CHECKING:
    from handlers.conversation import Context

TERM_WORDS = ("nhiem ky", "ca nhiem ky", "nk", "tu dau nhiem ky")
MAX_CHOICES = 8


@dataclass(frozen=True)
class Query:
    unit_text: str
    period: tuple[date, date] | None
    term: bool = False


def split_query(args: str, today: date) -> Query:
    """Split "/tiendo kiện khê năm 2023" into the unit ("kiện khê") and the period (2023)."""
    words = args.split()
    folded = fold(args)
    for term in TERM_WORDS:
        if folded == term or folded.endswith(" " + term):
            return Query(" ".join(words[: len(words) - len(term.split())]), None, term=True)
    for i in range(len(words)):
        period = parse_period(" ".join(words[i:]), today)
        if period is not None:
            return Query(" ".join(words[:i]), (period.start, period.end))
    return Query(args.strip(), None)


def encode_period(period: tuple[date, date] | None) -> str:
    return "-" if period is None else f"{period[0]:%Y%m%d}{period[1]:%Y%m%d}"


def decode_period(text: str) -> tuple[date, date] | None:
    if len(text) != 16 or not (text.isascii() and text.isdigit()):
        return None
    start, end = text[:8], text[8:]
    try:
        return (
            date(int(start[:4]), int(start[4:6]), int(start[6:])),
            date(int(end[:4]), int(end[4:6]), int(end[6:])),
        )
    except ValueError:  # forged button data
        return None


def scope_of(ctx: "Context") -> Unit | None:
    """The subtree the sender may look into (None: everywhere, for admins)."""
    assert ctx.account is not None
    return None if ctx.account.role == Role.admin else ctx.unit()


def allowed(ctx: "Context", unit: Unit) -> bool:
    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return unit.id == ctx.account.unit_id
    scope = scope_of(ctx)
    return scope is None or units.is_within(unit, scope)


def progress(ctx: "Context", args: str) -> list[Reply]:
    assert ctx.account is not None
    own = ctx.unit()
    query = split_query(args, ctx.today)
    unit = own
    if query.unit_text and ctx.account.role == Role.secretary and not _names_own(ctx, own, query.unit_text):
        return [Reply(t("progress.secretary_own_only", unit=own.name))]
    if query.unit_text:
        candidates = (
            units.subtree(ctx.session, own)
            if ctx.account.role != Role.admin
            else units.all_units(ctx.session)
        )
        # Units of today, or of the period asked for (a commune merged in 2025 still answers for 2023).
        day = min(query.period[1], ctx.today) if query.period else ctx.today
        found = [u for u in match_units(candidates, query.unit_text) if units.active_on(u, day)]
        if ctx.account.role == Role.secretary and (not found or found[0].id != own.id):
            return [Reply(t("progress.secretary_own_only", unit=own.name))]
        if not found:
            return [Reply(t("progress.unit_not_found", query=query.unit_text, scope=own.name))]
        if len(found) > 1:
            encoded = encode_period(term_window(ctx.session, own, ctx.today) if query.term else query.period)
            options = tuple(Option(u.name, f"unit:{u.id}:{encoded}") for u in found[:MAX_CHOICES])
            ctx.offer(options)
            return [Reply(t("progress.which_unit", query=query.unit_text), options)]
        unit = found[0]
    period = term_window(ctx.session, unit, ctx.today) if query.term else query.period
    return [page(ctx, unit, period, 1)]


def _names_own(ctx: "Context", own: Unit, text: str) -> bool:
    """A secretary may name their own cell, and nothing that could be another unit: the name must
    match their cell without typo tolerance, and nothing else in the committee above as well.
    ("thôn 2" asked by the secretary of "thôn 1" is close to their own name, and is another cell.)"""
    if [u.id for u in match_units([own], text, fuzzy=False)] != [own.id]:
        return False
    parent = ctx.session.get(Unit, own.parent_id) if own.parent_id is not None else None
    if parent is None:
        return True
    found = [u for u in match_units(units.subtree(ctx.session, parent), text) if u.merged_into_id is None]
    return [u.id for u in found] == [own.id]


def term_window(session: Session, unit: Unit, today: date) -> tuple[date, date] | None:
    """ "nhiệm kỳ": the window of the congress-term target of the unit or the nearest unit above it."""
    for ancestor_id in reversed(units.ancestor_ids(unit)):
        ancestor = session.get(Unit, ancestor_id)
        if ancestor is None:
            continue
        covering = targets_covering(session, ancestor, Metric.admissions, today)
        terms = [t_ for t_ in covering if "đại hội" in t_.source.lower()] or covering
        if terms:
            longest = max(terms, key=lambda t_: t_.end_date.toordinal() - t_.start_date.toordinal())
            return (longest.start_date, longest.end_date)
    return None


def completeness_check(
    session: Session, unit: Unit, today: date, period: tuple[date, date] | None
) -> Completeness | None:
    """Who has not reported for the month being collected (the one just ended, until the tree's
    reporting deadline), when that month lies in the period shown: one period throughout."""
    month = workflow.month_to_report(session, unit, today)
    if period is not None and not (period[0] <= month and month_end(month) <= period[1]):
        return None
    return completeness(session, unit, month)


def page(ctx: "Context", unit: Unit, period: tuple[date, date] | None, number_: int) -> Reply:
    figures = unit_progress(ctx.session, unit, ctx.today, period=period)
    check = completeness_check(ctx.session, unit, ctx.today, period)
    extra = workflow_text.progress_lines(
        ctx.session, figures, ctx.today, ctx.account, period=period is not None
    )
    text, pages = progress_text.render_page(figures, ctx.services.lagging_threshold, number_, check, extra)
    encoded = encode_period(period)
    options = [
        Option(t("option.chart"), f"chart:{unit.id}:{encoded}"),
        Option(t("option.excel"), f"xlsx:{unit.id}:{encoded}"),
    ]
    if number_ > 1:
        options.append(Option(t("option.previous_page"), f"page:{unit.id}:{encoded}:{number_ - 1}"))
    if number_ < pages:
        options.append(Option(t("option.next_page"), f"page:{unit.id}:{encoded}:{number_ + 1}"))
    ctx.offer(tuple(options))
    return Reply(text, tuple(options))


def on_choice(ctx: "Context", action: str, rest: str) -> list[Reply]:
    """Buttons under a /tiendo reply: a unit picked, a page, the chart, the workbook."""
    parts = rest.split(":")
    unit_key = small_int(parts[0]) if parts else None
    unit = ctx.session.get(Unit, unit_key) if unit_key is not None else None
    if unit is None or not allowed(ctx, unit):
        return [Reply(t("progress.secretary_own_only", unit=ctx.unit().name))]
    period = decode_period(parts[1]) if len(parts) > 1 else None
    if action == "unit":
        return [page(ctx, unit, period, 1)]
    if action == "page":
        wanted = (small_int(parts[2]) if len(parts) > 2 else None) or 1
        return [page(ctx, unit, period, max(1, wanted))]
    return files(ctx, unit, period, chart=action == "chart")


def files(ctx: "Context", unit: Unit, period: tuple[date, date] | None, *, chart: bool) -> list[Reply]:
    from handlers import exports  # matplotlib and openpyxl load only when a file is asked for

    data = progress_json(
        unit_progress(ctx.session, unit, ctx.today, period=period), ctx.services.lagging_threshold
    )
    if chart:
        file = File("photo", exports.progress_filename(data, "png"), exports.progress_chart(data))
        return [
            Reply(
                t("chart.caption", unit=unit.name, as_of=day(date.fromisoformat(data["as_of"]))),
                files=(file,),
            )
        ]
    file = File("document", exports.progress_filename(data, "xlsx"), exports.progress_workbook(data))
    return [
        Reply(t("excel.caption", unit=unit.name, as_of=day(date.fromisoformat(data["as_of"]))), files=(file,))
    ]


def export(ctx: "Context", args: str) -> list[Reply]:
    """/xuat [unit] [period]: the workbook of what /tiendo would show; /xuat baocao, /xuat thongke:
    the monthly briefing (Word) and the statistics workbook."""
    from handlers import documents

    document = documents.wanted(args)
    if document is not None:
        return documents.export(ctx, *document)
    replies = progress(ctx, args)
    options = dict((o.data.split(":", 1)[0], o.data) for o in replies[0].options)
    if "xlsx" not in options:  # refused, not found, or a question which unit
        return replies
    _, unit_id, encoded = options["xlsx"].split(":")
    unit = ctx.session.get(Unit, int(unit_id))
    assert unit is not None
    return files(ctx, unit, decode_period(encoded), chart=False)


def emulation_reply(ctx: "Context", args: str) -> list[Reply]:
    """/thidua [năm]: who met the year's admission plan; the others are not considered for commendation."""
    assert ctx.account is not None
    words = fold(args).replace("nam", " ").split()
    year = int(words[0]) if words and words[0].isdecimal() and len(words[0]) == 4 else ctx.today.year
    if not 2000 <= year <= ctx.today.year:
        return [Reply(t("emulation.bad_year", year=str(year)))]
    unit = ctx.unit()
    rows = emulation(ctx.session, unit, year, ctx.today)
    if not rows:
        return [Reply(t("emulation.none", unit=unit.name, year=str(year)))]
    end = min(date(year, 12, 31), ctx.today)
    lines = [t("emulation.title", unit=unit.name, year=str(year))]
    if end < date(year, 12, 31):
        lines.append(t("emulation.provisional", as_of=day(end)))
    met = [r for r in rows if r.target.met]
    missed = [r for r in rows if not r.target.met]
    lines.append(t("emulation.met_header", n=number(len(met))))
    lines += [
        t(
            "emulation.line",
            unit=r.unit.name,
            achieved=number(r.target.achieved),
            value=number(r.target.target.value),
            reached=progress_text.reached_text(r.target),
        )
        for r in met
    ]
    lines.append(t("emulation.missed_header", n=number(len(missed))))
    lines += [
        t(
            "emulation.missed_line",
            unit=r.unit.name,
            achieved=number(r.target.achieved),
            value=number(r.target.target.value),
            reached=progress_text.reached_text(r.target),
        )
        # Before the year-end review: what the unit still needs to be considered for commendation.
        + (
            t(
                "emulation.needs",
                n=number(r.target.target.value - r.target.achieved),
                end=day(r.target.target.end_date),
            )
            if ctx.today < r.target.target.end_date
            else ""
        )
        for r in missed
    ]
    return [Reply("\n".join(lines))]
