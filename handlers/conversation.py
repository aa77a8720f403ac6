"""The conversation, channel-neutral: handle(Incoming, Services) -> replies.

One message is one database transaction: the delivery claim, the dialogue state and any report
commit together, so a crash or a redelivery never half-applies a message, and a restart (even
kill -9) continues the dialogue from the stored state.
"""

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers import campaign, commands, drafts, progress_view
from handlers.encoding import legacy_encoding
from handlers.formatting import number
from handlers.i18n import t
from handlers.parser import parse_message
from handlers.text import fold
from handlers.types import Incoming, Kind, Option, Reply, Services, small_int
from storage import accounts, conversations, reports, units
from storage.errors import StorageError
from storage.models import Account, Report, ReportStatus, Role, Unit

log = logging.getLogger(__name__)

MAX_TEXT = 2000
# Control characters (NUL and the like; not newline or tab) and lone surrogates (a JSON escape can
# make one): PostgreSQL refuses NUL, and neither database stores a surrogate.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


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

    def unit(self) -> Unit:
        assert self.account is not None
        unit = self.session.get(Unit, self.account.unit_id)
        assert unit is not None
        return unit

    def offer(self, options: tuple[Option, ...], *, quick: bool = False) -> None:
        """Remember the options shown, so a typed "1" or "xác nhận" can pick one on any channel."""
        self.state["options"] = [[o.label, o.data] for o in options]
        self.state["quick"] = quick

    def reset(self) -> None:
        for key in ("draft", "options", "quick", "awaiting"):
            self.state.pop(key, None)


def handle(incoming: Incoming, services: Services) -> list[Reply]:
    """Answer one incoming message. Every input gets at least one reply, except a redelivery."""
    with services.session() as session:
        if incoming.delivery_id and not conversations.claim_delivery(
            session, incoming.channel, incoming.delivery_id
        ):
            log.info("duplicate delivery %s:%s", incoming.channel, incoming.delivery_id)
            return _redelivered(session, incoming)
        ctx = Context(
            incoming=incoming,
            services=services,
            session=session,
            account=accounts.find_account(session, incoming.channel, incoming.user_id),
            state=conversations.load_state(session, incoming.channel, incoming.chat_id),
        )
        if ctx.account is not None and ctx.account.unreachable_at is not None:
            # They write again: they can be reached again.
            ctx.account.unreachable_at = None
            session.add(ctx.account)
        limited = _rate_limited(ctx)
        replies = limited if limited is not None else _dispatch(ctx)
        if ctx.state.get("draft") or ctx.state.get("awaiting"):
            ctx.state["at"] = ctx.now.isoformat()  # the dialogue's last activity, for expiry
        else:
            ctx.state.pop("at", None)
        conversations.save_state(session, incoming.channel, incoming.chat_id, ctx.state, now=ctx.now)
        if incoming.delivery_id and replies:
            conversations.keep_replies(session, incoming.channel, incoming.delivery_id, dump_replies(replies))
        return replies


def dump_replies(replies: list[Reply]) -> str:
    """Replies as kept with their delivery. Files are not kept: resent, a reply has its text only."""
    kept = [
        {"text": r.text, "options": [[o.label, o.data] for o in r.options], "quick": r.quick} for r in replies
    ]
    return json.dumps(kept, ensure_ascii=False)


def load_replies(kept: str) -> list[Reply]:
    return [
        Reply(item["text"], tuple(Option(label, data) for label, data in item["options"]), item["quick"])
        for item in json.loads(kept)
    ]


def _redelivered(session: Session, incoming: Incoming) -> list[Reply]:
    """Replies that never left (the process died after committing) are sent now; a redelivered
    confirm press is told the receipt; other redeliveries need no second answer."""
    kept = conversations.unsent_replies(session, incoming.channel, incoming.delivery_id or "")
    if kept is not None:
        log.info("replies to %s:%s had not left: sending them now", incoming.channel, incoming.delivery_id)
        return load_replies(kept)
    action, _, draft_id = (incoming.choice or "").partition(":")
    if incoming.kind is Kind.choice and action == "confirm":
        stored = reports.find_by_idempotency_key(session, drafts.key(draft_id))
        if stored is not None:
            return [Reply(t("confirm.already", code=stored.receipt_code))]
    return []


