"""The facts of a message: stretches by time frame, what each stretch reports, and the period it is about.

A message may report several periods ("tháng 9 kết nạp 1, tháng 10 kết nạp 2"): the item stream is
cut where a new time frame opens a clause, each stretch is read on its own, and each reading takes
the period its own words give. Periods that do not date a fact are told apart by their role:
- a letter's or a forward's date ("Hà Nam, ngày 2/11/2023", "ngày gửi", next to a clock time);
- background: when a new member attended the class or left school ("đã học lớp nhận thức năm 2021");
- the report's own period ("báo cáo tháng 2") wins over any other in its stretch.
A fact dated after today is a plan, not a report.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from handlers.parser.admissions import TRIGGER_KINDS, find_admission, read_breakdown
from handlers.parser.classes import find_class
from handlers.parser.context import Ctx, Item, sentence_bounds
from handlers.parser.extra import Pairs, read_extra, total_extra
from handlers.parser.lexicon import ATTRS, CLASS_KINDS, COMPLEMENT, FIELD_OF, NOUNS
from handlers.parser.names import female_from_names
from handlers.parser.questions import field_label, question
from handlers.parser.result import BREAKDOWN_FIELDS, AdmissionFacts, ClassAttendanceFacts
from handlers.periods import MASKED_KINDS, Period, PeriodHit


@dataclass(slots=True)
class Reading:
    """What one stretch of the message reports, and the periods it is about (one, or one each)."""

    admission: AdmissionFacts | None
    attendance: ClassAttendanceFacts | None
    anchor: int  # the item of its first trigger, in the message's stream
    start: int
    end: int
    periods: list[Period | None]
    extra: Pairs = ()  # the breakdowns the caller's tree adds, of `admission` (extra.read_extra)


_VERBS = CLASS_KINDS | {"ADMIT", "MORE", "DEVELOP"}
_FACT_KINDS = TRIGGER_KINDS | CLASS_KINDS
_TRIGGERS = frozenset({"ADMIT", "SENT", "STUDY", "DONE", "CERT"})
# Words that may stand between a clause's start and the period opening it: "trong tháng 10", "còn quý 4".
_FILLERS = frozenset({"trong", "vao", "rieng", "sang", "den", "toi", "tu", "cuoi", "dau", "hoi"})
_CLAUSE_START = frozenset({"STOP", "SEP", "AND", "COLON"})
_BACKGROUND = frozenset({"CLASS", "STUDY", "DONE", "CERT", "EDU", "LOWEDU", "SENT"})
_LETTER_KINDS = frozenset({"TIME", "LETTER"})
_SCHOOLING = frozenset({"EDU", "LOWEDU"})
_COMPLETION = frozenset({"DONE", "CERT"})
_COUNTS = frozenset({"NUM", "NAME", "NEG", "NONE"})
_CLASS_NAMED = frozenset({"CLASS", "SENT", "STUDY", "ADMIT"})
_NOTHING = frozenset({"NEG", "NONE"})


def read_facts(ctx: Ctx, hits: list[PeriodHit], today: date) -> list[Reading]:
    """The readings of the message in the order written; a plan (a future period) is left out. A
    verb without a count asks for it, unless the message counts an admission elsewhere."""
    readings = _read_facts(ctx, hits, today)
    if ctx.uncounted and not any(r.admission is not None for r in readings):
        ctx.ask("admission_count", question("count"))
    if readings and "PERIOD" in ctx.kinds and _doubted_period(ctx.items):
        # "tháng 10 hoặc 11 gì đó", "tháng 10 ..., hay là tháng 9 nhỉ": which one? the bot asks
        ctx.ask("period", question("period"))
        for reading in readings:
            reading.periods = [None]
        readings = _merge_same_period(readings)
    return readings


_OR = frozenset({"hoac", "hay", "hay la", "hoac la"})


def _doubted_period(items: list[Item]) -> bool:
    """A period offered with another as an alternative: "tháng 10 hoặc 11", "..., hay là tháng 9"."""
    n = len(items)
    for k, it in enumerate(items):
        if it.kind != "PERIOD":
            continue
        if k + 2 < n and items[k + 1].f in _OR and items[k + 2].kind in ("PERIOD", "NUM"):
            return True
        before = k - 2 if k >= 2 and items[k - 1].kind == "LA" else k - 1  # "hay là tháng 9"
        if before >= 0 and items[before].f in _OR and any(x.kind == "PERIOD" for x in items[:before]):
            return True
    return False


def _read_facts(ctx: Ctx, hits: list[PeriodHit], today: date) -> list[Reading]:
    items = ctx.items
    if "PERIOD" not in ctx.kinds:  # the usual message: one stretch, no period
        reading = _read(ctx, 0, len(items), None)
        if reading is None:
            return []
        reading.periods = [None]
        return [reading]
    periods = [h.period for h in hits if h.kind not in MASKED_KINDS]
    marks = [k for k, it in enumerate(items) if it.kind == "PERIOD"]
    if len(marks) < 2:  # one stretch, one period: its period unless a letter's date or background
        reading = _read(ctx, 0, len(items), None)
        if reading is None:
            return []
        k = marks[0]
        period = periods[int(items[k].value or 0)]
        if _is_letter(ctx, k) or (reading.attendance is None and _is_background(ctx, k)):
            period = None
        elif period is not None and period.start > today:
            return []  # a plan
        reading.periods = [period]
        return [reading]
    cuts = _cuts(ctx, marks)
    readings: list[Reading] = []
    stretches = _label_lines(ctx, list(zip([0, *cuts], [*cuts, len(items)], strict=True)))
    orphans: list[tuple[int, int]] = []  # stretches that report nothing: their periods may date a neighbour
    # the kind of fact the last stretch with a verb was about; before any, the verb of a later line
    # that counts nothing itself: "Tháng 7: 1\nTháng 8: 0\n(kết nạp đảng viên)"
    verb: str | None = _label_verb(ctx, stretches)
    for start, end in stretches:
        reading = _read(ctx, start, end, verb)
        stretch_verbs = {it.kind for it in items[start:end]}
        if "ADMIT" in stretch_verbs:
            verb = "ADMIT"
        elif not stretch_verbs.isdisjoint(("SENT", "STUDY")):
            verb = "SENT"
        if reading is None:
            orphans.append((start, end))
            continue
        readings.append(reading)
    _said_of_all(ctx, readings)
    for reading in readings:
        reading.periods = _periods_of(ctx, periods, reading, orphans)
    _within_report_period(ctx, marks, readings)
    readings = _without_totals(ctx, readings)
    return _drop_plans(_merge_same_period(readings), today)


def _said_of_all(ctx: Ctx, readings: list[Reading]) -> None:
    """A closing clause "(cả 2) đều là đoàn viên" after facts of several periods is said of everyone
    they admitted, not only of the last period's people."""
    admitted = [r for r in readings if r.admission is not None]
    if len(admitted) < 2:
        return
    items = ctx.items
    total = sum(r.admission.count for r in admitted if r.admission is not None)
    cut = max((j for j in range(len(items)) if items[j].kind in ("SEP", "STOP")), default=-1)
    tail = items[cut + 1 :]
    if cut < admitted[-1].start or not any(it.kind == "ALL" for it in tail):
        return
    if any(it.kind in ("NEG", "NONE", "PERIOD") for it in tail):
        return
    if any(it.kind == "NUM" and int(it.value or 0) != total for it in tail):
        return
    said = [it.kind for it in tail if it.kind in ATTRS]
    if not said or any(it.kind not in (*ATTRS, "ALL", "NUM", "LA", "W", "CLS", "DV", "HEAD") for it in tail):
        return
    for r in admitted:
        assert r.admission is not None
        values = {}
        for kind in said:
            values[FIELD_OF[kind]] = 0 if kind in COMPLEMENT else r.admission.count
        r.admission = dataclasses.replace(r.admission, **values)


