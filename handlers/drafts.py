"""Drafts: reports being put together, their questions, the read-back and the confirmation.

A draft lives in the dialogue state (stored per chat). It holds one fact per period the message
reports ("tháng 9 kết nạp 1, tháng 10 kết nạp 2"). What the statistics need and the message did not
say is asked in ONE message that takes a free answer ("2 nữ, cả 3 đoàn viên, còn lại không");
figures out of the ordinary are asked back first. The read-back lists every fact, points out a
report already stored or contradicted (with its receipt), and takes a fix of one field ("tôn giáo là
0 chứ", "tháng 10 chứ không phải tháng 11"). Only a confirmation writes: each fact becomes its own
report, all in one transaction. A newer report never silently replaces an open draft: the secretary
chooses to keep the old one, replace it, or record both.
"""

import re
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from handlers import fixes
from handlers.answers import is_unknown, yes_no
from handlers.formatting import day, month, number
from handlers.i18n import refusal, t
from handlers.parser import BREAKDOWN_FIELDS, MAX_COUNT, ParseResult, parse_message
from handlers.periods import parse_period
from handlers.text import fold
from handlers.types import Option, Reply, small_int
from storage import earlier, extra_breakdowns, parse_review, reports, workflow
from storage.breakdowns import Breakdown
from storage.clock import month_end, month_start
from storage.errors import StorageError
from storage.models import Report, ReportStatus, Role, Unit

if TYPE_CHECKING:
    from handlers.conversation import Context

ALL, UNKNOWN, KEEP = "all", "unknown", "keep"
CORRECTED_SOON = timedelta(days=1)  # a report corrected this soon was probably misread: kept for review
# Words that make a message at the read-back a fix even when it reads as a report ("sửa kết nạp 3").
_FIX_WORDS = frozenset({"sua", "chu", "nham", "sai", "lai"})
_WORDS = re.compile(r"[a-z0-9]+")
# "hủy", "thôi, không gửi nữa": the draft is cancelled, as with /huy or the Hủy button.
_CANCEL_WORDS = frozenset(
    {"huy", "huy bo", "huy di", "bo", "bo di", "thoi", "thoi khoi", "khoi", "xoa", "xoa di", "khong gui nua",
     "thoi khong gui nua", "thoi huy di", "huy bao cao", "cancel"}
)  # fmt: skip


def key(draft_id: str, index: int = 0) -> str:
    """The idempotency key of the report a draft's fact becomes (the first keeps the plain key)."""
    return f"draft:{draft_id}" if index == 0 else f"draft:{draft_id}:{index}"


def period_label(start: date, end: date) -> str:
    if start == end:
        return day(start)
    if start == month_start(start) and end == month_end(start):
        return t("period.month", month=month(start))
    return t("period.range", start=day(start), end=day(end))


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def added_breakdowns(ctx: "Context", unit_id: int) -> tuple[Breakdown, ...]:
    """The breakdowns the unit's tree adds to the five (read once per message, see storage)."""
    unit = ctx.session.get(Unit, unit_id)
    return extra_breakdowns.definitions_for(ctx.session, unit) if unit is not None else ()


def _parse(ctx: "Context", text: str, unit_id: int) -> ParseResult:
    added = added_breakdowns(ctx, unit_id)
    return parse_message(text, ctx.today, added) if added else parse_message(text, ctx.today)


def _read(ctx: "Context", text: str, unit_id: int) -> fixes.Reading:
    return fixes.read(text, ctx.today, added_breakdowns(ctx, unit_id))


def _defs(ctx: "Context", draft: dict[str, Any]) -> dict[str, Breakdown]:
    return {b.key: b for b in added_breakdowns(ctx, draft["unit_id"])}


# --- the state ----------------------------------------------------------------------------------


def _fact(text: str, start: date, end: date, *, said: bool) -> dict[str, Any]:
    return {
        "text": text,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "said_period": said,  # False: the message named no period, the month was taken from the date
        "admission": None,
        "attendance": None,
        "answers": [],
        "checked": [],  # figures the secretary confirmed although out of the ordinary
        "unknown": [],  # breakdowns the secretary said are not known: not asked again
    }


def _new(*, text: str, unit: Unit) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex, "text": text, "unit_id": unit.id, "facts": [], "ask": []}


def _upgrade(draft: dict[str, Any]) -> dict[str, Any]:
    """A draft stored before several facts per draft (one fact, one question per field) goes on."""
    if "facts" in draft:
        return draft
    fact = _fact(
        draft["text"], date.fromisoformat(draft["start"]), date.fromisoformat(draft["end"]), said=True
    )
    fact["admission"], fact["attendance"] = draft.get("admission"), draft.get("attendance")
    fact["answers"] = draft.get("answers", [])
    asked = list(draft.get("ask", []))
    steps: list[dict[str, Any]] = [
        {"what": w, "fact": 0} for w in asked if w in ("count", "sent", "completed")
    ]
    breakdown = [w for w in asked if w in BREAKDOWN_FIELDS]
    if breakdown:
        steps.append({"what": "breakdown", "fact": 0, "fields": breakdown})
    for name in ("start", "end", "admission", "attendance", "answers"):
        draft.pop(name, None)
    draft["facts"], draft["ask"] = [fact], steps
    return draft


def current(ctx: "Context") -> dict[str, Any] | None:
    draft = ctx.state.get("draft")
    return _upgrade(draft) if draft else None


def _period(fact: dict[str, Any]) -> tuple[date, date]:
    return date.fromisoformat(fact["start"]), date.fromisoformat(fact["end"])


def _fact_period(fact: dict[str, Any]) -> str:
    return period_label(*_period(fact))


# --- starting a draft -------------------------------------------------------------------------


def _build(
    ctx: "Context", text: str, parsed: ParseResult, *, unit: Unit, corrects: Report | None = None
) -> dict[str, Any] | list[Reply]:
    """A draft of every fact of a parsed message, with its questions; or the reason it cannot be one."""
    draft = _new(text=text, unit=unit)
    for found in parsed.all_facts():
        if found.period is not None:
            start, end, said = found.period.start, found.period.end, True
        elif corrects is not None:
            # A correction that names no period keeps the corrected report's ("/sua MÃ", "kết nạp 3").
            start, end, said = corrects.period_start, corrects.period_end, True
        else:
            start, end = _default_month(ctx)
            said = False
        if start > ctx.today:
            return [Reply(t("draft.future_period", period=period_label(start, end)))]
        fact = _fact(text, start, end, said=said)
        if found.admission is not None:
            fact["admission"] = {
                "count": found.admission.count,
                **{f: getattr(found.admission, f) for f in BREAKDOWN_FIELDS},
            }
            if found.extra:  # the breakdowns the tree adds, as the message gave them
                fact["extra"] = dict(found.extra)
        if found.class_attendance is not None:
            fact["attendance"] = {
                "sent": found.class_attendance.sent,
                "completed": found.class_attendance.completed,
            }
        draft["facts"].append(fact)
    if not draft["facts"]:
        return [Reply(t("text.not_understood"))]
    if corrects is not None:
        if len(draft["facts"]) > 1:
            return [Reply(t("correct.one_fact", code=corrects.receipt_code))]
        draft["corrects"], draft["corrects_code"] = corrects.id, corrects.receipt_code
    for index in range(len(draft["facts"])):
        draft["ask"] += _steps(ctx, draft, index)
    return draft


def collecting_last_month(ctx: "Context") -> bool:
    """In the first days of a month, until the tree's reporting deadline (the 5th unless set otherwise),
    the month just ended is the one being collected: most secretaries report it then."""
    return workflow.month_to_report(ctx.session, ctx.unit(), ctx.today) < month_start(ctx.today)


