"""Free answers and fixes: "field = value" read from what a secretary types back.

Two kinds of message go through here:
- the answer to the one question that asks every missing breakdown at once: "2 nữ, cả 3 đoàn viên,
  còn lại không", "không ai theo đạo, 1 dân tộc Mường", "nữ, đoàn viên, không theo đạo" (one person);
- a fix at the read-back: "tôn giáo là 0 chứ", "tháng 10 chứ không phải tháng 11", "kết nạp 3 chứ
  không phải 2", "sửa nữ thành 1".

The reader is general, not a list of sentences: the text is cut into clauses (commas, "và", "còn");
in each clause the words are items (a field, a number, "cả"/"tất cả", "không ai", "không", "không
rõ", a period); each field takes the value written next to it, before it ("2 nữ") or after it
("tôn giáo là 0"), whichever order the clause uses. A negation before a field counts the others
("2 không theo đạo"), as do the complement words ("nam", "người Kinh", "dưới THPT"). What follows
"chứ không phải" / "không phải … mà" is the old value and is only used to tell which field is fixed.
Numbers and periods come from the parser's public pieces (handlers.numbers, handlers.periods).

The word lists below are the dialogue's own: they name the fields a question asks about. Once the
parser package exposes its vocabulary, the two should share it. The breakdowns a tree adds to the
five come with their words (`read`'s `breakdowns`), and are fields like the five ("2 dưới 30 tuổi").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from handlers.numbers import parse_digits, parse_number_words
from handlers.periods import Period, scan_periods
from handlers.text import fold_normalized, has_vietnamese_marks, normalize
from storage.breakdowns import BREAKDOWN_FIELDS, Breakdown

__all__ = ["BREAKDOWNS", "Mention", "Outcome", "Reading", "Value", "read", "resolve"]

BREAKDOWNS = BREAKDOWN_FIELDS  # the five shares of new members, as storage defines them
FIGURES = ("count", "sent", "completed")


@dataclass(frozen=True)
class Value:
    kind: str  # "num" | "all" | "zero" | "no" | "yes" | "unknown"
    number: int = 0


@dataclass
class Mention:
    """A field named in the text, and the value written next to it (None: no value)."""

    field: str
    positive: bool  # False: the text counts those who are not ("nam", "không theo đạo", "người Kinh")
    value: Value | None = None
    rest: bool = False  # named after "còn lại"
    bare_dv: bool = False  # said as "dv"/"đv" alone: đảng viên and đoàn viên are both written so


@dataclass
class Reading:
    mentions: list[Mention] = field(default_factory=list)
    bare: list[Value] = field(default_factory=list)  # values tied to no field
    rest: Value | None = None  # "còn lại không", "còn lại đều có"
    period: Period | None = None
    old_period: Period | None = None  # "chứ không phải tháng 11"
    old_numbers: list[int] = field(default_factory=list)  # "chứ không phải 2"
    head: bool = False  # "đảng viên" was written: a bare number in a fix is the count
    unread: int = 0  # clauses with words and nothing read from them

    @property
    def empty(self) -> bool:
        return not (self.mentions or self.bare or self.rest or self.period)


# --- vocabulary (folded) ----------------------------------------------------------------------


def _phrases(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


_FIELD_WORDS: dict[tuple[str, bool], str] = {
    ("female", True): (
        "nu, phu nu, nu gioi, gioi tinh nu, chi em, dong chi nu, la nu, dv nu, dang vien nu, so nu, con "
        "gai, dong chi nu gioi"
    ),
    ("female", False): (
        "nam, nam gioi, gioi tinh nam, dong chi nam, la nam, dan ong, dv nam, dang vien nam, so nam, con trai"
    ),
    ("youth_union", True): (
        "doan vien, dvtn, doan vien thanh nien, dv tn, dv, d/v, doan, la doan vien, doan thanh nien, doan"
        " vien tncs, doan vien cong san, doan tncs, tncs"
    ),
    ("religious", True): (
        "ton giao, theo ton giao, co ton giao, theo dao, co dao, dao, cong giao, theo cong giao, thien "
        "chua, thien chua giao, dao thien chua, theo dao thien chua, dao cong giao, theo dao cong giao, "
        "phat giao, theo phat giao, dao phat, theo dao phat, phat tu, tin lanh, dao tin lanh, theo tin "
        "lanh, cao dai, dao cao dai, hoa hao, dao hoa hao, giao dan, la giao dan, nguoi co dao, nguoi "
        "theo dao, tg, hoi giao, dao hoi"
    ),
    ("religious", False): ("luong, ben luong, vo than"),
    ("ethnic_minority", True): (
        "dan toc, dan toc thieu so, dtts, thieu so, nguoi dan toc, la nguoi dan toc, dong bao dan toc, "
        "nguoi dan toc thieu so, dan toc it nguoi, dt, dt thieu so, muong, hmong, h'mong, khmer, nung, "
        "ede, jrai, bahnar, mnong, raglai, stieng, xtieng, san diu, san chay, cao lan, gia rai, xo dang, "
        "ba na"
    ),
    ("ethnic_minority", False): ("kinh, dan toc kinh, nguoi kinh, dt kinh, la nguoi kinh"),
    ("upper_secondary_or_above", True): (
        "thpt, cap 3, cap ba, cap iii, 12/12, lop 12, trung hoc pho thong, pho thong trung hoc, ptth, tot"
        " nghiep thpt, tn thpt, tot nghiep cap 3, tot nghiep cap ba, trung cap, cao dang, dai hoc, dh, "
        "cd, thac si, ths, tien si, cu nhan, ky su, sau dai hoc, thpt tro len, tu thpt tro len, hoc het "
        "12, hoc het lop 12, hoc xong 12, hoc xong lop 12, tot nghiep 12, tot nghiep lop 12, bang cap 3, "
        "trinh do, hoc van, trinh do hoc van, trinh do van hoa, van hoa, bo tuc thpt, sinh vien, tu cap 3"
        " tro len, tu 12/12 tro len, 12/12 tro len"
    ),
    ("upper_secondary_or_above", False): (
        "thcs, cap 2, cap hai, cap ii, 9/12, 8/12, 7/12, 10/12, 11/12, tieu hoc, cap 1, duoi thpt, trung "
        "hoc co so, lop 9, hoc het lop 9, duoi cap 3, chua het cap 3, duoi 12/12"
    ),
    ("count", True): (
        "ket nap, kn, ket nap duoc, ket nap dc, so ket nap, so dang vien, so dang vien ket nap, so dang "
        "vien moi, so luong, tong so, tong, so nguoi ket nap, knd"
    ),
    ("sent", True): (
        "cu, cu di hoc, cu di, cu hoc, di hoc, so cu, so di hoc, hoc lop, di hoc lop, tham gia lop, tham "
        "gia hoc, so hoc vien, hoc vien, hoc, so cu di hoc, cu di hoc lop"
    ),
    ("completed", True): (
        "hoan thanh, hoc xong, xong, cap giay chung nhan, cap gcn, gcn, giay chung nhan, duoc cap, duoc "
        "cap gcn, duoc cap giay chung nhan, dat yeu cau, tot nghiep lop, ht, so hoan thanh, da hoan "
        "thanh, hoan thanh lop"
    ),
}
# Ethnic groups whose names are common words: only after "dân tộc", "người", "dt".
_ETHNIC_AFTER_NOUN = _phrases(
    "tay, thai, dao, hoa, cham, giay, lao, lu, ma, khang, tho, chut, co, bru, van kieu, co tu, ta oi, "
    "chu ru, lo lo, ha nhi, kho mu, si la, pa then, la chi, phu la, pu peo, co lao, la hu, xinh mun, ro "
    "mam, gie trieng, o du, brau, ngai, cong, mang, mong, muong, hmong, khmer, nung, ede, e de, gia rai, "
    "ba na, xo dang, san diu, san chay, cao lan, kho me"
)

_ITEM_WORDS: dict[str, str] = {
    "ALL": (
        "ca, tat ca, het, toan bo, deu, deu la, ca hai, ca ba, full, toan the, tat ca deu, ca thay, ca "
        "deu, deu co, het ca"
    ),
    "ZERO": (
        "khong ai, ko ai, k ai, kg ai, khong co ai, ko co ai, k co ai, chua co ai, chua ai, hong ai, hong"
        " co ai, hok ai, hok co ai, chang ai, cha ai, chang co ai, cha co ai, khong nguoi nao, khong dong"
        " chi nao, ko dong chi nao, khong co dong chi nao, chua co dong chi nao, khong co truong hop nao,"
        " khong co nguoi nao, ko co ng nao, khong co ng nao, khong ca, chua co dong chi nao ca, khong co "
        "ai ca, khum ai"
    ),
    "NEG": (
        "khong, ko, k, kg, khg, kh, hk, hong, hok, hem, khum, chua, chang, cha, khong co, ko co, k co, "
        "chua co, hong co, khong phai la, khong la, chua phai, khong theo, ko theo, chua theo, duoi"
    ),
    "NOTWAS": (
        "khong phai, ko phai, k phai, kp, khong phai la, ko phai la, chu khong phai, chu ko phai, chu k "
        "phai, chu kp, chu khong phai la, chu ko phai la, chu khong, chu ko, chu k, chu dau phai, dau "
        "phai, chu khong phai so, khong phai so"
    ),
    "MA": ("ma, ma la, ma phai la, ma dung la"),
    "UNKNOWN": (
        "khong ro, chua ro, ko ro, k ro, kg ro, khong biet, chua biet, ko biet, k biet, chua nam duoc, "
        "chua nam, khong nho, ko nho, chua co thong tin, khong co thong tin, chua co so lieu, bo qua, de "
        "sau, khong chac, chua chac, ?"
    ),
    "YES": ("co, vang, da vang, u, uh, uk, ok, oke, dung, phai, chuan, dung roi, co a, phai a"),
    "CONLAI": (
        "con lai, so con lai, cac dong chi con lai, nhung nguoi con lai, nhung dong chi con lai, con lai "
        "la, cac muc con lai, cac muc khac, phan con lai, may cai con lai, nhung cai con lai, cac cai con"
        " lai, con lai thi, cac cau con lai, cac cau khac, cac muc con"
    ),
    "HEADDV": ("dang vien, dang vien moi, dvm, dang vien du bi"),
    "SEP": ("va, voi, con, nhung, cung, them, hay, hoac, hoac la"),
    "FILL": (
        "la, thi, theo, phai, duoc, dc, d/c, dong chi, dchi, d/chi, nguoi, ng, ban, em, anh, chi, ca "
        "nhan, truong hop, quan chung, qc, qcut, trong do, trong so do, trong so, gom, co cau, sua, sua "
        "lai, sua thanh, thanh, lai, so, chu, a, nhe, nha, roi, di, o, tro len, dong bao, muc, moi, thoi,"
        " luon, vay, day, nay, do, ay, cua, ve, phan, cau, tra loi, nhu sau, cu the, bao cao, ghi, ghi "
        "lai, sai, nham, bi nham, go nham, vua, trong, tren, dung ra, dung ra la, phai la, chinh xac la, "
        "that ra, that ra la, xin, sua giup, giup, nhe a, a nha, dang vien moi nay, da, vi, chi bo, minh, "
        "toi, tui, dong chi a, dong chi oi, ak, ah, nhi, dau, tat, doi, thanh la"
    ),
}

_NUMBER_WORDS = frozenset({"mot", "hai", "ba", "bon", "nam", "sau", "bay", "tam", "chin", "muoi", "tu"})
# With diacritics, a number word must be spelt as one ("bà", "bảy" the verb "bay", "sau" = after).
_NUMBER_SPELLINGS: dict[str, frozenset[str]] = {
    "mot": frozenset({"một", "mốt"}),
    "hai": frozenset({"hai"}),
    "ba": frozenset({"ba"}),
    "bon": frozenset({"bốn"}),
    "nam": frozenset({"năm", "lăm", "nhăm"}),
    "sau": frozenset({"sáu"}),
    "bay": frozenset({"bảy", "bẩy"}),
    "tam": frozenset({"tám"}),
    "chin": frozenset({"chín"}),
    "muoi": frozenset({"mười", "mươi"}),
    "tu": frozenset({"tư"}),
}
# Without diacritics these are numbers only before a field or a noun ("sau nu"), never alone.
_WEAK = frozenset({"nam", "sau", "bay", "tam", "chin", "bon", "tu"})
# One-word entries that need their diacritics when the message has any.
_SPELLED: dict[str, frozenset[str]] = {
    "cu": frozenset({"cử"}),
    "ca": frozenset({"cả"}),
    "het": frozenset({"hết"}),
    "dao": frozenset({"đạo"}),
    "da": frozenset({"dạ"}),
    "doan": frozenset({"đoàn"}),
    "con": frozenset({"còn"}),
    "hoc": frozenset({"học"}),
    "nu": frozenset({"nữ", "nu"}),
    "co": frozenset({"có"}),
}


def _lexicon() -> tuple[dict[tuple[str, ...], tuple[str, str, bool]], int]:
    table: dict[tuple[str, ...], tuple[str, str, bool]] = {}

    def add(phrase: str, kind: str, name: str = "", positive: bool = True) -> None:
        table.setdefault(tuple(phrase.split()), (kind, name, positive))

    for (name, positive), text in _FIELD_WORDS.items():
        for phrase in _phrases(text):
            add(phrase, "F", name, positive)
            if name == "upper_secondary_or_above":
                for label in ("trinh do", "hoc van", "tot nghiep", "tn", "trinh do hoc van", "bang"):
                    add(f"{label} {phrase}", "F", name, positive)
            if name == "religious" and positive:
                add(f"theo {phrase}", "F", name, positive)
    for ethnic in _ETHNIC_AFTER_NOUN:
        for noun in ("dan toc", "nguoi", "dt", "la nguoi", "nguoi dan toc", "dong bao"):
            add(f"{noun} {ethnic}", "F", "ethnic_minority", True)
    for kind, text in _ITEM_WORDS.items():
        for phrase in _phrases(text):
            add(phrase, kind)
    return table, max(len(k) for k in table)


_LEXICON, _LONGEST = _lexicon()
# "dv" alone is đảng viên as often as đoàn viên: "nhầm, 2 dv thôi" corrects the count.
_BARE_DV = frozenset({("dv",), ("d/v",)})
# Words a count stands before ("sau nu", "bay dong chi"): a weak number word counts only there.
_NOUN_START = frozenset(
    {k[0] for k, (kind, _, _) in _LEXICON.items() if kind in ("F", "HEADDV")}
    | {"dong", "nguoi", "ng", "dc", "d/c", "ban", "em", "qc", "qcut"}
)
_TOKEN = re.compile(r"\d+/\d+|\d+(?:[.,]\d+)*%?|[a-z]+/[a-z]+|[a-z]+(?:'[a-z]+)?|[,;.\n!()\[\]+&?:=-]")
_SEPARATORS = frozenset(",;.\n!()[]+&-")
_SCHOOL_YEAR = re.compile(r"(?:7|8|9|10|11|12)/12")


@dataclass
class _Item:
    kind: str  # F, NUM, ALL, ZERO, NEG, NOTWAS, MA, UNKNOWN, YES, CONLAI, HEADDV, SEP, FILL, PERIOD, W
    name: str = ""
    positive: bool = True
    number: int = 0
    period: Period | None = None
    starts_with_chu: bool = False
    bare_dv: bool = False


def _tokens(text: str, today: date) -> list[tuple[str, str | None, Period | None]]:
    """(folded, accented or None, period) per token; a period written in words is one token."""
    norm = normalize(text)
    folded = fold_normalized(norm)
    lower = norm.lower()
    marks = len(lower) == len(folded) and has_vietnamese_marks(norm)
    hits = [
        h
        for h in scan_periods(folded, today)
        if h.kind != "birth"
        and h.period is not None
        and not (
            _SCHOOL_YEAR.fullmatch(folded[h.start : h.end].strip())
            and not folded[max(0, h.start - 5) : h.start].strip().endswith(("ngay", "hom"))
        )
    ]
    out: list[tuple[str, str | None, Period | None]] = []
    position = 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < position:
            continue
        for m in _TOKEN.finditer(folded, position, hit.start):
            out.append((m.group(), lower[m.start() : m.end()] if marks else None, None))
        out.append(("\x00period", None, hit.period))
        position = hit.end
    for m in _TOKEN.finditer(folded, position):
        out.append((m.group(), lower[m.start() : m.end()] if marks else None, None))
    return out


def _spelled_right(word: str, accented: str | None) -> bool:
    allowed = _SPELLED.get(word)
    return accented is None or allowed is None or accented in allowed


@lru_cache(maxsize=256)
def _added(breakdowns: tuple[Breakdown, ...]) -> tuple[dict[tuple[str, ...], str], int]:
    """The phrases of a tree's breakdowns, tokenised as answers are: phrase -> key; the longest."""
    table: dict[tuple[str, ...], str] = {}
    for breakdown in breakdowns:
        for phrase in (*breakdown.words, breakdown.label):
            words = tuple(_TOKEN.findall(fold_normalized(normalize(phrase))))
            if words:
                table.setdefault(words, breakdown.key)
    return table, max((len(k) for k in table), default=0)


