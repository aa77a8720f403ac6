"""Progress of a unit's subtree against its targets, from the rollups (never from raw reports)."""

import math
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from storage import extra_breakdowns
from storage.clock import month_start, next_month
from storage.extra_breakdowns import BreakdownFigure
from storage.models import FigureKind, Metric, SubtreeMonthRollup, Target, Unit, UnitFigure
from storage.rollups import Totals, sum_totals
from storage.targets import targets_covering
from storage.tree_history import children_at, sum_totals_at


@dataclass(frozen=True)
class TargetProgress:
    target: Target
    achieved: int
    elapsed_days: int
    total_days: int

    @property
    def expected_now(self) -> float:
        """Pro-rata: the (lower) target times the elapsed share of its window."""
        return self.target.value * self.elapsed_days / self.total_days

    @property
    def share(self) -> float | None:
        return self.achieved / self.target.value if self.target.value else None

    @property
    def share_of_max(self) -> float | None:
        top = self.target.max_value
        return self.achieved / top if top else None

    @property
    def started(self) -> bool:
        return self.elapsed_days > 0

    @property
    def ended(self) -> bool:
        return self.elapsed_days >= self.total_days

    @property
    def expected_whole(self) -> int:
        """What the pro-rata asks for by now, in whole members (the lagging test's floor)."""
        return math.floor(self.expected_now)

    @property
    def met(self) -> bool:
        return self.achieved >= self.target.value

    def is_lagging(self, threshold: float = 1.0) -> bool:
        # Members are whole people: a unit is not behind by a fraction of one.
        return self.achieved < math.floor(self.expected_now * threshold)


@dataclass(frozen=True)
class Figure:
    """An entered figure for a subtree: one unit's own, or the sum over the units below it."""

    value: int
    as_of: date
    units: int  # how many units' figures were added up
    own: bool  # the unit's own figure, not a sum from below


@dataclass
class UnitProgress:
    unit: Unit
    as_of: date  # the last day counted
    window_start: date | None  # None: since the first report
    totals: Totals
    targets: list[TargetProgress]
    class_targets: list[TargetProgress]
    pool: int | None
    members_total: Figure | None
    children: list["UnitProgress"] = field(default_factory=list)
    period_requested: bool = False
    # the breakdowns the unit's tree adds to the five, over the same window as `totals`
    breakdowns: list[BreakdownFigure] = field(default_factory=list)

    def is_lagging(self, threshold: float = 1.0) -> bool:
        return any(t.is_lagging(threshold) for t in self.targets)


def _months(start: date | None, end: date) -> tuple[date | None, date]:
    return (month_start(start) if start else None), month_start(end)


def _target_progress(
    session: Session, unit: Unit, target: Target, end: date, metric: Metric
) -> TargetProgress:
    """A target's figures counted from its start to `end` (or its own end, if earlier)."""
    last = min(end, target.end_date)
    # The subtree as it was on the last day counted (a unit merged away later still counts there).
    totals = sum_totals_at(session, [unit.id or 0], *_months(target.start_date, last), last)[unit.id or 0]
    return progress_of(target, totals.admissions if metric is Metric.admissions else totals.completed, end)


def progress_of(target: Target, achieved: int, end: date) -> TargetProgress:
    """A target's progress counted up to `end` (or its own end, if earlier)."""
    last = min(end, target.end_date)
    return TargetProgress(
        target=target,
        achieved=achieved,
        elapsed_days=max(0, (last - target.start_date).days + 1),
        total_days=(target.end_date - target.start_date).days + 1,
    )


def _targets_of_units(
    session: Session, unit_ids: list[int], metric: Metric, as_of: date, period: tuple[date, date] | None
) -> dict[int, list[Target]]:
    """The targets `_targets` would give for each unit, in one query."""
    if not unit_ids:
        return {}
    query = select(Target).where(col(Target.unit_id).in_(unit_ids), Target.metric == metric.value)
    if period is None:
        query = query.where(Target.start_date <= as_of, Target.end_date >= as_of)
    else:
        query = query.where(Target.start_date >= period[0], Target.end_date <= period[1])
    out: dict[int, list[Target]] = {}
    for target in session.exec(query).all():
        out.setdefault(target.unit_id, []).append(target)
    for group in out.values():
        group.sort(key=lambda t: (t.start_date, -t.end_date.toordinal(), t.id or 0))
    return out


def targets_within(session: Session, unit: Unit, metric: Metric, start: date, end: date) -> list[Target]:
    """Targets whose whole window lies in [start, end]: the ones a view of that period compares with."""
    rows = session.exec(
        select(Target).where(
            Target.unit_id == unit.id,
            Target.metric == metric.value,
            Target.start_date >= start,
            Target.end_date <= end,
        )
    ).all()
    return sorted(rows, key=lambda t: (t.start_date, -t.end_date.toordinal(), t.id or 0))


