"""What the web page shows, channel-neutral: progress of a unit with its sub-units, the report list,
invite cards, accounts, the campaign. The same figures and rules as /tiendo (storage.progress,
handlers.progress_text); bot/webui only lays them out in HTML.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from handlers import campaign, drafts, progress_text
from handlers.formatting import day, month, number, percent
from handlers.i18n import t
from handlers.progress_json import progress_json
from handlers.progress_view import completeness_check, split_query, term_window
from storage import accounts, extra_breakdowns, reports, units, workflow
from storage.clock import month_start
from storage.errors import InvalidInput
from storage.models import Account, Role, Unit
from storage.progress import Completeness, TargetProgress, UnitProgress, unit_progress
from storage.rollups import sum_totals_by_unit

# Quick choices of the period picker: the same words the chat understands.
QUICK_PERIODS = ("tháng này", "tháng trước", "quý này", "năm nay", "nhiệm kỳ")
SORTS = ("rank", "name", "admissions", "reached")


# --- who may see what ---------------------------------------------------------------------------


def top_of(session: Session, account: Account) -> list[Unit]:
    """The units an account's view starts from: its own unit; for an administrator, every root."""
    if account.role == Role.admin:
        return [u for u in units.all_units(session) if u.parent_id is None and u.merged_into_id is None]
    own = session.get(Unit, account.unit_id)
    return [own] if own is not None else []


def may_see(account: Account, own: Unit, unit: Unit) -> bool:
    """The rules of /tiendo: a secretary sees the own unit, staff its subtree, an administrator all."""
    if account.role == Role.admin:
        return True
    if account.role == Role.secretary:
        return unit.id == own.id
    return units.is_within(unit, own)


def breadcrumb(session: Session, account: Account, unit: Unit) -> list[Unit]:
    """The units above `unit` that the account may open, top first, `unit` last."""
    own = session.get(Unit, account.unit_id)
    chain = [session.get(Unit, uid) for uid in units.ancestor_ids(unit)]
    shown = [u for u in chain if u is not None]
    if account.role != Role.admin and own is not None:
        shown = [u for u in shown if units.is_within(u, own)]
    return shown


# --- the period picker --------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodChoice:
    text: str  # as typed ("" = as of today, the targets in force)
    period: tuple[date, date] | None
    label: str  # how the page names it
    error: str = ""


def read_period(session: Session, unit: Unit, text: str, today: date) -> PeriodChoice:
    """A period in the chat's words ("năm 2023", "quý 3", "nhiệm kỳ", "từ 11/2023 đến 6/2025")."""
    text = " ".join(text.split())[:100]
    if not text:
        return PeriodChoice("", None, t("web.period.current"))
    query = split_query(text, today)
    if query.unit_text or (query.period is None and not query.term):
        return PeriodChoice(
            text, None, t("web.period.current"), error=t("web.period.not_understood", text=text)
        )
    if query.term:
        window = term_window(session, unit, today)
        if window is None:
            return PeriodChoice(
                text, None, t("web.period.current"), error=t("web.period.no_term", unit=unit.name)
            )
        return PeriodChoice(text, window, t("web.period.term", window=f"{day(window[0])}–{day(window[1])}"))
    assert query.period is not None
    start, end = query.period
    return PeriodChoice(text, query.period, drafts.period_label(start, end))


# --- progress -----------------------------------------------------------------------------------


@dataclass
class TargetRow:
    source: str
    window: str
    value: str
    achieved: str
    reached: str
    pace: str
    lagging: bool
    metric: str


@dataclass
class ChildRow:
    unit: Unit
    admissions: int
    target: TargetRow | None
    others_lagging: list[TargetRow]
    lagging: bool  # on the target shown
    share: float | None
    cells: int
    silent: int  # cells of its subtree without a report for the month being collected


@dataclass
class ProgressPage:
    unit: Unit
    progress: UnitProgress
    data: dict[str, Any]  # progress_json: the Excel workbook and the chart are made from this
    headline: str
    targets: list[TargetRow]
    class_targets: list[TargetRow]
    shares: list[tuple[str, str, str, str]]  # name, count, percent, coverage note
    completeness: Completeness | None
    completeness_text: str
    children: list[ChildRow]
    lagging_children: int
    sort: str
    as_of: date
    period: PeriodChoice
    facts: list[tuple[str, str]] = field(default_factory=list)  # label, value


