"""Drafts: a report being put together, its guided questions, its summary and its confirmation.

A draft lives in the dialogue state (stored per chat). It asks one short question at a time for
what the statistics need and the message did not say, then shows the summary with
Xác nhận / Sửa / Hủy. Only "Xác nhận" writes anything.
"""

import re
import uuid
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from handlers.formatting import day, month, number
from handlers.i18n import t
from handlers.numbers import words_to_int
from handlers.parser import BREAKDOWN_FIELDS, MAX_COUNT, ParseResult, parse_message
from handlers.text import fold
from handlers.types import Option, Reply, small_int
from storage import reports
from storage.clock import month_end, month_start
from storage.errors import StorageError
from storage.models import Report, Unit

if TYPE_CHECKING:
    from handlers.conversation import Context

ALL, UNKNOWN = "all", "unknown"
_ALL_WORDS = frozenset({"tat ca", "ca", "het", "toan bo", "deu", "deu la", "ca hai", "ca ba", "100%", "full"})
_YES_WORDS = frozenset({"co", "dung", "phai", "vang", "yes", "ok", "u", "uh"})
_NO_WORDS = frozenset({"khong", "ko", "k", "khong co", "chua co", "khong ai", "khong co ai", "0", "no", "kg"})
_UNKNOWN_WORDS = frozenset({"khong ro", "chua ro", "khong biet", "chua biet", "bo qua", "?", "ko ro", "k ro"})
# "2", "2 đồng chí", "có 2 người": a number with at most a word of filler around it.
_SHORT_NUMBER = re.compile(
    r"^(?:co |la |duoc )?(\d{1,6})(?: (?:dong chi|d/c|dc|nguoi|ban|em|chi|anh|qc|quan chung))?$"
)


def key(draft_id: str) -> str:
    """The idempotency key of the report a draft becomes."""
    return f"draft:{draft_id}"


def period_label(start: date, end: date) -> str:
    if start == end:
        return day(start)
    if start == month_start(start) and end == month_end(start):
        return t("period.month", month=month(start))
    return t("period.range", start=day(start), end=day(end))


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- starting a draft -------------------------------------------------------------------------


def _new(*, text: str, unit: Unit, start: date, end: date) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "text": text,
        "answers": [],
        "unit_id": unit.id,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "admission": None,
        "attendance": None,
        "ask": [],
    }


def new_from_text(
    ctx: "Context", text: str, parsed: ParseResult, *, unit: Unit, corrects: Report | None = None
) -> list[Reply]:
    if parsed.period is not None:
        start, end = parsed.period.start, parsed.period.end
    else:
        start, end = month_start(ctx.today), month_end(ctx.today)
    if start > ctx.today:
        return [Reply(t("draft.future_period", period=period_label(start, end)))]
    draft = _new(text=text, unit=unit, start=start, end=end)
    if corrects is not None:
        draft["corrects"], draft["corrects_code"] = corrects.id, corrects.receipt_code
    if parsed.admission is not None:
        draft["admission"] = {
            "count": parsed.admission.count,
            **{f: getattr(parsed.admission, f) for f in BREAKDOWN_FIELDS},
        }
    if parsed.class_attendance is not None:
        draft["attendance"] = {
            "sent": parsed.class_attendance.sent,
            "completed": parsed.class_attendance.completed,
        }
    draft["ask"] = _missing(draft)
    ctx.state["draft"] = draft
    return [_next_step(ctx, draft)]


def start_guided(ctx: "Context", command: str) -> list[Reply]:
    """/ketnap and /lop: the same report, asked for step by step, for the current month."""
    today = ctx.today
    draft = _new(text=f"/{command}", unit=ctx.unit(), start=month_start(today), end=month_end(today))
    draft["ask"] = ["count"] if command == "ketnap" else ["sent", "completed"]
    ctx.state["draft"] = draft
    return [_next_step(ctx, draft)]


def _missing(draft: dict[str, Any]) -> list[str]:
    """The breakdowns the statistics need and the report did not give."""
    admission = draft.get("admission")
    if not admission or admission["count"] == 0:
        return []
    return [f for f in BREAKDOWN_FIELDS if admission.get(f) is None]


# --- questions and answers --------------------------------------------------------------------


def _next_step(ctx: "Context", draft: dict[str, Any]) -> Reply:
    if draft["ask"]:
        ctx.state["awaiting"] = {"what": "answer"}
        return _question(ctx, draft)
    ctx.state.pop("awaiting", None)
    return summary(ctx, draft)