def _targets(
    session: Session, unit: Unit, metric: Metric, as_of: date, period: tuple[date, date] | None
) -> list[Target]:
    if period is None:
        return targets_covering(session, unit, metric, as_of)
    # One period throughout: a term target is not compared with one year's admissions.
    return targets_within(session, unit, metric, *period)


def subtree_figure(session: Session, unit: Unit, kind: FigureKind, as_of: date) -> Figure | None:
    """The unit's latest entered figure; without one, the sum of the nearest figures below it."""
    rows = session.exec(
        select(col(Unit.path), col(UnitFigure.value), col(UnitFigure.as_of))
        .join(Unit, col(Unit.id) == UnitFigure.unit_id)
        .where(col(Unit.path).startswith(unit.path), UnitFigure.kind == kind.value, UnitFigure.as_of <= as_of)
        .order_by(col(UnitFigure.as_of), col(UnitFigure.id))
    ).all()
    latest: dict[str, tuple[int, date]] = {}
    for path, value, when in rows:  # ordered: the last one per unit wins
        latest[path] = (value, when)
    if not latest:
        return None
    if unit.path in latest:
        value, when = latest[unit.path]
        return Figure(value, when, 1, own=True)
    # The highest units that have a figure; a figure further down is already inside theirs.
    tops = [p for p in latest if not any(p != q and p.startswith(q) for q in latest)]
    return Figure(sum(latest[p][0] for p in tops), max(latest[p][1] for p in tops), len(tops), own=False)


def candidate_pool(session: Session, unit: Unit, as_of: date) -> int | None:
    """Trained and not yet admitted: the opening pool, plus completions, minus admissions since."""
    opening = session.exec(
        select(UnitFigure)
        .where(
            UnitFigure.unit_id == unit.id,
            UnitFigure.kind == FigureKind.candidate_pool.value,
            UnitFigure.as_of <= as_of,
        )
        .order_by(col(UnitFigure.as_of).desc(), col(UnitFigure.id).desc())
    ).first()
    if opening is None:
        return None
    since = sum_totals(session, unit.id or 0, next_month(month_start(opening.as_of)), month_start(as_of))
    return opening.value + since.completed - since.admissions


def unit_progress(
    session: Session,
    unit: Unit,
    as_of: date,
    *,
    period: tuple[date, date] | None = None,
    with_children: bool = True,
) -> UnitProgress:
    """Figures for a unit's subtree.

    Without a period: as of `as_of`, with the targets in force that day; totals, shares and classes
    from the start of the earliest of them (or from the first report). With a period: the totals
    of that period (cut at `as_of`), for the unit and every child alike, and only the targets whose
    whole window lies in the period (a yearly plan in "năm 2023", not the term target: its figure
    would be the term's, not the year's), each counted from its own start.
    """
    if period is not None:
        end = min(period[1], as_of)
        window_start: date | None = period[0]
    else:
        end, window_start = as_of, None
    admission_targets = _targets(session, unit, Metric.admissions, end, period)
    class_targets = _targets(session, unit, Metric.class_completions, end, period)
    if window_start is None and admission_targets:
        window_start = min(t.start_date for t in admission_targets)
    totals = sum_totals_at(session, [unit.id or 0], *_months(window_start, end), end)[unit.id or 0]
    progress = UnitProgress(
        unit=unit,
        as_of=end,
        window_start=window_start,
        totals=totals,
        targets=[_target_progress(session, unit, t, end, Metric.admissions) for t in admission_targets],
        class_targets=[
            _target_progress(session, unit, t, end, Metric.class_completions) for t in class_targets
        ],
        pool=candidate_pool(session, unit, end),
        members_total=subtree_figure(session, unit, FigureKind.members_total, end),
        period_requested=period is not None,
    )
    # The sub-units of that day: after a reorganisation, a view of 2023 lists the units of 2023.
    kids = children_at(session, unit, end) if with_children else []
    kid_ids = [k.id or 0 for k in kids]
    # The breakdowns the tree adds: one query for the unit and its sub-units, none without them.
    added = extra_breakdowns.definitions_for(session, unit)
    sums = (
        extra_breakdowns.sums_at(session, [unit.id or 0, *kid_ids], *_months(window_start, end), end)
        if added
        else {}
    )
    progress.breakdowns = extra_breakdowns.figures(added, sums.get(unit.id or 0, {}))
    if with_children:
        window_months = _months(window_start, end)
        kid_totals = sum_totals_at(session, kid_ids, *window_months, end)
        kid_targets = _targets_of_units(session, kid_ids, Metric.admissions, end, period)
        # One query per distinct target window, for all the children sharing it (usually one).
        achieved: dict[int, int] = {}
        by_window: dict[tuple[date, date], list[Target]] = {}
        for target in (t for group in kid_targets.values() for t in group):
            by_window.setdefault((target.start_date, min(end, target.end_date)), []).append(target)
        for (first, last), group in by_window.items():
            months = _months(first, last)
            window_totals = (
                kid_totals
                if months == window_months
                else sum_totals_at(session, sorted({t.unit_id for t in group}), *months, last)
            )
            for target in group:
                achieved[target.id or 0] = window_totals.get(target.unit_id, Totals()).admissions
        for kid in kids:
            progress.children.append(
                UnitProgress(
                    unit=kid,
                    as_of=end,
                    window_start=window_start,
                    totals=kid_totals.get(kid.id or 0, Totals()),
                    targets=[
                        progress_of(t, achieved[t.id or 0], end) for t in kid_targets.get(kid.id or 0, [])
                    ],
                    class_targets=[],
                    pool=None,
                    members_total=None,
                    period_requested=period is not None,
                    # the columns of the unit viewed, whatever a sub-unit adds of its own
                    breakdowns=extra_breakdowns.figures(added, sums.get(kid.id or 0, {})),
                )
            )
    return progress