def _default_month(ctx: "Context") -> tuple[date, date]:
    """The month of a report that names none: in the first days of a month most secretaries report
    the month just ended (the read-back says so, and "tháng 11" typed there changes it)."""
    this = month_start(ctx.today)
    if collecting_last_month(ctx):
        last = month_start(this - timedelta(days=1))
        return last, month_end(last)
    return this, month_end(this)


def new_from_text(
    ctx: "Context", text: str, parsed: ParseResult, *, unit: Unit, corrects: Report | None = None
) -> list[Reply]:
    draft = _build(ctx, text, parsed, unit=unit, corrects=corrects)
    if isinstance(draft, list):
        return draft
    ctx.state["draft"] = draft
    return [_next_step(ctx, draft)]


def start_guided(ctx: "Context", command: str) -> list[Reply]:
    """/ketnap and /lop: the same report, asked for step by step; which month first, early in a month."""
    open_draft = current(ctx)
    if open_draft is not None:
        return [Reply(t("draft.open_first")), _next_step(ctx, open_draft)]
    ctx.reset()
    today = ctx.today
    draft = _new(text=f"/{command}", unit=ctx.unit())
    draft["facts"].append(_fact(f"/{command}", month_start(today), month_end(today), said=True))
    steps: list[dict[str, Any]] = []
    if collecting_last_month(ctx):
        steps.append({"what": "month", "fact": 0})
    whats = ("count",) if command == "ketnap" else ("sent", "completed")
    steps += [{"what": w, "fact": 0} for w in whats]
    draft["ask"] = steps
    ctx.state["draft"] = draft
    return [_next_step(ctx, draft)]


def incoming_report(ctx: "Context", text: str, parsed: ParseResult) -> list[Reply]:
    """A report typed while another is still open: the same one is said so; another is never dropped
    without asking (keep the open one, replace it, or record both)."""
    draft = current(ctx)
    assert draft is not None and ctx.account is not None
    if ctx.account.role != Role.secretary:  # staff correcting a report: no new report of their own
        return [Reply(t("report.secretaries_only")), _next_step(ctx, draft)]
    unit = ctx.session.get(Unit, draft["unit_id"])
    assert unit is not None
    new = _build(ctx, text, parsed, unit=unit)
    if isinstance(new, list):
        return [*new, _next_step(ctx, draft)]
    if _same_facts(draft["facts"], new["facts"]):
        added = _fill(draft, new)
        if added:
            return [_next_step(ctx, draft)]
        return [Reply(t("draft.same_as_open")), _next_step(ctx, draft)]
    draft["incoming"] = new
    ctx.state["awaiting"] = {"what": "choose"}
    draft_id = draft["id"]
    options = (
        Option(t("option.keep_open"), f"old:{draft_id}"),
        Option(t("option.replace"), f"new:{draft_id}"),
        Option(t("option.both"), f"both:{draft_id}"),
    )
    ctx.offer(options)
    defs = _defs(ctx, draft)
    text = t("draft.choose", old="\n".join(_brief(draft, defs)), new="\n".join(_brief(new, defs)))
    return [Reply(text, options)]


def _brief(draft: dict[str, Any], defs: dict[str, Breakdown] | None = None) -> list[str]:
    lines = []
    for fact in draft["facts"]:
        for line in _fact_lines(fact.get("admission"), fact.get("attendance"), fact.get("extra"), defs):
            lines.append(f"{line} ({_fact_period(fact)})")
    return lines