def _items(text: str, today: date, breakdowns: tuple[Breakdown, ...] = ()) -> list[_Item]:
    tokens = _tokens(text, today)
    words = [t[0] for t in tokens]
    added, longest_added = _added(breakdowns) if breakdowns else ({}, 0)
    items: list[_Item] = []
    i = 0
    while i < len(tokens):
        word, accented, period = tokens[i]
        if period is not None:
            items.append(_Item("PERIOD", period=period))
            i += 1
            continue
        if added:
            # a tree's own phrase first, the longest: "dưới 30 tuổi" is one field, not "dưới" and a number
            length = next(
                (
                    n
                    for n in range(min(longest_added, len(tokens) - i), 0, -1)
                    if tuple(words[i : i + n]) in added and all(tokens[j][2] is None for j in range(i, i + n))
                ),
                0,
            )
            if length:
                items.append(_Item("F", added[tuple(words[i : i + length])], True))
                i += length
                continue
        if word in (":", "="):
            items.append(_Item("FILL"))  # "tôn giáo: 0", "nữ = 1"
            i += 1
            continue
        if word in _SEPARATORS or word == "?":
            items.append(_Item("UNKNOWN" if word == "?" else "SEP"))
            i += 1
            continue
        if word[0].isdigit():
            if word.endswith("%"):
                items.append(_Item("ALL" if word == "100%" else "W"))
            elif "/" in word:
                found = _LEXICON.get((word,))
                items.append(_Item("F", found[1], found[2]) if found else _Item("W"))
            else:
                value = parse_digits(word) if "," not in word else None
                items.append(_Item("NUM", number=value) if value is not None else _Item("W"))
            i += 1
            continue
        matched = False
        for length in range(min(_LONGEST, len(tokens) - i), 0, -1):
            phrase = tuple(words[i : i + length])
            found = _LEXICON.get(phrase)
            if found is None or any(tokens[j][2] is not None for j in range(i, i + length)):
                continue
            if length == 1 and not _spelled_right(word, accented):
                continue
            kind, name, positive = found
            if kind == "F" and name == "female" and not positive and length == 1 and accented == "năm":
                continue  # "năm" is five, "nam" is male
            items.append(
                _Item(
                    kind,
                    name,
                    positive,
                    starts_with_chu=phrase[0] == "chu",
                    bare_dv=phrase in _BARE_DV,
                )
            )
            i += length
            matched = True
            break
        if matched:
            continue
        if word in _NUMBER_WORDS and (accented is None or accented in _NUMBER_SPELLINGS[word]):
            parsed = parse_number_words(words, i)
            if parsed is not None:
                value, used = parsed
                nxt = words[i + used] if i + used < len(words) else ""
                if accented is not None or word not in _WEAK or used > 1 or nxt in _NOUN_START:
                    items.append(_Item("NUM", number=value))
                    i += used
                    continue
        items.append(_Item("W"))
        i += 1
    return items