def _question(ctx: "Context", draft: dict[str, Any]) -> Reply:
    field = draft["ask"][0]
    draft_id = draft["id"]
    period = period_label(date.fromisoformat(draft["start"]), date.fromisoformat(draft["end"]))

    def option(label: str, value: str) -> Option:
        return Option(label, f"ans:{draft_id}:{value}")

    if field == "count":
        text = t("ask.count", period=period)
        options = tuple(option(str(n), str(n)) for n in range(4))
    elif field == "sent":
        text = t("ask.sent", period=period)
        options = tuple(option(str(n), str(n)) for n in range(4))
    elif field == "completed":
        text = t("ask.completed", sent=number(draft["attendance"]["sent"] or 0))
        options = (option("0", "0"), option(t("answer.all"), ALL), option(t("answer.unknown"), UNKNOWN))
    else:
        count = draft["admission"]["count"]
        if count == 1:
            text = t(f"ask.one.{field}")
            options = (
                option(t("answer.yes"), "1"),
                option(t("answer.no"), "0"),
                option(t("answer.unknown"), UNKNOWN),
            )
        else:
            text = t(f"ask.{field}", n=number(count))
            shown = range(count + 1) if count <= 3 else range(3)
            options = tuple(option(str(n), str(n)) for n in shown)
            if count > 3:
                options += (option(t("answer.all"), ALL),)
            options += (option(t("answer.unknown"), UNKNOWN),)
    ctx.offer(options, quick=True)
    return Reply(text, options, quick=True)


def _all_value(draft: dict[str, Any], field: str) -> int | None:
    if field == "completed":
        return draft["attendance"]["sent"]
    if field in BREAKDOWN_FIELDS:
        return draft["admission"]["count"]
    return None


def parse_answer(text: str, field: str, all_value: int | None) -> tuple[bool, int | None]:
    """(understood, value): digits, number words, "tất cả", "không", "có", "không rõ" (None)."""
    folded = fold(text).strip(" .!,")
    if folded in _UNKNOWN_WORDS:
        return True, None
    if all_value is not None and (folded in _ALL_WORDS or folded.startswith(("ca ", "tat ca", "deu"))):
        return True, all_value
    if folded in _NO_WORDS:
        return True, 0
    if all_value == 1 and folded in _YES_WORDS:
        return True, 1
    value = words_to_int(folded)
    if value is None:
        match = _SHORT_NUMBER.match(folded)
        value = int(match.group(1)) if match else None
    if value is None or value > MAX_COUNT:
        return False, None
    return True, value


def answer(ctx: "Context", text: str) -> list[Reply]:
    """A typed answer to the pending question; a new report instead replaces the draft."""
    draft = ctx.state.get("draft")
    if not draft or not draft.get("ask"):
        ctx.state.pop("awaiting", None)
        return [Reply(t("draft.gone"))]
    field = draft["ask"][0]
    understood, value = parse_answer(text, field, _all_value(draft, field))
    if not understood:
        # Not an answer: perhaps a whole new report typed mid-dialogue.
        parsed = parse_message(text, ctx.today)
        if (
            parsed.intent == "report"
            and (parsed.admission or parsed.class_attendance)
            and not parsed.ambiguous
        ):
            unit = ctx.session.get(Unit, draft["unit_id"])
            assert unit is not None
            return new_from_text(ctx, text, parsed, unit=unit)
        return [Reply(t("answer.not_understood")), _question(ctx, draft)]
    return _apply_answer(ctx, draft, field, value, text)


def _apply_answer(
    ctx: "Context", draft: dict[str, Any], field: str, value: int | None, text: str
) -> list[Reply]:
    if field in BREAKDOWN_FIELDS and value is not None and value > draft["admission"]["count"]:
        return [Reply(t("answer.too_many", n=number(draft["admission"]["count"]))), _question(ctx, draft)]
    if field in ("count", "sent") and value is None:
        return [Reply(t("answer.needed")), _question(ctx, draft)]
    draft["ask"].pop(0)
    draft["answers"].append(f"{t(f'answer.label.{field}')}: {text.strip()}")
    if field == "count":
        draft["admission"] = {"count": value, **dict.fromkeys(BREAKDOWN_FIELDS)}
        draft["ask"] = _missing(draft)
    elif field in ("sent", "completed"):
        attendance = draft["attendance"] or {"sent": None, "completed": None}
        attendance[field] = value
        draft["attendance"] = attendance
    else:
        draft["admission"][field] = value
    return [_next_step(ctx, draft)]


# --- summary, confirmation --------------------------------------------------------------------


def _fact_lines(admission: dict[str, Any] | None, attendance: dict[str, Any] | None) -> list[str]:
    lines = []
    if admission is not None:
        if admission["count"] == 0:
            lines.append(t("draft.admission_zero"))
        else:
            details = [
                t(f"breakdown.{name}", n=number(admission[name]))
                for name in BREAKDOWN_FIELDS
                if admission.get(name) is not None
            ]
            line = t("draft.admission", n=number(admission["count"]))
            lines.append(line + (": " + ", ".join(details) if details else ""))
    if attendance is not None:
        if attendance.get("sent") is not None:
            lines.append(t("draft.sent", n=number(attendance["sent"])))
        if attendance.get("completed") is not None:
            lines.append(t("draft.completed", n=number(attendance["completed"])))
    return lines


