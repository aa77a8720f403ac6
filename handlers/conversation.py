"""The conversation, channel-neutral: handle(Incoming, Services) -> replies.

One message is one database transaction: the delivery claim, the dialogue state and any report
commit together, so a crash or a redelivery never half-applies a message, and a restart (even
kill -9) continues the dialogue from the stored state.
"""

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from handlers import campaign, commands, drafts, progress_view, recognition, review, revocation, web_login
from handlers.answers import yes_no
from handlers.encoding import legacy_encoding
from handlers.formatting import number
from handlers.i18n import refusal, t
from handlers.parser import ParseResult, parse_message
from handlers.text import fold
from handlers.types import Incoming, Kind, Option, Reply, Services, small_int
from storage import accounts, bots, conversations, groups, parse_review, reports, units, workflow
from storage.audit import record
from storage.errors import StorageError
from storage.models import Account, Report, ReportStatus, Role, Unit

log = logging.getLogger(__name__)

MAX_TEXT = 2000
# Control characters (NUL and the like; not newline or tab) and lone surrogates (a JSON escape can
# make one): PostgreSQL refuses NUL, and neither database stores a surrogate. Also the invisible
# ones: zero-width characters, and bidirectional marks and overrides (U+202E shows "1 nạp kết" to
# staff reading the raw text, or hides what a name really says).
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff"
    r"\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


@dataclass
class Context:
    incoming: Incoming
    services: Services
    session: Session
    account: Account | None
    state: dict[str, Any]
    revoked: bool = False  # the sender's account was revoked (ctx.account is then None)
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
        for key in ("draft", "options", "quick", "awaiting", "register"):
            self.state.pop(key, None)


def handle(incoming: Incoming, services: Services) -> list[Reply]:
    """Answer one incoming message. Every input gets at least one reply, except a redelivery and, in
    a group, a message not meant for the bot."""
    if incoming.is_group and not incoming.addressed:
        return []  # members talking to each other
    incoming = _storable(incoming)
    with services.session() as session:
        if incoming.delivery_id and not conversations.claim_delivery(
            session, incoming.channel, incoming.delivery_id
        ):
            log.info("duplicate delivery %s:%s", incoming.channel, incoming.delivery_id)
            return _redelivered(session, incoming)
        account = accounts.find_account(session, incoming.channel, incoming.user_id)
        revoked = account is not None and account.revoked_at is not None
        if revoked:
            account = None  # a revoked account is answered as such, and nothing more (see _dispatch)
        now = services.now()
        if account is not None and not incoming.is_group and account.chat_id != incoming.chat_id:
            account.chat_id = incoming.chat_id  # their private chat: where what is meant for them goes
            session.add(account)
        route = _route(session, incoming, account, now)
        ctx = Context(
            incoming=incoming,
            services=services,
            session=session,
            account=account,
            state=conversations.load_state(session, incoming.channel, route.dialogue),
            revoked=revoked,
        )
        if ctx.account is not None and ctx.account.unreachable_at is not None:
            # They write again: they can be reached again.
            ctx.account.unreachable_at = None
            session.add(ctx.account)
        limited = _rate_limited(ctx)
        if limited is not None:
            replies = limited
        elif route.only is not None:
            replies = [route.only]
        elif incoming.is_group and incoming.kind is Kind.choice and not _offered(ctx, incoming.choice):
            # Another member's button (or one no longer offered): one member never acts through
            # another member's dialogue.
            replies = [Reply(t("group.not_your_button"))]
        else:
            replies = _dispatch(ctx)
        if ctx.state.get("draft") or ctx.state.get("awaiting"):
            ctx.state["at"] = ctx.now.isoformat()  # the dialogue's last activity, for expiry
        else:
            ctx.state.pop("at", None)
        conversations.save_state(session, incoming.channel, route.dialogue, ctx.state, now=ctx.now)
        if route.to is not None and replies:
            replies = [Reply(route.note), *(replace(r, chat_id=route.to) for r in replies)]
        if incoming.delivery_id and replies:
            conversations.keep_replies(session, incoming.channel, incoming.delivery_id, dump_replies(replies))
        return replies


@dataclass(frozen=True)
class Route:
    """Whose dialogue a message belongs to and where its answers go."""

    dialogue: str  # the key of the dialogue state: a private chat, or "<group>/<member>"
    to: str | None = None  # the private chat the answers go to, when the message came from a group
    note: str = ""  # said in the group meanwhile
    only: Reply | None = None  # the whole answer: the message is not read further