# --- reading ------------------------------------------------------------------------------------


def _drop_old_values(items: list[_Item], reading: Reading) -> list[_Item]:
    """Take out "chứ không phải 2" / "không phải tháng 11 mà …": the old value, kept aside."""
    out: list[_Item] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.kind != "NOTWAS":
            out.append(item)
            i += 1
            continue
        j = i + 1
        while j < len(items) and items[j].kind not in ("SEP", "MA"):
            j += 1
        span = items[i + 1 : j]
        has_field = any(s.kind == "F" for s in span)
        has_value = any(s.kind in ("NUM", "PERIOD") for s in span)
        old = (
            item.starts_with_chu
            or (j < len(items) and items[j].kind == "MA")
            or (has_value and not has_field)
        )
        if not old:
            out.append(_Item("NEG"))  # "không phải đoàn viên": a negated field
            i += 1
            continue
        for s in span:
            if s.kind == "PERIOD":
                reading.old_period = s.period
            elif s.kind == "NUM":
                reading.old_numbers.append(s.number)
        i = j + 1 if j < len(items) and items[j].kind == "MA" else j
    return out


def _clauses(items: list[_Item]) -> list[list[_Item]]:
    clauses: list[list[_Item]] = [[]]
    for item in items:
        if item.kind == "SEP":
            clauses.append([])
        elif item.kind == "CONLAI" and clauses[-1]:
            clauses.append([item])  # "2 nữ còn lại không": "còn lại" opens its own clause
        else:
            clauses[-1].append(item)
    return [c for c in clauses if c]


