"""The /tiendo reply, in the register of official reports."""

import math
from collections.abc import Sequence

from handlers.formatting import day, day_range, month, number, percent
from handlers.i18n import t
from storage.extra_breakdowns import BreakdownFigure
from storage.progress import Completeness, TargetProgress, UnitProgress
from storage.rollups import Totals

SHARES = ("youth_union", "female", "religious", "ethnic_minority", "upper_secondary_or_above")
PAGE_SIZE = 20


def _target_label(target: TargetProgress) -> str:
    source = target.target.source or t("target.no_source")
    return t(
        "target.label", source=source, window=day_range(target.target.start_date, target.target.end_date)
    )


def _target_value(target: TargetProgress) -> str:
    value, top = target.target.value, target.target.max_value
    return f"{number(value)}–{number(top)}" if top else number(value)


def reached_text(target: TargetProgress) -> str:
    if target.share is None:
        return t("target.zero_target")
    reached = percent(target.share)
    if target.share_of_max is not None:
        reached = f"{reached}–{percent(target.share_of_max)}"
    return reached


def pace_text(target: TargetProgress) -> str:
    """Where the unit stands against the pro-rata: the same whole number the lagging mark uses."""
    if not target.started:
        return t("target.not_started", start=day(target.target.start_date))
    if target.ended:
        return t("target.ended")
    expected = target.expected_whole
    gap = target.achieved - expected
    if expected == 0:
        # First days of a window: the pro-rata asks for nobody yet; "cần 0, vượt 0" says nothing.
        return t("target.just_started", start=day(target.target.start_date))
    if gap > 0:
        return t("target.ahead", expected=number(expected), gap=number(gap))
    if gap == 0:
        return t("target.on_pace", expected=number(expected))
    return t("target.behind", expected=number(expected), gap=number(-gap))


def target_line(target: TargetProgress, threshold: float) -> str:
    mark = t("target.lagging_mark") if target.is_lagging(threshold) else ""
    if target.achieved == 0 and target.target.value and target.expected_whole == 0:
        # Nothing done and nothing due yet: "đạt 0,0%–0,0%" would read as a failure.
        return t(
            "target.line_fresh",
            label=_target_label(target),
            value=_target_value(target),
            pace=pace_text(target),
        )
    return t(
        "target.line",
        label=_target_label(target),
        achieved=number(target.achieved),
        value=_target_value(target),
        reached=reached_text(target),
        pace=pace_text(target),
        mark=mark,
    ).rstrip()


def shares_line(totals: Totals, breakdowns: Sequence[BreakdownFigure] = ()) -> str | None:
    """The five shares of new members, then those the tree adds, each with its coverage."""
    if totals.admissions == 0:
        return None
    parts = []
    for name in SHARES:
        known = getattr(totals, f"{name}_known")
        if known == 0:
            continue
        part = t(
            f"share.{name}", n=number(getattr(totals, name)), share=percent(getattr(totals, name) / known)
        )
        if known < totals.admissions:
            part += t("share.coverage", known=number(known), total=number(totals.admissions))
        parts.append(part)
    for figure in breakdowns:
        if figure.known == 0:
            continue
        label, n = figure.breakdown.label, number(figure.value)
        if figure.breakdown.share and figure.share is not None:
            part = t("share.extra", label=label, n=n, share=percent(figure.share))
        else:
            part = t("share.extra_count", label=label, n=n)
        if figure.known < totals.admissions:
            part += t("share.coverage", known=number(figure.known), total=number(totals.admissions))
        parts.append(part)
    if not parts:
        return t("share.none")
    return t("share.line", parts="; ".join(parts))


def headline(progress: UnitProgress) -> str:
    unit, totals = progress.unit, progress.totals
    since = t("progress.since", start=day(progress.window_start)) if progress.window_start else ""
    headline = t(
        "progress.headline",
        as_of=day(progress.as_of),
        unit=unit.name,
        n=number(totals.admissions),
        since=since,
    )
    reach = [
        t(
            "progress.headline_reach",
            reached=reached_text(tp),
            source=tp.target.source or t("target.no_source"),
        )
        for tp in progress.targets
        if tp.target.start_date == progress.window_start and tp.target.max_value is None
    ]
    return headline + (", " + ", ".join(reach) if reach else "") + "."


