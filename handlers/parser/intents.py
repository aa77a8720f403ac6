"""parse_message: the pipeline, and what a message that reports nothing is (progress, help, unknown)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from handlers.commands import find
from handlers.parser.admissions import TRIGGER_KINDS
from handlers.parser.context import TRAILING, Ctx, Item
from handlers.parser.extra import Vocabulary, total_extra, vocabulary
from handlers.parser.facts import Reading, read_facts, total_admission, total_attendance
from handlers.parser.lexicon import CLASS_KINDS
from handlers.parser.names import names_and_places
from handlers.parser.questions import missing_questions, question
from handlers.parser.result import Fact, ParseResult
from handlers.parser.tables import rewrite_tables
from handlers.parser.tokens import COMMAND, make_items, mask_periods, tokenize
from handlers.periods import MASKED_KINDS, Period, best_period, scan_periods
from handlers.text import VNI_HINT, fold_normalized, has_vietnamese_marks, normalize, repair_typing
from storage.breakdowns import Breakdown

MAX_INPUT = 2_000  # chat messages are short; cap work on pasted documents


def command_of(folded: str) -> tuple[str | None, int]:
    if folded[:1] != "/":  # cheaper than the regex for the usual message
        return None, 0
    m = COMMAND.match(folded)
    if not m:
        return None, 0
    return m.group(1), m.end()


def parse_message(text: str, today: date, breakdowns: Sequence[Breakdown] | None = None) -> ParseResult:
    """Parse one chat message; never raises on any str input. `breakdowns`: those the sender's tree
    adds to the five (the caller reads them); their figures come back in `extra`."""
    return _parse(text, today, repaired=False, extra=vocabulary(breakdowns))


def _parse(text: str, today: date, *, repaired: bool, extra: Vocabulary | None = None) -> ParseResult:
    raw = text[: MAX_INPUT * 2] if text else ""
    if "[" in raw:
        raw = STAMP.sub(" ", raw)  # "[09:15, 3/11/2025] Name:": when a copied message was sent, no period
    if ("1." in raw or "1)" in raw or "1/ " in raw) and LIST_MARK.search(raw):
        raw = _unnumber(raw)
    if "\t" in raw or "|" in raw or ("\n" in raw and ("," in raw or ";" in raw)):
        raw = rewrite_tables(raw)  # pasted from Excel, typed with "|", or saved as CSV
    norm = normalize(raw)[:MAX_INPUT]
    if not norm:
        return ParseResult("unknown")
    folded = fold_normalized(norm)
    if not repaired and VNI_HINT.search(folded) is not None:  # "ke61t": VNI keys the words split apart
        fixed = repair_typing(norm)
        if fixed != norm:
            return _parse(fixed, today, repaired=True, extra=extra)
    cmd, cmd_end = command_of(folded)
    if cmd is not None:
        command = find(cmd)
        rest = folded[cmd_end:]
        if command is None:
            return ParseResult("unknown")
        if command.reads_period:
            return ParseResult(command.intent, period=best_period(scan_periods(rest, today)))
        if command.asks is not None:
            return ParseResult(command.intent, questions=(question(command.asks),))
        if not (command.reads_report and rest.strip()):
            return ParseResult(command.intent)
        norm = norm[cmd_end:]
        folded = rest
    if folded[:1] == "[" and CAPTION.match(folded):
        return ParseResult("unknown")  # "[Hình ảnh] Lễ kết nạp...": a photo's caption, forwarded news
    if "§" in folded or "@" in folded:
        folded = folded.translate(_MARKERS)  # the masks' own markers, typed: not periods or times
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
    items, mistyped = make_items(fs, accs, tkinds, vals, marks, masked)
    if mistyped and not repaired:
        fixed = repair_typing(norm)  # Telex leftovers: read the repaired text instead
        if fixed != norm:
            return _parse(fixed, today, repaired=True, extra=extra)
    ctx = Ctx(items)
    ctx.today = today
    ctx.extra = extra
    kinds = ctx.kinds = {it.kind for it in items}
    if hits:
        ctx.period_kinds = [h.kind for h in hits if h.kind not in MASKED_KINDS]
        ctx.periods = [h.period for h in hits if h.kind not in MASKED_KINDS]

    readings = read_facts(ctx, hits, today) if not kinds.isdisjoint(FACT_KINDS) else []
    if (
        not readings
        and ctx.ambiguous == ["admission_count"]
        and ("HELP" in kinds or "Q" in kinds or "PROG" in kinds or "?" in folded)
    ):
        ctx.ambiguous.clear()  # "cho hỏi cách báo cáo kết nạp đảng viên": a how-to, not a report
        ctx.questions.clear()
    if readings or ctx.ambiguous:
        # a count the bot asks about keeps the period said with it ("tháng này kết nạp vài đồng chí")
        said = best_period(hits) if not readings and "period" not in ctx.ambiguous else None
        return _report(readings, ctx, names, said)
    period = best_period(hits)
    if "HEARSAY" in kinds:
        return ParseResult("unknown", names=tuple(names))  # "nghe nói chi bộ trường ... rồi hả anh?"
    if "PROG" in kinds and not ("HELP" in kinds and "tien do" not in folded and not _please(items)):
        return ParseResult("progress", period=period, names=tuple(names))
    # a question about how many / how far: "đã kết nạp được bao nhiêu?", "đã đạt chỉ tiêu chưa?"
    q_words = {it.f for it in items if it.kind == "Q"}
    if q_words & HOW and any(it.f in SEND_WORDS for it in items):
        return ParseResult("help")  # "gửi báo cáo kết nạp cho bot như thế nào ạ?": how to use the bot
    how_much = (
        bool(q_words - NOT_PROGRESS_Q)
        or ("?" in folded and not q_words and not yes_no(items))
        or (items and items[-1].kind == "NEG" and items[-1].f == "chua")
    )
    if (
        how_much
        and kinds & PROGRESS_TOPICS
        and "HELP" not in kinds
        and "BLOCK" not in kinds
        and not asks_permission(items)
    ):
        return ParseResult("progress", period=period, names=tuple(names))
    if "HELP" in kinds and not _how_to_the_work(items, kinds):
        return ParseResult("help")
    planned = not kinds.isdisjoint(("ADMIT", "SENT")) and "Q" not in kinds and "?" not in folded
    later = any(h.period is not None and h.period.start > today for h in hits)
    return ParseResult("unknown", names=tuple(names), plan=planned and ("PLAN" in kinds or later))


# "làm sao để ..." asks the bot for help when it is about reporting or the bot; "làm sao để kết nạp
# được đảng viên trẻ?" is about the work itself, which the bot does not answer.
_GENERIC_HOW = frozenset({"lam sao de", "lam the nao de", "lam the nao", "lam sao", "lam nhu the nao"})


def _how_to_the_work(items: list[Item], kinds: set[str]) -> bool:
    helps = {it.f for it in items if it.kind == "HELP"}
    return (
        helps <= _GENERIC_HOW
        and "REPORTW" not in kinds
        and not any(it.f in ("bot", "gui", "go", "nhap", "dung", "xem", "tin nhan") for it in items)
    )


def _report(readings: list[Reading], ctx: Ctx, names: list[str], said: Period | None = None) -> ParseResult:
    """A report: one fact, or several with their totals in the single fields."""
    facts: tuple[Fact, ...] = ()
    extra: tuple[tuple[str, int], ...] = ()
    if len(readings) == 1 and len(readings[0].periods) == 1:
        admission, attendance, period = readings[0].admission, readings[0].attendance, readings[0].periods[0]
        extra = readings[0].extra
    elif readings:
        facts = tuple(Fact(p, r.admission, r.attendance, r.extra) for r in readings for p in r.periods)
        extra = total_extra([(f.admission.count, f.extra) for f in facts if f.admission is not None])
        admissions = [f.admission for f in facts if f.admission is not None]
        attendances = [f.class_attendance for f in facts if f.class_attendance is not None]
        admission = total_admission(admissions) if admissions else None
        attendance = total_attendance(attendances) if attendances else None
        dated = [f.period for f in facts if f.period is not None]
        period = (
            Period(min(p.start for p in dated), max(p.end for p in dated))
            if len(dated) == len(facts)
            else None
        )
    else:
        admission = attendance = None
        period = said
    ambiguous = tuple(ctx.ambiguous)
    questions = tuple(ctx.questions)
    if admission is not None and admission.count > 0:
        missing = missing_questions(admission, ambiguous)
        questions = questions + missing if questions else missing
    return ParseResult(
        "report", admission, attendance, period, questions, tuple(names), ambiguous, facts, extra
    )


FACT_KINDS = TRIGGER_KINDS | CLASS_KINDS
_MARKERS = {ord("§"): "^", ord("@"): "^"}
# The time stamp a messenger puts before a copied message: "[09:15, 3/11/2025]", "[21/10/2024 08:15]",
# "[3/11 9:15 SA]" (a time and a date in either order, in brackets).
_TIME = r"\d{1,2}\s*[:h]\s*\d{2}(?:\s*:\s*\d{2})?(?:\s*(?:am|pm|sa|ch))?"
_DATE = r"\d{1,2}\s*[/.-]\s*\d{1,2}(?:\s*[/.-]\s*\d{2,4})?"
STAMP = re.compile(rf"\[\s*(?:{_TIME}\s*,?\s*{_DATE}|{_DATE}\s*,?\s*{_TIME})\s*\]", re.I)
# A numbered list of people: "1. Trần Văn Hải 2. Lê Thị Thu", "1) ...", "1/ ...": the numbers are
# places in the list, never counts.
LIST_MARK = re.compile(r"(?<![\w/.,:])(\d{1,2})\s*[.)/]\s+(?=\w)")


def _unnumber(raw: str) -> str:
    """The list's markers made commas, when they run 1, 2, 3... and each opens a capitalised name."""
    marks = [m for m in LIST_MARK.finditer(raw) if raw[m.end()].isupper()]
    if len(marks) < 2 or [int(m.group(1)) for m in marks] != list(range(1, len(marks) + 1)):
        return raw
    out, last = [], 0
    for m in marks:
        out += [raw[last : m.start()], ", "]
        last = m.end()
    return "".join([*out, raw[last:]])