def _same_facts(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> bool:
    return len(old) == len(new) and all(
        _period(a) == _period(b)
        and _same_admission(a.get("admission"), b.get("admission"))
        and _same_attendance(a.get("attendance"), b.get("attendance"))
        for a, b in zip(old, new, strict=True)
    )


def _same_admission(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a["count"] == b["count"] and all(
        a.get(f) is None or b.get(f) is None or a.get(f) == b.get(f) for f in BREAKDOWN_FIELDS
    )


def _same_attendance(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return all(a.get(f) is None or b.get(f) is None or a.get(f) == b.get(f) for f in ("sent", "completed"))


def _fill(draft: dict[str, Any], new: dict[str, Any]) -> bool:
    """The same report sent again with more detail: take what it adds. True if anything was added."""
    added = False
    for index, (fact, more) in enumerate(zip(draft["facts"], new["facts"], strict=True)):
        for part, names in (("admission", BREAKDOWN_FIELDS), ("attendance", ("sent", "completed"))):
            mine, theirs = fact.get(part), more.get(part)
            if mine is None or theirs is None:
                continue
            for name in names:
                if mine.get(name) is None and theirs.get(name) is not None:
                    mine[name] = theirs[name]
                    added = True
        if fact.get("admission") is not None and more.get("extra"):
            extra = fact.setdefault("extra", {})
            for name, value in more["extra"].items():
                if extra.get(name) is None and value is not None:
                    extra[name] = value
                    added = True
        if added:
            _replan(draft, index)
    return added


# --- what to ask ------------------------------------------------------------------------------


def _missing(ctx: "Context", draft: dict[str, Any], fact: dict[str, Any]) -> list[str]:
    """The breakdowns the statistics need and the report did not give: the five, then those the tree
    adds (asked in the same question)."""
    admission = fact.get("admission")
    if not admission or admission["count"] == 0:
        return []
    unknown = fact.get("unknown", [])
    missing = [f for f in BREAKDOWN_FIELDS if admission.get(f) is None and f not in unknown]
    extra = fact.get("extra") or {}
    return missing + [
        b.key
        for b in added_breakdowns(ctx, draft["unit_id"])
        if extra.get(b.key) is None and b.key not in unknown
    ]


def _set_breakdowns(fact: dict[str, Any], values: dict[str, int | None]) -> None:
    """Breakdowns answered; one answered "không rõ" is remembered, so that it is not asked again."""
    unknown = fact.setdefault("unknown", [])
    for name, value in values.items():
        if name in BREAKDOWN_FIELDS:
            fact["admission"][name] = value
        elif name not in fixes.FIGURES:  # one the tree adds
            fact.setdefault("extra", {})[name] = value
        else:
            continue
        if value is None and name not in unknown:
            unknown.append(name)
        elif value is not None and name in unknown:
            unknown.remove(name)


def _months(fact: dict[str, Any]) -> int:
    start, end = _period(fact)
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _implausible(ctx: "Context", draft: dict[str, Any], index: int) -> dict[str, Any] | None:
    """The first figure of a fact that is out of the ordinary and not yet confirmed, as a step."""
    fact = draft["facts"][index]
    start, end = _period(fact)
    admission, attendance = fact.get("admission"), fact.get("attendance")
    if admission and admission["count"] > 0 and "count" not in fact["checked"]:
        before = earlier.admitted_in(ctx.session, draft["unit_id"], start, end, exclude=draft.get("corrects"))
        limit = ctx.services.plausible_admissions * _months(fact)
        if admission["count"] + before > limit:
            return {"what": "plausible", "fact": index, "field": "count", "before": before, "limit": limit}
    for name in ("sent", "completed"):
        value = (attendance or {}).get(name)
        if value is not None and value > ctx.services.plausible_class and name not in fact["checked"]:
            return {"what": "plausible", "fact": index, "field": name, "limit": ctx.services.plausible_class}
    return None


def _steps(ctx: "Context", draft: dict[str, Any], index: int) -> list[dict[str, Any]]:
    steps = []
    check = _implausible(ctx, draft, index)
    if check is not None:
        steps.append(check)
    missing = _missing(ctx, draft, draft["facts"][index])
    if missing:
        steps.append({"what": "breakdown", "fact": index, "fields": missing})
    return steps


def _replan(draft: dict[str, Any], index: int) -> None:
    """After a figure of a fact changed: its checks and breakdown question are asked afresh."""
    draft["ask"] = [
        s for s in draft["ask"] if not (s["fact"] == index and s["what"] in ("plausible", "breakdown"))
    ]
    draft.setdefault("replan", [])
    if index not in draft["replan"]:
        draft["replan"].append(index)


def _next_step(ctx: "Context", draft: dict[str, Any]) -> Reply:
    for index in draft.pop("replan", []):
        for step in _steps(ctx, draft, index):
            if step["what"] == "plausible":  # asked at once, before the fact's other questions
                pending = [p for p, s in enumerate(draft["ask"]) if s["fact"] == index]
                position = pending[0] if pending else _insert_at(draft, index)
            else:
                position = _insert_at(draft, index)
            draft["ask"].insert(position, step)
    if draft["ask"]:
        ctx.state["awaiting"] = {"what": "answer"}
        return _question(ctx, draft)
    ctx.state["awaiting"] = {"what": "readback"}
    return summary(ctx, draft)


def _insert_at(draft: dict[str, Any], index: int) -> int:
    """A fact's checks go after its pending questions and before the next fact's."""
    for position, step in enumerate(draft["ask"]):
        if step["fact"] > index:
            return position
    return len(draft["ask"])


# --- questions --------------------------------------------------------------------------------


def _question(ctx: "Context", draft: dict[str, Any]) -> Reply:
    step = draft["ask"][0]
    fact = draft["facts"][step["fact"]]
    draft_id = draft["id"]
    period = _fact_period(fact)

    def option(label: str, value: str) -> Option:
        # the question it answers is in the data: a button pressed under an older question is refused
        return Option(label, f"ans:{draft_id}:{_step_tag(step)}.{value}")

    what = step["what"]
    options: tuple[Option, ...] = ()
    if what == "month":
        text = t("ask.month")
        this = month_start(ctx.today)
        last = month_start(this - timedelta(days=1))
        options = tuple(option(t("answer.month", month=month(m)), m.strftime("%Y-%m")) for m in (last, this))
    elif what == "count":
        text = t("ask.count", period=period)
        options = tuple(option(str(n), str(n)) for n in range(4))
    elif what == "sent":
        text = t("ask.sent", period=period)
        options = tuple(option(str(n), str(n)) for n in range(4))
    elif what == "completed":
        text = t("ask.completed", sent=number(fact["attendance"]["sent"] or 0))
        options = (option("0", "0"), option(t("answer.all"), ALL), option(t("answer.unknown"), UNKNOWN))
    elif what == "plausible":
        text, options = _plausible_question(step, fact, period, option)
    else:
        text, options = _breakdown_question(
            step["fields"], fact["admission"]["count"], option, _defs(ctx, draft)
        )
    if len(draft["facts"]) > 1 and what not in ("month",):
        text = t("ask.for_period", period=period) + " " + text
    ctx.offer(options, quick=True)
    return Reply(text, options, quick=True)


def _plausible_question(
    step: dict[str, Any], fact: dict[str, Any], period: str, option: Any
) -> tuple[str, tuple[Option, ...]]:
    name = step["field"]
    if name == "count":
        n = fact["admission"]["count"]
        if step.get("before"):
            text = t(
                "ask.plausible.count_total",
                n=number(n),
                before=number(step["before"]),
                total=number(n + step["before"]),
                period=period,
                limit=number(step["limit"]),
            )
        else:
            text = t("ask.plausible.count", n=number(n), period=period, limit=number(step["limit"]))
    else:
        n = fact["attendance"][name]
        text = t(f"ask.plausible.{name}", n=number(n), period=period, limit=number(step["limit"]))
    return text, (option(t("answer.plausible_yes", n=number(n)), KEEP),)


# --- the wording of a breakdown: the five's from the catalog, a tree's own from its definition ----


def _one_part(field: str, defs: dict[str, Breakdown]) -> str:
    """About one new member: "nam hay nữ", "có dưới 30 tuổi không"."""
    if field in BREAKDOWN_FIELDS or field not in defs:
        return t(f"ask.part.one.{field}") if field in BREAKDOWN_FIELDS else field
    question = defs[field].question
    folded = fold(question)
    if folded.startswith("co "):
        key = "ask.part.one.extra_has"  # "có trình độ cao đẳng trở lên không"
    elif folded.startswith("la "):
        key = "ask.part.one.extra_is"  # "có phải là sinh viên không"
    else:
        key = "ask.part.one.extra"  # "có dưới 30 tuổi không"
    return t(key, question=question)


def _part(field: str, defs: dict[str, Breakdown]) -> str:
    """After "bao nhiêu đồng chí": "là nữ", "dưới 30 tuổi"."""
    if field in BREAKDOWN_FIELDS:
        return t(f"ask.part.{field}")
    return defs[field].question if field in defs else field


def label_of(field: str, defs: dict[str, Breakdown]) -> str:
    """How a breakdown is named in an answer: "nữ", "dưới 30 tuổi"."""
    if field in BREAKDOWN_FIELDS or field in fixes.FIGURES:
        return t(f"answer.label.{field}")
    return defs[field].label if field in defs else field


def _example_one(field: str, defs: dict[str, Breakdown]) -> str:
    if field in BREAKDOWN_FIELDS:
        return t(f"example.one.{field}")
    return t("example.one.extra", label=label_of(field, defs))


def _breakdown_question(
    fields: list[str], count: int, option: Any, defs: dict[str, Breakdown] | None = None
) -> tuple[str, tuple[Option, ...]]:
    defs = defs or {}
    if len(fields) == 1:
        field = fields[0]
        if field not in BREAKDOWN_FIELDS:
            ask_one = t("ask.one.extra", part=_one_part(field, defs))
            ask_many = t("ask.extra", n=number(count), question=_part(field, defs))
        else:
            ask_one, ask_many = t(f"ask.one.{field}"), t(f"ask.{field}", n=number(count))
        if count == 1:
            return ask_one, (
                option(t("answer.yes"), "1"),
                option(t("answer.no"), "0"),
                option(t("answer.unknown"), UNKNOWN),
            )
        shown = range(count + 1) if count <= 3 else range(3)
        options = tuple(option(str(n), str(n)) for n in shown)
        if count > 3:
            options += (option(t("answer.all"), ALL),)
        return ask_many, (*options, option(t("answer.unknown"), UNKNOWN))
    if count == 1:
        parts = ", ".join(_one_part(f, defs) for f in fields)
        example = ", ".join(_example_one(f, defs) for f in fields)
        text = t("ask.breakdown.one", parts=parts, example=example)
    else:
        parts = ", ".join(_part(f, defs) for f in fields)
        text = t("ask.breakdown.many", n=number(count), parts=parts, example=_example(fields, count, defs))
    if count == 1:  # "không" to one person's attributes is not an answer to all of them at once
        return text, (option(t("answer.unknown"), UNKNOWN),)
    return text, (option(t("answer.none_of_them"), "0"), option(t("answer.unknown"), UNKNOWN))


def _example(fields: list[str], count: int, defs: dict[str, Breakdown] | None = None) -> str:
    """'1 nữ, cả 3 đoàn viên, còn lại không': only fields where "all of them" is a likely answer get one."""
    first = fields[0]
    examples = [
        t(f"example.some.{first}")
        if first in BREAKDOWN_FIELDS
        else t("example.some.extra", label=label_of(first, defs or {}))
    ]
    rest = fields[1:]
    if rest and rest[0] in ("youth_union", "upper_secondary_or_above"):
        examples.append(t(f"example.all.{rest[0]}", n=number(count)))
        rest = rest[1:]
    if rest:
        examples.append(t("example.rest"))
    return ", ".join(examples)


def _not_understood(step: dict[str, Any], fact: dict[str, Any], defs: dict[str, Breakdown]) -> str:
    what = step["what"]
    if what == "month":
        return t("answer.not_understood.month")
    if what == "plausible":
        return t("answer.not_understood.plausible")
    if what == "breakdown":
        fields, count = step["fields"], fact["admission"]["count"]
        if count == 1 and len(fields) == 1:
            return t("answer.not_understood.yes_no")
        if len(fields) > 1 and count == 1:
            example = ", ".join(_example_one(f, defs) for f in fields)
            return t("answer.not_understood.breakdown_one", example=example)
        if len(fields) > 1:
            return t("answer.not_understood.breakdown", example=_example(fields, count, defs))
    return t("answer.not_understood")


# --- answers ----------------------------------------------------------------------------------


def on_awaited(ctx: "Context", text: str) -> list[Reply] | None:
    """A typed message while a draft waits: an answer, a fix, a choice. None: not for the draft (a
    question about progress, help): the conversation answers it and the draft stays as it is."""
    draft = current(ctx)
    what = (ctx.state.get("awaiting") or {}).get("what")
    if draft is None:
        ctx.state.pop("awaiting", None)
        return [Reply(t("draft.gone"))]
    if " ".join(_WORDS.findall(fold(text))) in _CANCEL_WORDS:
        ctx.reset()
        return [Reply(t("draft.cancelled"))]
    if what == "choose":
        return _choose_typed(ctx, draft, text)
    if what in ("readback", "edit"):
        return _at_readback(ctx, draft, text, editing=what == "edit")
    if not draft.get("ask"):
        return [_next_step(ctx, draft)]
    replies = _answer(ctx, draft, text)
    if replies is not None:
        return replies
    parsed = _parse(ctx, text, draft["unit_id"])
    reading = _read(ctx, text, draft["unit_id"])
    # "à tháng 10", "kết nạp 3 chứ không phải 2": a fix of what the report said, typed before the
    # answer. While /ketnap or /lop asks for a figure, only a month is such a fix ("2 nữ" is no count).
    fixable = (
        draft["ask"][0]["what"] not in ("month", "count", "sent", "completed") or reading.period is not None
    )
    fixed = _fix(ctx, draft, text, reading) if fixable and _marked_fix(text, reading) else None
    if fixed is not None:
        return fixed
    if parsed.intent == "report" and parsed.all_facts() and not parsed.ambiguous:
        return incoming_report(ctx, text, parsed)
    if parsed.intent in ("progress", "help"):
        return None
    fixed = _fix(ctx, draft, text, reading) if fixable else None
    if fixed is not None:
        return fixed
    _keep_for_review(ctx, "answer", text)
    step = draft["ask"][0]
    return [
        Reply(_not_understood(step, draft["facts"][step["fact"]], _defs(ctx, draft))),
        _question(ctx, draft),
    ]


def _answer(ctx: "Context", draft: dict[str, Any], text: str) -> list[Reply] | None:
    """The typed answer to the pending question; None when the text does not answer it."""
    step = draft["ask"][0]
    fact = draft["facts"][step["fact"]]
    what = step["what"]
    if what == "month":
        return _answer_month(ctx, draft, fact, text)
    reading = _read(ctx, text, draft["unit_id"])
    if reading.old_period is not None or (
        reading.period is not None and reading.period.start != _period(fact)[0]
    ):
        return None  # another period belongs to a report or a fix, not to this figure
    if what == "plausible":
        return _answer_plausible(ctx, draft, step, fact, text, reading)
    if what in ("count", "sent", "completed"):
        return _answer_figure(ctx, draft, what, fact, text, reading)
    return _answer_breakdown(ctx, draft, step, fact, text, reading)


def _answer_month(
    ctx: "Context", draft: dict[str, Any], fact: dict[str, Any], text: str
) -> list[Reply] | None:
    folded = fold(text).strip(" .!")
    found = parse_period(f"thang {folded}" if folded.isdigit() else text, ctx.today)
    if found is None:
        yes = yes_no(text)
        if yes is None:
            return None
        # "đúng", "ok" answer "this month?": only a month is an answer here
        return [Reply(t("answer.not_understood.month")), _question(ctx, draft)]
    if found.start > ctx.today:
        return [
            Reply(t("draft.future_period", period=period_label(found.start, found.end))),
            _question(ctx, draft),
        ]
    fact["start"], fact["end"] = found.start.isoformat(), found.end.isoformat()
    fact["answers"].append(f"{t('answer.label.period')}: {text.strip()}")
    draft["ask"].pop(0)
    return [_next_step(ctx, draft)]


def _answer_figure(
    ctx: "Context", draft: dict[str, Any], what: str, fact: dict[str, Any], text: str, reading: fixes.Reading
) -> list[Reply] | None:
    attendance = fact.get("attendance") or {"sent": None, "completed": None}
    outcome = fixes.resolve(reading, count=None, asked=(what,), sent=attendance.get("sent"))
    if what not in outcome.values:
        if is_unknown(text) and what == "completed":
            outcome.values[what] = None
        elif yes_no(text) is False:
            outcome.values[what] = 0  # "chưa có ai", "không"
        else:
            return None
    value = outcome.values[what]
    if value is None and what in ("count", "sent"):
        return [Reply(t("answer.needed")), _question(ctx, draft)]
    if value is not None and value > MAX_COUNT:
        return None
    if (
        what == "completed"
        and value is not None
        and attendance.get("sent") is not None
        and value > attendance["sent"]
    ):
        return [Reply(t("answer.completed_too_many", n=number(attendance["sent"]))), _question(ctx, draft)]
    draft["ask"].pop(0)
    fact["answers"].append(f"{t(f'answer.label.{what}')}: {text.strip()}")
    if what == "count":
        assert value is not None
        fact["admission"] = {"count": value, **dict.fromkeys(BREAKDOWN_FIELDS)}
        fact.pop("extra", None)
        # "2, 1 nữ": breakdowns given with the count are taken too
        _set_breakdowns(fact, fixes.resolve(reading, count=value).values)
        _replan(draft, _index(draft, fact))
    else:
        attendance[what] = value
        fact["attendance"] = attendance
        _replan(draft, _index(draft, fact))
    return [_next_step(ctx, draft)]


def _index(draft: dict[str, Any], fact: dict[str, Any]) -> int:
    return next(i for i, f in enumerate(draft["facts"]) if f is fact)


def _answer_plausible(
    ctx: "Context",
    draft: dict[str, Any],
    step: dict[str, Any],
    fact: dict[str, Any],
    text: str,
    reading: fixes.Reading,
) -> list[Reply] | None:
    name = step["field"]
    current_value = fact["admission"]["count"] if name == "count" else fact["attendance"][name]
    outcome = fixes.resolve(reading, count=None, asked=(name,))
    value = outcome.values.get(name)
    if value is None:
        answer = yes_no(text)
        if answer is None:
            return None
        if answer is False:
            return [Reply(t("answer.type_the_number")), _question(ctx, draft)]
        value = current_value
    draft["ask"].pop(0)
    fact["answers"].append(f"{t(f'answer.label.{name}')}: {text.strip()}")
    if value == current_value:
        fact["checked"].append(name)
    else:
        _set_figure(fact, name, value)
        _replan(draft, _index(draft, fact))
    return [_next_step(ctx, draft)]


def _set_figure(fact: dict[str, Any], name: str, value: int) -> None:
    """A new count or class figure; breakdowns above a new count are dropped, to be asked again."""
    if name == "count":
        admission = fact.get("admission") or {"count": value, **dict.fromkeys(BREAKDOWN_FIELDS)}
        admission["count"] = value
        for field in BREAKDOWN_FIELDS:
            if admission.get(field) is not None and (admission[field] > value or value == 0):
                admission[field] = None
        for field, old in (fact.get("extra") or {}).items():
            if old is not None and (old > value or value == 0):
                fact["extra"][field] = None
        fact["admission"] = admission
    else:
        attendance = fact.get("attendance") or {"sent": None, "completed": None}
        attendance[name] = value
        fact["attendance"] = attendance
    if name in fact["checked"]:
        fact["checked"].remove(name)


def _answer_breakdown(
    ctx: "Context",
    draft: dict[str, Any],
    step: dict[str, Any],
    fact: dict[str, Any],
    text: str,
    reading: fixes.Reading,
) -> list[Reply] | None:
    admission = fact["admission"]
    count = admission["count"]
    fields = list(step["fields"])
    if any(m.field in fixes.FIGURES for m in reading.mentions):
        return None  # "kết nạp 3 …": a report or a fix, not this answer
    outcome = fixes.resolve(reading, count=count, asked=tuple(fields))
    if not outcome.values and not outcome.too_many and len(fields) >= 1:
        if is_unknown(text):
            outcome.values = dict.fromkeys(fields)
        else:
            answer = yes_no(text)
            if answer is False:
                outcome.values = dict.fromkeys(fields, 0)  # "không", "chưa có ai": none of them
            elif answer is True and count == 1 and len(fields) == 1:
                outcome.values = {fields[0]: 1}
    if not outcome.understood:
        return None
    replies: list[Reply] = []
    if outcome.too_many:
        # A figure above the count: this answer was probably meant for something else (another
        # period of the report, a slip of the finger): nothing of it is taken, the question is asked again.
        field, value = outcome.too_many[0]
        too_many = t(
            "answer.too_many_field",
            field=label_of(field, _defs(ctx, draft)),
            value=number(value),
            n=number(count),
        )
        return [Reply(too_many), _question(ctx, draft)]
    _set_breakdowns(fact, outcome.values)
    fact["answers"].append(f"{t('answer.label.breakdown')}: {text.strip()}")
    remaining = [f for f in fields if f not in outcome.values]
    if remaining:
        step["fields"] = remaining
        if not replies and outcome.values:
            defs = _defs(ctx, draft)
            got = ", ".join(_breakdown_text(name, outcome.values[name], defs) for name in outcome.values)
            replies.append(Reply(t("answer.noted", got=got)))
        return [*replies, _question(ctx, draft)]
    draft["ask"].pop(0)
    return [*replies, _next_step(ctx, draft)]


def _breakdown_text(name: str, value: int | None, defs: dict[str, Breakdown] | None = None) -> str:
    if value is None:
        return t("breakdown.unknown", label=label_of(name, defs or {}))
    if name not in BREAKDOWN_FIELDS:
        return t("breakdown.extra", n=number(value), label=label_of(name, defs or {}))
    return t(f"breakdown.{name}", n=number(value))


# --- the read-back: fixes and choices ---------------------------------------------------------


def _at_readback(ctx: "Context", draft: dict[str, Any], text: str, *, editing: bool) -> list[Reply] | None:
    parsed = _parse(ctx, text, draft["unit_id"])
    reading = _read(ctx, text, draft["unit_id"])
    if (
        parsed.intent == "report"
        and parsed.all_facts()
        and not parsed.ambiguous
        and not _marked_fix(text, reading)
    ):
        if editing:  # asked to send the report again: the new one replaces the draft
            unit = ctx.session.get(Unit, draft["unit_id"])
            assert unit is not None
            corrects = ctx.session.get(Report, draft["corrects"]) if draft.get("corrects") else None
            new = _build(ctx, text, parsed, unit=unit, corrects=corrects)
            if isinstance(new, list):
                return new
            ctx.state["draft"] = new
            return [_next_step(ctx, new)]
        return incoming_report(ctx, text, parsed)
    fixed = _fix(ctx, draft, text, reading)
    if fixed is not None:
        return fixed
    if parsed.intent in ("progress", "help"):
        return None
    answer = yes_no(text)
    if answer is not None and draft.get("duplicates") and not editing:
        # "ok" or "không" at the read-back of a likely duplicate: record it again, or not? Asked.
        return [Reply(t("readback.duplicate_choose"))]
    if answer is True:  # "ok", "thôi đúng rồi" after Sửa: nothing to fix after all
        return [_next_step(ctx, draft)]
    if answer is False:
        return _edit(ctx, draft)
    _keep_for_review(ctx, "answer", text)
    return [Reply(t("fix.not_understood" if editing else "readback.hint"))]


def _marked_fix(text: str, reading: fixes.Reading) -> bool:
    """A fix even when it reads as a report: "sửa kết nạp 3", "kết nạp 3 chứ không phải 2"."""
    return (
        bool(set(fold(text).split()) & _FIX_WORDS)
        or reading.old_period is not None
        or bool(reading.old_numbers)
    )


def _fix(ctx: "Context", draft: dict[str, Any], text: str, reading: fixes.Reading) -> list[Reply] | None:
    """Change one field of the draft ("tôn giáo là 0 chứ"); None when the text names nothing to fix."""
    names_something = (
        reading.mentions
        or reading.period
        or reading.old_period
        or reading.old_numbers
        or any(v.kind == "num" for v in reading.bare)
    )
    if not names_something:
        return None  # "ok", "không" alone fix nothing
    facts = draft["facts"]
    target = _fix_target(facts, reading)
    if target is None:
        return [Reply(t("fix.which"))]
    fact = facts[target]
    admission, attendance = fact.get("admission"), fact.get("attendance")
    outcome = fixes.resolve(
        reading,
        count=admission["count"] if admission else None,
        sent=(attendance or {}).get("sent"),
    )
    values = dict(outcome.values)
    bare = [v for v in reading.bare if v.kind == "num"]
    if not values and len(bare) == 1:
        name = _bare_field(fact, reading)
        if name is not None:
            values[name] = bare[0].number
    period = reading.period
    if len(facts) > 1 and period is not None and any(_period(f)[0] == period.start for f in facts):
        period = None  # "tháng 10 nữ là 1": the month says which fact, it is not a change
    if not values and period is None and not outcome.too_many:
        if outcome.unsure:
            return [Reply(t("fix.number_needed"))]
        return None
    defs = _defs(ctx, draft)
    if outcome.too_many:
        field, said = outcome.too_many[0]
        n = admission["count"] if admission else 0
        return [
            Reply(t("answer.too_many_field", field=label_of(field, defs), value=number(said), n=number(n)))
        ]
    if period is not None:
        if period.start > ctx.today:
            return [Reply(t("draft.future_period", period=period_label(period.start, period.end)))]
        fact["start"], fact["end"], fact["said_period"] = (
            period.start.isoformat(),
            period.end.isoformat(),
            True,
        )
    if (
        any(name not in fixes.FIGURES for name in values)  # the five, or one the tree adds
        and not fact.get("admission")
        and "count" not in values
    ):
        return [Reply(t("fix.no_admission"))]
    for name in ("count", "sent", "completed"):
        if (figure := values.get(name)) is not None:
            _set_figure(fact, name, figure)
    if "completed" in values and values["completed"] is None and fact.get("attendance"):
        fact["attendance"]["completed"] = None
    if fact.get("admission"):
        for name, value in values.items():
            if name in fixes.FIGURES:
                continue
            if value is not None and value > fact["admission"]["count"]:
                return [Reply(t("answer.too_many", n=number(fact["admission"]["count"])))]
        _set_breakdowns(fact, values)
    attendance = fact.get("attendance") or {}
    if attendance.get("completed") is not None and (attendance.get("sent") or 0) < attendance["completed"]:
        attendance["completed"] = None  # asked again below rather than stored above the number sent
    fact["answers"].append(f"{t('answer.label.fix')}: {text.strip()}")
    _keep_for_review(ctx, "fixed", f"{fact['text']}\n→ {text.strip()}")
    _replan(draft, target)
    step = _next_step(ctx, draft)
    if ctx.state.get("awaiting", {}).get("what") == "answer":
        # a question follows, not the read-back that would show the change: say what was changed
        return [Reply(t("fix.noted", changes=_changes(fact, values, period, defs))), step]
    return [step]


def _changes(
    fact: dict[str, Any], values: dict[str, int | None], period: Any, defs: dict[str, Breakdown]
) -> str:
    changed = []
    if period is not None:
        changed.append(t("answer.label.period") + " " + _fact_period(fact))
    if "count" in values and values["count"] is not None:
        changed.append(t("draft.admission", n=number(values["count"])).lstrip("• ").lower())
    for name in ("sent", "completed"):
        if values.get(name) is not None:
            changed.append(t(f"answer.label.{name}") + " " + number(values[name] or 0))
    changed += [_breakdown_text(name, values[name]) for name in BREAKDOWN_FIELDS if name in values]
    changed += [
        _breakdown_text(name, value, defs)
        for name, value in values.items()
        if name not in BREAKDOWN_FIELDS and name not in fixes.FIGURES
    ]
    return ", ".join(changed)


def _fix_target(facts: list[dict[str, Any]], reading: fixes.Reading) -> int | None:
    if len(facts) == 1:
        return 0
    for selector in (reading.old_period, reading.period):
        if selector is not None:
            found = [i for i, f in enumerate(facts) if _period(f)[0] == selector.start]
            if len(found) == 1:
                return found[0]
    named = {m.field for m in reading.mentions}
    having = []
    for i, fact in enumerate(facts):
        # the count, the five, or one the tree adds
        admission_named = bool(named - {"sent", "completed"}) and fact.get("admission") is not None
        class_named = bool(named & {"sent", "completed"}) and fact.get("attendance") is not None
        if admission_named or class_named:
            having.append(i)
    return having[0] if len(having) == 1 else None


def _bare_field(fact: dict[str, Any], reading: fixes.Reading) -> str | None:
    """Which figure a number alone fixes: the count after "đảng viên", else the one whose old value
    the text names ("3 chứ không phải 2"), else the only figure the fact has."""
    admission, attendance = fact.get("admission"), fact.get("attendance")
    if reading.head and admission is not None:
        return "count"
    figures: dict[str, int | None] = {}
    if admission is not None:
        figures["count"] = admission["count"]
        figures.update({f: admission.get(f) for f in BREAKDOWN_FIELDS})
        figures.update(fact.get("extra") or {})
    if attendance is not None:
        figures.update({f: attendance.get(f) for f in ("sent", "completed")})
    for old in reading.old_numbers:
        named = [name for name, value in figures.items() if value == old]
        if len(named) == 1:
            return named[0]
    known = [name for name in ("count", "sent", "completed") if figures.get(name) is not None]
    if (
        reading.old_numbers
        and len(known) == 1
        and not any(figures.get(f) is not None for f in BREAKDOWN_FIELDS)
    ):
        return known[0]
    return None


def _edit(ctx: "Context", draft: dict[str, Any]) -> list[Reply]:
    ctx.state["awaiting"] = {"what": "edit"}
    ctx.state.pop("options", None)
    ctx.state.pop("quick", None)
    # a guided report has no message of its own to show: its read-back lines instead
    shown = "\n".join(_brief(draft, _defs(ctx, draft))) if draft["text"].startswith("/") else draft["text"]
    return [Reply(t("draft.edit", text=shown))]


def reminder(ctx: "Context") -> list[Reply]:
    """The pending question or read-back again, after a message about something else (/tiendo)."""
    draft = current(ctx)
    if draft is None or (ctx.state.get("awaiting") or {}).get("what") not in ("answer", "readback"):
        return []
    return [_next_step(ctx, draft)]


def _choose_typed(ctx: "Context", draft: dict[str, Any], text: str) -> list[Reply] | None:
    words = fold(text).strip(" .!")
    choice = None
    if words in ("cu", "bao cao cu", "giu cu", "giu", "giu bao cao cu", "giu lai"):
        choice = "old"
    elif words in ("moi", "bao cao moi", "thay", "thay moi", "lay moi", "thay bang bao cao moi"):
        choice = "new"
    elif words in ("ca hai", "ca 2", "hai", "ghi ca hai", "ghi ca 2", "ca", "both"):
        choice = "both"
    if choice is None:
        parsed = _parse(ctx, text, draft["unit_id"])
        if parsed.intent in ("progress", "help"):
            return None
        if parsed.intent == "report" and parsed.all_facts() and not parsed.ambiguous:
            return incoming_report(ctx, text, parsed)  # yet another report: asked about instead
        return [Reply(t("choose.not_understood"))]
    return _choose(ctx, draft, choice)


def _choose(ctx: "Context", draft: dict[str, Any], choice: str) -> list[Reply]:
    new = draft.pop("incoming", None)
    if new is None:
        return [_next_step(ctx, draft)]
    if choice == "old":
        return [Reply(t("choose.kept_old")), _next_step(ctx, draft)]
    if choice == "new":
        if draft.get("corrects"):
            new["corrects"], new["corrects_code"] = draft["corrects"], draft["corrects_code"]
            if len(new["facts"]) > 1:
                return [Reply(t("correct.one_fact", code=draft["corrects_code"])), _next_step(ctx, draft)]
        ctx.state["draft"] = new
        return [_next_step(ctx, new)]
    offset = len(draft["facts"])
    draft["facts"] += new["facts"]
    draft["ask"] += [{**step, "fact": step["fact"] + offset} for step in new["ask"]]
    return [_next_step(ctx, draft)]


# --- summary, confirmation --------------------------------------------------------------------


def _fact_lines(
    admission: dict[str, Any] | None,
    attendance: dict[str, Any] | None,
    extra: dict[str, int | None] | None = None,
    defs: dict[str, Breakdown] | None = None,
) -> list[str]:
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
            # the breakdowns the tree adds, in its order (one it no longer has is still shown)
            order = list(defs or {}) + [k for k in extra or {} if k not in (defs or {})]
            details += [
                _breakdown_text(name, (extra or {})[name], defs)
                for name in order
                if (extra or {}).get(name) is not None
            ]
            line = t("draft.admission", n=number(admission["count"]))
            lines.append(line + (": " + ", ".join(details) if details else ""))
    if attendance is not None:
        if attendance.get("sent") is not None:
            lines.append(t("draft.sent", n=number(attendance["sent"])))
        if attendance.get("completed") is not None:
            lines.append(t("draft.completed", n=number(attendance["completed"])))
    return lines


def _stored_lines(found: earlier.EarlierReport) -> str:
    return "; ".join(line.lstrip("• ") for line in _fact_lines(*_stored_dicts(found)))


def _stored_dicts(found: earlier.EarlierReport) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    admission = None
    if found.admission is not None:
        admission = {
            "count": found.admission.count,
            **{f: getattr(found.admission, f) for f in BREAKDOWN_FIELDS},
        }
    attendance = None
    if found.attendance is not None:
        attendance = {"sent": found.attendance.sent, "completed": found.attendance.completed}
    return admission, attendance


def _repeats(fact: dict[str, Any], found: earlier.EarlierReport) -> str | None:
    """Whether a stored report repeats a fact: "same" (all figures), "counts" (the same counts, other
    details: sent twice with other answers, or a correction typed as a new report), or None."""
    if (found.report.period_start, found.report.period_end) != _period(fact):
        return None
    admission, attendance = _stored_dicts(found)
    mine_admission, mine_attendance = fact.get("admission"), fact.get("attendance")
    if (admission is None) != (mine_admission is None) or (attendance is None) != (mine_attendance is None):
        return None
    if admission is not None and mine_admission is not None and admission["count"] != mine_admission["count"]:
        return None
    if (
        attendance is not None
        and mine_attendance is not None
        and any(attendance[f] != mine_attendance[f] for f in ("sent", "completed"))
    ):
        return None
    mine_admission = None if mine_admission is None else {k: mine_admission.get(k) for k in admission or {}}
    if mine_admission == admission:
        return "same"
    return "counts"


def _notes(ctx: "Context", draft: dict[str, Any]) -> tuple[list[str], dict[int, str]]:
    """Lines that point at earlier reports (a likely duplicate, a contradiction) and at a month the
    message did not name; and the facts that repeat a stored report, with its receipt."""
    lines: list[str] = []
    duplicates: dict[int, str] = {}
    for index, fact in enumerate(draft["facts"]):
        start, end = _period(fact)
        period = _fact_period(fact)
        found = earlier.earlier_reports(
            ctx.session, draft["unit_id"], start, end, exclude=draft.get("corrects")
        )
        # A correction replaces a report on purpose: another report with the same figures is no
        # sign that it was sent twice.
        repeated = [] if draft.get("corrects") is not None else [(e, _repeats(fact, e)) for e in found]
        same = next((e for e, kind in repeated if kind == "same"), None)
        same_kind = "same"
        if same is None:
            same, same_kind = next((e for e, kind in repeated if kind == "counts"), None), "counts"
        if same is not None:
            duplicates[index] = same.report.receipt_code
            lines.append(
                t(
                    "note.duplicate" if same_kind == "same" else "note.duplicate_counts",
                    code=same.report.receipt_code,
                    day=day(same.report.created_at.astimezone(ctx.services.timezone).date()),
                    facts=_stored_lines(same),
                )
            )
        else:
            lines += _conflicts(fact, found, period)
        if not fact["said_period"] and collecting_last_month(ctx):
            lines.append(t("note.period_guess", month=month(start), current=month(ctx.today)))
    return lines, duplicates


def _conflicts(fact: dict[str, Any], found: list[earlier.EarlierReport], period: str) -> list[str]:
    admission, attendance = fact.get("admission"), fact.get("attendance")
    lines = []
    if admission is not None and admission["count"] == 0:
        admitted = [e for e in found if e.admission is not None and e.admission.count > 0]
        if admitted:
            lines.append(
                t(
                    "note.conflict_zero",
                    period=period,
                    n=number(sum(e.admission.count for e in admitted if e.admission)),
                    codes=", ".join(e.report.receipt_code for e in admitted),
                    code=admitted[-1].report.receipt_code,
                )
            )
        elif found:
            lines.append(_others(found, period))
    elif admission is not None:
        zeros = [e for e in found if e.admission is not None and e.admission.count == 0]
        if zeros:
            lines.append(t("note.earlier_zero", period=period, code=zeros[-1].report.receipt_code))
    if attendance is not None and attendance.get("sent") == 0:
        sent = [e for e in found if e.attendance is not None and (e.attendance.sent or 0) > 0]
        if sent:
            lines.append(
                t(
                    "note.conflict_class",
                    period=period,
                    n=number(sum(e.attendance.sent or 0 for e in sent if e.attendance)),
                    codes=", ".join(e.report.receipt_code for e in sent),
                )
            )
    return lines


def _others(found: list[earlier.EarlierReport], period: str) -> str:
    shown = found[-3:]
    listed = "; ".join(f"{e.report.receipt_code}: {_stored_lines(e)}" for e in shown)
    more = t("note.more", n=number(len(found) - len(shown))) if len(found) > len(shown) else ""
    return t("note.earlier_others", period=period, n=number(len(found)), reports=listed + more)


def summary(ctx: "Context", draft: dict[str, Any]) -> Reply:
    unit = ctx.session.get(Unit, draft["unit_id"])
    assert unit is not None
    facts = draft["facts"]
    defs = _defs(ctx, draft)
    if len(facts) == 1:
        period = _fact_period(facts[0])
        if draft.get("corrects_code"):
            header = t("draft.header.correction", code=draft["corrects_code"], unit=unit.name, period=period)
        else:
            header = t("draft.header", unit=unit.name, period=period)
        lines = [
            header,
            *_fact_lines(facts[0].get("admission"), facts[0].get("attendance"), facts[0].get("extra"), defs),
        ]
    else:
        lines = [t("draft.header.many", unit=unit.name, n=number(len(facts)))]
        for index, fact in enumerate(facts, start=1):
            lines.append(t("draft.fact_header", i=index, period=_fact_period(fact)))
            lines += _fact_lines(fact.get("admission"), fact.get("attendance"), fact.get("extra"), defs)
    notes, duplicates = _notes(ctx, draft)
    draft["duplicates"] = {str(i): code for i, code in duplicates.items()}
    lines += notes
    draft_id = draft["id"]
    if duplicates:
        first = (
            Option(t("option.skip_duplicate"), f"cancel:{draft_id}:dup")
            if len(duplicates) == len(facts)
            else Option(t("option.only_new"), f"confirm:{draft_id}:new")
        )
        options = (
            first,
            Option(t("option.again"), f"again:{draft_id}"),
            Option(t("option.edit"), f"edit:{draft_id}"),
        )
        lines.append(t("draft.ask_confirm.duplicate"))
    else:
        options = (
            Option(t("option.confirm"), f"confirm:{draft_id}"),
            Option(t("option.edit"), f"edit:{draft_id}"),
            Option(t("option.cancel"), f"cancel:{draft_id}"),
        )
        lines.append(
            t("draft.ask_confirm") if len(facts) == 1 else t("draft.ask_confirm.many", n=number(len(facts)))
        )
    ctx.offer(options)
    return Reply("\n".join(lines), options)


def stored_summary(session: Session, report: Report) -> str:
    admission, attendance, _ = reports.stored_facts(session, report)
    unit = session.get(Unit, report.unit_id)
    defs = {b.key: b for b in extra_breakdowns.definitions_for(session, unit)} if unit is not None else {}
    extra = extra_breakdowns.values_of_reports(session, [report.id or 0]).get(report.id or 0)
    return "\n".join(
        _fact_lines(
            None
            if admission is None
            else {"count": admission.count, **{f: getattr(admission, f) for f in BREAKDOWN_FIELDS}},
            None if attendance is None else {"sent": attendance.sent, "completed": attendance.completed},
            dict(extra) if extra else None,
            defs,
        )
    )


def _stored_for(session: Session, draft_id: str) -> list[Report]:
    """The reports a confirmed draft stored, in the order of its facts."""
    return earlier.reports_of_draft(session, key(draft_id))


def _already(session: Session, draft_id: str) -> list[Reply] | None:
    stored = _stored_for(session, draft_id)
    if not stored:
        return None
    return [Reply(t("confirm.already", code=", ".join(r.receipt_code for r in stored)))]


def on_choice(ctx: "Context", action: str, rest: str) -> list[Reply]:
    draft_id, _, value = rest.partition(":")
    draft = current(ctx)
    is_current = draft is not None and draft.get("id") == draft_id
    if action in ("confirm", "again"):
        if not is_current:
            return _already(ctx.session, draft_id) or [Reply(t("draft.gone"))]
        assert draft is not None
        if draft.get("ask"):  # a stale button pressed before the questions were answered
            return [_next_step(ctx, draft)]
        if draft.get("incoming"):
            return [Reply(t("choose.not_understood"))]
        return _confirm(ctx, draft, skip_duplicates=action == "confirm" and value == "new")
    if not is_current:
        return [Reply(t("draft.gone"))]
    assert draft is not None
    if action in ("old", "new", "both"):
        return _choose(ctx, draft, action)
    if action == "ans":
        return _pressed_answer(ctx, draft, value)
    if action == "cancel":
        codes = sorted(set(draft.get("duplicates", {}).values()))
        ctx.reset()
        if value == "dup" and codes:
            return [Reply(t("confirm.duplicate_skipped", codes=", ".join(codes)))]
        return [Reply(t("draft.cancelled"))]
    if action == "edit":
        return _edit(ctx, draft)
    return [Reply(t("draft.gone"))]


_TAGS = {"month": "m", "count": "c", "sent": "s", "completed": "d", "plausible": "p", "breakdown": "b"}


def _step_tag(step: dict[str, Any]) -> str:
    """A short name of a question: 'b0' the breakdowns of the first fact, 'c0' its count, …"""
    return f"{_TAGS[step['what']]}{step['fact']}"


def _pressed_answer(ctx: "Context", draft: dict[str, Any], value: str) -> list[Reply]:
    if not draft.get("ask"):
        return [_next_step(ctx, draft)]
    step = draft["ask"][0]
    tag, dot, rest = value.partition(".")
    if dot:  # buttons from before the tag ("ans:<id>:2") are taken as they are
        if tag != _step_tag(step):
            return [_question(ctx, draft)]  # a button of an earlier question: ask the current one
        value = rest
    fact = draft["facts"][step["fact"]]
    label = next(
        (label for label, data in ctx.state.get("options", []) if data.endswith((f":{value}", f".{value}"))),
        value,
    )
    what = step["what"]
    if what == "month":
        try:
            chosen = date.fromisoformat(value + "-01")
        except ValueError:
            return [_question(ctx, draft)]
        return _answer_month(ctx, draft, fact, t("answer.month", month=month(chosen))) or [
            _question(ctx, draft)
        ]
    if what == "plausible":
        if value != KEEP:
            return [_question(ctx, draft)]
        fact["checked"].append(step["field"])
        label_key = f"answer.label.{step['field']}"
        fact["answers"].append(f"{t(label_key)}: {label}")
        draft["ask"].pop(0)
        return [_next_step(ctx, draft)]
    if what == "breakdown":
        fields = step["fields"]
        count = fact["admission"]["count"]
        if value == UNKNOWN:
            values: dict[str, int | None] = dict.fromkeys(fields)
        elif value == ALL:
            values = dict.fromkeys(fields, count)
        else:
            number_value = small_int(value, count)
            if number_value is None or (len(fields) > 1 and number_value != 0):
                return [_question(ctx, draft)]  # forged or stale button data: ask again
            values = dict.fromkeys(fields, number_value)
        _set_breakdowns(fact, values)
        fact["answers"].append(f"{t('answer.label.breakdown')}: {label}")
        draft["ask"].pop(0)
        return [_next_step(ctx, draft)]
    if value == UNKNOWN:
        return _answer_figure(ctx, draft, what, fact, label, fixes.read(t("answer.unknown"), ctx.today)) or [
            _question(ctx, draft)
        ]
    if value == ALL:
        return _answer_figure(ctx, draft, what, fact, label, fixes.read(t("answer.all"), ctx.today)) or [
            _question(ctx, draft)
        ]
    if small_int(value, MAX_COUNT) is None:
        return [_question(ctx, draft)]
    return _answer_figure(ctx, draft, what, fact, label, fixes.read(value, ctx.today)) or [
        _question(ctx, draft)
    ]


def _confirm(ctx: "Context", draft: dict[str, Any], *, skip_duplicates: bool) -> list[Reply]:
    assert ctx.account is not None
    unit = ctx.session.get(Unit, draft["unit_id"])
    assert unit is not None
    duplicates = {int(i) for i in draft.get("duplicates", {})}
    chosen = [
        (index, fact)
        for index, fact in enumerate(draft["facts"])
        if not (skip_duplicates and index in duplicates)
    ]
    inputs = []
    defs = _defs(ctx, draft)
    for index, fact in chosen:
        admission, attendance = fact.get("admission"), fact.get("attendance")
        # Only the tree's breakdowns in force now (one removed meanwhile is not stored), only those given.
        extra = tuple(
            (key, value)
            for key, value in (fact.get("extra") or {}).items()
            if value is not None and key in defs and admission is not None and admission["count"] > 0
        )
        raw_text = fact["text"]
        if fact.get("answers"):
            raw_text += "\n" + t("answer.transcript", answers="; ".join(fact["answers"]))
        start, end = _period(fact)
        inputs.append(
            (
                index,
                reports.ReportInput(
                    unit=unit,
                    channel=ctx.incoming.channel,
                    raw_text=raw_text,
                    period_start=start,
                    period_end=end,
                    account_id=ctx.account.id,
                    admission=reports.AdmissionInput(**admission) if admission is not None else None,
                    attendance=reports.AttendanceInput(**attendance) if attendance is not None else None,
                    idempotency_key=key(draft["id"], index),
                    extra_breakdowns=extra,
                ),
            )
        )
    try:
        for _, data in inputs:
            reports.check(data)  # every fact is valid before any is stored: all or nothing
        stored: list[tuple[int, Report, bool]] = []
        # A refusal half-way (a month locked, a report withdrawn meanwhile) undoes the facts before it.
        with ctx.session.begin_nested():
            for index, data in inputs:
                if index == 0 and draft.get("corrects") is not None:
                    old = ctx.session.get(Report, draft["corrects"])
                    if old is None or old.status != ReportStatus.confirmed:
                        ctx.reset()
                        return [Reply(t("receipt.withdrawn", code=draft.get("corrects_code", "")))]
                    already = reports.find_by_idempotency_key(ctx.session, data.idempotency_key or "")
                    new = reports.correct_report(
                        ctx.session, old, data, account_id=ctx.account.id, now=ctx.now
                    )
                    if already is None and ctx.now - old.created_at <= CORRECTED_SOON:
                        _keep_for_review(ctx, "corrected", f"{old.raw_text}\n→ {data.raw_text}")
                    stored.append((index, new, already is None))
                    continue
                report, created = reports.confirm_report(ctx.session, data, now=ctx.now)
                stored.append((index, report, created))
    except reports.AlreadyWithdrawn:  # corrected or withdrawn meanwhile, from another chat
        ctx.reset()
        return [Reply(t("receipt.withdrawn", code=draft.get("corrects_code", "")))]
    except StorageError as refused:
        return [Reply(t("confirm.refused", reason=refusal(refused)))]
    skipped = sorted({draft["duplicates"][str(i)] for i in duplicates} if skip_duplicates else set())
    ctx.reset()
    if not stored:
        return [Reply(t("confirm.duplicate_skipped", codes=", ".join(skipped)))]
    if draft.get("corrects") is not None and len(stored) == 1:
        return [Reply(t("correct.done", old=draft["corrects_code"], code=stored[0][1].receipt_code))]
    if not any(created for _, _, created in stored):
        return [Reply(t("confirm.already", code=", ".join(r.receipt_code for _, r, _ in stored)))]
    replies = []
    if len(stored) == 1:
        replies.append(Reply(t("confirm.done", code=stored[0][1].receipt_code, unit=unit.name)))
    else:
        codes = ", ".join(
            t("confirm.code_for", code=report.receipt_code, period=_fact_period(draft["facts"][index]))
            for index, report, _ in stored
        )
        replies.append(Reply(t("confirm.done_many", n=number(len(stored)), codes=codes, unit=unit.name)))
    if skipped:
        replies[0] = Reply(replies[0].text + "\n" + t("confirm.skipped_note", codes=", ".join(skipped)))
    return replies


def _keep_for_review(ctx: "Context", kind: str, text: str) -> None:
    parse_review.keep(
        ctx.session, kind=kind, text=text, day=ctx.today, keep_days=ctx.services.review_keep_days
    )