def render_page(
    progress: UnitProgress,
    threshold: float = 1.0,
    page: int = 1,
    check: Completeness | None = None,
    extra: list[str] | None = None,
) -> tuple[str, int]:
    """The reply for one page of sub-units, and how many pages there are.

    `extra`: lines shown above the sub-units (approval, deadline, probation, forecast).
    """
    totals = progress.totals
    lines = [t("progress.title", unit=progress.unit.name), headline(progress)]
    if totals.reports == 0:
        lines.append(t("progress.no_reports"))
    if progress.targets:
        lines.append(t("progress.targets_header"))
        lines.extend("• " + target_line(tp, threshold) for tp in progress.targets)
    else:
        lines.append(t("progress.no_target_period" if progress.period_requested else "progress.no_target"))
    shares = shares_line(totals, progress.breakdowns)
    if shares:
        lines.append(shares)
    if totals.classes_opened:
        lines.append(
            t(
                "progress.classes",
                classes=number(totals.classes_opened),
                sent=number(totals.sent),
                completed=number(totals.completed),
            )
        )
    elif totals.sent or totals.completed:
        lines.append(t("progress.attendance", sent=number(totals.sent), completed=number(totals.completed)))
    lines.extend("• " + target_line(tp, threshold) for tp in progress.class_targets)
    if progress.pool is not None:
        lines.append(t("progress.pool", n=number(progress.pool)))
    if progress.members_total is not None:
        figure = progress.members_total
        key = "progress.members" if figure.own else "progress.members_sum"
        lines.append(t(key, n=number(figure.value), as_of=day(figure.as_of), units=number(figure.units)))
    if check is not None and check.cells > 1:
        lines.append(completeness_line(check))
    lines.extend(extra or [])
    pages = max(1, math.ceil(len(progress.children) / PAGE_SIZE))
    if progress.children:
        page = min(page, pages)
        ranked = sorted(progress.children, key=_rank_key)
        lagging = sum(1 for child in ranked if child.is_lagging(threshold))
        lines.append("")
        header = t("progress.children_header", n=number(len(ranked)), lagging=number(lagging))
        if pages > 1:
            header += t("progress.page", page=number(page), pages=number(pages))
        lines.append(header + ":")
        first = (page - 1) * PAGE_SIZE
        for index, child in enumerate(ranked[first : first + PAGE_SIZE], start=first + 1):
            lines.append(_child_line(index, child, threshold))
    return "\n".join(lines), pages


def render(
    progress: UnitProgress,
    threshold: float = 1.0,
    check: Completeness | None = None,
    extra: list[str] | None = None,
) -> str:
    """The whole reply, every sub-unit on one page (the CLI)."""
    text, pages = render_page(progress, threshold, 1, check, extra)
    if pages == 1:
        return text
    head, _, _ = text.partition("\n\n")
    ranked = sorted(progress.children, key=_rank_key)
    lagging = sum(1 for child in ranked if child.is_lagging(threshold))
    lines = [head, "", t("progress.children_header", n=number(len(ranked)), lagging=number(lagging)) + ":"]
    lines += [_child_line(i, child, threshold) for i, child in enumerate(ranked, start=1)]
    return "\n".join(lines)


def completeness_line(check: Completeness) -> str:
    if check.silent == 0:
        return t("completeness.all", month=month(check.month), cells=number(check.cells))
    names = ", ".join(check.silent_names)
    more = (
        t("completeness.more", n=number(check.silent - len(check.silent_names)))
        if check.silent > len(check.silent_names)
        else ""
    )
    return t(
        "completeness.missing",
        month=month(check.month),
        silent=number(check.silent),
        cells=number(check.cells),
        names=names,
        more=more,
    )


def _rank_key(child: UnitProgress) -> tuple[float, int, str]:
    share = child.targets[0].share if child.targets and child.targets[0].share is not None else -1.0
    return (-share, -child.totals.admissions, child.unit.name)


def _child_line(index: int, child: UnitProgress, threshold: float) -> str:
    if not child.targets:
        return t("progress.child_no_target", i=index, unit=child.unit.name, n=number(child.totals.admissions))
    first = child.targets[0]
    mark = t("target.lagging_mark") if first.is_lagging(threshold) else ""
    line = t(
        "progress.child",
        i=index,
        unit=child.unit.name,
        n=number(first.achieved),
        value=_target_value(first),
        reached=reached_text(first),
        mark=mark,
    ).rstrip()
    # Behind on another target: its own figure beside its own mark, never the first one's figure.
    for other in child.targets[1:]:
        if other.is_lagging(threshold):
            line += t(
                "progress.child_other",
                source=other.target.source or t("target.no_source"),
                n=number(other.achieved),
                value=_target_value(other),
                reached=reached_text(other),
                mark=t("target.lagging_mark"),
            ).rstrip()
    return line
