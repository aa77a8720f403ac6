"""The /tiendo reply, in the register of official reports."""

from handlers.formatting import day, day_range, number, percent
from handlers.i18n import t
from storage.progress import TargetProgress, UnitProgress
from storage.rollups import Totals

SHARES = ("youth_union", "female", "religious", "ethnic_minority", "upper_secondary_or_above")
MAX_CHILDREN = 30


def _target_label(target: TargetProgress) -> str:
    source = target.target.source or t("target.no_source")
    return t(
        "target.label", source=source, window=day_range(target.target.start_date, target.target.end_date)
    )


def _target_value(target: TargetProgress) -> str:
    value, top = target.target.value, target.target.max_value
    return f"{number(value)}–{number(top)}" if top else number(value)


def _reached(target: TargetProgress) -> str:
    if target.share is None:
        return t("target.zero_target")
    reached = percent(target.share)
    if target.share_of_max is not None:
        reached = f"{reached}–{percent(target.share_of_max)}"
    return reached


def target_line(target: TargetProgress, threshold: float) -> str:
    expected = round(target.expected_now)
    gap = target.achieved - expected
    if gap >= 0:
        pace = t("target.ahead", expected=number(expected), gap=number(gap))
    else:
        pace = t("target.behind", expected=number(expected), gap=number(-gap))
    mark = t("target.lagging_mark") if target.is_lagging(threshold) else ""
    return t(
        "target.line",
        label=_target_label(target),
        achieved=number(target.achieved),
        value=_target_value(target),
        reached=_reached(target),
        pace=pace,
        mark=mark,
    ).rstrip()


def shares_line(totals: Totals) -> str | None:
    if totals.admissions == 0:
        return None
    parts = []
    partial = []
    for name in SHARES:
        known = getattr(totals, f"{name}_known")
        if known == 0:
            continue
        part = t(f"share.{name}", share=percent(getattr(totals, name) / known))
        if known < totals.admissions:
            part += t("share.coverage", known=number(known), total=number(totals.admissions))
            partial.append(name)
        parts.append(part)
    if not parts:
        return t("share.none")
    return t("share.line", parts="; ".join(parts))


def render(progress: UnitProgress, threshold: float = 1.0) -> str:
    unit = progress.unit
    totals = progress.totals
    lines = [t("progress.title", unit=unit.name)]
    since = t("progress.since", start=day(progress.window_start)) if progress.window_start else ""
    headline = t(
        "progress.headline",
        as_of=day(progress.as_of),
        unit=unit.name,
        n=number(totals.admissions),
        since=since,
    )
    reach = [
        t("progress.headline_reach", reached=_reached(tp), source=tp.target.source or t("target.no_source"))
        for tp in progress.targets
        if tp.target.start_date == progress.window_start and tp.target.max_value is None
    ]
    lines.append(headline + (", " + ", ".join(reach) if reach else "") + ".")
    if progress.targets:
        lines.append(t("progress.targets_header"))
        lines.extend("• " + target_line(tp, threshold) for tp in progress.targets)
    else:
        lines.append(t("progress.no_target"))
    shares = shares_line(totals)
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
    for tp in progress.class_targets:
        lines.append("• " + target_line(tp, threshold))
    if progress.pool is not None:
        lines.append(t("progress.pool", n=number(progress.pool)))
    if progress.members_total is not None:
        lines.append(
            t(
                "progress.members",
                n=number(progress.members_total.value),
                as_of=day(progress.members_total.as_of),
            )
        )
    if progress.children:
        lines.append("")
        lines.append(t("progress.children_header"))
        ranked = sorted(progress.children, key=_rank_key)
        for index, child in enumerate(ranked[:MAX_CHILDREN], start=1):
            lines.append(_child_line(index, child, threshold))
        if len(ranked) > MAX_CHILDREN:
            lines.append(t("progress.children_more", n=number(len(ranked) - MAX_CHILDREN)))
    return "\n".join(lines)


def _rank_key(child: UnitProgress) -> tuple[float, int, str]:
    share = child.targets[0].share if child.targets and child.targets[0].share is not None else -1.0
    return (-share, -child.totals.admissions, child.unit.name)


def _child_line(index: int, child: UnitProgress, threshold: float) -> str:
    if not child.targets:
        return t("progress.child_no_target", i=index, unit=child.unit.name, n=number(child.totals.admissions))
    first = child.targets[0]
    n = number(first.achieved)
    mark = t("target.lagging_mark") if child.is_lagging(threshold) else ""
    return t(
        "progress.child",
        i=index,
        unit=child.unit.name,
        n=n,
        value=_target_value(first),
        reached=_reached(first),
        mark=mark,
    ).rstrip()
