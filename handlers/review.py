"""/duyet and /moky: staff of the level above approve or return a unit's month, or reopen a closed one.

Zalo has no buttons, so every choice is a numbered option (remembered in the dialogue state). The
secretary is told through the outbox (a message the bot sends on its own, once). The functions
`decide_and_notify` and `reopen_and_notify` take no chat context: the command line (and a web page)
call them too.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from handlers.drafts import shorten, stored_summary
from handlers.formatting import day, month, number
from handlers.i18n import refusal, t
from handlers.types import Option, Reply, small_int
from storage import outbox, units, workflow
from storage.clock import month_start
from storage.errors import StorageError
from storage.models import Account, Role, Unit, UnitPeriod

if TYPE_CHECKING:
    from handlers.conversation import Context

MAX_LISTED = 8
# Channels the bot can write to on its own (the demo's authors have none).
REACHABLE = ("telegram", "zalo", "terminal")
AWAITING_NOTE = "review_note"


def _encode(unit_id: int, when: date) -> str:
    return f"{unit_id}:{when:%Y%m}"


def _decode(ctx: "Context", rest: str) -> tuple[Unit, date] | None:
    unit_text, _, when = rest.partition(":")
    unit_id = small_int(unit_text)
    if unit_id is None or len(when) != 6 or not when.isdigit() or not 1 <= int(when[4:]) <= 12:
        return None
    unit = ctx.session.get(Unit, unit_id)
    if unit is None:
        return None
    return unit, date(int(when[:4]), int(when[4:]), 1)


def _reviewer(ctx: "Context") -> Unit | None:
    """The sender's scope when they may review (staff: their unit; admins: everything)."""
    assert ctx.account is not None
    if ctx.account.role == Role.admin:
        return None
    return ctx.unit()


def _may(ctx: "Context", unit: Unit) -> bool:
    assert ctx.account is not None
    scope = None if ctx.account.role == Role.admin else ctx.unit()
    return workflow.may_review(ctx.account, unit, scope)


def secretaries(session: Session, unit: Unit) -> list[Account]:
    return list(
        session.exec(
            select(Account)
            .where(
                Account.unit_id == unit.id,
                Account.role == Role.secretary.value,
                col(Account.channel).in_(REACHABLE),
                col(Account.unreachable_at).is_(None),
            )
            .order_by(col(Account.id))
        ).all()
    )


# --- the chat ---------------------------------------------------------------------------------


def _line(index: int, item: workflow.Waiting, session: Session) -> str:
    period = item.period
    parts = []
    if period.admissions:
        parts.append(t("review.part.admissions", n=number(period.admissions)))
    if period.completed:
        parts.append(t("review.part.completed", n=number(period.completed)))
    facts = ", ".join(parts) or t("review.part.zero")
    late = t("review.late") if period.late else ""
    return t(
        "review.item",
        i=index,
        unit=item.unit.name,
        month=month(period.month),
        facts=facts,
        reports=number(period.reports),
        late=late,
    )


def list_waiting(ctx: "Context") -> list[Reply]:
    """/duyet: the unit-months waiting below the sender's unit, numbered."""
    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return [Reply(t("review.staff_only"))]
    scope = _reviewer(ctx)
    items = workflow.waiting(ctx.session, scope, limit=MAX_LISTED)
    total = workflow.count_waiting(ctx.session, scope)
    ctx.reset()
    if not items:
        returned = workflow.waiting(ctx.session, scope, limit=MAX_LISTED, returned=True)
        text = t("review.none")
        if returned:
            text += "\n" + t(
                "review.returned_waiting",
                n=number(len(returned)),
                names=", ".join(f"{w.unit.name} ({month(w.period.month)})" for w in returned),
            )
        return [Reply(text)]
    lines = [t("review.header", n=number(total))]
    lines += [_line(i, item, ctx.session) for i, item in enumerate(items, start=1)]
    if total > len(items):
        lines.append(t("review.more", n=number(total - len(items))))
    lines.append(t("review.pick"))
    options = [
        Option(
            f"{item.unit.name}, {month(item.period.month)}",
            f"rv:{_encode(item.unit.id or 0, item.period.month)}",
        )
        for item in items
    ]
    options.append(Option(t("review.option.approve_all", n=number(len(items))), "rvall:"))
    ctx.state["review_list"] = [[item.unit.id, f"{item.period.month:%Y%m}"] for item in items]
    ctx.offer(tuple(options))
    return [Reply("\n".join(lines), tuple(options))]