def _dispatch(ctx: Context) -> list[Reply]:
    incoming = ctx.incoming
    if incoming.kind not in (Kind.text, Kind.choice):
        return [Reply(t(f"unsupported.{incoming.kind.value}"))]
    text = _CONTROL.sub("", incoming.text).strip()
    if len(text) > MAX_TEXT:
        return [Reply(t("message.too_long", limit=number(MAX_TEXT)))]
    encoding = legacy_encoding(text)
    if encoding is not None:
        return [Reply(t("encoding.legacy", encoding=encoding))]

    expired = _expire(ctx)
    choice = incoming.choice if incoming.kind is Kind.choice else _typed_choice(ctx, text)
    if choice is not None:
        return expired + _on_choice(ctx, choice)
    if not text:
        return [*expired, Reply(t("text.not_understood") + "\n\n" + _help(ctx))]
    if text.startswith("/"):
        command, _, args = text[1:].partition(" ")
        command = commands.canonical(command.split("@", 1)[0].lower())
        found = commands.find(command)
        if not (args.strip() and found is not None and found.reads_report):
            return expired + _on_command(ctx, command, args.strip())
        text = args.strip()  # "/baocao kết nạp 2 đảng viên": the report itself, as if typed alone
    if ctx.account is None:
        return [*expired, Reply(t("register.needed"))]
    if ctx.state.get("awaiting"):
        return expired + _on_awaited(ctx, text)
    return expired + _on_text(ctx, text)


# --- commands ---------------------------------------------------------------------------------


def _on_command(ctx: Context, command: str, args: str) -> list[Reply]:
    if command == "start":
        if ctx.account is None:
            return [Reply(t("start.unregistered"))]
        return [Reply(t("start.registered", unit=ctx.unit().name, role=t(f"role.{ctx.account.role}")))]
    if command in ("help", "huongdan", "trogiup"):
        return [Reply(_help(ctx))]
    if command == "dangky":
        return _register(ctx, args)
    if ctx.account is None:
        return [Reply(t("register.needed"))]
    if command == "tiendo":
        return progress_view.progress(ctx, args)
    if command == "thidua":
        return progress_view.emulation_reply(ctx, args)
    if command == "xuat":
        return progress_view.export(ctx, args)
    if command == "nhacnho":
        return _campaign_preview(ctx)
    if command == "huy":
        return _withdraw_ask(ctx, args) if args else _cancel(ctx)
    if command == "baocao":
        return _recent_reports(ctx)
    if command == "sua":
        return _correct_ask(ctx, args)
    if command in ("ketnap", "lop"):
        if ctx.account.role != Role.secretary:
            return [Reply(t("report.secretaries_only"))]
        ctx.reset()
        return drafts.start_guided(ctx, command)
    return [Reply(t("command.unknown", command=command) + "\n\n" + _help(ctx))]


def _rate_limited(ctx: Context) -> list[Reply] | None:
    """None to go on; else the answer for a sender over the per-minute limit (one warning, then silence)."""
    limit = ctx.services.messages_per_minute
    if not limit:
        return None
    window = ctx.state.get("rate") or [ctx.now.isoformat(), 0, False]
    started = datetime.fromisoformat(window[0])
    if ctx.now - started >= timedelta(minutes=1):
        window = [ctx.now.isoformat(), 0, False]
    window[1] += 1
    ctx.state["rate"] = window
    if window[1] <= limit:
        return None
    if window[2]:
        return []
    window[2] = True
    log.warning("rate limit reached in a chat on %s", ctx.incoming.channel)
    return [Reply(t("rate.limited"))]


INVITE_ATTEMPTS = 5  # wrong codes per hour before /dangky is refused for a while


def _register(ctx: Context, code: str) -> list[Reply]:
    if not code:
        return [Reply(t("register.usage"))]
    incoming = ctx.incoming
    failures = [
        f
        for f in ctx.state.get("invite_failures", [])
        if ctx.now - datetime.fromisoformat(f) < timedelta(hours=1)
    ]
    if len(failures) >= INVITE_ATTEMPTS:
        wait = timedelta(hours=1) - (ctx.now - datetime.fromisoformat(failures[0]))
        return [Reply(t("register.throttled", minutes=number(max(1, round(wait.total_seconds() / 60)))))]
    try:
        account = accounts.redeem_invite(
            ctx.session,
            code=code,
            channel=incoming.channel,
            channel_user_id=incoming.user_id,
            chat_id=incoming.chat_id,
            display_name=_CONTROL.sub("", incoming.display_name or "")[:255] or None,
            now=ctx.now,
        )
    except StorageError as refused:
        # Codes are guessed one message at a time: count the misses, per chat, in the stored state.
        ctx.state["invite_failures"] = [*failures, ctx.now.isoformat()]
        return [Reply(t("register.refused", reason=str(refused)))]
    ctx.state.pop("invite_failures", None)
    ctx.account = account
    ctx.reset()
    unit = ctx.unit()
    key = "register.done.secretary" if account.role == Role.secretary else "register.done.staff"
    return [Reply(t(key, unit=unit.name, level=unit.level, role=t(f"role.{account.role}")))]