# --------------------------------------------------------------------------------------------------
# Stretches


def _cuts(ctx: Ctx, marks: list[int]) -> list[int]:
    """Where a new time frame starts: before a period opening a clause, or after a period that closes
    one when the next clause counts again ("1 đv hôm 3/11 và 1 đv hôm 10/11")."""
    items = ctx.items
    n = len(items)
    cuts: set[int] = set()
    for x, k in enumerate(marks):
        if _is_letter(ctx, k):
            continue
        prev = k - 1
        while prev >= 0 and items[prev].kind in ("W", "PAST") and items[prev].f in _FILLERS:
            prev -= 1
        if prev >= 0 and items[prev].f == "(" and k + 1 < n and items[k + 1].f == ")":
            if k + 2 < n and items[k + 2].kind in _TRIGGERS:
                # "Đợt 1 (tháng 3) kết nạp 2 đ/c, đợt 2 (tháng 9) kết nạp 3": it dates what follows
                start = prev - 1
                while start >= 0 and items[start].kind not in _CLAUSE_START:
                    start -= 1
                cuts.add(start + 1)
                continue
            # "kết nạp 2 đv (T10) và cử 3 qc (T11)": a period in brackets dates what comes before it
            if (
                k + 2 < n
                and items[k + 2].kind in ("SEP", "AND")
                and any(items[j].kind in _TRIGGERS for j in range(k + 3, min(n, k + 6)))
            ):
                cuts.add(k + 2)
            continue
        if (
            prev >= 0
            and items[prev].kind in _TRIGGERS
            and (prev == 0 or items[prev - 1].kind in _CLAUSE_START)
        ):
            cuts.add(
                prev
            )  # "KN tháng 9: 1\nKN tháng 10: 2": the verb opens the clause, the period follows it
            continue
        if prev >= 0:
            pk = items[prev].kind
            if pk == "AND" and prev > 0 and items[prev - 1].kind == "PERIOD":
                pass  # "tháng 9 và tháng 10": one frame said twice
            elif pk in _CLAUSE_START or (
                (pk in ("NUM", "NAME") or pk in NOUNS or pk in ATTRS)
                and any(items[j].kind in _TRIGGERS for j in range(k + 1, min(n, k + 4)))
            ):
                cuts.add(prev + 1)
        nxt = k + 1
        if nxt < n and items[nxt].f == "(":  # "hôm 1/11 (nữ) và 1 đv hôm 8/11": past the brackets
            close = next((j for j in range(nxt, min(n, nxt + 8)) if items[j].f == ")"), None)
            if close is not None:
                nxt = close + 1
        if (
            x + 1 < len(marks)
            and nxt + 1 < n
            and items[nxt].kind in ("SEP", "AND")
            and (
                items[nxt + 1].kind in _TRIGGERS
                or (nxt + 2 < n and items[nxt + 1].kind == "NUM" and items[nxt + 2].kind in NOUNS)
            )
        ):
            # "kết nạp 1 đv ngày 2/11, kết nạp 1 đv ngày 9/11": the period closes its clause
            cuts.add(nxt)
    return sorted(c for c in cuts if 0 < c < n)