_VALUE_KINDS = frozenset({"NUM", "ALL", "ZERO", "UNKNOWN", "YES", "NEG"})
_QUIET = frozenset({"FILL", "HEADDV"})


@dataclass
class _Group:
    """Consecutive value items, as one value: "cả 3 đều" is 3, "không ai" is zero."""

    start: int
    end: int
    value: Value


def _group_value(items: list[_Item]) -> Value:
    numbers = [it.number for it in items if it.kind == "NUM"]
    kinds = {it.kind for it in items}
    if numbers:
        return Value("num", numbers[0])
    for kind, name in (
        ("UNKNOWN", "unknown"),
        ("ZERO", "zero"),
        ("NEG", "no"),
        ("ALL", "all"),
        ("YES", "yes"),
    ):
        if kind in kinds:
            return Value(name)
    return Value("unknown")


@dataclass
class _Clause:
    mentions: list[Mention]
    value_first: bool  # the values stand before their fields ("2 nữ"), not after ("nữ 2")
    lone: bool  # one field and nothing else: "đoàn viên" in "cả hai đều là nữ, đoàn viên"


def _read_clause(clause: list[_Item], reading: Reading) -> _Clause:
    if any(it.kind == "HEADDV" for it in clause):
        reading.head = True
    # A negation or a "có" just before a field belongs to the field: "không theo đạo", "có đạo".
    fields: list[tuple[int, Mention]] = []
    kinds = [it.kind for it in clause]
    for k, item in enumerate(clause):
        if item.kind != "F":
            continue
        mention = Mention(item.name, item.positive, bare_dv=item.bare_dv)
        j = k - 1
        while j >= 0 and kinds[j] in _QUIET:
            j -= 1
        if j >= 0 and kinds[j] == "NEG":
            mention.positive = not mention.positive
            kinds[j] = "USED"
        elif j >= 0 and kinds[j] == "YES":
            kinds[j] = "USED"
        fields.append((k, mention))
    groups: list[_Group] = []
    k = 0
    while k < len(clause):
        if kinds[k] in _VALUE_KINDS:
            start = k
            members = []
            while k < len(clause) and (kinds[k] in _VALUE_KINDS or kinds[k] in _QUIET):
                if kinds[k] in _VALUE_KINDS:
                    members.append(clause[k])
                k += 1
            groups.append(_Group(start, k - 1, _group_value(members)))
        else:
            k += 1
    conlai = next((k for k, it in enumerate(clause) if it.kind == "CONLAI"), None)
    periods = [it.period for it in clause if it.kind == "PERIOD" and it.period is not None]
    if periods:
        reading.period = periods[-1]

    def adjacent(position: int, group: _Group, before: bool) -> bool:
        """Only quiet words between the field and the group, and no other field."""
        lo, hi = (group.end + 1, position) if before else (position + 1, group.start)
        return all(kinds[x] in _QUIET or kinds[x] == "USED" for x in range(lo, hi))

    def bind(before_first: bool) -> dict[int, int]:
        bound: dict[int, int] = {}  # field index -> group index
        used: set[int] = set()
        for first in (before_first, not before_first):
            for f, (position, _) in enumerate(fields):
                if f in bound:
                    continue
                order = range(len(groups) - 1, -1, -1) if first else range(len(groups))
                for g in order:
                    group = groups[g]
                    if (
                        g in used
                        or (first and group.end > position)
                        or (not first and group.start < position)
                    ):
                        continue
                    if adjacent(position, group, first):
                        bound[f] = g
                        used.add(g)
                    break
        return bound

    value_first, field_first = bind(True), bind(False)
    # "2 nữ 1 đoàn viên" or "nữ 2 đoàn viên 1": the order that ties more fields to values wins.
    bound = field_first if len(field_first) > len(value_first) else value_first
    mentions = [mention for _, mention in fields]
    for f, (position, mention) in enumerate(fields):
        if f in bound:
            mention.value = groups[bound[f]].value
        mention.rest = conlai is not None and conlai < position
        reading.mentions.append(mention)
    taken = set(bound.values())
    # A value with words the reader does not know and no field ("thôi, không gửi nữa", "chắc là 2"):
    # not an answer; read as nothing rather than as a figure.
    unsure = not fields and "W" in kinds
    for g, group in enumerate(groups):
        if g in taken or unsure:
            continue
        if conlai is not None and group.start > conlai and not fields:
            reading.rest = group.value
        else:
            reading.bare.append(group.value)
    if not fields and not periods and "W" in kinds:
        reading.unread += 1
    lone = (
        len(fields) == 1
        and not groups
        and conlai is None
        and all(k in ("F", "USED") or k in _QUIET for k in kinds)
    )
    before = all(groups[g].end < fields[f][0] for f, g in bound.items())
    return _Clause(mentions, before, lone)