def _detail(ctx: "Context", unit: Unit, when: date) -> list[Reply]:
    period = workflow.unit_period(ctx.session, unit, when)
    if period is None or period.reports <= 0:
        return [Reply(t("review.gone", unit=unit.name, month=month(when)))]
    lines = [
        t(
            "review.detail_header",
            unit=unit.name,
            month=month(when),
            deadline=day(period.deadline) if period.deadline else "—",
            status=t(f"review.status.{period.review}"),
        )
    ]
    for report in workflow.reports_of(ctx.session, unit, when):
        facts = [line.removeprefix("• ") for line in stored_summary(ctx.session, report).splitlines()]
        summary = "; ".join(facts) or shorten(report.raw_text, 80)
        late = t("review.late") if workflow.is_late(ctx.session, report, unit) else ""
        lines.append(
            t(
                "review.detail_line",
                code=report.receipt_code,
                when=day(workflow.local_day(report.created_at)),
                late=late,
                summary=summary,
            )
        )
    if period.note:
        lines.append(t("review.previous_note", note=period.note))
    key = _encode(unit.id or 0, when)
    options = (
        Option(t("review.option.approve"), f"rva:{key}"),
        Option(t("review.option.return"), f"rvr:{key}"),
        Option(t("review.option.list"), "rvlist:"),
    )
    ctx.offer(options)
    return [Reply("\n".join(lines), options)]


def on_choice(ctx: "Context", action: str, rest: str) -> list[Reply]:
    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return [Reply(t("review.staff_only"))]
    if action == "rvlist":
        return list_waiting(ctx)
    if action == "rvall":
        return _approve_listed(ctx)
    decoded = _decode(ctx, rest)
    if decoded is None:
        return [Reply(t("draft.gone"))]
    unit, when = decoded
    if not _may(ctx, unit):
        return [Reply(t("review.not_yours", unit=unit.name))]
    if action == "rv":
        return _detail(ctx, unit, when)
    if action == "rva":
        ctx.reset()
        return [Reply(_decide(ctx, unit, when, approve=True, note=None))]
    if action == "rvr":
        ctx.reset()
        ctx.state["awaiting"] = {"what": AWAITING_NOTE, "unit_id": unit.id, "month": f"{when:%Y%m}"}
        return [Reply(t("review.ask_note", unit=unit.name, month=month(when)))]
    return [Reply(t("draft.gone"))]


def on_note(ctx: "Context", text: str) -> list[Reply]:
    """The typed reason of a return."""
    awaiting = ctx.state.get("awaiting") or {}
    decoded = _decode(ctx, f"{awaiting.get('unit_id')}:{awaiting.get('month')}")
    ctx.reset()
    if decoded is None:
        return [Reply(t("draft.gone"))]
    unit, when = decoded
    if not _may(ctx, unit):
        return [Reply(t("review.not_yours", unit=unit.name))]
    return [Reply(_decide(ctx, unit, when, approve=False, note=text))]


def _approve_listed(ctx: "Context") -> list[Reply]:
    listed = ctx.state.pop("review_list", None) or []
    ctx.reset()
    done: list[str] = []
    for unit_id, when in listed:
        decoded = _decode(ctx, f"{unit_id}:{when}")
        if decoded is None or not _may(ctx, decoded[0]):
            continue
        unit, first = decoded
        period = workflow.unit_period(ctx.session, unit, first)
        if period is None or period.review != "received":
            continue  # decided meanwhile, or changed: left for a look
        decide_and_notify(
            ctx.session, unit, first, approve=True, note=None, reviewer=ctx.account, now=ctx.now
        )
        done.append(f"{unit.name} ({month(first)})")
    if not done:
        return [Reply(t("review.none"))]
    return [Reply(t("review.approved_all", n=number(len(done)), names=", ".join(done)))]


