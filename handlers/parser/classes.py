"""Awareness-class attendance: candidates sent to the class and those who completed it."""

from __future__ import annotations

from handlers.parser.context import Ctx, Item, in_plan, is_question, sentence_bounds
from handlers.parser.result import ClassAttendanceFacts

# --------------------------------------------------------------------------------------------------
# Class attendance


def find_class(ctx: Ctx, admission_region: tuple[int, int] | None) -> ClassAttendanceFacts | None:
    items = ctx.items
    n = len(items)
    sent: int | None = None
    completed: int | None = None
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
            and not (kind in ("STUDY", "DONE") and ("di hoc" in it.f or "lop" in it.f))
            and not (kind == "DONE" and seen)
        ):
            continue
        if is_question(ctx, s, e) or in_plan(items, s, k):
            continue
        if kind == "DONE" and k + 1 < n and items[k + 1].kind == "PLAN":
            continue  # "hoàn thành chỉ tiêu"
        if kind in ("SENT", "STUDY") and sent is None:
            v = class_count(items, k, s, e)
            if v is not None:
                sent = v
                seen = True
        elif kind in ("DONE", "CERT") and completed is None:
            v = class_count(items, k, s, e, sent)
            if v is None and sent is not None:
                v = sent  # "cử 1 QCUT đi học, đã được cấp GCN": the ones sent
            if v is not None:
                completed = v
                seen = True
        elif kind == "CLASS":
            seen = True
    if sent is None and completed is None:
        return None
    return ClassAttendanceFacts(sent=sent, completed=completed)


def class_count(items: list[Item], k: int, s: int, e: int, whole: int | None = None) -> int | None:
    n = len(items)
    # backward: "5 quần chúng đi học", "4 đ/c được cấp GCN", "cả 5 đều hoàn thành"
    negated = False
    for j in range(k - 1, max(s - 1, k - 6), -1):
        kind = items[j].kind
        if kind == "NUM":
            v = int(items[j].value or 0)
            if negated:  # "1 đồng chí chưa được cấp GCN": the others were
                return whole - v if whole is not None and v <= whole else None
            return v
        if kind in ("NEG", "NONE"):
            negated = True
            continue
        if kind == "ALL" and whole is not None:
            return whole
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
        ):
            break
    if negated:
        return 0  # "chưa có ai được cấp GCN"
    # forward: "cử 5 QCUT", "cấp GCN cho 4 quần chúng", "tham gia lớp: 5 đ/c"
    for j in range(k + 1, min(e, k + 10)):
        kind = items[j].kind
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