_CARRIED = frozenset({"all", "zero", "no", "unknown"})


def _carry(clauses: list[_Clause]) -> None:
    """A quantifier over a list: "cả hai đều là nữ, đoàn viên, người Kinh" (forward), "tôn giáo, dân
    tộc không rõ" (backward). Numbers are not carried: "2 nữ, đoàn viên" does not say 2 đoàn viên."""
    carried: Value | None = None
    for clause in clauses:
        if clause.lone and carried is not None:
            mention = clause.mentions[0]
            if mention.value is None and (carried.kind == "all" or mention.positive):
                mention.value = carried
            elif carried.kind != "all":
                # "không ai theo đạo, kinh, thpt": a field said in its negative form ends the list the
                # "không ai" ran over; what follows describes the people (asked, never taken as 0).
                carried = None
            continue
        carried = None
        if len(clause.mentions) == 1 and clause.value_first:
            value = clause.mentions[0].value
            if value is not None and value.kind in _CARRIED:
                carried = value
    carried = None
    for clause in reversed(clauses):
        if clause.lone and carried is not None:
            mention = clause.mentions[0]
            if mention.value is None and (carried.kind in ("all", "unknown") or mention.positive):
                mention.value = carried
            continue
        carried = None
        if len(clause.mentions) == 1 and not clause.value_first:
            value = clause.mentions[0].value
            if value is not None and value.kind in _CARRIED:
                carried = value