def summary(ctx: "Context", draft: dict[str, Any]) -> Reply:
    unit = ctx.session.get(Unit, draft["unit_id"])
    assert unit is not None
    period = period_label(date.fromisoformat(draft["start"]), date.fromisoformat(draft["end"]))
    if draft.get("corrects_code"):
        header = t("draft.header.correction", code=draft["corrects_code"], unit=unit.name, period=period)
    else:
        header = t("draft.header", unit=unit.name, period=period)
    lines = [header, *_fact_lines(draft.get("admission"), draft.get("attendance")), t("draft.ask_confirm")]
    draft_id = draft["id"]
    options = (
        Option(t("option.confirm"), f"confirm:{draft_id}"),
        Option(t("option.edit"), f"edit:{draft_id}"),
        Option(t("option.cancel"), f"cancel:{draft_id}"),
    )
    ctx.offer(options)
    return Reply("\n".join(lines), options)


def stored_summary(session: Session, report: Report) -> str:
    admission, attendance, _ = reports.stored_facts(session, report)
    return "\n".join(
        _fact_lines(
            None
            if admission is None
            else {"count": admission.count, **{f: getattr(admission, f) for f in BREAKDOWN_FIELDS}},
            None if attendance is None else {"sent": attendance.sent, "completed": attendance.completed},
        )
    )


def on_choice(ctx: "Context", action: str, rest: str) -> list[Reply]:
    draft_id, _, value = rest.partition(":")
    draft = ctx.state.get("draft")
    current = draft is not None and draft.get("id") == draft_id
    if action == "confirm":
        if not current:
            stored = reports.find_by_idempotency_key(ctx.session, key(draft_id))
            if stored is not None:
                return [Reply(t("confirm.already", code=stored.receipt_code))]
            return [Reply(t("draft.gone"))]
        assert draft is not None
        if draft.get("ask"):  # a stale button pressed before the questions were answered
            return [_question(ctx, draft)]
        return _confirm(ctx, draft)
    if not current:
        return [Reply(t("draft.gone"))]
    assert draft is not None
    if action == "ans":
        if not draft.get("ask"):
            return [summary(ctx, draft)]
        field = draft["ask"][0]
        number_value: int | None
        if value == UNKNOWN:
            number_value = None
        elif value == ALL:
            number_value = _all_value(draft, field)
        else:
            number_value = small_int(value, MAX_COUNT)
            if number_value is None:  # forged or stale button data: ask again
                return [_question(ctx, draft)]
        label = next(
            (label for label, data in ctx.state.get("options", []) if data.endswith(f":{value}")), value
        )
        return _apply_answer(ctx, draft, field, number_value, label)
    if action == "cancel":
        ctx.reset()
        return [Reply(t("draft.cancelled"))]
    if action == "edit":
        corrects = draft.get("corrects")
        ctx.reset()
        if corrects is not None:
            ctx.state["awaiting"] = {"what": "correction", "report_id": corrects}
        return [Reply(t("draft.edit", text=draft["text"]))]
    return [Reply(t("draft.gone"))]


def _confirm(ctx: "Context", draft: dict[str, Any]) -> list[Reply]:
    assert ctx.account is not None
    unit = ctx.session.get(Unit, draft["unit_id"])
    assert unit is not None
    admission, attendance = draft.get("admission"), draft.get("attendance")
    raw_text = draft["text"]
    if draft.get("answers"):
        raw_text += "\n" + t("answer.transcript", answers="; ".join(draft["answers"]))
    data = reports.ReportInput(
        unit=unit,
        channel=ctx.incoming.channel,
        raw_text=raw_text,
        period_start=date.fromisoformat(draft["start"]),
        period_end=date.fromisoformat(draft["end"]),
        account_id=ctx.account.id,
        admission=reports.AdmissionInput(**admission) if admission is not None else None,
        attendance=reports.AttendanceInput(**attendance) if attendance is not None else None,
        idempotency_key=key(draft["id"]),
    )
    try:
        if draft.get("corrects") is not None:
            old = ctx.session.get(Report, draft["corrects"])
            if old is None or old.status != "confirmed":
                ctx.reset()
                return [Reply(t("receipt.withdrawn", code=draft.get("corrects_code", "")))]
            try:
                new = reports.correct_report(ctx.session, old, data, account_id=ctx.account.id, now=ctx.now)
            except reports.AlreadyWithdrawn:  # corrected or withdrawn meanwhile, from another chat
                ctx.reset()
                return [Reply(t("receipt.withdrawn", code=old.receipt_code))]
            ctx.reset()
            return [Reply(t("correct.done", old=old.receipt_code, code=new.receipt_code))]
        report, created = reports.confirm_report(ctx.session, data, now=ctx.now)
    except StorageError as refused:
        return [Reply(t("confirm.refused", reason=str(refused)))]
    ctx.reset()
    if not created:
        return [Reply(t("confirm.already", code=report.receipt_code))]
    return [Reply(t("confirm.done", code=report.receipt_code, unit=unit.name))]
