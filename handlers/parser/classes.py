"""Awareness-class attendance: candidates sent to the class and those who completed it."""

from __future__ import annotations

from handlers.parser.context import (
    Ctx,
    Item,
    in_plan,
    is_question,
    names_the_class,
    sentence_bounds,
    sentence_kinds,
)
from handlers.parser.questions import question
from handlers.parser.result import ClassAttendanceFacts

# --------------------------------------------------------------------------------------------------
# Class attendance


def find_class(ctx: Ctx, admission_region: tuple[int, int] | None) -> tuple[ClassAttendanceFacts | None, int]:
    """Candidates sent to the class and those who completed it, and the item of the first trigger
    read. A candidate pool ("hiện có 7 QCUT trong nguồn, 3 đã học lớp") is a status, not a report;
    candidates sent in an earlier round ("đợt trước") count only as completing now."""
    items = ctx.items
    n = len(items)
    sent: int | None = None
    completed: int | None = None
    earlier: int | None = None  # sent in an earlier round: not this period's, but who completed now
    first = n
    seen = False
    for k in range(n):
        it = items[k]
        kind = it.kind
        if kind not in ("SENT", "STUDY", "DONE", "CERT", "CLASS"):
            continue
        if admission_region is not None and admission_region[0] <= k < admission_region[1]:
            continue
        s, e = sentence_bounds(ctx, k)
        if (
            not any(items[x].kind in ("CLASS", "SENT", "CERT") for x in range(s, e))
            and not names_the_class(it)
            and not (kind == "DONE" and seen)
        ):
            continue
        if is_question(ctx, s, e, k) or in_plan(items, s, k) or not reports_own_class(ctx, k, s, e):
            continue
        if it.f in ("gioi thieu", "gt") and sentence_kinds(ctx, k).isdisjoint(("CLASS", "STUDY")):
            continue  # "chi đoàn giới thiệu 2 đoàn viên ưu tú": recommended to the party, not to the class
        if (
            admission_region is not None
            and it.f in ("da hoc", "hoc", "da qua", "qua")
            and any(items[j].kind == "ALL" for j in range(max(s, k - 4), k))
        ):
            continue  # "kết nạp 2 đv; cả 2 đều đã học lớp nhận thức": what the new members did before
        if kind == "DONE" and k + 1 < n and items[k + 1].kind == "PLAN":
            continue  # "hoàn thành chỉ tiêu"
        # the admission's words are not the class's: "kết nạp hai đảng viên cử năm quần chúng đi học"
        floor = admission_region[1] if admission_region is not None and admission_region[0] < k else s
        if kind in ("SENT", "STUDY") and sent is None:
            v = class_count(items, k, max(s, floor), e)
            if v is None:
                v = _named_after(items, k, e)  # "Danh sách cử đi học lớp NTVĐ: Lê Văn An, Lê Thị Bình"
            if v is not None and v < 0:
                ctx.ask("class_count", question("class_count_invalid", value=items[-v - 1].f))
                continue
            if v is not None:
                if "PASTREF" in sentence_kinds(ctx, k):
                    earlier = v  # "5 đồng chí đi học lớp đợt trước, nay đã hoàn thành"
                    continue
                sent = v
                seen = True
                first = min(first, k)
        elif kind in ("DONE", "CERT") and completed is None:
            v = class_count(items, k, max(s, floor), e, sent if sent is not None else earlier)
            if v is not None and v < 0:
                ctx.ask("class_count", question("class_count_invalid", value=items[-v - 1].f))
                continue
            if v is None:
                v = (
                    sent if sent is not None else earlier
                )  # "cử 1 QCUT đi học, đã được cấp GCN": the ones sent
            if v is not None:
                completed = v
                seen = True
                first = min(first, k)
        elif kind == "CLASS":
            seen = True
            if sent is None and k + 2 < n and items[k + 1].kind == "COLON" and items[k + 2].kind == "NUM":
                sent = int(items[k + 2].value or 0)  # "Bồi dưỡng nhận thức: 02 QCUT", a form's line
                first = min(first, k)
    if sent is None and completed is None:
        return None, first
    return ClassAttendanceFacts(sent=sent, completed=completed), first


