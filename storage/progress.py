"""Progress of a unit's subtree against its targets, from the rollups (never from raw reports)."""

import math
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from storage.clock import month_start, next_month
from storage.models import FigureKind, Metric, Target, Unit, UnitFigure
from storage.rollups import Totals, sum_totals, sum_totals_by_unit
from storage.targets import targets_covering
from storage.units import children


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

    def is_lagging(self, threshold: float = 1.0) -> bool:
        # Members are whole people: a unit is not behind by a fraction of one.
        return self.achieved < math.floor(self.expected_now * threshold)


@dataclass
class UnitProgress:
    unit: Unit
    as_of: date
    window_start: date | None  # None: since the first report
    totals: Totals
    targets: list[TargetProgress]
    class_targets: list[TargetProgress]
    pool: int | None
    members_total: UnitFigure | None
    children: list["UnitProgress"] = field(default_factory=list)

    def is_lagging(self, threshold: float = 1.0) -> bool:
        return any(t.is_lagging(threshold) for t in self.targets)


def _window_months(start: date | None, end: date) -> tuple[date | None, date]:
    return (month_start(start) if start else None), month_start(end)


def _target_progress(
    session: Session, unit: Unit, target: Target, as_of: date, metric: Metric
) -> TargetProgress:
    last = min(as_of, target.end_date)
    totals = sum_totals(session, unit.id or 0, *_window_months(target.start_date, last))
    achieved = totals.admissions if metric is Metric.admissions else totals.completed
    return TargetProgress(
        target=target,
        achieved=achieved,
        elapsed_days=(last - target.start_date).days + 1,
        total_days=(target.end_date - target.start_date).days + 1,
    )


def latest_figure(session: Session, unit: Unit, kind: FigureKind, as_of: date) -> UnitFigure | None:
    return session.exec(
        select(UnitFigure)
        .where(UnitFigure.unit_id == unit.id, UnitFigure.kind == kind.value, UnitFigure.as_of <= as_of)
        .order_by(col(UnitFigure.as_of).desc(), col(UnitFigure.id).desc())
    ).first()


def candidate_pool(session: Session, unit: Unit, as_of: date) -> int | None:
    """Trained and not yet admitted: the opening pool, plus completions, minus admissions since."""
    opening = latest_figure(session, unit, FigureKind.candidate_pool, as_of)
    if opening is None:
        return None
    since = sum_totals(session, unit.id or 0, next_month(month_start(opening.as_of)), month_start(as_of))
    return opening.value + since.completed - since.admissions


def unit_progress(
    session: Session, unit: Unit, as_of: date, *, window_start: date | None = None, with_children: bool = True
) -> UnitProgress:
    """Figures for a unit's subtree as of a day.

    The window for totals, shares and classes starts at `window_start`, or else at the start of the
    earliest admissions target in force, or else at the first report.
    """
    admission_targets = targets_covering(session, unit, Metric.admissions, as_of)
    class_targets = targets_covering(session, unit, Metric.class_completions, as_of)
    if window_start is None and admission_targets:
        window_start = min(t.start_date for t in admission_targets)
    totals = sum_totals(session, unit.id or 0, *_window_months(window_start, as_of))
    progress = UnitProgress(
        unit=unit,
        as_of=as_of,
        window_start=window_start,
        totals=totals,
        targets=[_target_progress(session, unit, t, as_of, Metric.admissions) for t in admission_targets],
        class_targets=[
            _target_progress(session, unit, t, as_of, Metric.class_completions) for t in class_targets
        ],
        pool=candidate_pool(session, unit, as_of),
        members_total=latest_figure(session, unit, FigureKind.members_total, as_of),
    )
    if with_children:
        kids = children(session, unit)
        kid_totals = sum_totals_by_unit(
            session, [k.id or 0 for k in kids], *_window_months(window_start, as_of)
        )
        for kid in kids:
            kid_targets = targets_covering(session, kid, Metric.admissions, as_of)
            progress.children.append(
                UnitProgress(
                    unit=kid,
                    as_of=as_of,
                    window_start=window_start,
                    totals=kid_totals.get(kid.id or 0, Totals()),
                    targets=[
                        _target_progress(session, kid, t, as_of, Metric.admissions) for t in kid_targets
                    ],
                    class_targets=[],
                    pool=None,
                    members_total=None,
                )
            )
    return progress