# A photo or a file shared in a chat, as a messenger shows it in text: "[Hình ảnh] ...", "[Photo]".
CAPTION = re.compile(r"\[\s*(?:hinh\s*anh|anh|photo|image|video|sticker|file|tep|tap tin)\s*\]")
HOW = frozenset({"nhu the nao", "the nao", "lam sao", "sao", "ra sao", "nhu nao"})
SEND_WORDS = frozenset({"bot", "gui", "go", "nhap", "soan"})
NOT_PROGRESS_Q = frozenset({"bao gio", "gi", "lam sao", "sao", "a", "nhi", "the", "bao lau", "khong a"})


def _please(items: list[Item]) -> bool:
    """ "xem giúp tôi kết quả": "giúp" asks a favour, it is not a call for help."""
    return all(it.f in ("giup", "giup voi", "giup do") for it in items if it.kind == "HELP")


def yes_no(items: list[Item]) -> bool:
    """ "... có phải báo cáo không?": a yes-or-no question, not one about figures."""
    last = len(items) - 1
    while last > 0 and (items[last].kind in ("STOP", "SEP") or items[last].f in TRAILING):
        last -= 1
    return last > 0 and (
        (items[last].kind == "NEG" and items[last].f != "chua") or items[last].f == "khong a"
    )


def asks_permission(items: list[Item]) -> bool:
    """ "... có được không?", "... được chưa ạ": whether something may be done, not how far it got."""
    last = len(items) - 1
    while last > 0 and (items[last].kind in ("STOP", "SEP") or items[last].f in TRAILING):
        last -= 1
    return (
        last > 0
        and (items[last].kind == "NEG" or items[last].f in ("khong a", "chua a"))
        and (items[last - 1].kind == "DUOC" or items[last - 1].f == "co duoc")
    )


PROGRESS_TOPICS = frozenset({"ADMIT", "HEAD", "DV", "CLASS", "SENT", "DONE", "CERT", "PLAN"})