def _named_after(items: list[Item], k: int, e: int) -> int | None:
    """How many people are named after a class verb ("cử đi học: Lê Văn An, Lê Thị Bình"), or None."""
    j = k + 1
    while j < e and items[j].kind in ("STUDY", "CLASS", "COLON", "CAND", "CLS", "NAMELIST", "MASK", "PERIOD"):
        j += 1
    named = 0
    while j < e and items[j].kind in ("NAME", "SEP", "AND", "CLS"):
        named += items[j].kind == "NAME"
        j += 1
    return named or None


def reports_own_class(ctx: Ctx, k: int, s: int, e: int) -> bool:
    """Not a status ("chi bộ hiện có 7 QCUT trong nguồn, trong đó 3 đã học lớp", "có 2 quần chúng đã
    học lớp nhận thức năm ngoái"), nor someone else's news or an invitation."""
    kinds = sentence_kinds(ctx, k)
    items = ctx.items
    if "STATUS" in kinds and any(items[j].kind == "STATUS" for j in range(s, k)):
        return False  # a status said before ("hiện có 7 QCUT ..., 3 đã học lớp"); not one said after
    if "TOTAL" in kinds or "INVITE" in kinds or "HEARSAY" in kinds:
        return False
    if "BLOCK" in kinds and any(items[j].f == "nguon ket nap" for j in range(s, e)):
        return False  # "Nguồn kết nạp của chi bộ: ..., 2 đồng chí đã có giấy chứng nhận"
    if items[k].f in ("da hoc", "hoc", "da hoc xong", "hoc lop", "da hoc lop"):
        # "có 2 quần chúng đã học lớp": what the pool has, not what was done this period
        for j in range(k - 1, max(s - 1, k - 5), -1):
            kind = items[j].kind
            if kind == "CO":
                return False
            if kind not in ("NUM", "CAND", "CLS", "PAST", "W", "DUOC"):
                break
    return True


def class_count(items: list[Item], k: int, s: int, e: int, whole: int | None = None) -> int | None:
    """The count a class verb at k is about; None if none. A negative value -(j + 1) points at item j,
    a count that is not a whole number ("-3", "2,5"): the caller asks about it."""
    n = len(items)
    # backward: "5 quần chúng đi học", "4 đ/c được cấp GCN", "cả 5 đều hoàn thành"
    negated = False
    for j in range(k - 1, max(s - 1, k - 6), -1):
        kind = items[j].kind
        if kind == "BADNUM":
            return -(j + 1)
        if kind == "NUM":
            v = int(items[j].value or 0)
            if negated:  # "1 đồng chí chưa được cấp GCN": the others were
                return whole - v if whole is not None and v <= whole else None
            return v
        if kind in ("NEG", "NONE"):
            negated = True
            continue
        if kind == "ALL":
            if whole is not None:
                return whole
            continue  # "3 quần chúng của chi bộ đều được cấp GCN"
        if kind in ("SEP", "STOP", "PERIOD", "ADMIT", "SENT") or (kind in ("DONE", "CERT") and j != k):
            break
        if kind not in (
            "CAND",
            "CLS",
            "DV",
            "HEAD",
            "YOUTH",
            "W",
            "PAST",
            "DUOC",
            "STUDY",
            "CO",
            "LA",
            "MASK",
            "FEMALE",
            "NAMQ",
            "MALE",
            "PARTY",
        ):
            break
    if negated:
        return 0  # "chưa có ai được cấp GCN"
    # forward: "cử 5 QCUT", "cấp GCN cho 4 quần chúng", "tham gia lớp: 5 đ/c"
    for j in range(k + 1, min(e, k + 10)):
        kind = items[j].kind
        if kind == "BADNUM":
            return -(j + 1)
        if kind == "NUM":
            nxt = items[j + 1].kind if j + 1 < n else ""
            if nxt in ("PCT",):
                return None
            return int(items[j].value or 0)
        if kind in ("NEG", "NONE"):
            return 0
        if kind in ("ADMIT", "STOP") or (kind in ("DONE", "CERT") and items[k].kind in ("SENT", "STUDY")):
            break
        if kind == "SEP" and j > k + 1 and items[j - 1].kind not in ("CLASS",):
            break
    return None