def _decide(ctx: "Context", unit: Unit, when: date, *, approve: bool, note: str | None) -> str:
    try:
        result = decide_and_notify(
            ctx.session, unit, when, approve=approve, note=note, reviewer=ctx.account, now=ctx.now
        )
    except StorageError as refused:
        return t("review.refused", reason=refusal(refused))
    key = "review.approved" if approve else "review.returned"
    text = t(key, unit=unit.name, month=month(when))
    text += "\n" + (
        t("review.told", n=number(result.told)) if result.told else t("review.nobody_told", unit=unit.name)
    )
    left = workflow.count_waiting(ctx.session, _reviewer(ctx))
    if left:
        text += "\n" + t("review.left", n=number(left))
    return text


# --- shared with the command line -------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    period: UnitPeriod
    told: int  # secretaries the message was queued for


def decide_and_notify(
    session: Session,
    unit: Unit,
    when: date,
    *,
    approve: bool,
    note: str | None,
    reviewer: Account | None,
    now: datetime,
) -> Decision:
    """Approve or return a unit's month and queue the word to its secretaries (outbox, sent once)."""
    period = workflow.decide(
        session,
        unit,
        when,
        approve=approve,
        note=note,
        account_id=reviewer.id if reviewer is not None else None,
        now=now,
    )
    by = session.get(Unit, reviewer.unit_id) if reviewer is not None else None
    by_name = by.name if by is not None else t("review.by_admin")
    if approve:
        text = t("review.notice.approved", unit=unit.name, month=month(period.month), by=by_name)
    else:
        text = t(
            "review.notice.returned", unit=unit.name, month=month(period.month), by=by_name, note=period.note
        )
    told = _notify(session, unit, f"review:{unit.id}:{period.month:%Y-%m}:{period.decisions}", text, now)
    return Decision(period, told)


def _notify(session: Session, unit: Unit, key: str, text: str, now: datetime) -> int:
    messages = [
        outbox.NewMessage(key=f"{key}:account:{account.id}", kind="workflow", account=account, text=text)
        for account in secretaries(session, unit)
    ]
    outbox.enqueue(session, messages, now=now)
    return len(messages)


def reopen_and_notify(
    session: Session, unit: Unit, when: date, *, days: int, by: Account | None, now: datetime
) -> tuple[datetime, int]:
    until = workflow.reopen(session, unit, when, days=days, account_id=by.id if by else None, now=now)
    text = t("reopen.notice", unit=unit.name, month=month(month_start(when)), until=day(until.date()))
    told = _notify(session, unit, f"reopen:{unit.id}:{when:%Y-%m}:{now:%Y%m%d%H%M%S}", text, now)
    return until, told


def reopen_command(ctx: "Context", args: str) -> list[Reply]:
    """/moky ĐƠN VỊ THÁNG: reopen a closed month for one unit of the sender's subtree."""
    from handlers.progress_view import split_query  # its module imports this one's neighbours
    from handlers.unit_match import match_units

    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return [Reply(t("review.staff_only"))]
    query = split_query(args, ctx.today)
    if not query.unit_text or query.period is None:
        return [Reply(t("reopen.usage"))]
    scope = _reviewer(ctx)
    candidates = units.subtree(ctx.session, scope) if scope is not None else units.all_units(ctx.session)
    found = [u for u in match_units(candidates, query.unit_text) if u.merged_into_id is None and _may(ctx, u)]
    if not found:
        return [Reply(t("reopen.not_found", query=query.unit_text))]
    if len(found) > 1:
        names = ", ".join(f"{u.name} ({u.code})" for u in found[:MAX_LISTED])
        return [Reply(t("reopen.which", names=names))]
    unit = found[0]
    when = month_start(query.period[1])
    setting = workflow.setting_for(ctx.session, unit)
    days = max(1, setting.grace_days or 7)
    until, told = reopen_and_notify(ctx.session, unit, when, days=days, by=ctx.account, now=ctx.now)
    text = t("reopen.done", unit=unit.name, month=month(when), until=day(until.date()))
    text += "\n" + (t("review.told", n=number(told)) if told else t("review.nobody_told", unit=unit.name))
    return [Reply(text)]
