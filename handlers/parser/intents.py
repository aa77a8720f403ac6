"""parse_message: the pipeline, and what a message that reports nothing is (progress, help, unknown)."""

from __future__ import annotations

from datetime import date

from handlers.parser.admissions import TRIGGER_KINDS, find_admission, read_breakdown
from handlers.parser.classes import find_class
from handlers.parser.context import Ctx
from handlers.parser.lexicon import CLASS_KINDS
from handlers.parser.names import female_from_names, names_and_places
from handlers.parser.questions import field_label, missing_questions, question
from handlers.parser.result import BREAKDOWN_FIELDS, AdmissionFacts, ClassAttendanceFacts, ParseResult
from handlers.parser.tokens import COMMAND, make_items, mask_periods, tokenize
from handlers.periods import best_period, scan_periods
from handlers.text import fold_normalized, has_vietnamese_marks, normalize

MAX_INPUT = 2_000  # chat messages are short; cap work on pasted documents


def command_of(folded: str) -> tuple[str | None, int]:
    if folded[:1] != "/":  # cheaper than the regex for the usual message
        return None, 0
    m = COMMAND.match(folded)
    if not m:
        return None, 0
    return m.group(1), m.end()


def parse_message(text: str, today: date) -> ParseResult:
    """Parse one chat message; never raises on any str input."""
    norm = normalize(text[: MAX_INPUT * 2] if text else "")[:MAX_INPUT]
    if not norm:
        return ParseResult("unknown")
    folded = fold_normalized(norm)
    cmd, cmd_end = command_of(folded)
    if cmd is not None:
        if cmd in ("tiendo", "tien_do", "progress"):
            hits = scan_periods(folded, today)
            return ParseResult("progress", period=best_period(hits))
        if cmd in ("help", "start", "huongdan", "trogiup"):
            return ParseResult("help")
        if cmd not in ("baocao", "bao_cao", "report"):
            return ParseResult("unknown")
        norm = norm[cmd_end:]
        folded = folded[cmd_end:]
        if not folded.strip():
            return ParseResult("report", questions=(question("report_text"),))
    masked, hits = mask_periods(folded, today)
    lower = norm.lower()
    aligned = len(lower) == len(folded) == len(norm)
    # folding changed more than case exactly when the text carries diacritics
    marks = aligned and lower != folded and has_vietnamese_marks(norm)
    cased = aligned and not norm.isupper() and not norm.islower()
    fs, accs, origs = tokenize(masked, lower if marks else None, norm if cased else None)
    tkinds = ["W"] * len(fs)
    vals: dict[int, str] = {}
    names = names_and_places(fs, accs, origs, tkinds, vals, cased, marks)
    items = make_items(fs, accs, tkinds, vals, marks)
    ctx = Ctx(items)
    period = best_period(hits)
    kinds = {it.kind for it in items}

    # without a trigger or a class word the searches below find nothing: skip their scans
    adm = find_admission(ctx) if not kinds.isdisjoint(TRIGGER_KINDS) else None
    admission: AdmissionFacts | None = None
    region: tuple[int, int] | None = None
    if adm is not None and adm.count is not None:
        region = (adm.trigger, adm.region_end)
        count = adm.count
        if adm.names and count == 0:
            count = len(adm.names)
        if count > 0:
            values = read_breakdown(ctx, adm, count)
            all_names = (
                [str(it.value) for it in items[adm.trigger : adm.region_end] if it.kind == "NAME"]
                if "NAME" in kinds
                else []
            )
            if values["female"] is None and all_names and len(all_names) == count:
                values["female"] = female_from_names(all_names)
            for field in BREAKDOWN_FIELDS:
                v = values[field]
                if v is not None and v > count:
                    ctx.ask(
                        f"{field}_exceeds",
                        question("exceeds", label=field_label(field), value=v, count=count),
                    )
                    values[field] = None
            admission = AdmissionFacts(count=count, **values)
        else:
            admission = AdmissionFacts(count=0)
    attendance = find_class(ctx, region) if not kinds.isdisjoint(CLASS_KINDS) else None
    if (
        attendance is not None
        and attendance.sent is not None
        and attendance.completed is not None
        and attendance.completed > attendance.sent
    ):
        ctx.ask(
            "completed_exceeds",
            question("completed_exceeds", completed=attendance.completed, sent=attendance.sent),
        )
        attendance = ClassAttendanceFacts(sent=attendance.sent)

    if (
        admission is None
        and attendance is None
        and ctx.ambiguous == ["admission_count"]
        and ("HELP" in kinds or "Q" in kinds or "?" in folded)
    ):
        ctx.ambiguous.clear()  # "cho hỏi cách báo cáo kết nạp đảng viên": a how-to, not a report
        ctx.questions.clear()
    if admission is not None or attendance is not None or ctx.ambiguous:
        questions = list(ctx.questions)
        if admission is not None and admission.count > 0:
            questions.extend(missing_questions(admission, tuple(ctx.ambiguous)))
        return ParseResult(
            "report", admission, attendance, period, tuple(questions), tuple(names), tuple(ctx.ambiguous)
        )
    if "PROG" in kinds and not ("HELP" in kinds and "tien do" not in folded):
        return ParseResult("progress", period=period, names=tuple(names))
    # a question about how many / how far: "đã kết nạp được bao nhiêu?", "đã đạt chỉ tiêu chưa?"
    q_words = {it.f for it in items if it.kind == "Q"}
    how_much = (
        bool(q_words - NOT_PROGRESS_Q)
        or ("?" in folded and not q_words)
        or (items and items[-1].kind == "NEG" and items[-1].f == "chua")
    )
    if how_much and kinds & PROGRESS_TOPICS and "HELP" not in kinds and "BLOCK" not in kinds:
        return ParseResult("progress", period=period, names=tuple(names))
    if "HELP" in kinds:
        return ParseResult("help")
    return ParseResult("unknown", names=tuple(names))


NOT_PROGRESS_Q = frozenset({"bao gio", "gi", "lam sao", "sao", "a", "nhi", "the"})
PROGRESS_TOPICS = frozenset({"ADMIT", "HEAD", "DV", "CLASS", "SENT", "DONE", "CERT", "PLAN"})
