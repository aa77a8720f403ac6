"""Targets (chỉ tiêu): a value or a min–max range for a unit, a metric and a window."""

from datetime import date

from sqlmodel import Session, select

from storage.audit import record
from storage.clock import utcnow
from storage.errors import InvalidInput
from storage.models import Metric, Target, Unit

# Above any real target (the whole country has about 5.6 million members), and within the column.
MAX_TARGET = 10_000_000
MAX_SOURCE = 255  # the column's length


def set_target(
    session: Session,
    *,
    unit: Unit,
    metric: Metric,
    start: date,
    end: date,
    value: int,
    max_value: int | None = None,
    source: str = "",
) -> Target:
    """Add a target, or replace the one with the same unit, metric, window and source."""
    if end < start:
        raise InvalidInput("storage.target.end_before_start")
    if value < 0:
        raise InvalidInput("storage.target.negative")
    if max_value is not None and max_value < value:
        raise InvalidInput("storage.target.max_below_value", value=value, max_value=max_value)
    if max(value, max_value or 0) > MAX_TARGET:
        raise InvalidInput("storage.target.too_large", high=MAX_TARGET)
    if len(source) > MAX_SOURCE:
        raise InvalidInput("storage.target.source_too_long", length=len(source), high=MAX_SOURCE)
    target = session.exec(
        select(Target).where(
            Target.unit_id == unit.id,
            Target.metric == metric.value,
            Target.start_date == start,
            Target.end_date == end,
            Target.source == source,
        )
    ).first()
    now = utcnow()
    if target is None:
        assert unit.id is not None  # a stored unit
        target = Target(
            unit_id=unit.id,
            metric=metric.value,
            start_date=start,
            end_date=end,
            value=value,
            source=source,
            created_at=now,
        )
    target.value, target.max_value = value, max_value
    session.add(target)
    session.flush()
    record(
        session,
        "target.set",
        unit_id=unit.id,
        at=now,
        target_id=target.id,
        value=value,
        max_value=max_value,
        start=start,
        end=end,
        source=source,
    )
    return target


def targets_covering(session: Session, unit: Unit, metric: Metric, day: date) -> list[Target]:
    """Targets of this unit whose window contains `day`, longest window first."""
    rows = session.exec(
        select(Target).where(
            Target.unit_id == unit.id,
            Target.metric == metric.value,
            Target.start_date <= day,
            Target.end_date >= day,
        )
    ).all()
    return sorted(rows, key=lambda t: (t.start_date, -t.end_date.toordinal(), t.id or 0))
