"""The conversation, channel-neutral: handle(Incoming, Services) -> replies.

One message is one database transaction: the delivery claim, the dialogue state and any report
commit together, so a crash or a redelivery never half-applies a message.
"""

import logging
import uuid
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from handlers import progress_text
from handlers.formatting import day, month, number
from handlers.i18n import t
from handlers.parser import AdmissionFacts, ClassAttendanceFacts, ParseResult, parse_message
from handlers.text import fold
from handlers.types import Incoming, Kind, Option, Reply, Services
from storage import accounts, conversations, reports, units
from storage.clock import month_end, month_start
from storage.errors import StorageError
from storage.models import Account, Role, Unit
from storage.progress import unit_progress

log = logging.getLogger(__name__)

MAX_TEXT = 2000


@dataclass
class Context:
    incoming: Incoming
    services: Services
    session: Session
    account: Account | None
    state: dict[str, Any]
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.services.now()

    @property
    def today(self) -> date:
        return self.now.date()


def handle(incoming: Incoming, services: Services) -> list[Reply]:
    """Answer one incoming message. Every input gets at least one reply, except a redelivery."""
    with services.session() as session:
        if incoming.delivery_id and not conversations.claim_delivery(
            session, incoming.channel, incoming.delivery_id
        ):
            log.info("duplicate delivery %s:%s ignored", incoming.channel, incoming.delivery_id)
            return []
        ctx = Context(
            incoming=incoming,
            services=services,
            session=session,
            account=accounts.find_account(session, incoming.channel, incoming.user_id),
            state=conversations.load_state(session, incoming.channel, incoming.chat_id),
        )
        replies = _dispatch(ctx)
        conversations.save_state(session, incoming.channel, incoming.chat_id, ctx.state)
        return replies


def _dispatch(ctx: Context) -> list[Reply]:
    incoming = ctx.incoming
    if incoming.kind not in (Kind.text, Kind.choice):
        return [Reply(t(f"unsupported.{incoming.kind.value}"))]
    text = incoming.text.strip()
    if len(text) > MAX_TEXT:
        return [Reply(t("message.too_long", limit=number(MAX_TEXT)))]

    expired = _expire_draft(ctx)
    choice = incoming.choice if incoming.kind is Kind.choice else _typed_choice(ctx, text)
    if choice is not None:
        return expired + _on_choice(ctx, choice)

    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        command = command.split("@", 1)[0].lower()
        return expired + _on_command(ctx, command, args.strip())
    return expired + _on_text(ctx, text)


# --- commands ---------------------------------------------------------------------------------


def _on_command(ctx: Context, command: str, args: str) -> list[Reply]:
    if command == "start":
        if ctx.account is None:
            return [Reply(t("start.unregistered"))]
        return [Reply(t("start.registered", unit=_unit(ctx).name, role=t(f"role.{ctx.account.role}")))]
    if command in ("help", "huongdan", "trogiup"):
        return [Reply(_help(ctx))]
    if command == "dangky":
        return _register(ctx, args)
    if ctx.account is None:
        return [Reply(t("register.needed"))]
    if command == "tiendo":
        return _progress(ctx, args)
    if command == "huy":
        if ctx.state.pop("draft", None) is None:
            return [Reply(t("cancel.nothing"))]
        ctx.state.pop("options", None)
        return [Reply(t("draft.cancelled"))]
    if command == "baocao":
        return _recent_reports(ctx)
    return [Reply(t("command.unknown", command=command) + "\n\n" + _help(ctx))]


def _register(ctx: Context, code: str) -> list[Reply]:
    if not code:
        return [Reply(t("register.usage"))]
    incoming = ctx.incoming
    try:
        account = accounts.redeem_invite(
            ctx.session,
            code=code,
            channel=incoming.channel,
            channel_user_id=incoming.user_id,
            chat_id=incoming.chat_id,
            display_name=incoming.display_name,
            now=ctx.now,
        )
    except StorageError as refused:
        return [Reply(t("register.refused", reason=str(refused)))]
    ctx.account = account
    unit = _unit(ctx)
    key = "register.done.secretary" if account.role == Role.secretary else "register.done.staff"
    return [Reply(t(key, unit=unit.name, level=unit.level, role=t(f"role.{account.role}")))]


