"""The monthly campaign: who gets a nudge, praise, a reminder or a summary, in one message each.

Composed on a day of month M, it uses the figures of that day (every report stored so far, targets
pro rata to that day: "tính đến ngày …" is the composing day), and reminds the cells that sent no
report for month M-1. Every recipient gets at most one message, combining what applies.
"""

import bisect
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlmodel import Session

from handlers.formatting import day, month, number, percent
from handlers.i18n import t
from storage import campaigns
from storage.clock import month_end, month_start
from storage.models import Account, Role, Unit
from storage.outbox import NewMessage
from storage.progress import TargetProgress, progress_of

MAX_NAMES = 8


@dataclass
class Recipient:
    account: Account
    unit: Unit
    kinds: list[str] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)


@dataclass
class CampaignPlan:
    month: date  # the campaign's month (M)
    review_month: date  # the month whose silent cells are reminded (M-1)
    as_of: date  # the day the campaign is composed: figures are as of this day
    recipients: list[Recipient]
    lagging: list[Unit]
    on_track: list[Unit]
    silent: list[Unit]
    without_secretary: list[Unit]
    # the target each unit hears about, and the staff summary of the scope (for previews)
    primary: dict[int, TargetProgress] = field(default_factory=dict)
    scope_summary: str = ""

    @property
    def key_prefix(self) -> str:
        return f"campaign:{self.month:%Y-%m}"

    def messages(self) -> list[NewMessage]:
        return [
            NewMessage(
                key=f"{self.key_prefix}:account:{r.account.id}",
                kind="campaign",
                account=r.account,
                text=message_text(r, self),
                campaign=f"{self.month:%Y-%m}",
            )
            for r in self.recipients
            if r.parts
        ]

    def count(self, kind: str) -> int:
        return sum(1 for r in self.recipients if kind in r.kinds)


def review_dates(campaign_month: date) -> tuple[date, date]:
    """(first day, last day) of the month before the campaign's."""
    last = month_start(campaign_month) - timedelta(days=1)
    return month_start(last), last


class _Tree:
    """All active units sorted by path: a subtree is a contiguous slice (found by bisection)."""

    def __init__(self, units: list[Unit]) -> None:
        self.units = sorted(units, key=lambda u: u.path)
        self.paths = [u.path for u in self.units]
        self.by_id = {u.id: u for u in self.units}
        parents = {u.parent_id for u in self.units if u.parent_id is not None}
        self.leaf_ids = {u.id for u in self.units if u.id not in parents}

    def subtree(self, unit: Unit) -> list[Unit]:
        lo = bisect.bisect_left(self.paths, unit.path)
        hi = bisect.bisect_left(self.paths, unit.path + "\U0010ffff")
        return self.units[lo:hi]

    def disabled(self, unit: Unit, kind: str, settings: dict[int, set[str]]) -> bool:
        """A kind switched off for the unit or any unit above it."""
        return any(kind in settings.get(int(p), ()) for p in unit.path.strip("/").split("/") if p)


