"""What /tiendo adds about the committee's own workflow: figures still provisional (not yet approved),
the reporting deadline and timeliness, the probation clock, and the forecast of each target."""

from datetime import date

from sqlmodel import Session

from handlers.formatting import day, month, number, percent
from handlers.i18n import t
from storage import forecast, probation, workflow
from storage.models import Account, Role, Unit
from storage.progress import UnitProgress


def provisional_line(session: Session, progress: UnitProgress) -> str | None:
    figures = workflow.provisional(session, progress.unit, progress.window_start, progress.as_of)
    if not figures.pending and not figures.returned:
        return None
    parts = []
    if figures.admissions:
        parts.append(
            t(
                "provisional.admissions",
                n=number(figures.admissions),
                total=number(progress.totals.admissions),
            )
        )
    if figures.completed:
        parts.append(t("provisional.completed", n=number(figures.completed)))
    if not parts:
        parts.append(t("provisional.nothing"))
    returned = t("provisional.returned", n=number(figures.returned)) if figures.returned else ""
    return t(
        "provisional.line",
        parts=", ".join(parts),
        reports=number(figures.pending + figures.returned),
        returned=returned,
    )


def own_review_lines(session: Session, unit: Unit, today: date) -> list[str]:
    """A secretary's own months still waiting, or returned with a note."""
    lines = []
    for period in workflow.own_pending(session, unit):
        if period.review == "returned":
            lines.append(t("provisional.own_returned", month=month(period.month), note=period.note or ""))
        else:
            lines.append(t("provisional.own_waiting", month=month(period.month)))
    return lines


def deadline_line(session: Session, unit: Unit, today: date) -> str | None:
    if unit.cells <= 1 and unit.is_leaf:
        return None
    shown = workflow.month_to_report(session, unit, today)
    row = workflow.timeliness(session, unit, [shown])[0]
    if today <= row.deadline:
        # Who has not reported yet is the completeness line's; this one adds the deadline.
        return t(
            "deadline.open",
            month=month(shown),
            deadline=day(row.deadline),
            reported=number(row.reported),
            cells=number(row.cells),
            late=t("deadline.late_part", n=number(row.late)) if row.late else "",
        )
    return t(
        "deadline.closed",
        month=month(shown),
        deadline=day(row.deadline),
        reported=number(row.reported),
        cells=number(row.cells),
        on_time=number(row.on_time),
        rate=percent(row.on_time_rate or 0),
    )


def probation_lines(session: Session, unit: Unit, today: date) -> list[str]:
    status = probation.status(session, unit, today)
    if not status.in_probation and not status.recognized_this_month:
        return []
    lines = [
        t(
            "probation.line",
            n=number(status.in_probation),
            month=month(today),
            due=number(status.due_this_month),
            waiting=number(status.ended_waiting),
        )
    ]
    if status.overdue:
        explain = (
            t("probation.explain_part", n=number(status.needs_explanation))
            if status.needs_explanation
            else ""
        )
        late = probation.overdue_units(session, unit, today, limit=5)
        names = ", ".join(f"{o.unit.name} ({number(o.overdue)})" for o in late)
        if len(late) == 5:
            more = probation.count_overdue_units(session, unit, today) - 5
            if more > 0:
                names += t("completeness.more", n=number(more))
        lines.append(t("probation.overdue", n=number(status.overdue), explain=explain, names=names))
    return lines


FORECAST_AFTER_DAYS = 30  # a target's first month shows what it needs each month, not a projection


def forecast_lines(session: Session, progress: UnitProgress, today: date) -> list[str]:
    lines = []
    for target in progress.targets:
        outlook = forecast.forecast(session, progress.unit.id or 0, target, today)
        if outlook is None or outlook.projected_share is None:
            continue
        source = target.target.source or t("target.no_source")
        if outlook.remaining == 0:
            lines.append(t("forecast.met", source=source))
            continue
        if (today - target.target.start_date).days < FORECAST_AFTER_DAYS:
            # A window that has just begun has no pace of its own yet: what it needs, not a "0 %".
            lines.append(
                t(
                    "forecast.just_started",
                    source=source,
                    end=day(target.target.end_date),
                    needed=number(outlook.needed_per_month),
                )
            )
            continue
        lines.append(
            t(
                "forecast.line",
                pace=number(round(outlook.pace))
                if outlook.pace >= 10
                else f"{outlook.pace:.1f}".replace(".", ","),
                share=percent(outlook.projected_share),
                source=source,
                end=day(target.target.end_date),
                needed=number(outlook.needed_per_month),
                remaining=number(outlook.remaining),
            )
        )
    if lines and progress.pool is not None and progress.targets:
        remaining = max((f.remaining for f in _outlooks(session, progress, today)), default=0)
        if remaining:
            key = "forecast.pool_enough" if progress.pool >= remaining else "forecast.pool_short"
            lines.append(t(key, pool=number(progress.pool), remaining=number(remaining)))
    return lines


def _outlooks(session: Session, progress: UnitProgress, today: date) -> list[forecast.Forecast]:
    found = (forecast.forecast(session, progress.unit.id or 0, tp, today) for tp in progress.targets)
    return [f for f in found if f is not None]


def progress_lines(
    session: Session, progress: UnitProgress, today: date, account: Account | None, *, period: bool
) -> list[str]:
    """The lines /tiendo shows above the list of sub-units."""
    lines = []
    provisional = provisional_line(session, progress)
    if provisional:
        lines.append(provisional)
    if account is not None and account.role == Role.secretary:
        lines += own_review_lines(session, progress.unit, today)
    if period:
        return lines
    deadline = deadline_line(session, progress.unit, today)
    if deadline:
        lines.append(deadline)
    lines += probation_lines(session, progress.unit, today)
    lines += forecast_lines(session, progress, today)
    return lines
