"""Daily messages of the committee's workflow, queued in the outbox (each once, by its key):

- before a month's deadline, to secretaries of cells that have not reported it yet;
- a month before their members' probation ends, to the cell (prepare the recognition);
- once a month, to staff, the recognitions overdue in their subtree (over 30 working days; over
  three months needs a written explanation).
"""

from datetime import date, timedelta

from sqlmodel import Session, col, select

from handlers.formatting import day, month, number
from handlers.i18n import t
from handlers.review import REACHABLE
from storage import probation, workflow
from storage.clock import month_end, month_start, next_month
from storage.models import Account, Role, SubtreeMonthRollup, Unit
from storage.outbox import NewMessage

MAX_NAMES = 8


def _accounts(session: Session) -> list[tuple[Account, Unit]]:
    return list(
        session.exec(
            select(Account, Unit)
            .join(Unit, col(Unit.id) == Account.unit_id)
            .where(
                col(Account.channel).in_(REACHABLE),
                col(Account.unreachable_at).is_(None),
                col(Unit.merged_into_id).is_(None),
            )
            .order_by(col(Account.id))
        ).all()
    )


def plan(session: Session, today: date) -> list[NewMessage]:
    messages: list[NewMessage] = []
    previous = month_start(month_start(today) - timedelta(days=1))
    upcoming = next_month(month_start(today))
    due_next = {unit.id: n for unit, n in probation.due_cells(session, upcoming, month_end(upcoming))}
    for account, unit in _accounts(session):
        if account.role == Role.secretary:
            setting = workflow.setting_for(session, unit)
            deadline = workflow.month_deadline(setting, previous)
            if deadline - timedelta(days=setting.remind_days) <= today <= deadline and not _reported(
                session, unit, previous
            ):
                messages.append(
                    NewMessage(
                        key=f"deadline:{previous:%Y-%m}:account:{account.id}",
                        kind="workflow",
                        account=account,
                        text=t(
                            "nudge.deadline", unit=unit.name, month=month(previous), deadline=day(deadline)
                        ),
                    )
                )
            if due_next.get(unit.id):
                messages.append(
                    NewMessage(
                        key=f"probation:{upcoming:%Y-%m}:account:{account.id}",
                        kind="workflow",
                        account=account,
                        text=t(
                            "nudge.probation",
                            unit=unit.name,
                            n=number(due_next[unit.id] or 0),
                            month=month(upcoming),
                        ),
                    )
                )
        else:
            scope = unit if account.role == Role.staff else _root(session, unit)
            late = probation.overdue_units(session, scope, today, limit=MAX_NAMES)
            if late:
                names = ", ".join(
                    f"{o.unit.name} ({number(o.overdue)}"
                    + (t("nudge.explain_part", n=number(o.needs_explanation)) if o.needs_explanation else "")
                    + ")"
                    for o in late
                )
                count = probation.count_overdue_units(session, scope, today)
                if count > len(late):
                    names += t("completeness.more", n=number(count - len(late)))
                messages.append(
                    NewMessage(
                        key=f"probation-overdue:{today:%Y-%m}:account:{account.id}",
                        kind="workflow",
                        account=account,
                        text=t(
                            "nudge.overdue",
                            n=number(probation.status(session, scope, today).overdue),
                            units=number(count),
                            names=names,
                        ),
                    )
                )
    return messages


def _reported(session: Session, unit: Unit, first: date) -> bool:
    reports = session.exec(
        select(SubtreeMonthRollup.reports).where(
            SubtreeMonthRollup.unit_id == unit.id, SubtreeMonthRollup.month == first
        )
    ).first()
    return bool(reports)


def _root(session: Session, unit: Unit) -> Unit:
    root_id = int(unit.path.strip("/").split("/")[0])
    root = session.get(Unit, root_id)
    assert root is not None
    return root
