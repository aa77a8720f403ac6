"""/congnhan: a secretary reports members recognised as full members (công nhận đảng viên chính thức),
step by step: the bot says how many probations have ended, asks how many were recognised, reads it
back and stores it as a report with a receipt code.

TODO(parser): free-text recognition ("đã công nhận chính thức 2 đồng chí") once the parser can tell
it from an admission; until then this guided command and `tiendo recognize` are the ways in.
"""

import uuid
from typing import TYPE_CHECKING

from handlers.fixes import count_answer
from handlers.formatting import day, number
from handlers.i18n import refusal, t
from handlers.types import Option, Reply, small_int
from storage import probation, reports
from storage.errors import StorageError
from storage.models import Role

if TYPE_CHECKING:
    from handlers.conversation import Context

AWAITING = "recognition_count"


def start(ctx: "Context") -> list[Reply]:
    assert ctx.account is not None
    if ctx.account.role != Role.secretary:
        return [Reply(t("recognition.secretaries_only"))]
    ctx.reset()
    unit = ctx.unit()
    available = probation.open_ended(ctx.session, unit, ctx.today)
    if available == 0:
        status = probation.status(ctx.session, unit, ctx.today)
        return [Reply(t("recognition.none_due", unit=unit.name, in_probation=number(status.in_probation)))]
    draft_id = uuid.uuid4().hex[:12]
    ctx.state["awaiting"] = {"what": AWAITING, "id": draft_id, "max": available}
    shown = [n for n in (1, 2, 3) if n <= available]
    options = tuple(Option(str(n), f"cn:{draft_id}:{n}") for n in shown)
    if available > 3:
        options += (Option(t("answer.all"), f"cn:{draft_id}:{available}"),)
    ctx.offer(options, quick=True)
    return [Reply(t("recognition.ask", unit=unit.name, n=number(available)), options, quick=True)]


def on_text(ctx: "Context", text: str) -> list[Reply]:
    awaiting = ctx.state.get("awaiting") or {}
    understood, value = count_answer(text, ctx.today, whole=int(awaiting.get("max") or 0))
    if not understood or value is None:
        return [Reply(t("recognition.not_understood"))]
    return _summary(ctx, str(awaiting.get("id")), value)


def _summary(ctx: "Context", draft_id: str, count: int) -> list[Reply]:
    awaiting = ctx.state.get("awaiting") or {}
    if awaiting.get("what") != AWAITING or awaiting.get("id") != draft_id:
        return [Reply(t("draft.gone"))]
    available = int(awaiting.get("max") or 0)
    if not 1 <= count <= available:
        return [Reply(t("recognition.too_many", n=number(available)))]
    awaiting["count"] = count
    options = (
        Option(t("option.confirm"), f"cnok:{draft_id}"),
        Option(t("option.cancel"), f"cnno:{draft_id}"),
    )
    ctx.offer(options)
    return [
        Reply(t("recognition.summary", unit=ctx.unit().name, n=number(count), day=day(ctx.today)), options)
    ]


def on_choice(ctx: "Context", action: str, rest: str) -> list[Reply]:
    draft_id, _, value = rest.partition(":")
    if action == "cn":
        count = small_int(value)
        if count is None:
            return [Reply(t("draft.gone"))]
        return _summary(ctx, draft_id, count)
    awaiting = ctx.state.get("awaiting") or {}
    if action == "cnno":
        ctx.reset()
        return [Reply(t("draft.cancelled"))]
    key = f"recognition:{draft_id}"
    if awaiting.get("what") != AWAITING or awaiting.get("id") != draft_id or not awaiting.get("count"):
        stored = reports.find_by_idempotency_key(ctx.session, key)
        if stored is not None:
            return [Reply(t("confirm.already", code=stored.receipt_code))]
        return [Reply(t("draft.gone"))]
    assert ctx.account is not None
    unit = ctx.unit()
    count = int(awaiting["count"])
    try:
        report, _ = reports.confirm_report(
            ctx.session,
            reports.ReportInput(
                unit=unit,
                channel=ctx.incoming.channel,
                raw_text=t("recognition.raw_text", n=count, day=day(ctx.today)),
                period_start=ctx.today,
                period_end=ctx.today,
                account_id=ctx.account.id,
                recognition=reports.RecognitionInput(count=count),
                idempotency_key=key,
            ),
            now=ctx.now,
        )
    except StorageError as refused:
        ctx.reset()
        return [Reply(t("confirm.refused", reason=refusal(refused)))]
    ctx.reset()
    return [Reply(t("recognition.done", code=report.receipt_code, n=number(count), unit=unit.name))]