def _cancel(ctx: Context) -> list[Reply]:
    if not ctx.state.get("draft") and not ctx.state.get("awaiting"):
        ctx.reset()
        return [Reply(t("cancel.nothing"))]
    ctx.reset()
    return [Reply(t("draft.cancelled"))]


def _campaign_preview(ctx: Context) -> list[Reply]:
    """/nhacnho: staff see what this month's campaign does in their subtree, without sending anything."""
    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return [Reply(t("preview.staff_only"))]
    plan = campaign.plan_campaign(
        ctx.session, ctx.today, threshold=ctx.services.lagging_threshold, scope=ctx.unit()
    )
    return [Reply(campaign.preview_text(plan, ctx.account))]


def _recent_reports(ctx: Context) -> list[Reply]:
    assert ctx.account is not None
    staff = ctx.account.role != Role.secretary
    rows = reports.recent_reports(ctx.session, unit=ctx.unit(), subtree=staff)
    if not rows:
        return [Reply(t("reports.none"))]
    lines = [t("reports.header.staff" if staff else "reports.header")]
    for report in rows:
        status = t(f"report.status.{report.status}")
        unit = ctx.session.get(Unit, report.unit_id)
        where = f"{unit.name}, " if staff and unit is not None else ""
        lines.append(
            t(
                "reports.line",
                code=report.receipt_code,
                where=where,
                status=status,
                period=drafts.period_label(report.period_start, report.period_end),
                text=drafts.shorten(report.raw_text, 60),
            )
        )
    lines.append(t("reports.footer"))
    return [Reply("\n".join(lines))]


# --- corrections and withdrawals --------------------------------------------------------------


def _changeable(ctx: Context, code: str) -> Report | Reply:
    """The report a receipt code names, if this sender may still change it; else the reason."""
    assert ctx.account is not None
    report = reports.get_by_receipt(ctx.session, code)
    if report is None:
        return Reply(t("receipt.not_found", code=code.strip().upper()))
    unit = ctx.session.get(Unit, report.unit_id)
    own = ctx.unit()
    if (
        unit is None
        or not units.is_within(unit, own)
        or (ctx.account.role == Role.secretary and unit.id != own.id)
    ):
        return Reply(t("receipt.not_yours", code=report.receipt_code))
    if report.status == ReportStatus.withdrawn:
        return Reply(t("receipt.withdrawn", code=report.receipt_code))
    window = ctx.services.correction_window
    if ctx.account.role == Role.secretary and ctx.now - report.created_at > window:
        return Reply(t("receipt.too_old", code=report.receipt_code, days=number(window.days)))
    return report


def _correct_ask(ctx: Context, code: str) -> list[Reply]:
    if not code:
        return [Reply(t("correct.usage"))]
    found = _changeable(ctx, code)
    if isinstance(found, Reply):
        return [found]
    ctx.reset()
    ctx.state["awaiting"] = {"what": "correction", "report_id": found.id}
    return [Reply(t("correct.prompt", code=found.receipt_code, text=found.raw_text))]


def _withdraw_ask(ctx: Context, code: str) -> list[Reply]:
    found = _changeable(ctx, code)
    if isinstance(found, Reply):
        return [found]
    ctx.reset()
    options = (
        Option(t("option.withdraw"), f"withdraw:{found.id}"),
        Option(t("option.keep"), f"keep:{found.id}"),
    )
    ctx.offer(options)
    summary = drafts.stored_summary(ctx.session, found)
    return [Reply(t("withdraw.ask", code=found.receipt_code, summary=summary), options)]