# In a group, without a private chat to answer in, only what is meant for everyone is answered there.
_PUBLIC_COMMANDS = frozenset({"start", "help", "huongdan", "trogiup", "dangky"})


def _route(session: Session, incoming: Incoming, account: Account | None, now: datetime) -> Route:
    """A private chat is its own dialogue. In a group each member has a dialogue of their own; what
    is meant for one person (questions about their report, the receipt, a unit's progress) goes to
    their private chat, unless an administrator bound the group to a unit on purpose (then the
    member's dialogue takes place in the group, in the open)."""
    if not incoming.is_group:
        return Route(dialogue=incoming.chat_id)
    groups.seen(session, incoming.channel, incoming.chat_id, now=now)
    own = f"{incoming.chat_id}/{incoming.user_id}"
    if groups.bound_unit(session, incoming.channel, incoming.chat_id) is not None:
        return Route(dialogue=own)
    name = (account.display_name if account is not None else None) or incoming.display_name or ""
    if account is not None and account.chat_id:
        return Route(
            dialogue=account.chat_id, to=account.chat_id, note=t("group.answered_privately", name=name)
        )
    command = (
        incoming.text[1:].partition(" ")[0].split("@", 1)[0].lower() if incoming.text.startswith("/") else ""
    )
    if account is None or command in _PUBLIC_COMMANDS:
        return Route(dialogue=own)  # help, registration, "please register": the same for anyone
    # A chat id only comes from a person's own message: the bot cannot write to them privately yet.
    return Route(dialogue=own, only=Reply(t("group.write_privately", name=name)))


def _offered(ctx: Context, choice: str | None) -> bool:
    return any(data == choice for _, data in ctx.state.get("options") or [])


_SURROGATE = re.compile(r"[\ud800-\udfff]")
MAX_ID = 64  # the id columns' length


def _fit_id(value: str) -> str:
    """An id as the database can keep it: one with a lone surrogate, or too long, becomes its digest."""
    if len(value) <= MAX_ID and not _SURROGATE.search(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:56]


def _storable(incoming: Incoming) -> Incoming:
    """Ids and texts that the database can store, whatever a forged or broken update carried.

    A lone surrogate (a JSON escape can make one) is refused by both databases, and an id longer than
    its column by PostgreSQL: such ids are replaced by a digest (distinct ids stay distinct).
    """
    ids = (incoming.user_id, incoming.chat_id, incoming.delivery_id or "", incoming.choice or "")
    if not any(len(value) > MAX_ID or _SURROGATE.search(value) for value in ids) and not _SURROGATE.search(
        incoming.text
    ):
        return incoming
    return replace(
        incoming,
        user_id=_fit_id(incoming.user_id),
        chat_id=_fit_id(incoming.chat_id),
        delivery_id=None if incoming.delivery_id is None else _fit_id(incoming.delivery_id),
        choice=None if incoming.choice is None else _SURROGATE.sub("\ufffd", incoming.choice),
        text=_SURROGATE.sub("", incoming.text),
    )


def dump_replies(replies: list[Reply]) -> str:
    """Replies as kept with their delivery. Files are not kept: resent, a reply has its text only."""
    kept = [
        {
            "text": r.text,
            "options": [[o.label, o.data] for o in r.options],
            "quick": r.quick,
            **({"chat_id": r.chat_id} if r.chat_id else {}),
        }
        for r in replies
    ]
    return json.dumps(kept, ensure_ascii=False)


def load_replies(kept: str) -> list[Reply]:
    return [
        Reply(
            item["text"],
            tuple(Option(label, data) for label, data in item["options"]),
            item["quick"],
            chat_id=item.get("chat_id"),
        )
        for item in json.loads(kept)
    ]


def _redelivered(session: Session, incoming: Incoming) -> list[Reply]:
    """Replies that never left (the process died after committing) are sent now; once they started
    to leave, a redelivery gets no second answer, a confirm press included: its receipt went with the
    replies, and an "already recorded" for each redelivery (every restart's sweep, every unconfirmed
    getUpdates offset) would reach the secretary again and again. A new press is told the receipt."""
    kept = conversations.unsent_replies(session, incoming.channel, incoming.delivery_id or "")
    if kept is not None:
        log.info("replies to %s:%s had not left: sending them now", incoming.channel, incoming.delivery_id)
        return load_replies(kept)
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

    if ctx.revoked and not _is_command(text, "dangky"):
        ctx.reset()  # nothing left half-done: a new code starts afresh
        return [Reply(t("account.revoked"))]
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