def read(text: str, today: date, breakdowns: Sequence[Breakdown] = ()) -> Reading:
    """What a free answer or a fix says, field by field; nothing is decided about the draft here.
    `breakdowns`: those the tree adds to the five, read as fields by their keys."""
    reading = Reading()
    items = _drop_old_values(_items(text, today, tuple(breakdowns)), reading)
    _carry([_read_clause(clause, reading) for clause in _clauses(items)])
    return reading


# --- resolving against a count ----------------------------------------------------------------


@dataclass
class Outcome:
    values: dict[str, int | None] = field(default_factory=dict)  # settled (None: said unknown)
    unsure: list[str] = field(default_factory=list)  # named without a usable number
    too_many: list[tuple[str, int]] = field(default_factory=list)  # (field, number above the count)

    @property
    def understood(self) -> bool:
        return bool(self.values or self.unsure or self.too_many)


def _breakdown(value: Value | None, positive: bool, count: int) -> int | str | None:
    """A breakdown field's figure from its value; "unsure" or "too_many:N" when it cannot be set."""
    if value is None:
        if not positive:
            return 0  # "không theo đạo", "nam", "người Kinh" alone: none of them is
        return 1 if count == 1 else "unsure"
    if value.kind == "unknown":
        return None
    if value.kind == "num":
        if value.number > count:
            return f"too_many:{value.number}"
        return value.number if positive else count - value.number
    if value.kind == "all":
        return count if positive else 0
    if value.kind in ("zero", "no"):
        return 0 if positive else count
    # "có": a yes settles one person only
    if count == 1:
        return 1 if positive else 0
    return "unsure"


