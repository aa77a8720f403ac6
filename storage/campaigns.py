"""What a monthly campaign needs to know, in a few set-based queries (a nation has 100,000 cells)."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, cast, func, literal
from sqlmodel import Session, col, select

from storage.clock import month_start
from storage.errors import InvalidInput
from storage.models import Account, Metric, NudgeSetting, SubtreeMonthRollup, Target, Unit
from storage.outbox import NOT_MESSAGING

KINDS = ("nudge", "praise", "reminder", "summary")


@dataclass(frozen=True)
class TargetStatus:
    target: Target
    achieved: int


def _month_of(session: Session, column):
    """The first day of a date column's month, in this database's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("month", column), Date)
    return func.date(column, "start of month")


def active_targets(session: Session, as_of: date) -> list[TargetStatus]:
    """Every admissions target in force on `as_of`, with what its unit's subtree achieved so far."""
    start_month = _month_of(session, Target.start_date)
    achieved = (
        select(func.coalesce(func.sum(SubtreeMonthRollup.admissions), 0))
        .where(
            SubtreeMonthRollup.unit_id == Target.unit_id,
            SubtreeMonthRollup.month >= start_month,
            SubtreeMonthRollup.month <= literal(month_start(as_of)),
        )
        .scalar_subquery()
    )
    rows = session.exec(
        select(Target, achieved)
        .join(Unit, col(Unit.id) == Target.unit_id)
        .where(
            Target.metric == Metric.admissions.value,
            Target.start_date <= as_of,
            Target.end_date >= as_of,
            col(Unit.merged_into_id).is_(None),
        )
        .order_by(col(Target.unit_id), col(Target.end_date), col(Target.id))
    ).all()
    return [TargetStatus(target, int(value)) for target, value in rows]


def reported_units(session: Session, month: date) -> set[int]:
    """Units whose subtree sent at least one report (zero reports count) in the month."""
    rows = session.exec(
        select(SubtreeMonthRollup.unit_id).where(
            SubtreeMonthRollup.month == month_start(month), SubtreeMonthRollup.reports > 0
        )
    ).all()
    return set(rows)


def active_units(session: Session) -> list[Unit]:
    return list(
        session.exec(select(Unit).where(col(Unit.merged_into_id).is_(None)).order_by(Unit.path)).all()
    )


def accounts(session: Session) -> list[Account]:
    """Accounts on a channel the bot can write to (the demo's authors have none), not revoked."""
    return list(
        session.exec(
            select(Account)
            .where(col(Account.channel).not_in(NOT_MESSAGING), col(Account.revoked_at).is_(None))
            .order_by(col(Account.id))
        ).all()
    )


def disabled_kinds(session: Session) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for setting in session.exec(select(NudgeSetting)).all():
        out.setdefault(setting.unit_id, set()).add(setting.kind)
    return out


def set_kind(session: Session, unit: Unit, kind: str, *, enabled: bool, now: datetime) -> None:
    """Switch a kind of campaign message on or off for a unit and everything below it."""
    if kind not in KINDS:
        raise InvalidInput("storage.campaign.unknown_kind", kind=kind, kinds=", ".join(KINDS))
    existing = session.get(NudgeSetting, (unit.id, kind))
    if enabled and existing is not None:
        session.delete(existing)
    elif not enabled and existing is None:
        session.add(NudgeSetting(unit_id=unit.id or 0, kind=kind, created_at=now))
    session.flush()