def _is_command(text: str, name: str) -> bool:
    return text.startswith("/") and text[1:].partition(" ")[0].split("@", 1)[0].lower() == name


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
    if command == "thuhoi":
        return revocation.ask(ctx, args)
    if command == "duyet":
        return review.list_waiting(ctx)
    if command == "moky":
        return review.reopen_command(ctx, args)
    if command == "congnhan":
        return recognition.start(ctx)
    if command == "web":
        return web_login.web_link(ctx)
    if command == "huy":
        return _withdraw_ask(ctx, args) if args else _cancel(ctx)
    if command == "baocao":
        return _recent_reports(ctx)
    if command == "sua":
        return _correct_ask(ctx, args)
    if command in ("ketnap", "lop"):
        if ctx.account.role != Role.secretary:
            return [Reply(t("report.secretaries_only"))]
        return drafts.start_guided(ctx, command)  # an open draft is not dropped: it is shown again
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
REPLACE_ROLE_WITHIN = timedelta(hours=1)  # how long "replace your role?" can be answered


def _register(ctx: Context, code: str) -> list[Reply]:
    if not code:
        return [Reply(t("register.usage"))]
    failures = [
        f
        for f in ctx.state.get("invite_failures", [])
        if ctx.now - datetime.fromisoformat(f) < timedelta(hours=1)
    ]
    if len(failures) >= INVITE_ATTEMPTS:
        wait = timedelta(hours=1) - (ctx.now - datetime.fromisoformat(failures[0]))
        return [Reply(t("register.throttled", minutes=number(max(1, round(wait.total_seconds() / 60)))))]
    # Codes guessed from many chats at once: past the limit, no code is even looked at for a while.
    if accounts.recent_refusals(ctx.session, since=ctx.now - timedelta(hours=1)) >= (
        ctx.services.invite_failures_per_hour
    ):
        log.warning("invite codes: too many wrong ones in the last hour, /dangky paused")
        return [Reply(t("register.busy"))]
    invite = accounts.find_invite(ctx.session, code)
    if invite is not None and ctx.account is not None and invite.used_by_account_id == ctx.account.id:
        # Their own code again (the first answer was slow, or lost in a restart): they are registered.
        return _registered(ctx)
    # Several bots of a platform each serve a part of the tree (a bot's plan limits its users): the
    # invite names the bot to write to, and another bot does not take it.
    invited = ctx.session.get(Unit, invite.unit_id) if invite is not None else None
    channel = ctx.incoming.channel
    wanted = bots.serving_in_family(ctx.session, invited, channel) if invited is not None else None
    if wanted is not None and wanted != channel:
        return [Reply(t("register.other_bot", bot=bots.title(ctx.session, wanted)))]
    try:
        accounts.check_invite(invite, ctx.now)
    except StorageError as refused:
        # Codes are guessed one message at a time: count the misses, per chat in the stored state,
        # and for every chat together in the audit.
        ctx.state["invite_failures"] = [*failures, ctx.now.isoformat()]
        record(ctx.session, "invite.refused", account_id=ctx.account.id if ctx.account else None, at=ctx.now)
        return [Reply(t("register.refused", reason=refusal(refused)))]
    assert invite is not None
    ctx.state.pop("invite_failures", None)
    current = ctx.account
    if current is not None and (current.unit_id, current.role) != (invite.unit_id, invite.role):
        # Someone with a role: say what the code would change, and change it only if they say so.
        ctx.reset()
        ctx.state["register"] = {"invite": invite.id, "at": ctx.now.isoformat()}
        options = (
            Option(t("option.register_replace"), f"register_yes:{invite.id}"),
            Option(t("option.register_keep"), f"register_no:{invite.id}"),
        )
        ctx.offer(options)
        new_unit = ctx.session.get(Unit, invite.unit_id)
        text = t(
            "register.replace_ask",
            role=t(f"role.{current.role}"),
            unit=ctx.unit().name,
            new_role=t(f"role.{invite.role}"),
            new_unit=new_unit.name if new_unit else "",
        )
        return [Reply(text, options)]
    return _redeem(ctx, invite.id)