def _target_row(tp: TargetProgress, threshold: float) -> TargetRow:
    target = tp.target
    fresh = tp.achieved == 0 and target.value and tp.expected_whole == 0
    value = f"{number(target.value)}–{number(target.max_value)}" if target.max_value else number(target.value)
    return TargetRow(
        source=target.source or t("target.no_source"),
        window=f"{day(target.start_date)}–{day(target.end_date)}",
        value=value,
        achieved=number(tp.achieved),
        reached="" if fresh else progress_text.reached_text(tp),
        pace=progress_text.pace_text(tp),
        lagging=tp.is_lagging(threshold),
        metric=target.metric,
    )


def _sort_key(sort: str) -> Any:
    if sort == "name":
        return lambda row: row.unit.name
    if sort == "admissions":
        return lambda row: (-row.admissions, row.unit.name)
    if sort == "reached":
        return lambda row: (row.share is None, -(row.share or 0), row.unit.name)
    return lambda row: (-(row.share if row.share is not None else -1.0), -row.admissions, row.unit.name)


def progress_page(
    session: Session,
    unit: Unit,
    today: date,
    period: PeriodChoice,
    *,
    threshold: float,
    sort: str = "rank",
) -> ProgressPage:
    progress = unit_progress(session, unit, today, period=period.period)
    check = completeness_check(session, unit, today, period.period)
    collected = workflow.month_to_report(session, unit, today)
    kid_ids = [c.unit.id or 0 for c in progress.children]
    reported = sum_totals_by_unit(session, kid_ids, collected, collected) if check is not None else {}
    rows: list[ChildRow] = []
    for child in progress.children:
        first = child.targets[0] if child.targets else None
        cells = child.unit.cells
        rows.append(
            ChildRow(
                unit=child.unit,
                admissions=child.totals.admissions,  # over the period of the view, as the unit's own
                target=_target_row(first, threshold) if first is not None else None,
                others_lagging=[
                    _target_row(tp, threshold) for tp in child.targets[1:] if tp.is_lagging(threshold)
                ],
                lagging=first is not None and first.is_lagging(threshold),
                share=first.share if first is not None else None,
                cells=cells,
                silent=max(0, cells - reported[child.unit.id or 0].cells_reported)
                if check is not None and (child.unit.id or 0) in reported
                else (cells if check is not None else 0),
            )
        )
    sort = sort if sort in SORTS else "rank"
    rows.sort(key=_sort_key(sort))
    data = progress_json(progress, threshold)
    # The workbook and the chart list the sub-units in the order on screen.
    order = {row.unit.id: index for index, row in enumerate(rows)}
    data.get("children", []).sort(key=lambda c: order.get(_child_id(progress, c), 0))
    totals = progress.totals
    shares = []
    for name in progress_text.SHARES:
        known = getattr(totals, f"{name}_known")
        if known:
            note = (
                t("web.coverage", known=number(known), total=number(totals.admissions))
                if known < totals.admissions
                else ""
            )
            shares.append(
                (
                    t(f"web.share.{name}"),
                    number(getattr(totals, name)),
                    percent(getattr(totals, name) / known),
                    note,
                )
            )
    for figure in progress.breakdowns:  # those the tree adds, after the five, with their coverage
        if figure.known:
            note = (
                t("web.coverage", known=number(figure.known), total=number(totals.admissions))
                if figure.known < totals.admissions
                else ""
            )
            shown = percent(figure.share) if figure.breakdown.share and figure.share is not None else ""
            shares.append((figure.breakdown.title, number(figure.value), shown, note))
    facts = [(t("web.fact.admissions"), number(totals.admissions))]
    if totals.classes_opened:
        facts.append((t("web.fact.classes"), number(totals.classes_opened)))
    if totals.sent or totals.completed:
        facts += [
            (t("web.fact.sent"), number(totals.sent)),
            (t("web.fact.completed"), number(totals.completed)),
        ]
    if progress.pool is not None:
        facts.append((t("web.fact.pool"), number(progress.pool)))
    if progress.members_total is not None:
        facts.append(
            (
                t("web.fact.members", as_of=day(progress.members_total.as_of)),
                number(progress.members_total.value),
            )
        )
    return ProgressPage(
        unit=unit,
        progress=progress,
        data=data,
        headline=progress_text.headline(progress),
        targets=[_target_row(tp, threshold) for tp in progress.targets],
        class_targets=[_target_row(tp, threshold) for tp in progress.class_targets],
        shares=shares,
        completeness=check,
        completeness_text=progress_text.completeness_line(check)
        if check is not None and check.cells > 1
        else "",
        children=rows,
        lagging_children=sum(1 for c in progress.children if c.is_lagging(threshold)),
        sort=sort,
        as_of=progress.as_of,
        period=period,
        facts=facts,
    )