def _label_lines(ctx: Ctx, stretches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A last line with a verb and no figure ("Tháng 9: 2\n(kết nạp đảng viên)") is a stretch of its own."""
    items = ctx.items
    out = []
    for start, end in stretches:
        line = end
        while line > start and items[line - 1].kind != "STOP":
            line -= 1
        if line > start and items[line - 1].f == "\n" and line < end:
            tail = {it.kind for it in items[line:end]}
            head = {it.kind for it in items[start:line]}
            if not tail.isdisjoint(_VERBS) and tail.isdisjoint(_COUNTS) and head.isdisjoint(_VERBS):
                out += [(start, line), (line, end)]
                continue
        out.append((start, end))
    return out


def _label_verb(ctx: Ctx, stretches: list[tuple[int, int]]) -> str | None:
    """The verb of a stretch that names the fact but counts nothing ("(kết nạp đảng viên)" under
    the figures), when no stretch before it has a verb: the stretches before it are about that."""
    items = ctx.items
    for start, end in stretches:
        kinds = {it.kind for it in items[start:end]}
        if kinds.isdisjoint(_VERBS):
            continue
        if not kinds.isdisjoint(_COUNTS):
            return None
        if "ADMIT" in kinds:
            return "ADMIT"
        return "SENT" if not kinds.isdisjoint(("SENT", "STUDY")) else None
    return None


def _read(ctx: Ctx, start: int, end: int, verb: str | None) -> Reading | None:
    """Read items[start:end]. A stretch without a verb of its own that counts again ("tháng 10: 2",
    "và 1 đv hôm 10/11", "T8: 1" under a line "Kết nạp ĐV") or says none ("T10 chưa có") continues
    the kind of fact of the last stretch with a verb (`verb`); one that completes without naming the
    class continues the class ("tháng 9 cử 4 đi học, tháng 10 cả 4 hoàn thành")."""
    items = ctx.items
    whole = start == 0 and end == len(items)
    part = items if whole else items[start:end]
    kinds = ctx.kinds if whole else {it.kind for it in part}
    shift = start
    if not whole and verb == "SENT" and not kinds.isdisjoint(_COMPLETION) and kinds.isdisjoint(_CLASS_NAMED):
        part = [Item("CLASS", "lop"), *part]
        shift -= 1
        kinds = kinds | {"CLASS"}
    if (
        kinds.isdisjoint(_VERBS)
        and verb is not None
        and ("NUM" in kinds or (verb == "ADMIT" and not whole and not kinds.isdisjoint(_NOTHING)))
    ):
        while part and part[0].kind in ("SEP", "AND", "STOP"):
            part = part[1:]
            shift += 1
        part = [Item("ADMIT", "ket nap") if verb == "ADMIT" else Item("SENT", "cu"), *part]
        shift -= 1
        kinds = kinds | {verb}
    elif kinds.isdisjoint(_FACT_KINDS):
        return None
    sub = ctx if whole else ctx.child(part)
    admission, attendance, anchor, extra = read_stretch(sub, kinds)
    if admission is None and attendance is None:
        return None
    return Reading(admission, attendance, anchor + shift, start, end, [], extra)


def read_stretch(
    ctx: Ctx, kinds: set[str]
) -> tuple[AdmissionFacts | None, ClassAttendanceFacts | None, int, Pairs]:
    """Admission and class attendance in one stretch, the item of the first trigger read, and the
    breakdowns the caller's tree adds."""
    items = ctx.items
    # without a trigger or a class word the searches below find nothing: skip their scans
    adm = find_admission(ctx) if not kinds.isdisjoint(TRIGGER_KINDS) else None
    admission: AdmissionFacts | None = None
    region: tuple[int, int] | None = None
    anchor = len(items)
    extra: Pairs = ()
    if adm is not None and adm.count is not None:
        region = (adm.trigger, adm.region_end)
        anchor = adm.trigger
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
            if (
                not all_names
                and "NAME" in kinds
                and adm.trigger > 0
                and items[adm.trigger - 1].kind == "DUOC"
            ):
                # "Hoàng Văn Tài, Nông Thị Mai được kết nạp": those named before a passive verb
                s = sentence_bounds(ctx, adm.trigger)[0]
                all_names = [str(it.value) for it in items[s : adm.trigger] if it.kind == "NAME"]
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
            if ctx.extra is not None:
                extra = read_extra(ctx, adm, count)
        else:
            admission = AdmissionFacts(count=0)
    attendance = None
    if not kinds.isdisjoint(CLASS_KINDS):
        attendance, first = find_class(ctx, region)
        if attendance is not None:
            anchor = min(anchor, first)
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
    return admission, attendance, anchor, extra


# --------------------------------------------------------------------------------------------------
# Periods


def _periods_of(
    ctx: Ctx, periods: list[Period | None], reading: Reading, orphans: list[tuple[int, int]]
) -> list[Period | None]:
    """The period(s) a reading is about: from its own stretch (the report's own period first, then
    the one nearest its verb), else from a neighbouring stretch that reports nothing, else none."""
    items = ctx.items
    if "PERIOD" not in ctx.kinds:
        return [None]
    admission_only = reading.attendance is None
    marks = [k for k, it in enumerate(items) if it.kind == "PERIOD"]

    def usable(start: int, end: int) -> list[int]:
        return [
            k
            for k in marks
            if start <= k < end and not _is_letter(ctx, k) and not (admission_only and _is_background(ctx, k))
        ]

    cands = usable(reading.start, reading.end)
    if not cands:
        after = [o for o in orphans if o[0] == reading.end and not _stop_between(ctx, reading.end - 1, o[0])]
        before = [o for o in orphans if o[1] == reading.start]
        for start, end in after + before:
            cands = usable(start, end)
            if cands:
                break
    if not cands:
        cands = [k for k in usable(0, len(items)) if _is_report_period(ctx, k)]
    if not cands:
        return [None]
    marked = [k for k in cands if _is_report_period(ctx, k)]
    pool = marked or cands
    k = min(pool, key=lambda x: (abs(x - reading.anchor), x))
    return _pair(ctx, periods, k)


def _within_report_period(ctx: Ctx, marks: list[int], readings: list[Reading]) -> None:
    """ "Báo cáo tháng 10: ... khai giảng 14/10, bế giảng 18/10", "báo cáo tháng 9: ngày 5/9 kết nạp
    1 đ/c; ngày 20/9 cử 2 quần chúng": days inside the period a report names are details of that
    report, which the facts are filed under (months inside a quarter stay facts of their own)."""
    reported = {
        ctx.periods[int(ctx.items[k].value or 0)]
        for k in marks
        if _is_report_period(ctx, k) and not _is_letter(ctx, k)
    }
    if len(reported) != 1:
        return
    whole = reported.pop()
    if whole is None or (whole.end - whole.start).days < 27:
        return
    for reading in readings:
        reading.periods = [
            whole
            if p is not None and whole.start <= p.start and p.end <= whole.end and (p.end - p.start).days < 7
            else p
            for p in reading.periods
        ]


def _pair(ctx: Ctx, periods: list[Period | None], k: int) -> list[Period | None]:
    """ "tháng 9 và tháng 10": both months; "mỗi tháng" after them makes one fact for each."""
    items = ctx.items
    n = len(items)
    first = second = k
    if k + 2 < n and items[k + 1].kind == "AND" and items[k + 2].kind == "PERIOD":
        second = k + 2
    elif k >= 2 and items[k - 1].kind == "AND" and items[k - 2].kind == "PERIOD":
        first = k - 2
    one = periods[int(items[first].value or 0)]
    if first == second:
        return [one]
    two = periods[int(items[second].value or 0)]
    if one is None or two is None:
        return [one if one is not None else two]
    if any(items[j].kind == "EACH" for j in range(second + 1, min(n, second + 4))):
        return [one, two]
    return [Period(min(one.start, two.start), max(one.end, two.end))]


def _is_letter(ctx: Ctx, k: int) -> bool:
    """The date of a letter, a message or a forward: not what the report is about. Only a day can be
    one ("gửi báo cáo tháng 6" names the report's month), never a day still to come (that is when
    something will happen) nor the period a report names ("báo cáo tháng 10")."""
    items = ctx.items
    n = len(items)
    if ctx.kinds.isdisjoint(_LETTER_KINDS) and not (k > 0 and items[k - 1].f == ","):
        return False  # no clock time, no word of a letter, no "Place, ngày ...": nothing to look at
    index = int(items[k].value or 0)
    if ctx.period_kinds[index] != "day":
        return False
    period = ctx.periods[index]
    if ctx.today is not None and period is not None and period.start > ctx.today:
        return False
    s, e = sentence_bounds(ctx, k)
    if ((k > 0 and items[k - 1].kind == "TIME") or (k + 1 < n and items[k + 1].kind == "TIME")) and not any(
        items[j].kind in _TRIGGERS for j in range(s, e)
    ):
        return True  # "08:15 02/11/2023": a message's header (with a verb, when the thing happens)
    for j in range(k - 1, s - 1, -1):
        kind = items[j].kind
        if kind in _TRIGGERS:
            return False
        if kind == "LETTER":
            return True
        if kind == "REPORTW":
            return False
    # "Hà Nam, ngày 2 tháng 11 năm 2023", "Số 15-BC/CB, ngày 31/10/2023": a letter's place and date
    return (
        k - s <= 6
        and k > s
        and items[k - 1].kind == "SEP"
        and items[k - 1].f == ","
        and all(items[j].kind in ("W", "NAME", "COLON", "SEP", "MASK") for j in range(s, k - 1))
    )


def _is_background(ctx: Ctx, k: int) -> bool:
    """A date in a clause about the class or schooling, said of a new member: not the admission's."""
    if ctx.kinds.isdisjoint(_BACKGROUND) and "TOTAL" not in ctx.kinds:
        return False
    items = ctx.items
    for j in range(k - 1, max(-1, k - 8), -1):
        kind = items[j].kind
        if kind in ("SEP", "STOP", "ADMIT", "COLON"):
            return False
        if kind in _SCHOOLING:
            # "tốt nghiệp đại học năm 2015" dates the schooling; "trình độ đại học, ngày 20/10" is
            # the level, then the day of the admission
            return ctx.period_kinds[int(items[k].value or 0)] == "year"
        if kind in _BACKGROUND or kind == "TOTAL":
            return True  # "... là 3 đv trong năm nay": a running total's period
    return False


def _is_report_period(ctx: Ctx, k: int) -> bool:
    """ "báo cáo tháng 2", "V/v báo cáo kết nạp đảng viên tháng 10", "kỳ báo cáo: tháng 10"."""
    items = ctx.items
    s, _ = sentence_bounds(ctx, k)
    for j in range(k - 1, s - 1, -1):
        kind = items[j].kind
        if kind == "NUM" or kind == "PERIOD":  # "báo cáo tháng 9: ngày 5/9 ...": the month is
            return False
        if kind == "REPORTW":
            return True
    return False


def _stop_between(ctx: Ctx, a: int, b: int) -> bool:
    return any(ctx.items[j].kind == "STOP" for j in range(a, b))


# --------------------------------------------------------------------------------------------------
# Putting readings together


def _without_totals(ctx: Ctx, readings: list[Reading]) -> list[Reading]:
    """ "Kết nạp đảng viên: 3 (T9: 1, T10: 2)": the undated 3 is the total of the dated parts."""
    undated = [r for r in readings if r.periods == [None] and r.admission is not None]
    dated = [r for r in readings if r.periods != [None] and r.admission is not None]
    if len(undated) != 1 or len(dated) < 2 or undated[0].attendance is not None:
        return readings
    total = undated[0].admission
    assert total is not None
    parts = sum(r.admission.count for r in dated if r.admission is not None)
    if total.count != parts:
        ctx.ask("total_mismatch", question("total_mismatch", total=total.count, parts=parts))
    return [r for r in readings if r is not undated[0]]


def _merge_same_period(readings: list[Reading]) -> list[Reading]:
    """Stretches about the same period are one fact (an admission and a class, said apart)."""
    out: list[Reading] = []
    for r in readings:
        same = next((o for o in out if o.periods == r.periods), None)
        if same is None:
            out.append(r)
            continue
        pairs = ((same.admission, same.extra), (r.admission, r.extra))
        same.extra = total_extra([(a.count, extra) for a, extra in pairs if a is not None])
        same.admission = _add_admissions(same.admission, r.admission)
        same.attendance = _add_attendance(same.attendance, r.attendance)
    return out


def _drop_plans(readings: list[Reading], today: date) -> list[Reading]:
    out = []
    for r in readings:
        r.periods = [p for p in r.periods if p is None or p.start <= today]
        if r.periods:
            out.append(r)
    return out


def _add_admissions(a: AdmissionFacts | None, b: AdmissionFacts | None) -> AdmissionFacts | None:
    if a is None or b is None:
        return a or b
    return total_admission([a, b])


def _add_attendance(
    a: ClassAttendanceFacts | None, b: ClassAttendanceFacts | None
) -> ClassAttendanceFacts | None:
    if a is None or b is None:
        return a or b
    return total_attendance([a, b])


def total_admission(parts: list[AdmissionFacts]) -> AdmissionFacts:
    """The sum of several admissions; a breakdown is known only when every part with members gave it."""
    count = sum(a.count for a in parts)
    values: dict[str, int | None] = {}
    for field in BREAKDOWN_FIELDS:
        known = [getattr(a, field) for a in parts if a.count > 0]
        values[field] = None if not known or any(v is None for v in known) else sum(known)
    return AdmissionFacts(count, **values)


def total_attendance(parts: list[ClassAttendanceFacts]) -> ClassAttendanceFacts:
    """Sent and completed summed over the parts that said them."""
    sent = [c.sent for c in parts if c.sent is not None]
    done = [c.completed for c in parts if c.completed is not None]
    return ClassAttendanceFacts(sum(sent) if sent else None, sum(done) if done else None)