def plan_campaign(
    session: Session,
    campaign_month: date,
    *,
    threshold: float = 1.0,
    scope: Unit | None = None,
    as_of: date | None = None,
) -> CampaignPlan:
    """The campaign of `campaign_month` as composed on `as_of` (default: its first day).

    `as_of` is kept within the campaign's month: run late in the month, a campaign counts the reports
    of the month so far, so a cell that has just reached its target is not told it lags.
    """
    first, _ = review_dates(campaign_month)
    current = month_start(campaign_month)
    as_of = min(max(as_of or current, current), month_end(current))
    tree = _Tree(campaigns.active_units(session))
    settings = campaigns.disabled_kinds(session)
    reported = campaigns.reported_units(session, first)
    # The target a unit hears about: the first one it is behind on (earliest end), or else the one
    # in force that ends first (a yearly plan before the term).
    primary: dict[int, TargetProgress] = {}
    for status in campaigns.active_targets(session, as_of):  # ordered by unit, then end date
        progress = progress_of(status.target, status.achieved, as_of)
        heard = primary.get(status.target.unit_id)
        if heard is None or (progress.is_lagging(threshold) and not heard.is_lagging(threshold)):
            primary[status.target.unit_id] = progress
    secretaries: dict[int, list[Account]] = {}
    staff: list[Account] = []
    for account in campaigns.accounts(session):
        if account.unit_id not in tree.by_id:
            continue
        if account.role == Role.secretary:
            secretaries.setdefault(account.unit_id, []).append(account)
        else:
            staff.append(account)
    in_scope = (lambda u: u.path.startswith(scope.path)) if scope is not None else (lambda u: True)

    lagging = [
        tree.by_id[uid] for uid, tp in primary.items() if uid in tree.by_id and tp.is_lagging(threshold)
    ]
    on_track = [
        tree.by_id[uid] for uid, tp in primary.items() if uid in tree.by_id and not tp.is_lagging(threshold)
    ]
    # Who should report: cells (units without sub-units) and any unit a secretary reports for.
    reporting = [u for u in tree.units if u.id in tree.leaf_ids or u.id in secretaries]
    silent = [u for u in reporting if u.id not in reported]
    without_secretary = [u for u in reporting if u.id not in secretaries]

    recipients: dict[int, Recipient] = {}

    def recipient(account: Account) -> Recipient:
        unit = tree.by_id[account.unit_id]
        return recipients.setdefault(account.id or 0, Recipient(account, unit))

    for unit_id, tp in primary.items():
        unit = tree.by_id.get(unit_id)
        if unit is None or not in_scope(unit):
            continue
        kind = "nudge" if tp.is_lagging(threshold) else "praise"
        if tree.disabled(unit, kind, settings):
            continue
        for account in secretaries.get(unit_id, []):
            if _reachable(account):
                r = recipient(account)
                r.kinds.append(kind)
                r.parts.append(_nudge(tp, as_of) if kind == "nudge" else _praise(tp, as_of))
    for unit in silent:
        if not in_scope(unit) or tree.disabled(unit, "reminder", settings):
            continue
        for account in secretaries.get(unit.id or 0, []):
            if _reachable(account):
                r = recipient(account)
                r.kinds.append("reminder")
                r.parts.append(t("campaign.reminder", month=month(first)))
    unreachable = [a for group in secretaries.values() for a in group if not _reachable(a)]
    silent_paths = [u.path for u in silent]  # both lists are in path order: a subtree is a slice
    missing_paths = [u.path for u in without_secretary]
    for account in staff:
        unit = tree.by_id[account.unit_id]
        if not in_scope(unit) or not _reachable(account) or tree.disabled(unit, "summary", settings):
            continue
        summary = _summary(
            tree,
            unit,
            as_of,
            first,
            primary,
            threshold,
            _within(silent, silent_paths, unit),
            _within(without_secretary, missing_paths, unit),
            unreachable,
        )
        r = recipient(account)
        r.kinds.append("summary")
        r.parts.append(summary)
    scope_summary = ""
    if scope is not None and scope.id in tree.by_id:
        scope_summary = _summary(
            tree,
            scope,
            as_of,
            first,
            primary,
            threshold,
            _within(silent, silent_paths, scope),
            _within(without_secretary, missing_paths, scope),
            unreachable,
        )
    return CampaignPlan(
        month=month_start(campaign_month),
        review_month=first,
        as_of=as_of,
        recipients=[r for r in recipients.values() if r.parts],
        lagging=[u for u in lagging if in_scope(u)],
        on_track=[u for u in on_track if in_scope(u)],
        silent=[u for u in silent if in_scope(u)],
        without_secretary=[u for u in without_secretary if in_scope(u)],
        primary=primary,
        scope_summary=scope_summary,
    )


def _reachable(account: Account) -> bool:
    """The bot can write to them: they have not blocked it, and they wrote to it privately once (a
    chat id comes only from a person's own message; a group is nobody's private chat)."""
    return account.unreachable_at is None and account.chat_id is not None


def sample_messages(session: Session, plan: CampaignPlan, scope: Unit) -> list[tuple[str, str, str]]:
    """One message of each kind as the campaign would word it, (kind, for whom, text), for a preview:
    the first lagging unit's nudge, the first on-track unit's praise, the first silent cell's reminder,
    and the staff summary of `scope`, whether or not anybody there registered yet."""
    samples: list[tuple[str, str, str]] = []
    created = datetime.combine(plan.month, time())  # accounts of the preview only, never stored
    staff = Account(
        channel="", channel_user_id="", role=Role.staff, unit_id=scope.id or 0, created_at=created
    )
    for kind, unit_list in (("nudge", plan.lagging), ("praise", plan.on_track), ("reminder", plan.silent)):
        if not unit_list:
            continue
        unit = unit_list[0]
        secretary = Account(
            channel="", channel_user_id="", role=Role.secretary, unit_id=unit.id or 0, created_at=created
        )
        recipient = Recipient(secretary, unit, [kind])
        if kind == "reminder":
            recipient.parts.append(t("campaign.reminder", month=month(plan.review_month)))
        else:
            tp = plan.primary[unit.id or 0]
            recipient.parts.append(_nudge(tp, plan.as_of) if kind == "nudge" else _praise(tp, plan.as_of))
        samples.append((kind, unit.name, message_text(recipient, plan)))
    if plan.scope_summary:
        recipient = Recipient(staff, scope, ["summary"], [plan.scope_summary])
        samples.append(("summary", scope.name, message_text(recipient, plan)))
    return samples


def _within(units: list[Unit], paths: list[str], scope: Unit) -> list[Unit]:
    """The units of a path-sorted list that lie in `scope`'s subtree."""
    return units[bisect.bisect_left(paths, scope.path) : bisect.bisect_left(paths, scope.path + "\U0010ffff")]


def _months_left(as_of: date, end: date) -> int:
    """Months to the target's end, counting the current one unless it ends on `as_of`."""
    months = (end.year - as_of.year) * 12 + end.month - as_of.month
    return max(1, months + (as_of != month_end(as_of)))