def _child_id(progress: UnitProgress, child_data: dict[str, Any]) -> int | None:
    code = (child_data.get("unit") or {}).get("code")
    return next((c.unit.id for c in progress.children if c.unit.code == code), None)


# --- reports ------------------------------------------------------------------------------------


@dataclass
class ReportRow:
    receipt: str
    unit: str
    period: str
    facts: str
    author: str
    channel: str
    received: str
    status: str
    withdrawn: bool
    replaces: str
    replaced_by: str
    withdrawn_note: str


def report_rows(
    session: Session,
    scope: Unit,
    period: tuple[date, date] | None,
    *,
    zone: Any,
    page: int,
    per_page: int = 50,
) -> tuple[list[ReportRow], bool]:
    """A page of the subtree's reports, newest first, and whether there is a next page."""
    rows, more = reports.list_reports(
        session, scope=scope, period=period, limit=per_page, offset=(page - 1) * per_page
    )
    ids = [r.id or 0 for r, _ in rows]
    facts = reports.facts_of(session, ids)
    replaced = reports.replacements(session, ids)
    authors = {
        a.id: a
        for a in session.exec(
            select(Account).where(col(Account.id).in_({r.account_id for r, _ in rows if r.account_id}))
        ).all()
    }
    supersedes = {
        r.id: r
        for r in session.exec(
            select(reports.Report).where(
                col(reports.Report.id).in_({r.supersedes_id for r, _ in rows if r.supersedes_id})
            )
        ).all()
    }
    out = []
    for report, unit in rows:
        admission, attendance, classes = facts[report.id or 0]
        parts = []
        if admission is not None:
            parts.append(t("web.report.admitted", n=number(admission.count)))
        if attendance is not None:
            parts.append(
                t(
                    "web.report.attendance",
                    sent=number(attendance.sent or 0),
                    completed=number(attendance.completed or 0),
                )
            )
        if classes:
            parts.append(t("web.report.classes", n=number(classes)))
        author = authors.get(report.account_id)
        replacement = replaced.get(report.id or 0)
        before = supersedes.get(report.supersedes_id)
        withdrawn = report.status == "withdrawn"
        note = ""
        if withdrawn and report.withdrawn_at is not None:
            by = authors.get(report.withdrawn_by_account_id) or (
                session.get(Account, report.withdrawn_by_account_id)
                if report.withdrawn_by_account_id
                else None
            )
            note = t(
                "web.report.withdrawn_at",
                at=_local(report.withdrawn_at, zone),
                by=(by.display_name or by.channel_user_id) if by is not None else "—",
            )
        out.append(
            ReportRow(
                receipt=report.receipt_code,
                unit=unit.name,
                period=drafts.period_label(report.period_start, report.period_end),
                facts="; ".join(parts),
                author=(author.display_name or author.channel_user_id) if author is not None else "—",
                channel=report.channel,
                received=_local(report.created_at, zone),
                status=t(f"report.status.{report.status}"),
                withdrawn=withdrawn,
                replaces=before.receipt_code if before is not None else "",
                replaced_by=replacement.receipt_code if replacement is not None else "",
                withdrawn_note=note,
            )
        )
    return out, more


def _local(moment: datetime, zone: Any) -> str:
    if moment.tzinfo is None:  # SQLite gives naive UTC back
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    return f"{day(local.date())} {local:%H:%M}"