def _redeem(ctx: Context, invite_id: int | None) -> list[Reply]:
    incoming = ctx.incoming
    try:
        account = accounts.redeem_invite(
            ctx.session,
            invite_id=invite_id,
            channel=incoming.channel,
            channel_user_id=incoming.user_id,
            chat_id=None if incoming.is_group else incoming.chat_id,  # a group is nobody's private chat
            display_name=_CONTROL.sub("", incoming.display_name or "")[:255] or None,
            now=ctx.now,
        )
    except StorageError as refused:  # spent or cancelled meanwhile
        return [Reply(t("register.refused", reason=refusal(refused)))]
    ctx.account = account
    ctx.reset()
    return _registered(ctx)


def _registered(ctx: Context) -> list[Reply]:
    assert ctx.account is not None
    unit = ctx.unit()
    account = ctx.account
    key = "register.done.secretary" if account.role == Role.secretary else "register.done.staff"
    done = Reply(t(key, unit=unit.name, level=unit.level, role=t(f"role.{account.role}")))
    if account.chat_id is None:  # registered in a group: the bot cannot write to them yet
        return [done, Reply(t("group.registered", name=account.display_name or ""))]
    return [done]


def _register_answer(ctx: Context, action: str, rest: str) -> list[Reply]:
    """ "Đổi vai trò" or "Giữ vai trò cũ" after /dangky by someone who already has a role."""
    pending = ctx.state.pop("register", None) or {}
    ctx.reset()
    fresh = bool(pending) and ctx.now - datetime.fromisoformat(pending["at"]) <= REPLACE_ROLE_WITHIN
    if not fresh or str(pending.get("invite")) != rest:
        return [Reply(t("register.confirm_gone"))]
    assert ctx.account is not None
    if action == "register_no":
        return [Reply(t("register.kept", role=t(f"role.{ctx.account.role}"), unit=ctx.unit().name))]
    return _redeem(ctx, int(pending["invite"]))


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
        ctx.session, ctx.today, threshold=ctx.services.lagging_threshold, scope=ctx.unit(), as_of=ctx.today
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
        if unit is not None and report.status == ReportStatus.confirmed:
            status += _workflow_marks(ctx, report, unit)
        where = f"{unit.name}, " if staff and unit is not None else ""
        lines.append(
            t(
                "reports.line",
                code=report.receipt_code,
                where=where,
                status=status,
                period=drafts.period_label(report.period_start, report.period_end),
                text=drafts.shorten(_CONTROL.sub("", report.raw_text), 60),
            )
        )
    lines.append(t("reports.footer"))
    return [Reply("\n".join(lines))]


def _workflow_marks(ctx: Context, report: Report, unit: Unit) -> str:
    """ ", nộp muộn", ", chờ duyệt", ", bị trả lại": what a report's month is waiting for."""
    marks = []
    if workflow.is_late(ctx.session, report, unit):
        marks.append(t("reports.mark.late"))
    period = workflow.unit_period(ctx.session, unit, report.period_end)
    if period is not None and period.review in ("received", "returned", "approved"):
        marks.append(t(f"review.status.{period.review}"))
    return "".join(", " + mark for mark in marks)


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
    return [Reply(t("correct.prompt", code=found.receipt_code, text=_CONTROL.sub("", found.raw_text)))]


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
    try:
        reports.withdraw_report(ctx.session, found, account_id=ctx.account.id, now=ctx.now)
    except StorageError:  # withdrawn meanwhile, from another chat
        return [Reply(t("receipt.withdrawn", code=found.receipt_code))]
    return [Reply(t("withdraw.done", code=found.receipt_code))]


# --- free text, answers and choices -----------------------------------------------------------


def _on_text(ctx: Context, text: str) -> list[Reply]:
    assert ctx.account is not None
    parsed = _parse(ctx, text, ctx.account.unit_id)
    if parsed.intent == "progress":
        period = None if parsed.period is None else (parsed.period.start, parsed.period.end)
        return [progress_view.page(ctx, ctx.unit(), period, 1)]
    if parsed.intent == "help":
        return [Reply(_help(ctx))]
    if parsed.intent != "report" or not parsed.all_facts():
        _keep_unread(ctx, text)
        if parsed.questions and parsed.ambiguous:
            return [Reply("\n".join(parsed.questions) + "\n" + t("text.rephrase"))]
        if parsed.plan:
            return [Reply(t("text.plan"))]
        return [Reply(t("text.not_understood") + "\n\n" + _help(ctx))]
    if ctx.account.role != Role.secretary:
        return [Reply(t("report.secretaries_only"))]
    if parsed.ambiguous:
        _keep_unread(ctx, text)
        return [Reply("\n".join(parsed.questions) + "\n" + t("text.rephrase"))]
    if drafts.current(ctx) is not None:
        return drafts.incoming_report(ctx, text, parsed)
    return drafts.new_from_text(ctx, text, parsed, unit=ctx.unit())