def _nudge(tp: TargetProgress, as_of: date) -> str:
    target = tp.target
    remaining = max(0, target.value - tp.achieved)
    per_month = math.ceil(remaining / _months_left(as_of, target.end_date))
    return t(
        "campaign.nudge",
        as_of=day(as_of),
        achieved=number(tp.achieved),
        value=number(target.value),
        reached=percent(tp.share or 0),
        source=target.source or t("target.no_source"),
        expected=number(math.floor(tp.expected_now)),
        end=day(target.end_date),
        remaining=number(remaining),
        per_month=number(per_month),
    )


def _praise(tp: TargetProgress, as_of: date) -> str:
    target = tp.target
    return t(
        "campaign.praise",
        as_of=day(as_of),
        achieved=number(tp.achieved),
        value=number(target.value),
        reached=percent(tp.share or 0),
        source=target.source or t("target.no_source"),
    )


def _names(units: list[Unit]) -> str:
    shown = ", ".join(u.name for u in units[:MAX_NAMES])
    if len(units) > MAX_NAMES:
        shown += t("campaign.more", n=number(len(units) - MAX_NAMES))
    return shown


def _summary(
    tree: _Tree,
    unit: Unit,
    as_of: date,
    first: date,
    primary: dict[int, TargetProgress],
    threshold: float,
    silent: list[Unit],
    without_secretary: list[Unit],
    unreachable: list[Account],
) -> str:
    members = tree.subtree(unit)
    ids = {u.id for u in members}
    lines = [t("campaign.summary.header", unit=unit.name, as_of=day(as_of))]
    scored = [(primary[u.id or 0], u) for u in members if (u.id or 0) in primary and u.id != unit.id]
    behind = [u for tp, u in scored if tp.is_lagging(threshold)]
    best = [
        u
        for tp, u in sorted(scored, key=lambda p: (-(p[0].share or 0), p[1].name))
        if not tp.is_lagging(threshold)
    ][:3]
    quiet = silent  # already this subtree's slice
    cells = sum(1 for u in members if u.id in tree.leaf_ids)
    missing = without_secretary
    blocked = [a for a in unreachable if a.unit_id in ids and a.unreachable_at is not None]
    silent_privately = [a for a in unreachable if a.unit_id in ids and a.unreachable_at is None]
    if behind:
        lines.append(t("campaign.summary.lagging", n=number(len(behind)), names=_names(behind)))
    if quiet:
        lines.append(
            t(
                "campaign.summary.silent",
                month=month(first),
                n=number(len(quiet)),
                cells=number(cells),
                names=_names(quiet),
            )
        )
    if best:
        lines.append(
            t(
                "campaign.summary.best",
                names=", ".join(f"{u.name} ({percent(primary[u.id or 0].share or 0)})" for u in best),
            )
        )
    if missing:
        lines.append(t("campaign.summary.no_secretary", n=number(len(missing)), names=_names(missing)))
    if blocked:
        names = ", ".join(
            f"{a.display_name or a.channel_user_id} ({tree.by_id[a.unit_id].name})"
            for a in blocked[:MAX_NAMES]
        )
        lines.append(t("campaign.summary.unreachable", n=number(len(blocked)), names=names))
    if silent_privately:
        names = ", ".join(
            f"{a.display_name or a.channel_user_id} ({tree.by_id[a.unit_id].name})"
            for a in silent_privately[:MAX_NAMES]
        )
        lines.append(t("campaign.summary.no_private_chat", n=number(len(silent_privately)), names=names))
    if len(lines) == 1:
        lines.append(t("campaign.summary.all_good"))
    return "\n".join(lines)


def message_text(recipient: Recipient, plan: CampaignPlan) -> str:
    if recipient.account.role == Role.secretary:
        greeting = t("campaign.greeting.secretary", unit=recipient.unit.name)
    else:
        greeting = t("campaign.greeting.staff")
    return "\n\n".join([greeting, *recipient.parts, t("campaign.closing")])


def preview_text(plan: CampaignPlan, account: Account | None) -> str:
    """What a campaign would do: counts, the units concerned, and the message for `account`."""
    lines = [
        t(
            "preview.header",
            month=month(plan.month),
            as_of=day(plan.as_of),
            n=number(len(plan.recipients)),
            nudges=number(plan.count("nudge")),
            praise=number(plan.count("praise")),
            reminders=number(plan.count("reminder")),
            summaries=number(plan.count("summary")),
        ),
    ]
    for key, units in (
        ("preview.lagging", plan.lagging),
        ("preview.on_track", plan.on_track),
        ("preview.silent", plan.silent),
        ("preview.no_secretary", plan.without_secretary),
    ):
        if units:
            lines.append(t(key, n=number(len(units)), names=_names(units)))
    own = next((r for r in plan.recipients if account is not None and r.account.id == account.id), None)
    if own is not None:
        lines += ["", t("preview.yours"), message_text(own, plan)]
    return "\n".join(lines)