def _settle_bare_dv(reading: Reading, asked: tuple[str, ...]) -> None:
    """ "dv" alone names đoàn viên only beside other breakdowns ("2 nữ, 1 dv") or when đoàn viên is
    asked; otherwise it is the new members themselves ("nhầm, 2 dv thôi", "số dv là 2"): the count."""
    if "youth_union" in asked or any(m.field not in (*FIGURES, "youth_union") for m in reading.mentions):
        return
    for mention in reading.mentions:
        if mention.bare_dv and mention.positive and mention.field == "youth_union":
            mention.field = "count"


def resolve(
    reading: Reading,
    *,
    count: int | None,
    asked: tuple[str, ...] = (),
    sent: int | None = None,
) -> Outcome:
    """Settle the fields a reading names. `asked` are the questions pending: a value tied to no
    field answers the only one asked; "không"/"không rõ" alone, or after "còn lại", answers all
    the asked fields the text does not name. `count` is the admission count the breakdowns are of."""
    outcome = Outcome()
    _settle_bare_dv(reading, asked)
    figures: dict[str, Value] = {}
    for mention in reading.mentions:
        if mention.field in FIGURES:
            if mention.value is not None:
                figures[mention.field] = mention.value
            else:
                outcome.unsure.append(mention.field)
    if "count" in figures:
        new_count = _figure(figures["count"], None)
        if new_count is not None:
            outcome.values["count"] = new_count
            count = new_count
    for name in ("sent", "completed"):
        if name in figures:
            figure = _figure(figures[name], sent)
            if figure is not None or figures[name].kind == "unknown":
                outcome.values[name] = figure
    for mention in reading.mentions:
        if mention.field in FIGURES:  # the five, and any a tree adds
            continue
        if mention.rest and mention.field in outcome.values:
            continue  # "1 nữ, còn lại nam": says again what is already said
        if count is None:
            outcome.unsure.append(mention.field)
            continue
        got = _breakdown(mention.value, mention.positive, count)
        if isinstance(got, str):
            if got.startswith("too_many:"):
                outcome.too_many.append((mention.field, int(got.split(":")[1])))
            elif mention.field not in outcome.values:
                outcome.unsure.append(mention.field)
            continue
        outcome.values[mention.field] = got
    open_fields = [f for f in asked if f not in outcome.values and f not in dict(outcome.too_many)]
    named = {m.field for m in reading.mentions}
    if reading.rest is not None and count is not None:
        for name in open_fields:
            if name not in named:
                got = _breakdown(reading.rest, True, count) if name not in FIGURES else None
                if not isinstance(got, str):
                    outcome.values[name] = got
    bare = [v for v in reading.bare]
    if bare and len(open_fields) == 1 and len(bare) == 1 and open_fields[0] not in named:
        only = open_fields[0]
        value = bare[0]
        if only not in FIGURES and count is not None:
            got = _breakdown(value, True, count)
            if isinstance(got, str):
                if got.startswith("too_many:"):
                    outcome.too_many.append((only, int(got.split(":")[1])))
                else:
                    outcome.unsure.append(only)
            else:
                outcome.values[only] = got
        elif only in FIGURES:
            got_figure = _figure(value, sent if only == "completed" else None)
            if got_figure is not None or value.kind == "unknown":
                outcome.values[only] = got_figure
    elif bare and not reading.mentions and len(bare) == 1 and bare[0].kind in ("zero", "no", "unknown"):
        # "không", "không ai", "không rõ" to several questions at once: the same for each
        for name in open_fields:
            outcome.values[name] = None if bare[0].kind == "unknown" else 0
    for name in list(outcome.unsure):
        if name in outcome.values:
            outcome.unsure.remove(name)
    return outcome


def _figure(value: Value, whole: int | None) -> int | None:
    if value.kind == "num":
        return value.number
    if value.kind in ("zero", "no"):
        return 0
    if value.kind == "all":
        return whole
    return None


_WHOLE = re.compile(r"^(?:tat ca|ca|het|toan bo|deu)\b")
MAX_ANSWER = 100_000  # a count above this is a typing accident, not an answer


def count_answer(text: str, today: date, *, whole: int | None = None) -> tuple[bool, int | None]:
    """(understood, value) for a question asking how many: a number in digits or words ("2", "hai",
    "2 đồng chí"); "tất cả", "cả", "hết" for `whole` when there is one; "không", "chưa có ai" for 0;
    "không rõ" for None (understood, figure unknown)."""
    from handlers.answers import is_unknown, yes_no  # answers reads plain yes and no; no cycle at import

    if is_unknown(text):
        return True, None
    if whole is not None and _WHOLE.match(fold_normalized(normalize(text)).strip(" .!,")):
        return True, whole
    value = resolve(read(text, today), count=None, asked=("count",)).values.get("count")
    if value is not None:
        return (True, value) if 0 <= value <= MAX_ANSWER else (False, None)
    if yes_no(text) is False:
        return True, 0
    return False, None