def _parse(ctx: Context, text: str, unit_id: int) -> ParseResult:
    """The message read with the breakdowns the unit's tree adds to the five ("2 sinh viên"); a tree
    that adds none is read exactly as before."""
    added = drafts.added_breakdowns(ctx, unit_id)
    return parse_message(text, ctx.today, added) if added else parse_message(text, ctx.today)


def _keep_unread(ctx: Context, text: str) -> None:
    """A message the bot could not read is kept (text and date only) for the team's corpus."""
    parse_review.keep(
        ctx.session, kind="unread", text=text, day=ctx.today, keep_days=ctx.services.review_keep_days
    )


def _on_awaited(ctx: Context, text: str) -> list[Reply]:
    awaiting = ctx.state["awaiting"]
    what = awaiting.get("what")
    if what == review.AWAITING_NOTE:
        return review.on_note(ctx, text)
    if what == recognition.AWAITING:
        return recognition.on_text(ctx, text)
    if what == "correction":
        report = ctx.session.get(Report, awaiting.get("report_id"))
        if report is None:
            ctx.reset()
            return [Reply(t("draft.gone"))]
        parsed = _parse(ctx, text, report.unit_id)
        if parsed.intent != "report" or not parsed.all_facts():
            return [Reply(t("correct.not_understood", code=report.receipt_code))]
        if parsed.ambiguous:
            return [Reply("\n".join(parsed.questions) + "\n" + t("text.rephrase"))]
        unit = ctx.session.get(Unit, report.unit_id)
        assert unit is not None
        ctx.state.pop("awaiting", None)
        return drafts.new_from_text(ctx, text, parsed, unit=unit, corrects=report)
    replies = drafts.on_awaited(ctx, text)
    if replies is not None:
        return replies
    # Not about the draft (a question about progress, help): answered, then the pending question again
    # so that a typed "1" answers it rather than a button of the answer in between.
    return _on_text(ctx, text) + drafts.reminder(ctx)


def _typed_choice(ctx: Context, text: str) -> str | None:
    """On channels without buttons a reply "1" or "xác nhận" picks one of the offered options.

    Quick replies ("0", "1", "Tất cả") are matched by their label only: there a typed "3" is the
    answer 3, not the third option. A plain yes ("dạ đúng rồi ạ", "ok", "ừ") picks the one option
    that says yes (Xác nhận, Rút báo cáo), a plain no ("không ạ", "sai rồi") the one that says no
    (Sửa, Giữ lại). At the read-back of a likely duplicate neither picks anything: it is asked about.
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
    answer = yes_no(text)
    if answer is not None and not any(str(data).startswith("again:") for _, data in offered):
        meant = _YES_ACTIONS if answer else _NO_ACTIONS
        matching = [str(data) for _, data in offered if str(data).partition(":")[0] in meant]
        if len(matching) == 1:
            return matching[0]
    return None


# The options a plain yes or a plain no stands for. "again" (record a likely duplicate anyway) is
# deliberately not a yes: a secretary who types "ok" without reading must not store a report twice.
_YES_ACTIONS = frozenset({"confirm", "withdraw"})
_NO_ACTIONS = frozenset({"edit", "keep"})


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
    if action in revocation.ACTIONS:
        return revocation.on_choice(ctx, action, rest)
    if action in ("register_yes", "register_no"):
        return _register_answer(ctx, action, rest)
    if action in ("rv", "rva", "rvr", "rvall", "rvlist"):
        return review.on_choice(ctx, action, rest)
    if action in ("cn", "cnok", "cnno"):
        return recognition.on_choice(ctx, action, rest)
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
        return t("help.secretary") + "\n" + t("help.secretary.workflow")
    return t("help.staff") + "\n" + t("help.staff.workflow")