def _withdraw(ctx: Context, report_id: str) -> list[Reply]:
    report_key = small_int(report_id)
    report = ctx.session.get(Report, report_key) if report_key is not None else None
    if report is None:
        return [Reply(t("draft.gone"))]
    found = _changeable(ctx, report.receipt_code)
    if isinstance(found, Reply):
        return [found]
    assert ctx.account is not None
    reports.withdraw_report(ctx.session, found, account_id=ctx.account.id, now=ctx.now)
    return [Reply(t("withdraw.done", code=found.receipt_code))]


# --- free text, answers and choices -----------------------------------------------------------


def _on_text(ctx: Context, text: str) -> list[Reply]:
    assert ctx.account is not None
    parsed = parse_message(text, ctx.today)
    if parsed.intent == "progress":
        period = None if parsed.period is None else (parsed.period.start, parsed.period.end)
        return [progress_view.page(ctx, ctx.unit(), period, 1)]
    if parsed.intent == "help":
        return [Reply(_help(ctx))]
    if parsed.intent != "report" or (parsed.admission is None and parsed.class_attendance is None):
        if parsed.questions and parsed.ambiguous:
            return [Reply("\n".join(parsed.questions) + "\n" + t("text.rephrase"))]
        return [Reply(t("text.not_understood") + "\n\n" + _help(ctx))]
    if ctx.account.role != Role.secretary:
        return [Reply(t("report.secretaries_only"))]
    if parsed.ambiguous:
        return [Reply("\n".join(parsed.questions) + "\n" + t("text.rephrase"))]
    return drafts.new_from_text(ctx, text, parsed, unit=ctx.unit())


def _on_awaited(ctx: Context, text: str) -> list[Reply]:
    awaiting = ctx.state["awaiting"]
    what = awaiting.get("what")
    if what == "correction":
        report = ctx.session.get(Report, awaiting.get("report_id"))
        parsed = parse_message(text, ctx.today)
        if report is None:
            ctx.reset()
            return [Reply(t("draft.gone"))]
        if parsed.intent != "report" or (parsed.admission is None and parsed.class_attendance is None):
            return [Reply(t("correct.not_understood", code=report.receipt_code))]
        if parsed.ambiguous:
            return [Reply("\n".join(parsed.questions) + "\n" + t("text.rephrase"))]
        unit = ctx.session.get(Unit, report.unit_id)
        assert unit is not None
        ctx.state.pop("awaiting", None)
        return drafts.new_from_text(ctx, text, parsed, unit=unit, corrects=report)
    return drafts.answer(ctx, text)


def _typed_choice(ctx: Context, text: str) -> str | None:
    """On channels without buttons a reply "1" or "xác nhận" picks one of the offered options.

    Quick replies ("0", "1", "Tất cả") are matched by their label only: there a typed "3" is the
    answer 3, not the third option.
    """
    offered = ctx.state.get("options") or []
    if not offered or not text:
        return None
    wanted = fold(text).strip(" .!")
    for label, data in offered:
        if wanted == fold(label):
            return str(data)
    if ctx.state.get("quick"):
        return None
    for index, (_, data) in enumerate(offered, start=1):
        if wanted == str(index):
            return str(data)
    return None


def _on_choice(ctx: Context, choice: str) -> list[Reply]:
    if ctx.account is None:
        return [Reply(t("register.needed"))]
    action, _, rest = choice.partition(":")
    if action == "withdraw":
        ctx.reset()
        return _withdraw(ctx, rest)
    if action == "keep":
        ctx.reset()
        return [Reply(t("withdraw.kept"))]
    if action in ("unit", "page", "chart", "xlsx"):
        return progress_view.on_choice(ctx, action, rest)
    return drafts.on_choice(ctx, action, rest)


def _expire(ctx: Context) -> list[Reply]:
    """Drop a dialogue left idle longer than the configured time, and say so."""
    last = ctx.state.get("at")
    if not last or ctx.now - datetime.fromisoformat(last) <= ctx.services.draft_ttl:
        return []
    draft = ctx.state.get("draft")
    ctx.reset()
    if draft is not None:
        return [Reply(t("draft.expired", text=drafts.shorten(draft["text"], 80)))]
    return [Reply(t("dialogue.expired"))]


def _help(ctx: Context) -> str:
    if ctx.account is None:
        return t("help.unregistered")
    if ctx.account.role == Role.secretary:
        return t("help.secretary")
    return t("help.staff")