def _progress(ctx: Context, args: str) -> list[Reply]:
    own = _unit(ctx)
    assert ctx.account is not None
    unit = own
    if args:
        found = _find_unit(ctx.session, own if ctx.account.role != Role.admin else None, args)
        if found is None:
            if ctx.account.role == Role.secretary:
                return [Reply(t("progress.secretary_own_only", unit=own.name))]
            return [Reply(t("progress.unit_not_found", query=args, scope=own.name))]
        if ctx.account.role == Role.secretary and found.id != own.id:
            return [Reply(t("progress.secretary_own_only", unit=own.name))]
        unit = found
    figures = unit_progress(ctx.session, unit, ctx.today)
    return [Reply(progress_text.render(figures, ctx.services.lagging_threshold))]


def _find_unit(session: Session, scope: Unit | None, query: str) -> Unit | None:
    """A unit by code, or by name without diacritics, within `scope` (None: everywhere)."""
    candidates = units.subtree(session, scope) if scope else units.all_units(session)
    wanted = fold(query)
    for unit in candidates:
        if unit.code.lower() == query.strip().lower():
            return unit
    exact = [u for u in candidates if fold(u.name) == wanted]
    if exact:
        return exact[0]
    partial = [u for u in candidates if wanted and wanted in fold(u.name)]
    # The shortest name that contains the query: "kien khe" finds "Đảng bộ thị trấn Kiện Khê".
    return min(partial, key=lambda u: (len(u.name), u.path)) if partial else None


def _recent_reports(ctx: Context) -> list[Reply]:
    assert ctx.account is not None and ctx.account.id is not None
    rows = reports.recent_reports(ctx.session, account_id=ctx.account.id)
    if not rows:
        return [Reply(t("reports.none"))]
    lines = [t("reports.header")]
    for report in rows:
        status = t(f"report.status.{report.status}")
        lines.append(
            t(
                "reports.line",
                code=report.receipt_code,
                period=_period_label(report.period_start, report.period_end),
                status=status,
                text=_shorten(report.raw_text, 60),
            )
        )
    return [Reply("\n".join(lines))]


# --- free text and drafts ---------------------------------------------------------------------


def _on_text(ctx: Context, text: str) -> list[Reply]:
    if ctx.account is None:
        return [Reply(t("register.needed"))]
    parsed = parse_message(text, ctx.today)
    if parsed.intent == "progress":
        return _progress(ctx, "")
    if parsed.intent == "help":
        return [Reply(_help(ctx))]
    if parsed.intent != "report" or (parsed.admission is None and parsed.class_attendance is None):
        return [Reply(t("text.not_understood") + "\n\n" + _help(ctx))]
    if ctx.account.role != Role.secretary:
        return [Reply(t("report.secretaries_only"))]
    if parsed.ambiguous:
        return [Reply("\n".join(parsed.questions) or t("text.not_understood"))]
    return _new_draft(ctx, text, parsed)


def _new_draft(ctx: Context, text: str, parsed: ParseResult) -> list[Reply]:
    if parsed.period is not None:
        start, end = parsed.period.start, parsed.period.end
    else:
        start, end = month_start(ctx.today), month_end(ctx.today)
    if start > ctx.today:
        return [Reply(t("draft.future_period", period=_period_label(start, end)))]
    draft: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "text": text,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "admission": _facts_dict(parsed.admission),
        "attendance": _facts_dict(parsed.class_attendance),
        "at": ctx.now.isoformat(),
    }
    ctx.state["draft"] = draft
    return [_draft_summary(ctx, draft)]


def _facts_dict(facts: AdmissionFacts | ClassAttendanceFacts | None) -> dict[str, int | None] | None:
    return None if facts is None else asdict(facts)


def _draft_summary(ctx: Context, draft: dict[str, Any]) -> Reply:
    unit = _unit(ctx)
    lines = [
        t(
            "draft.header",
            unit=unit.name,
            period=_period_label(date.fromisoformat(draft["start"]), date.fromisoformat(draft["end"])),
        )
    ]
    admission = draft.get("admission")
    if admission is not None:
        if admission["count"] == 0:
            lines.append(t("draft.admission_zero"))
        else:
            details = [
                t(f"breakdown.{name}", n=number(admission[name]))
                for name in reports.BREAKDOWNS
                if admission.get(name) is not None
            ]
            line = t("draft.admission", n=number(admission["count"]))
            lines.append(line + (": " + ", ".join(details) if details else ""))
    attendance = draft.get("attendance")
    if attendance is not None:
        if attendance.get("sent") is not None:
            lines.append(t("draft.sent", n=number(attendance["sent"])))
        if attendance.get("completed") is not None:
            lines.append(t("draft.completed", n=number(attendance["completed"])))
    lines.append(t("draft.ask_confirm"))
    draft_id = draft["id"]
    options = (
        Option(t("option.confirm"), f"confirm:{draft_id}"),
        Option(t("option.edit"), f"edit:{draft_id}"),
        Option(t("option.cancel"), f"cancel:{draft_id}"),
    )
    ctx.state["options"] = [[o.label, o.data] for o in options]
    return Reply("\n".join(lines), options)


