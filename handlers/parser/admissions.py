"""Admissions: the trigger, its count, and the breakdown of the new members."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from handlers.parser.classes import class_count
from handlers.parser.context import (
    Adder,
    Ctx,
    Item,
    blocked,
    in_plan,
    is_question,
    names_the_class,
    sentence_bounds,
    sentence_kinds,
)
from handlers.parser.lexicon import ATTRS, CLASS_KINDS, COMPLEMENT, FIELD_OF, NOUNS, PERSON_SEX_FOLDED
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
        "PARTY",
        "REPORTW",
        "NAMELIST",
        "ALL",
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
        if kind in ("NUM", "NAME", "BADNUM"):
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
        if kind == "TOTAL" and it.f in ("tong cong", "tong so") and j == k + 1:
            continue  # "kết nạp tổng cộng 5 đảng viên"
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
    preset: dict[str, int] = dataclasses.field(default_factory=dict)  # breakdowns the groups counted gave


TRIGGER_KINDS = frozenset({"ADMIT", "HEAD", "DV", "MORE", "DEVELOP"})


def find_admission(ctx: Ctx) -> AdmissionHead | None:
    """The first admission the message reports of the cell's own. A trigger without a count is noted
    in `ctx.uncounted`: the count is asked when no trigger of the whole message has one."""
    pending: list[str] = []
    adm = _find_admission(ctx, pending)
    if adm is None and pending:
        ctx.uncounted.append(1)
    return adm


def _find_admission(ctx: Ctx, pending: list[str]) -> AdmissionHead | None:
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
        elif kind in ("HEAD", "DV") and _counted_people(ctx, k):
            # "4 dv, 2 nu, khong ton giao": a count opening the message and described at once
            s, e = sentence_bounds(ctx, k)
            if is_question(ctx, s, e, k):
                continue
            return AdmissionHead(int(items[k - 1].value or 0), k + 1, n, kind, k, [], [])
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
        frame = whose(ctx, k, s)
        if frame == "org" and "dang" in items[k].f:
            frame = "ours"  # "chủ nhiệm HTX ... được kết nạp vào Đảng": a job, and the party admits
        if frame == "other":
            continue
        if is_question(ctx, s, e, k):
            continue
        if in_plan(items, s, k):
            continue
        if synthetic and any(items[j].kind == "TOTAL" for j in range(max(s, k - 3), k)):
            continue
        if "TOTAL" in ctx.kinds and _said_of_members(items, s, k):
            continue  # "công nhận chính thức cho 2 đồng chí kết nạp năm ngoái": not an admission now
        if "CO" in ctx.kinds and _status_of_candidates(items, s, k):
            continue  # "có 1 đồng chí học lớp từ năm 2022 tới giờ chưa kết nạp được": a status
        # scope: until the next class trigger or the next admission trigger
        region_end = n
        for j in range(k + 1, n):
            kj = items[j].kind
            if kj == "SENT" or (
                kj in ("STUDY", "CLASS", "DONE", "CERT") and class_sentence(ctx, j) and _class_counted(ctx, j)
            ):
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
                # ... and so do a negation and "có" opening that clause: "chưa kết nạp, chưa cử ai
                # đi học", "chưa kết nạp, có 2 qc đang học lớp NT"
                if b > k and items[b].kind in ("NUM", "NEG", "NONE"):
                    q = b - 1
                    while q > k and items[q].kind in ("CO", "NEG", "NONE"):
                        q -= 1
                    if items[q].kind in ("SEP", "STOP", "AND"):
                        region_end = q + 1
                break
            if kj == "ADMIT" and j > k + 1 and not blocked(items, j):
                sj, _ = sentence_bounds(ctx, j)
                # another admission: a new sentence, or a new clause with its own subject
                if sj > s or any(items[x].kind in ("PARTY", "ORGO") for x in range(max(k, j - 3), j)):
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
            adm = admission_from_trigger(ctx, k, s, e, region_end, pending)
        if adm is None:
            continue
        if frame == "org":
            if adm.head_noun == "DV":
                # a Youth Union subject admitting "dv": đoàn viên or đảng viên? ask
                ctx.ask("dv_meaning", question("dv_which"))
                return None
            continue  # the Youth Union, the Women's Union...: not the party's admission
        if adm.head_noun == "MEMBERO" or (adm.head_noun == "YOUTH" and not _party_said(ctx, s, e)):
            continue  # "kết nạp 15 đoàn viên", "kết nạp 3 hội viên": another organisation's members
        return adm
    return None


# What happens to members, not admissions: a trigger in the same clause after one of these says
# when those members were admitted ("công nhận chính thức cho 2 đ/c kết nạp năm ngoái").
MEMBER_EVENTS = frozenset(
    {
        "cong nhan",
        "cong nhan chinh thuc",
        "dang vien chinh thuc",
        "chuyen chinh thuc",
        "chuyen dang chinh thuc",
        "chuyen sinh hoat",
        "chuyen den",
        "chuyen di",
        "chuyen cong tac",
        "khai tru",
        "xoa ten",
        "tu tran",
        "qua doi",
        "tang huy hieu",
        "trao huy hieu",
        "huy hieu",
    }
)


def _said_of_members(items: list[Item], s: int, k: int) -> bool:
    for j in range(k - 1, s - 1, -1):
        it = items[j]
        if it.kind in ("SEP", "STOP", "AND", "COLON"):
            return False
        if it.kind == "TOTAL" and it.f in MEMBER_EVENTS:
            return True
    return False


def _status_of_candidates(items: list[Item], s: int, k: int) -> bool:
    """ "có 1 đồng chí học lớp ... chưa kết nạp được": the trigger, denied, says what the candidates
    had counted before it are waiting for, not that the cell admitted none."""
    if not negated_before(items, k, s):
        return False
    return any(
        items[j].kind == "CO" and items[j + 1].kind == "NUM" and items[j + 2].kind in ("CAND", "CLS")
        for j in range(s, k - 2)
    )


def _class_counted(ctx: Ctx, j: int) -> bool:
    """A class word with a count of its own ends the admission's words; a mention of a new member's
    class ("đ/c học lớp nhận thức tháng 5, trình độ 12/12") does not."""
    s, e = sentence_bounds(ctx, j)
    return class_count(ctx.items, j, s, e) is not None


def _counted_people(ctx: Ctx, k: int) -> bool:
    """No verb anywhere, but counted people: "N đv" opening the message and described at once ("4 dv,
    2 nu, khong ton giao"), or one per period ("quý 3: 1 đv, quý 4: 2 đv")."""
    items = ctx.items
    if k < 1 or items[k - 1].kind != "NUM" or any(it.kind in ("ADMIT", "TOTAL", "STATUS") for it in items):
        return False
    if k >= 3 and items[k - 2].kind == "COLON" and items[k - 3].kind == "PERIOD":
        return True  # "quý 3: 1 đv, quý 4: 2 đv"
    after = items[k + 1 : k + 6]
    return k == 1 and bool(after) and after[0].kind == "SEP" and any(it.kind in ATTRS for it in after)


_FRAME_KINDS = frozenset({"INVITE", "HEARSAY", "HEARD", "CONGRATS", "PARTY", "ORGO"})


def whose(ctx: Ctx, k: int, s: int) -> str:
    """ "ours"; "org" when another organisation is the subject (the Youth Union, the Women's Union,
    a trade union); "other" for someone else's news or an invitation."""
    if ctx.kinds.isdisjoint(_FRAME_KINDS):
        return "ours"
    items = ctx.items
    kinds = sentence_kinds(ctx, k)
    if "INVITE" in kinds:
        return "other"
    if "HEARSAY" in kinds and any(items[j].kind == "HEARSAY" for j in range(s, k)):
        return "other"
    heard = next((j for j in range(s, k) if items[j].kind == "HEARD"), None) if "HEARD" in kinds else None
    if heard is not None and any(items[j].f in ("noi", "bao", "ke") for j in range(heard + 1, k)):
        return "other"  # "(nghe đồng chí Bình nói) đã kết nạp 3 đảng viên"
    if "CONGRATS" in kinds:
        return "other"  # "chúc mừng đồng chí Hùng được kết nạp": a greeting, not a report
    for j in range(k - 1, s - 1, -1):
        kind = items[j].kind
        if kind == "PARTY":
            return "ours"
        if kind == "ORGO":
            return "org"
    return "ours"


def _party_said(ctx: Ctx, s: int, e: int) -> bool:
    """The party is named around the admission ("chi bộ", "đảng viên", "vào Đảng", "đoàn viên ưu tú")."""
    kinds = sentence_kinds(ctx, s)
    if "PARTY" in kinds or "HEAD" in kinds:
        return True
    return any(
        (it.kind == "ADMIT" and "dang" in it.f) or it.f in ("uu", "doan vien uu tu") for it in ctx.items[s:e]
    )


def class_sentence(ctx: Ctx, j: int) -> bool:
    items = ctx.items
    kind = items[j].kind
    if kind in ("CLASS", "CERT"):
        return True
    if kind == "DONE" and j + 1 < len(items) and items[j + 1].kind == "PLAN":
        return False
    kinds = sentence_kinds(ctx, j)
    return "CLASS" in kinds or "SENT" in kinds or names_the_class(items[j])


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
    if j < region_end and items[j].kind == "STOP" and _name_line(items, j + 1, region_end):
        # "Danh sách đảng viên mới:\n- Đ/c Vi Thị Hằng (Tày, nữ)\n- Đ/c Hoàng Văn Dũng": one per line
        names = name_list(items, j, region_end)
        first = next(y for y in range(j, region_end) if items[y].kind == "NAME")
        return AdmissionHead(len(names), first, region_end, "NAME", k, names, [])
    if negated_before(items, k, s):
        return AdmissionHead(0, k + 2, region_end, "HEAD", k, [], [])
    return None


def admission_from_trigger(
    ctx: Ctx, k: int, s: int, e: int, region_end: int, pending: list[str]
) -> AdmissionHead | None:
    items = ctx.items
    n = len(items)
    negated = negated_before(items, k, s)
    j = find_count_forward(items, k, min(e, region_end))
    if (
        j is not None
        and items[j].kind == "NUM"
        and (
            any(items[x].kind == "COLON" for x in range(k + 1, j))
            or (j + 1 < n and items[j + 1].kind in ATTRS)
        )
    ):
        # "2 đ/c mới kết nạp: 1 nữ giáo viên, 1 nam công an": the count came first, these describe them
        back = find_count_backward(items, k, s)
        if back is not None:
            j = None
    if (
        j is not None
        and items[j].kind == "NUM"
        and j + 2 < n
        and items[j + 1].f in ("hay", "hoac", "hay la")
        and items[j + 2].kind == "NUM"
    ):
        ctx.ask("admission_count", question("count"))  # "3 hay 4 đv gì đó": which?
        return None
    if j is not None and items[j].kind == "BADNUM":
        ctx.ask("admission_count", question("count_invalid", value=items[j].f))
        return None
    if j is not None and items[j].kind in ("NEG", "NONE"):
        # "kết nạp: chưa có", "kết nạp được 0"
        return AdmissionHead(0, j + 1, region_end, None, k, [], [])
    if j is not None and items[j].kind == "NAME":
        if any(_unread_name(items, x) for x in range(k + 1, region_end)):
            # "kết nạp đ/c Nhé, đ/c Tuấn": a title before a word not read as a name; how many people?
            ctx.ask("admission_count", question("count"))
            return None
        names = name_list(items, j, region_end)
        return AdmissionHead(len(names), j, region_end, "NAME", k, names, [])
    if negated and j is not None and any(items[x].kind in ("SEP", "STOP") for x in range(k + 1, j)):
        j = None  # "chưa kết nạp, ...": the denial closes its clause; a figure after it is another's
    if negated and (j is None or items[j].value == 0):
        return AdmissionHead(0, k + 1, region_end, None, k, [], [])
    back = None
    if j is None:
        back = find_count_backward(items, k, s)
    if j is None and back is None:
        x = k + 1
        while x < region_end and items[x].kind in ("HEAD", "NEW", "PERIOD", "COLON", "NAMELIST", "CLS"):
            x += 1
        if x < region_end and items[x].kind == "STOP" and _name_line(items, x + 1, region_end):
            names = name_list(items, x, region_end)
            first = next(y for y in range(x, region_end) if items[y].kind == "NAME")
            return AdmissionHead(len(names), first, region_end, "NAME", k, names, [])
    if j is None and back is None and k > 0 and items[k - 1].kind in ("DUOC", "PAST"):
        # "Đồng chí Lan ..., nay được kết nạp": the people named before a passive verb
        named = [str(items[x].value) for x in range(s, k) if items[x].kind == "NAME"]
        if named:
            return AdmissionHead(len(named), k + 1, region_end, "NAME", k, named, [])
    if j is None and back is None:
        # "kết nạp đảng viên mới" with no number: ask
        after = k + 1
        while after < n and items[after].kind in ("HEAD", "NEW"):
            after += 1
        if (
            not negated
            and not (after < n and items[after].kind == "LA")
            and not (k > 0 and items[k - 1].kind == "REPORTW")  # "báo cáo kết nạp đảng viên": a topic
            and sentence_kinds(ctx, k).isdisjoint(("PLAN", "INVITE", "TIME", "TOTAL"))
        ):
            # ("Kết nạp đảng viên là nhiệm vụ...": a statement about admissions, nothing to ask)
            pending.append("admission_count")
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
        if kind == "MEMBERO" and head_noun is None:
            head_noun = "MEMBERO"
            h += 1
            continue
        if kind in NOUNS or (kind == "YOUTH" and head_noun is None):
            if head_noun is None or (head_noun in ("CLS", "CAND") and kind in ("HEAD", "DV")):
                head_noun = kind if kind != "YOUTH" else "YOUTH"
            if kind == "YOUTH":
                attrs.append("YOUTH")
            h += 1
            continue
        if kind in ATTRS or kind == "NAMQ":
            if _label_values(items, h, region_end):
                break  # "kết nạp 3 đc nữ 2 nam 1": labels and their figures, not one attribute of all
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
        if items[h].f == "(":  # "1 đồng chí (đoàn viên)": what is said of them, in brackets
            said, after = _group_attrs(items, h, region_end)
            if said:
                attrs += said
                h = after
                continue
        break
    if back is not None:
        h = max(h, k + 1)
    if idx > 0 and items[idx - 1].kind == "ALL":
        attrs += _said_before(items, s, k, count)  # "giới thiệu 2 đoàn viên ưu tú, ... kết nạp cả 2"
    if attrs:
        more, groups, after = _groups_after(items, h, region_end, head_noun, attrs)
        if more:
            # "kết nạp 1 đv nam, 1 đv nữ": groups of people one after the other, each with its count
            preset = _group_values([(count, attrs), *groups], count + more)
            return AdmissionHead(count + more, after, region_end, head_noun, k, [], [], preset)
    if head_noun in ("CLS", "HEAD", "DV"):
        more, after = _and_more(items, h, region_end, head_noun)
        if more:
            # "1 đồng chí Chơ Ro và 1 đồng chí Kinh": two counted groups of the same people add up
            return AdmissionHead(count + more, h, region_end, head_noun, k, [], attrs)
    names = []
    if h < n and items[h].kind == "COLON" and h + 1 < n and items[h + 1].kind == "NAME":
        names = name_list(items, h + 1)
    return AdmissionHead(count, h, region_end, head_noun, k, names, attrs)


def _and_more(items: list[Item], h: int, end: int, noun: str) -> tuple[int, int]:
    """People added by "và <number> <the same noun>" after a counted group and what is said of it
    (a name, an ethnic group, attributes): the people added and the item after the last count."""
    more, x, after = 0, h, h
    while x < end:
        kind = items[x].kind
        if kind in ("NAME", "ETH", "KINH", "NAMQ") or kind in ATTRS or items[x].f == "nguoi":
            x += 1
            continue
        if kind in ("LA", "W") and x - after < 4:  # "1 đảng viên là giáo viên và 1 ..."
            x += 1
            continue
        if (
            kind == "AND"
            and items[x].f == "va"
            and x + 2 < end
            and items[x + 1].kind == "NUM"
            and items[x + 2].kind == noun
        ):
            more += int(items[x + 1].value or 0)
            x = after = x + 3
            continue
        break
    return more, after


def _groups_after(
    items: list[Item], h: int, end: int, noun: str | None, attrs: list[str]
) -> tuple[int, list[tuple[int, list[str]]], int]:
    """The groups counted after the first one, told apart by the same field: "1 đv nam, 1 đv nữ",
    "2 đồng chí nữ, 1 đồng chí nam", "1 đồng chí (đoàn viên), 1 đồng chí (không phải đoàn viên)",
    and person words without a comma ("ba ông một bà"); but "2 đv nữ, 1 đv theo đạo" is one of the
    two. Returns the people they add, the groups (count, attributes) and the item after them."""
    # person words counted one after the other need no comma: "ba ông một bà", "2 anh 1 chị"
    bare = noun is None and h > 0 and items[h - 1].f in PERSON_SEX_FOLDED
    fields = {FIELD_OF[a] for a in attrs if a in FIELD_OF}
    groups: list[tuple[int, list[str]]] = []
    x = h
    while True:
        if x < end and items[x].kind in ("SEP", "AND") and items[x].f not in ("(", ")"):
            y = x + 1
        elif bare and x == h:
            y = x
        else:
            break
        if not (y < end and items[y].kind == "NUM"):
            break
        z = y + 1
        if noun is not None and z < end and items[z].kind == noun:
            z += 1
        said, after = _group_attrs(items, z, end)
        if not said or FIELD_OF.get(said[0]) not in fields or said[0] in attrs:
            if said and said[0] in attrs:
                return 0, [], h
            break
        groups.append((int(items[y].value or 0), said))
        x = after
    return sum(c for c, _ in groups), groups, x


def _group_attrs(items: list[Item], y: int, end: int) -> tuple[list[str], int]:
    """What is said of one counted group from y: "nữ", "nam đoàn viên", or in brackets "(đoàn viên)",
    "(không phải đoàn viên)"; and the item after it."""
    said: list[str] = []
    bracket = y < end and items[y].f == "("
    x = y + 1 if bracket else y
    negate = False
    while x < end:
        it = items[x]
        if it.kind in ATTRS or it.kind == "NAMQ":
            kind = "MALE" if it.kind == "NAMQ" else it.kind
            said.append(NEG_OF.get(kind, kind) if negate else kind)
            negate = False
        elif bracket and it.kind in ("NONE", "NEG"):
            negate = True
        elif not (bracket and it.kind == "SEP" and it.f == ","):
            break
        x += 1
    if bracket:
        return (said, x + 1) if x < end and items[x].f == ")" else ([], y)
    return said, x


def _group_values(groups: list[tuple[int, list[str]]], count: int) -> dict[str, int]:
    """The breakdowns the groups give: "1 nam, 1 nữ" -> female 1; "1 (đoàn viên), 1 (không)" -> 1."""
    found: dict[str, int] = {}
    others: dict[str, int] = {}
    for people, said in groups:
        for kind in said:
            field = FIELD_OF[kind]
            into = others if kind in COMPLEMENT else found
            into[field] = into.get(field, 0) + people
    values = {field: count - n for field, n in others.items() if n <= count}
    values.update(found)
    return values


def _said_before(items: list[Item], s: int, k: int, count: int) -> list[str]:
    """ "cả 2" refers back to "2 <people>" earlier in the sentence: what was said of them."""
    for j in range(k - 1, s - 1, -1):
        if items[j].kind == "NUM" and items[j].value == count:
            said = []
            x = j + 1
            while x < k and (items[x].kind in ATTRS or items[x].kind in NOUNS):
                if items[x].kind in ATTRS:
                    said.append(items[x].kind)
                x += 1
            return said
    return []


def _label_values(items: list[Item], h: int, end: int) -> bool:
    """From h: attribute, figure, attribute, figure... ending on a figure ("nữ 2 nam 1")."""
    x = h
    pairs = 0
    while x + 1 < end and (items[x].kind in ATTRS or items[x].kind == "NAMQ") and items[x + 1].kind == "NUM":
        pairs += 1
        x += 2
    return pairs > 0 and (x >= end or (items[x].kind not in ATTRS and items[x].kind not in NOUNS))


def _unread_name(items: list[Item], j: int) -> bool:
    """ "đ/c Nhé," : a title, one word the name reader did not take, then the list goes on."""
    n = len(items)
    return (
        j >= 0
        and j + 1 < n
        and items[j].kind == "CLS"
        and items[j].f in ("d/c", "dc", "dong chi", "đ/c")
        and items[j + 1].kind == "W"
        and items[j + 1].f.isalpha()
        and (j + 2 >= n or items[j + 2].kind in ("SEP", "AND", "STOP"))
    )


def name_list(items: list[Item], j: int, end: int | None = None) -> list[str]:
    """The people named from item j on: "đ/c Hương (nữ, đoàn viên) và đ/c Long", "Hoàng Văn Tú, Hoàng
    Thị Mơ", or one per line ("1. Nguyễn Thị Lan" / "- Đồng chí Mai Văn Quyết, sinh năm 1995")."""
    names: list[str] = []
    n = len(items) if end is None else end
    depth = 0
    while j < n:
        it = items[j]
        kind = it.kind
        if kind == "NAME":
            names.append(str(it.value))
        elif it.f == "(":
            depth += 1
        elif it.f == ")":
            depth = max(0, depth - 1)
        elif depth or kind in _IN_NAME_LIST:
            pass
        elif kind == "NUM" and j + 1 < n and items[j + 1].f in (".", ")"):
            j += 1  # "2. Trần Văn Minh": the list's numbering
        elif kind == "STOP" and it.f in ("\n", ";") and _name_line(items, j + 1, n):
            pass  # the list goes on on the next line
        else:
            break
        j += 1
    return names


# What may stand between the names of a list: separators, titles, what is said of each person.
_IN_NAME_LIST = ATTRS | {
    *("AND", "SEP", "CLS", "COLON", "MASK", "LA", "NAMQ", "W", "NAMELIST", "TUOI"),
    *("LABEL", "FIELDNAME", "NEG", "NONE"),  # a row of a table: "Giới tính: Nam, Tôn giáo: Không"
}


def _name_line(items: list[Item], j: int, n: int) -> bool:
    """A line that opens with a name (after its numbering, a dash, a title or "Họ và tên:")."""
    while j < n and (items[j].kind in ("SEP", "CLS", "FIELDNAME", "COLON") or items[j].f == "."):
        j += 1
    if j < n and items[j].kind == "NUM":
        j += 1
        while j < n and items[j].f in (".", ")"):
            j += 1
    while j < n and items[j].kind in ("SEP", "CLS"):
        j += 1
    return j < n and items[j].kind == "NAME"


def read_breakdown(ctx: Ctx, adm: AdmissionHead, count: int) -> dict[str, int | None]:
    """The five breakdowns of `count` new members, from the words after the count.

    Several named people each described on their own ("đ/c Hương (nữ, đoàn viên) và đ/c Long (đoàn
    viên)") add up person by person; the words before the first name describe everyone."""
    items = ctx.items
    region = items[adm.head_end : adm.region_end]
    name_positions = [x for x, it in enumerate(region) if it.kind == "NAME"] if "NAME" in ctx.kinds else []
    people: list[dict[str, int | None]] = []
    if len(name_positions) >= 2 or (len(name_positions) == 1 and count == 1 and adm.head_noun == "NAME"):
        bounds = zip(name_positions, [*name_positions[1:], len(region)], strict=True)
        for a, b in bounds:
            chunk = region[a + 1 : b]
            each = count if any(it.kind == "ALL" for it in chunk) else 1
            people.append(describe(ctx, clauses(chunk), each, count))
        if len(people) > 1 and each == 1 and not any(v is not None for p in people[:-1] for v in p.values()):
            # "Tráng A Páo, Giàng Thị Mỷ (dân tộc Mông)": said after the last name only, it may be of
            # her or of everyone listed: the bot asks
            people = []
        region = region[: name_positions[0]]
    parts = clauses(region)
    if count > 1 and "ORD" in ctx.kinds and any(it.kind == "ORD" for part in parts for it in part):
        # "đv thứ nhất nữ, đv thứ hai nam" / "Đồng chí thứ nhất là nữ, đoàn viên. Đồng chí thứ hai...":
        # one person from an ordinal to the next
        first = next(x for x, part in enumerate(parts) if any(it.kind == "ORD" for it in part))
        person: list[list[Item]] = []
        for part in parts[first:]:
            if any(it.kind == "ORD" for it in part) and person:
                people.append(describe(ctx, person, 1, count))
                person = []
            person.append(part)
        people.append(describe(ctx, person, 1, count))
        parts = parts[:first]
    values = describe(ctx, parts, count, count, adm.attrs_head)
    for name, given in adm.preset.items():
        if values[name] is None:
            values[name] = given
    if "UNSURE" in ctx.kinds and any(it.kind == "UNSURE" for it in region):
        # "1 là đoàn viên, còn 1 thì không nhớ": a part is known, the rest is not: the bot asks
        for name, value in values.items():
            if value is not None and 0 < value < count:
                values[name] = None
    if not people:
        return values
    for field in BREAKDOWN_FIELDS:
        said = [v for person in people if (v := person[field]) is not None]
        if values[field] is None and said:
            total = sum(said)
            values[field] = total if total <= count else max(said)
    return values


def describe(
    ctx: Ctx, parts: list[list[Item]], count: int, whole: int, head: list[str] | tuple[str, ...] = ()
) -> dict[str, int | None]:
    """Breakdowns of `count` people from the clauses describing them (`whole`: the admission's count,
    for the question when a figure is larger than it)."""
    values: dict[str, int | None] = dict.fromkeys(BREAKDOWN_FIELDS)
    if not parts and not head:
        return values
    found: dict[str, list[int]] = {}
    complements: dict[str, list[int]] = {}

    classified = {"PERSONF": 0, "PERSONM": 0}

    def add(kind: str, value: int) -> None:
        if kind in classified:
            classified[kind] += value
            return
        field = FIELD_OF[kind]
        if kind in COMPLEMENT:
            complements.setdefault(field, []).append(value)
        else:
            found.setdefault(field, []).append(value)

    for kind in head:
        add(kind, count)
    last_num: list[int | None] = [None, 0]  # the previous clause's number; clauses with a number so far
    # breakdowns written as labels ("Nữ: 01; ĐV: 02"): a label "ĐV" among them is đoàn viên
    labels = any(
        clause[0].kind in ATTRS and len(clause) > 1 and clause[1].kind == "COLON"
        for clause in parts
        if clause
    )
    for clause in parts:
        if "UNSURE" in ctx.kinds and any(it.kind == "UNSURE" for it in clause):
            continue  # "chưa rõ có ai là nữ không": what the writer does not know is asked, never read
        read_clause(ctx, clause, count, add, last_num, labels)
    for field, vals in found.items():
        total = sum(vals)
        # separate people add up; a sum beyond the count means the same people were described twice
        values[field] = total if total <= count else max(vals)
    for field, vals in complements.items():
        total = sum(vals)  # "3 nam" of 4 -> 1 female
        if total > count and all(v == count for v in vals):
            total = count  # everyone said twice: "1 đ/c nam, ảnh không theo đạo"
        if (stated := values[field]) is not None:
            if stated + total != count:
                values[field] = None  # "3 đv, 2 nữ 2 nam": the two do not add up, the bot asks
        elif total <= count:
            values[field] = count - total
        else:
            ctx.ask(
                f"{field}_exceeds",
                question("exceeds", label=field_label(field, complement=True), value=total, count=whole),
            )
    classified_people = classified["PERSONF"] + classified["PERSONM"]
    if classified_people == count and values["female"] is None:
        values["female"] = classified["PERSONF"]  # "1 chị người Hoa, 1 anh người Kinh"
    return values


# Between a negation and the attribute it denies: "không phải là đoàn viên", "chưa ai là nữ".
_GAP_KINDS = frozenset({"W", "LA", "CO", "CLS", "PLAN"})
_CUTS = frozenset({"SEP", "STOP", "AND", "TRONGDO", "CONLAI"})
_NEG_GAP = frozenset({"phai", "la", "co", "theo", "tot", "nghiep", "ai", "nguoi", "dong", "chi", "nao"})


def clauses(region: list[Item]) -> list[list[Item]]:
    """The region cut at commas, sentence ends, "và", "trong đó", "còn lại"; a negation and the
    attribute it denies become one complement item ("không tôn giáo" -> not religious), so a chain
    without commas ("không phải đoàn viên không tôn giáo không dân tộc") reads item by item."""
    out: list[list[Item]] = []
    cur: list[Item] = []
    n = len(region)
    x = 0
    while x < n:
        it = region[x]
        kind = it.kind
        if kind in ("SEP", "STOP", "AND", "TRONGDO", "CONLAI") and not (
            kind == "SEP" and it.f == "-" and not cur
        ):
            if cur:
                out.append(cur)
            cur = [it] if kind == "CONLAI" else []
            x += 1
            continue
        if kind in NEGATABLE and x + 1 < n:
            y = x + 2 if region[x + 1].kind == "COLON" else x + 1
            if y < n and region[y].kind in ("NEG", "NONE") and (y + 1 >= n or region[y + 1].kind in _CUTS):
                cur.append(Item(NEG_OF[kind], "khong " + it.f, "negated"))  # "đoàn viên: không"
                x = y + 1
                continue
            if (
                y < n
                and y == x + 2
                and region[y].kind in ATTRS
                and FIELD_OF[region[y].kind] == FIELD_OF[kind]
            ):
                x = y  # "dân tộc: Kinh", "tôn giáo: Công giáo": the label's value says it
                continue
        if kind in ("NEG", "NONE"):
            j = x + 1
            while j < n and j < x + 4 and region[j].kind in _GAP_KINDS and region[j].f in _NEG_GAP:
                j += 1
            if j < n and region[j].kind in NEGATABLE:
                while True:
                    denied = region[j].kind
                    cur.append(Item(NEG_OF[denied], "khong " + region[j].f, "negated"))
                    x = j + 1
                    while x < n and region[x].kind == denied:
                        x += 1  # "không có ai là dân tộc | thiểu số": one attribute in two pieces
                    # "không ai theo tôn giáo hay là dân tộc thiểu số": the negation covers both
                    j = x + 1
                    if x < n and region[x].f in ("hay", "hoac", "cung") and j < n:
                        if region[j].kind == "LA" and j + 1 < n:
                            j += 1
                        if region[j].kind in NEGATABLE:
                            continue
                    break
                continue
        cur.append(it)
        x += 1
    if cur:
        out.append(cur)
    return out


def read_clause(
    ctx: Ctx, clause: list[Item], count: int, add: Adder, last_num: list[int | None], labels: bool = False
) -> None:
    """One comma-separated piece of the breakdown: numbers paired with attributes.

    `last_num` carries the number of the previous clause: in "trong đó 1 nữ, theo đạo Công giáo" the
    bare second clause still describes that one person. A denied attribute without its own number
    ("không tôn giáo", "không ai là đoàn viên") is said of everyone."""
    # atoms in order: ("NUM", v), (attribute kind, 0), ("NONE", 0), ("ALL", 0)
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
        elif kind in ATTRS or kind in ("NAMQ", "DV") or (kind == "W" and it.f in _PERSON_WORDS):
            if kind == "W":
                if not (x > 0 and clause[x - 1].kind == "NUM"):
                    continue
                kind = _PERSON_WORDS[it.f]  # "2 chị 1 anh"
            if (
                kind in ("FEMALE", "MALE")
                and it.f in PERSON_SEX_FOLDED
                and any(o.kind in ATTRS and FIELD_OF[o.kind] != "female" for o in clause[x + 1 :])
            ):
                # "1 chị người Hoa, 2 người Kinh": "chị" counts the person the clause describes by
                # another field; it says her sex, not that the others are men
                kind = "PERSONF" if kind == "FEMALE" else "PERSONM"
            elif kind == "DV":
                # "1 dv" alone is đoàn viên; "1 dv nữ", "cả 2 dv đều...", "3 dv này" repeat the head noun;
                # a label "ĐV: 02" among the breakdown's labels ("(Nữ: 01; ĐV: 02)") is đoàn viên
                if not (
                    (n == 2 and x == 1 and clause[0].kind == "NUM" and int(clause[0].value or 0) < count)
                    or (
                        labels
                        and n == 3
                        and x == 0
                        and clause[1].kind == "COLON"
                        and clause[2].kind == "NUM"
                        and int(clause[2].value or 0) <= count
                    )
                ):
                    continue
                kind = "YOUTH"
            if (it.value == "negated" or kind == "NOREL") and not (atoms and atoms[-1][0] == "NUM"):
                add(kind, count)  # "4 đoàn viên không tôn giáo": nobody religious
                continue
            if atoms and atoms[-1][0] == kind:
                continue  # "người theo đạo Công giáo" is one attribute spelled twice
            atoms.append((kind, 0))
            attrs.append(kind)
        elif kind == "ALL":
            has_all = True
            atoms.append(("ALL", 0))
        elif kind == "PCT":
            share = _share(it.f) * count / 100
            if share != int(share):
                last_num[0] = None
                return  # "33% là nữ" of 2: no whole number of people, the bot asks
            atoms.append(("NUM", int(share)))  # "75% là nữ" of 4: 3
            nums.append(int(share))
        elif kind == "NONE" or kind == "NEG":
            atoms.append(("NONE", 0))
            has_none = True
        elif kind == "CO":
            has_co = True
        elif kind == "CONLAI" or kind == "PLAN":
            # "còn lại là nam" restates the complement; a plan inside a breakdown is not a fact
            last_num[0] = None
            return
    # a line "Văn hóa: 12/12" says its own value: it does not take the figure of the line before
    inherited = None if any(it.kind == "COLON" for it in clause) else last_num[0]
    if len(last_num) > 1 and (last_num[1] or 0) >= 2:
        # "3 nữ, 2 đoàn viên, trình độ cao đẳng trở lên": after figures of several fields, a bare
        # attribute is said of the whole group, not of the last figure's people
        inherited = None
    last_num[0] = nums[0] if len(nums) == 1 and attrs else None
    if len(last_num) > 1 and nums and attrs:
        last_num[1] = (last_num[1] or 0) + 1
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
            elif inherited is not None and kind not in COMPLEMENT:
                add(kind, inherited)
            elif not has_co:  # "trong đó có nữ" gives no number
                add(kind, count)
        return
    if len(nums) == 1 and "ALL" not in (k for k, _ in atoms):
        v = nums[0]
        for a in attrs:
            kind = "MALE" if a == "NAMQ" else a
            if has_none and kind not in COMPLEMENT and neg_precedes_attr(atoms, a):
                add(NEG_OF.get(kind, kind), v)  # "1 không phải đoàn viên": complement
            else:
                add(kind, v)
        return
    # several numbers: pair by the clause's own order (number-first or attribute-first); "cả hai đều"
    # makes what follows true of everyone
    number_first = next(k for k, _ in atoms if k not in ("NONE", "ALL")) == "NUM"
    pending_num: int | None = None
    pending_attrs: list[str] = []
    for k, v in atoms:
        if k == "NONE":
            continue
        if k == "ALL":
            for a in pending_attrs:  # "học vấn 12/12 cả 2"
                add(a, count)
            pending_attrs = []
            pending_num = count
            number_first = True
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


NEG_OF = {
    "YOUTH": "NOYOUTH",
    "FEMALE": "MALE",
    "REL": "NOREL",
    "ETH": "KINH",
    "EDU": "LOWEDU",
    "NOREL": "REL",
    "KINH": "ETH",
    "MALE": "FEMALE",
    "LOWEDU": "EDU",
}
NEGATABLE = frozenset(NEG_OF)
# Words that are an attribute after a count: "2 chị 1 anh", "1 ông", "0 tg" (tôn giáo), "0 dt" (dân tộc).
_PERSON_WORDS = {"anh": "MALE", "chi": "FEMALE", "ong": "MALE", "tg": "REL", "dt": "ETH"}


def _share(text: str) -> float:
    try:
        return float(text.rstrip("%").strip().replace(",", "."))
    except ValueError:
        return -1.0


def neg_precedes_attr(atoms: list[tuple[str, int]], attr: str) -> bool:
    for x, (k, _) in enumerate(atoms):
        if k == attr:
            return x > 0 and atoms[x - 1][0] == "NONE"
    return False