@dataclass(frozen=True)
class Completeness:
    month: date
    cells: int  # units without sub-units (those that report), merged ones left out
    silent: int
    silent_names: list[str]  # the first few, by name


def completeness(session: Session, unit: Unit, month: date, *, names: int = 5) -> Completeness:
    """Which reporting units of the subtree sent no report at all (not even a zero report) for a month.

    The cells of each subtree are counted in `Unit.cells` and those that reported in the rollups, so
    the figures are two rows; the few silent ones named are found by walking down the tree.
    """
    first = month_start(month)
    cells = unit.cells
    reported = sum_totals(session, unit.id or 0, first, first).cells_reported
    silent = max(0, cells - reported)
    shown = _silent_cells(session, unit, first, names) if silent else []
    return Completeness(month=first, cells=cells, silent=silent, silent_names=sorted(shown))


def _silent_cells(session: Session, unit: Unit, month: date, limit: int) -> list[str]:
    """Up to `limit` cells of the subtree without a report in `month`, by name.

    Down the tree, one query per unit visited: only into children whose cells outnumber their cells
    that reported. An anti-join over every cell instead read all of a month's rollup rows at the
    national root (a third of a second) to find a handful of names.
    """
    if unit.is_leaf:
        return [unit.name] if unit.merged_into_id is None else []
    rollup = and_(col(SubtreeMonthRollup.unit_id) == col(Unit.id), col(SubtreeMonthRollup.month) == month)
    found: list[str] = []
    stack = [unit.id or 0]  # depth first: a few names come from one branch, in few queries
    while stack and len(found) < limit:
        rows = session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel types select for up to 4 columns
                Unit.id, Unit.name, Unit.is_leaf, Unit.cells, SubtreeMonthRollup.reports,
                SubtreeMonthRollup.cells_reported,
            )
            .outerjoin(SubtreeMonthRollup, rollup)
            .where(Unit.parent_id == stack.pop(), col(Unit.merged_into_id).is_(None), Unit.cells > 0)
            .order_by(col(Unit.name), col(Unit.id))
        ).all()  # fmt: skip
        deeper: list[int] = []
        for uid, name, is_leaf, cells, reports, cells_reported in rows:
            if is_leaf:
                if not reports and len(found) < limit:
                    found.append(name)
            elif cells > (cells_reported or 0):
                deeper.append(uid)
        stack.extend(reversed(deeper))  # the first child by name is visited next
    return found


@dataclass(frozen=True)
class EmulationEntry:
    unit: Unit
    target: TargetProgress


def emulation(session: Session, unit: Unit, year: int, as_of: date) -> list[EmulationEntry]:
    """Units below `unit` with an admissions plan for the year, and whether they met it (thi đua)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    end = min(last, as_of)
    rows = session.exec(
        select(Unit, Target)
        .join(Target, col(Target.unit_id) == Unit.id)
        .where(
            col(Unit.path).startswith(unit.path),
            Unit.id != unit.id,
            # units of that year: merged away after it (2025) still answer for their plan of 2023
            or_(col(Unit.merged_into_id).is_(None), col(Unit.merged_on) > end),
            or_(col(Unit.valid_from).is_(None), col(Unit.valid_from) <= end),
            Target.metric == Metric.admissions.value,
            Target.start_date >= first,
            Target.end_date <= last,
        )
        .order_by(col(Unit.path), col(Target.end_date).desc(), col(Target.id))
    ).all()
    entries: dict[int, EmulationEntry] = {}
    for member, target in rows:
        if member.id not in entries:  # one plan per unit: the one that ends latest in the year
            entries[member.id or 0] = EmulationEntry(
                member, _target_progress(session, member, target, end, Metric.admissions)
            )
    return sorted(entries.values(), key=lambda e: (not e.target.met, -(e.target.share or 0), e.unit.name))