# --- invite cards -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InviteCard:
    unit: str
    unit_code: str
    role: str
    code: str
    qr_svg: str
    expires: str


def invite_cards(
    session: Session, scope: Unit, *, who: str, days: int, now: datetime, bot_link: str = ""
) -> list[InviteCard]:
    """A one-time invite for every cell (secretaries) or every committee (staff) of a subtree."""
    import segno

    if who not in ("cells", "committees"):
        raise InvalidInput("web.invites.choose_who")
    members = [u for u in units.subtree(session, scope) if u.merged_into_id is None]
    chosen = [u for u in members if u.is_leaf] if who == "cells" else [u for u in members if not u.is_leaf]
    if not chosen:
        raise InvalidInput("web.invites.none_of_kind", unit=scope.name)
    if len(chosen) > 2000:
        raise InvalidInput("web.invites.too_many", unit=scope.name, count=len(chosen), high=2000)
    role = Role.secretary if who == "cells" else Role.staff
    cards = []
    expires = day((now + timedelta(days=days)).date())
    for unit in sorted(chosen, key=lambda u: u.path):
        code = accounts.create_invite(session, unit=unit, role=role, days=days, now=now)
        content = bot_link or f"/dangky {code}"
        qr = segno.make(content, error="m")
        cards.append(
            InviteCard(
                unit=unit.name,
                unit_code=unit.code,
                role=t(f"role.{role.value}"),
                code=code,
                qr_svg=qr.svg_inline(scale=3, border=2, title=f"/dangky {code}"),
                expires=expires,
            )
        )
    return cards


# --- breakdowns a tree adds to the five ------------------------------------------------------------


@dataclass(frozen=True)
class BreakdownRow:
    unit: str  # where it is defined (its subtree asks it)
    key: str
    label: str
    words: str
    question: str
    kind: str


def breakdown_rows(session: Session, account: Account, own: Unit) -> list[BreakdownRow]:
    """The breakdowns defined in the trees the account sees, for the administration page."""
    rows = []
    for definition, unit in extra_breakdowns.listed(session):
        if not may_see(account, own, unit):
            continue
        rows.append(
            BreakdownRow(
                unit=unit.name,
                key=definition.key,
                label=definition.label,
                words="; ".join(w for w in definition.words.split("\n") if w),
                question=t("ask.extra", n="N", question=definition.question),
                kind=t("web.breakdown.share" if definition.share else "web.breakdown.count"),
            )
        )
    return rows


# --- accounts -----------------------------------------------------------------------------------


def accounts_in(session: Session, scope: Unit) -> list[tuple[Account, Unit]]:
    rows = session.exec(
        select(Account, Unit)
        .join(Unit, col(Unit.id) == Account.unit_id)
        .where(col(Unit.path).startswith(scope.path), col(Account.revoked_at).is_(None))
        .order_by(col(Unit.path), col(Account.id))
    ).all()
    return [(a, u) for a, u in rows]


# --- the campaign -------------------------------------------------------------------------------


@dataclass
class CampaignView:
    text: str  # the same preview as /nhacnho
    samples: list[tuple[str, str, str]]  # kind label, who, the message
    switches: list[tuple[Unit, dict[str, bool], dict[str, bool]]]  # unit, on, inherited off
    month_label: str


def campaign_view(session: Session, scope: Unit, today: date, *, threshold: float) -> CampaignView:
    from storage import campaigns

    plan = campaign.plan_campaign(session, month_start(today), threshold=threshold, scope=scope)
    samples = [
        (t(f"web.campaign.kind.{kind}"), who, text)
        for kind, who, text in campaign.sample_messages(session, plan, scope)
    ]
    disabled = campaigns.disabled_kinds(session)
    shown = [scope, *units.active_children(session, scope)]
    switches = []
    for unit in shown:
        above = [int(p) for p in unit.path.strip("/").split("/") if p][:-1]
        inherited = {k: any(k in disabled.get(a, ()) for a in above) for k in campaigns.KINDS}
        on = {k: k not in disabled.get(unit.id or 0, ()) for k in campaigns.KINDS}
        switches.append((unit, on, inherited))
    return CampaignView(campaign.preview_text(plan, None), samples, switches, month(plan.month))