def _typed_choice(ctx: Context, text: str) -> str | None:
    """On channels without buttons a reply "1" or "xác nhận" picks one of the offered options."""
    offered = ctx.state.get("options") or []
    if not offered or not text:
        return None
    wanted = fold(text).strip(" .")
    for index, (label, data) in enumerate(offered, start=1):
        if wanted in (str(index), fold(label)):
            return str(data)
    return None


def _on_choice(ctx: Context, choice: str) -> list[Reply]:
    action, _, draft_id = choice.partition(":")
    draft = ctx.state.get("draft")
    current = draft is not None and draft.get("id") == draft_id
    if action == "confirm":
        if ctx.account is None:
            return [Reply(t("register.needed"))]
        if not current:
            stored = reports.find_by_idempotency_key(ctx.session, _draft_key(draft_id))
            if stored is not None:
                return [Reply(t("confirm.already", code=stored.receipt_code))]
            return [Reply(t("draft.gone"))]
        return _confirm(ctx, draft)
    if not current:
        return [Reply(t("draft.gone"))]
    ctx.state.pop("options", None)
    if action == "cancel":
        ctx.state.pop("draft", None)
        return [Reply(t("draft.cancelled"))]
    if action == "edit":
        ctx.state.pop("draft", None)
        return [Reply(t("draft.edit", text=draft["text"]))]
    return [Reply(t("draft.gone"))]


def _draft_key(draft_id: str) -> str:
    return f"draft:{draft_id}"


def _confirm(ctx: Context, draft: dict[str, Any]) -> list[Reply]:
    assert ctx.account is not None
    admission = draft.get("admission")
    attendance = draft.get("attendance")
    data = reports.ReportInput(
        unit=_unit(ctx),
        channel=ctx.incoming.channel,
        raw_text=draft["text"],
        period_start=date.fromisoformat(draft["start"]),
        period_end=date.fromisoformat(draft["end"]),
        account_id=ctx.account.id,
        admission=reports.AdmissionInput(**admission) if admission is not None else None,
        attendance=reports.AttendanceInput(**attendance) if attendance is not None else None,
        idempotency_key=_draft_key(draft["id"]),
    )
    try:
        report, created = reports.confirm_report(ctx.session, data, now=ctx.now)
    except StorageError as refused:
        return [Reply(t("confirm.refused", reason=str(refused)))]
    ctx.state.pop("draft", None)
    ctx.state.pop("options", None)
    if not created:
        return [Reply(t("confirm.already", code=report.receipt_code))]
    return [Reply(t("confirm.done", code=report.receipt_code, unit=_unit(ctx).name))]


def _expire_draft(ctx: Context) -> list[Reply]:
    draft = ctx.state.get("draft")
    if draft is None:
        return []
    started = datetime.fromisoformat(draft["at"])
    if ctx.now - started <= ctx.services.draft_ttl:
        return []
    ctx.state.pop("draft", None)
    ctx.state.pop("options", None)
    return [Reply(t("draft.expired", text=_shorten(draft["text"], 80)))]


# --- helpers ----------------------------------------------------------------------------------


def _unit(ctx: Context) -> Unit:
    assert ctx.account is not None
    unit = ctx.session.get(Unit, ctx.account.unit_id)
    assert unit is not None
    return unit


def _help(ctx: Context) -> str:
    if ctx.account is None:
        return t("help.unregistered")
    if ctx.account.role == Role.secretary:
        return t("help.secretary")
    return t("help.staff")


def _period_label(start: date, end: date) -> str:
    if start == end:
        return day(start)
    if start == month_start(start) and end == month_end(start):
        return t("period.month", month=month(start))
    return t("period.range", start=day(start), end=day(end))


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
