"""Admissions: the trigger, its count, and the breakdown of the new members."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.parser.context import (
    Adder,
    Ctx,
    Item,
    blocked,
    in_plan,
    is_question,
    sentence_bounds,
    sentence_kinds,
)
from handlers.parser.lexicon import ATTRS, CLASS_KINDS, COMPLEMENT, FIELD_OF, NOUNS
from handlers.parser.questions import field_label, question
from handlers.parser.result import BREAKDOWN_FIELDS, MAX_COUNT

COUNT_SKIP = frozenset(
    {
        "W",
        "HEAD",
        "DV",
        "CAND",
        "CLS",
        "COLON",
        "PERIOD",
        "NEW",
        "MORE",
        "DUOC",
        "PAST",
        "SEP",
        "LA",
        "CO",
        "MASK",
        "TRONGDO",
    }
)
COUNT_SKIP_WORDS = frozenset(
    {
        "duoc",
        "them",
        "moi",
        "cho",
        "vao",
        "dang",
        "tong",
        "so",
        "luong",
        "la",
        "tai",
        "trong",
        "chi",
        "bo",
        "cb",
        "tu",
        "thi",
        "thanh",
        "cong",
        "o",
        "nay",
        "toan",
        "tat",
        "ca",
        "nhan",
        "ket",
        "qua",
        "dc",
        "nap",
        "voi",
    }
)


def find_count_forward(items: list[Item], k: int, e: int) -> int | None:
    """Index of the count item after trigger k (NUM / NAME / NEG), or None."""
    seps = 0
    for j in range(k + 1, min(e, k + 9)):
        it = items[j]
        kind = it.kind
        if kind in ("NUM", "NAME"):
            return j
        if kind == "NEG" or kind == "NONE":
            return j
        if kind in CLASS_KINDS or kind in ("ADMIT", "PLAN", "STOP"):
            return None
        if kind == "SEP":
            seps += 1
            if seps > 1:
                return None
            continue
        if kind == "W" and it.f not in COUNT_SKIP_WORDS and len(it.f) > 0 and it.f.isalpha() and j > k + 3:
            return None
        if kind in ATTRS:
            continue
        if kind not in COUNT_SKIP and kind not in ATTRS:
            return None
    return None


def find_count_backward(items: list[Item], k: int, s: int) -> int | None:
    """'2 quần chúng được kết nạp', '02 đv mới được KN': a count before the trigger."""
    for j in range(k - 1, max(s - 1, k - 8), -1):
        it = items[j]
        if it.kind == "NUM":
            # the count must be followed by a noun or an attribute
            nxt = items[j + 1] if j + 1 < len(items) else None
            if nxt is not None and (
                nxt.kind in NOUNS
                or nxt.kind in ATTRS
                or nxt.kind in ("DUOC", "PAST", "ADMIT")
                or nxt.kind == "YOUTH"
            ):
                return j
            return None
        if it.kind in ("STOP", "SEP", "PLAN", "PERIOD") or it.kind in CLASS_KINDS:
            return None
    return None


NEG_BEFORE = frozenset({"NEG", "NONE"})


def negated_before(items: list[Item], k: int, s: int) -> bool:
    for j in range(k - 1, max(s - 1, k - 6), -1):
        kind = items[j].kind
        if kind in NEG_BEFORE:
            return True
        if kind in ("NUM", "SEP", "STOP", "PERIOD"):
            return False
    return False


@dataclass(slots=True)
class AdmissionHead:
    count: int | None
    head_end: int  # first item after the count and its noun phrase
    region_end: int
    head_noun: str | None  # "HEAD", "DV", "CAND", "CLS", "YOUTH" or None
    trigger: int
    names: list[str]
    attrs_head: list[str]


TRIGGER_KINDS = frozenset({"ADMIT", "HEAD", "DV", "MORE", "DEVELOP"})


def find_admission(ctx: Ctx) -> AdmissionHead | None:
    items = ctx.items
    n = len(items)
    for k in [k for k, it in enumerate(items) if it.kind in TRIGGER_KINDS]:  # the only kinds handled
        it = items[k]
        kind = it.kind
        synthetic = False
        if kind == "ADMIT":
            if it.f in ("vao dang",) and k > 0 and items[k - 1].kind == "ADMIT":
                continue
            if blocked(items, k):
                continue
        elif kind in ("HEAD", "DV") and k + 1 < n and items[k + 1].kind == "NEW":
            # "2 đảng viên mới", "đảng viên mới: 2"
            synthetic = True
        elif kind in ("MORE", "DEVELOP") and k + 2 < n:
            # "thêm 2 đảng viên", "phát triển được 2 đảng viên"
            j = k + 1
            if items[j].kind in ("DUOC", "MORE"):
                j += 1
            if not (j + 1 < n and items[j].kind == "NUM" and items[j + 1].kind in ("HEAD", "DV")):
                continue
            synthetic = True
        else:
            continue
        s, e = sentence_bounds(ctx, k)
        if is_question(ctx, s, e):
            continue
        if in_plan(items, s, k):
            continue
        if synthetic and any(items[j].kind == "TOTAL" for j in range(max(s, k - 3), k)):
            continue
        # scope: until the next class trigger or the next admission trigger
        region_end = n
        for j in range(k + 1, n):
            kj = items[j].kind
            if kj == "SENT" or (kj in ("STUDY", "CLASS", "DONE", "CERT") and class_sentence(ctx, j)):
                region_end = j
                # a count just before the class verb belongs to the class ("5 QCUT đi học")
                b = j - 1
                while b > k and items[b].kind in (
                    "CAND",
                    "CLS",
                    "DV",
                    "HEAD",
                    "YOUTH",
                    "W",
                    "PAST",
                    "DUOC",
                    "ALL",
                ):
                    b -= 1
                if b > k and items[b].kind == "NUM" and items[b - 1].kind in ("SEP", "STOP", "AND"):
                    region_end = b
                break
            if kj == "ADMIT" and j > k + 1 and not blocked(items, j):
                sj, _ = sentence_bounds(ctx, j)
                if sj > s:
                    region_end = j
                    break
        if synthetic and kind in ("HEAD", "DV"):
            adm = synthetic_head(ctx, k, s, e, region_end)
        elif synthetic:
            j = k + 1
            if items[j].kind in ("DUOC", "MORE"):
                j += 1
            noun = items[j + 1].kind
            if noun == "DV" and not any(items[x].kind in ("ADMIT", "HEAD") for x in range(n)):
                ctx.ask("dv_meaning", question("dv_is_party", n=int(items[j].value or 0)))
                return None
            adm = AdmissionHead(int(items[j].value or 0), j + 2, region_end, noun, k, [], [])
        else:
            adm = admission_from_trigger(ctx, k, s, e, region_end)
        if adm is None:
            continue
        # a Youth Union subject admitting "dv": đoàn viên, not đảng viên
        if adm.head_noun == "DV" and any(
            items[j].f in ("chi doan", "doan", "doan thanh nien")
            or (items[j].kind == "YOUTH" and items[j].f == "doan")
            for j in range(s, k)
        ):
            ctx.ask("dv_meaning", question("dv_which"))
            return None
        return adm
    return None


def class_sentence(ctx: Ctx, j: int) -> bool:
    items = ctx.items
    kind = items[j].kind
    if kind in ("CLASS", "CERT"):
        return True
    if kind == "DONE" and j + 1 < len(items) and items[j + 1].kind == "PLAN":
        return False
    kinds = sentence_kinds(ctx, j)
    return (
        "CLASS" in kinds
        or "SENT" in kinds
        or items[j].f
        in (
            "di hoc",
            "di hoc lop",
        )
    )


def synthetic_head(ctx: Ctx, k: int, s: int, e: int, region_end: int) -> AdmissionHead | None:
    items = ctx.items
    if any(items[j].kind == "TOTAL" for j in range(s, e)):
        return None
    # count before ("2 đảng viên mới") or after ("đảng viên mới: 2")
    if k > 0 and items[k - 1].kind == "NUM":
        return AdmissionHead(int(items[k - 1].value or 0), k + 2, region_end, "HEAD", k, [], [])
    if k > 1 and items[k - 1].kind in ("CLS",) and items[k - 2].kind == "NUM":
        return AdmissionHead(int(items[k - 2].value or 0), k + 2, region_end, "HEAD", k, [], [])
    j = k + 2
    while j < min(e, k + 5) and items[j].kind in ("COLON", "PERIOD", "W", "DUOC", "ADMIT", "LA", "CLS"):
        j += 1
    if j < e and items[j].kind == "NUM":
        return AdmissionHead(int(items[j].value or 0), j + 1, region_end, "HEAD", k, [], [])
    if j < e and items[j].kind == "NAME":  # "đảng viên mới: đồng chí Mai Thị Ngọc"
        names = name_list(items, j)
        return AdmissionHead(len(names), j, region_end, "NAME", k, names, [])
    if negated_before(items, k, s):
        return AdmissionHead(0, k + 2, region_end, "HEAD", k, [], [])
    return None


def admission_from_trigger(ctx: Ctx, k: int, s: int, e: int, region_end: int) -> AdmissionHead | None:
    items = ctx.items
    n = len(items)
    negated = negated_before(items, k, s)
    j = find_count_forward(items, k, min(e, region_end))
    if j is not None and items[j].kind in ("NEG", "NONE"):
        # "kết nạp: chưa có", "kết nạp được 0"
        return AdmissionHead(0, j + 1, region_end, None, k, [], [])
    if j is not None and items[j].kind == "NAME":
        names = name_list(items, j)
        end = j
        while end < n and items[end].kind in ("NAME", "AND", "SEP"):
            end += 1
        return AdmissionHead(len(names), j, region_end, "NAME", k, names, [])
    if negated and (j is None or items[j].value == 0):
        return AdmissionHead(0, k + 1, region_end, None, k, [], [])
    back = None
    if j is None:
        back = find_count_backward(items, k, s)
    if j is None and back is None:
        # "kết nạp đảng viên mới" with no number: ask
        if not negated:
            ctx.ask("admission_count", question("count"))
        return None
    idx = j if j is not None else back
    assert idx is not None
    count = int(items[idx].value or 0)
    if count > MAX_COUNT:
        return None
    # head noun phrase right after the count
    h = idx + 1
    head_noun: str | None = None
    attrs: list[str] = []
    while h < n and h < region_end:
        kind = items[h].kind
        if kind in NOUNS or (kind == "YOUTH" and head_noun is None):
            if head_noun is None or (head_noun in ("CLS", "CAND") and kind in ("HEAD", "DV")):
                head_noun = kind if kind != "YOUTH" else "YOUTH"
            if kind == "YOUTH":
                attrs.append("YOUTH")
            h += 1
            continue
        if kind in ATTRS or kind == "NAMQ":
            attrs.append(kind if kind != "NAMQ" else "MALE")
            h += 1
            continue
        if kind in ("NEW", "LA", "DUOC", "PAST", "ADMIT") or (
            kind == "W" and items[h].f in ("uu", "tu", "vao", "dang", "cua", "moi", "tre")
        ):
            h += 1
            continue
        if kind == "ALL":
            h += 1
            continue
        break
    if back is not None:
        h = max(h, k + 1)
    names: list[str] = []
    if h < n and items[h].kind == "COLON" and h + 1 < n and items[h + 1].kind == "NAME":
        names = name_list(items, h + 1)
    return AdmissionHead(count, h, region_end, head_noun, k, names, attrs)


def name_list(items: list[Item], j: int) -> list[str]:
    names: list[str] = []
    n = len(items)
    while j < n:
        it = items[j]
        if it.kind == "NAME":
            names.append(str(it.value))
        elif it.kind in ("AND", "SEP") or (it.kind == "CLS"):
            pass
        else:
            break
        j += 1
    return names


def read_breakdown(ctx: Ctx, adm: AdmissionHead, count: int) -> dict[str, int | None]:
    items = ctx.items
    values: dict[str, int | None] = dict.fromkeys(BREAKDOWN_FIELDS)
    found: dict[str, list[int]] = {}
    complements: dict[str, list[int]] = {}

    def add(kind: str, value: int) -> None:
        field = FIELD_OF[kind]
        if kind in COMPLEMENT:
            complements.setdefault(field, []).append(value)
        else:
            found.setdefault(field, []).append(value)

    for kind in adm.attrs_head:
        add(kind, count)

    # person chunks: several names in the region, each described on its own
    region = items[adm.head_end : adm.region_end]
    name_positions = [x for x, it in enumerate(region) if it.kind == "NAME"]
    if len(name_positions) >= 2 or (len(name_positions) == 1 and count == 1 and adm.head_noun == "NAME"):
        chunks = [
            region[a:b] for a, b in zip(name_positions, [*name_positions[1:], len(region)], strict=True)
        ]
        for chunk in chunks:
            each = count if any(it.kind == "ALL" for it in chunk) else 1
            for it in chunk:
                if it.kind in ATTRS or it.kind == "NAMQ":
                    add("MALE" if it.kind == "NAMQ" else it.kind, each)
        region = region[: name_positions[0]]

    clauses: list[list[Item]] = []
    cur: list[Item] = []
    for it in region:
        if it.kind in ("SEP", "STOP", "AND", "TRONGDO", "CONLAI") and not (
            it.kind == "SEP" and it.f == "-" and not cur
        ):
            if cur:
                clauses.append(cur)
            cur = []
            if it.kind == "CONLAI":
                cur.append(it)
            continue
        cur.append(it)
    if cur:
        clauses.append(cur)

    last_num: list[int | None] = [None]
    for clause in clauses:
        read_clause(ctx, clause, count, add, last_num)

    for field, vals in found.items():
        total = sum(vals)
        # separate people add up; a sum beyond the count means the same people were described twice
        values[field] = total if total <= count else max(vals)
    for field, vals in complements.items():
        if values[field] is None:
            total = sum(vals)  # "3 nam" of 4 -> 1 female
            if total <= count:
                values[field] = count - total
            else:
                ctx.ask(
                    f"{field}_exceeds",
                    question("exceeds", label=field_label(field, complement=True), value=total, count=count),
                )
    return values


def read_clause(ctx: Ctx, clause: list[Item], count: int, add: Adder, last_num: list[int | None]) -> None:
    """One comma-separated piece of the breakdown: numbers paired with attributes.

    `last_num` carries the number of the previous clause: in "trong đó 1 nữ, theo đạo Công giáo" the
    bare second clause still describes that one person."""
    # atoms: ("NUM", v) or (attribute kind, None) or ("NONE", None) in order; flags for the rest
    atoms: list[tuple[str, int]] = []
    nums: list[int] = []
    attrs: list[str] = []
    has_all = has_none = has_co = False
    n = len(clause)
    for x, it in enumerate(clause):
        kind = it.kind
        if kind == "NUM":
            v = int(it.value or 0)
            atoms.append(("NUM", v))
            nums.append(v)
        elif kind in ATTRS or kind == "NAMQ" or kind == "DV":
            if kind == "DV":
                # "1 dv nữ" repeats the head noun; "1 dv" alone is đoàn viên
                nxt = clause[x + 1].kind if x + 1 < n else ""
                if nxt in ATTRS or nxt == "NAMQ":
                    continue
                kind = "YOUTH"
            if atoms and atoms[-1][0] == kind:
                continue  # "người theo đạo Công giáo" is one attribute spelled twice
            atoms.append((kind, 0))
            attrs.append(kind)
        elif kind == "ALL":
            has_all = True
        elif kind == "NONE" or kind == "NEG":
            atoms.append(("NONE", 0))
            has_none = True
        elif kind == "CO":
            has_co = True
        elif kind == "CONLAI" or kind == "PLAN":
            # "còn lại là nam" restates the complement; a plan inside a breakdown is not a fact
            last_num[0] = None
            return
    inherited = last_num[0]
    last_num[0] = nums[0] if len(nums) == 1 and attrs else None
    if not attrs:
        return
    if not nums:
        if "NAMQ" in attrs:
            x = attrs.index("NAMQ")
            if x > 0 and attrs[x - 1] == "FEMALE" and count != 5:
                # "nu nam": "nữ năm" (five women) or "nữ, nam"? ask rather than guess
                ctx.ask("nam_meaning", question("nam_meaning"))
                return
        for a in attrs:
            kind = "MALE" if a == "NAMQ" else a
            if has_none:
                add(kind, 0)  # "không có ai theo đạo"
            elif has_all or count == 1:
                add(kind, count)  # "đều là đoàn viên", or the only one
            elif inherited is not None:
                add(kind, inherited)
            elif not has_co:  # "trong đó có nữ" gives no number
                add(kind, count)
        return
    if len(nums) == 1:
        v = nums[0]
        for a in attrs:
            kind = "MALE" if a == "NAMQ" else a
            if has_none and kind not in COMPLEMENT and neg_precedes_attr(atoms, a):
                add(NEG_OF.get(kind, kind), v)  # "1 không phải đoàn viên": complement
            else:
                add(kind, v)
        return
    # several numbers: pair by the clause's own order (number-first or attribute-first)
    number_first = next(k for k, _ in atoms if k != "NONE") == "NUM"
    pending_num: int | None = None
    pending_attrs: list[str] = []
    for k, v in atoms:
        if k == "NONE":
            continue
        if number_first:
            if k == "NUM":
                pending_num = v
            elif pending_num is not None:
                add("MALE" if k == "NAMQ" else k, pending_num)
        elif k != "NUM":
            pending_attrs.append("MALE" if k == "NAMQ" else k)
        elif pending_attrs:
            for a in pending_attrs:
                add(a, v)
            pending_attrs = []


NEG_OF = {"YOUTH": "NOYOUTH", "FEMALE": "MALE", "REL": "NOREL", "ETH": "KINH", "EDU": "LOWEDU"}


def neg_precedes_attr(atoms: list[tuple[str, int]], attr: str) -> bool:
    for x, (k, _) in enumerate(atoms):
        if k == attr:
            return x > 0 and atoms[x - 1][0] == "NONE"
    return False
