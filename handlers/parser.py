"""Parser for cell secretaries' chat reports: admissions of new members and awareness-class attendance.

Pipeline (one pass each, regexes precompiled at import):
1. normalize -> fold; periods, phone numbers and birth years are found on the folded text and masked
   so their digits never become counts.
2. tokenize; accented and cased forms are kept beside the folded ones (same positions) because
   accents and capitals settle what folding loses: "năm"/"nam", "từ"/"tư", "Nam" as a name.
3. names and place names ("thôn 5", "Chi bộ Hà Nam") are recognised and taken out of the stream.
4. a longest-match lexicon turns tokens into items (ADMIT, HEAD, FEMALE, NUM, ...).
5. facts: admission head (trigger + count), its breakdown clauses, class attendance; plans,
   questions and totals are filtered out by scope rules.

Decision rules for the ambiguous words (documented here because tests and users rely on them):
- "dv"/"ĐV" right after a count that follows "kết nạp"/"KN" is đảng viên (the head noun). In the
  breakdown after the head, a counted "dv" standing alone ("1 dv") is đoàn viên; "dv" followed by
  another attribute ("1 dv nữ") is just the head noun repeated. "ĐVTN" / "đoàn viên" are Youth Union.
  When a Youth Union subject ("chi đoàn", "đoàn thanh niên") admits "dv", or "thêm N dv" stands
  without any admission verb, the meaning is asked ("dv_meaning").
- "nam" without diacritics: a count when a noun follows ("nam dv", "nam dong chi"); male after a
  count or classifier ("2 nam", "dv nam") or before a count ("nam 2"); a year when a year follows
  (masked as a period earlier). "nu nam" with no other number is asked ("nam_meaning"); a bare
  "ket nap nam" asks for the count ("admission_count"). With diacritics "năm" is five/year, "nam" male.
- A bare attribute without a number applies to everyone admitted ("kết nạp 2 đv nữ", "đều là đoàn
  viên"); after "có" ("trong đó có nữ") it gives no number and the bot asks.
- A male count implies female = count - males; "không theo đạo", "người Kinh", "9/12" likewise give
  the complement.
- Breakdowns larger than the admission count are dropped and asked about ("<field>_exceeds").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from handlers.numbers import parse_number_words
from handlers.periods import Period, PeriodHit, best_period, scan_periods
from handlers.text import fold_normalized, has_vietnamese_marks, normalize

__all__ = ["AdmissionFacts", "ClassAttendanceFacts", "Fact", "ParseResult", "parse_message"]

MAX_COUNT = 100_000
MAX_INPUT = 2_000  # chat messages are short; cap work on pasted documents

BREAKDOWN_FIELDS = ("female", "youth_union", "religious", "ethnic_minority", "upper_secondary_or_above")


@dataclass(frozen=True, slots=True)
class AdmissionFacts:
    count: int
    female: int | None = None
    youth_union: int | None = None
    religious: int | None = None
    ethnic_minority: int | None = None
    upper_secondary_or_above: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {
            "count": self.count,
            "female": self.female,
            "youth_union": self.youth_union,
            "religious": self.religious,
            "ethnic_minority": self.ethnic_minority,
            "upper_secondary_or_above": self.upper_secondary_or_above,
        }


@dataclass(frozen=True, slots=True)
class ClassAttendanceFacts:
    sent: int | None = None
    completed: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {"sent": self.sent, "completed": self.completed}


@dataclass(frozen=True, slots=True)
class Fact:
    """One reported fact: what a cell did in one period. A message may carry several ("tháng 9 kết
    nạp 1, tháng 10 kết nạp 2"); each becomes its own report under one confirmation."""

    period: Period | None
    admission: AdmissionFacts | None = None
    class_attendance: ClassAttendanceFacts | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "admission": self.admission.to_json() if self.admission else None,
            "class_attendance": self.class_attendance.to_json() if self.class_attendance else None,
            "period": self.period.to_json() if self.period else None,
        }


@dataclass(frozen=True, slots=True)
class ParseResult:
    """What a message says. With one fact, `admission`, `class_attendance` and `period` are that fact;
    with several, `facts` lists each one and the single fields are their totals over the span of
    their periods (so a reader of the single fields never sees a part as the whole)."""

    intent: str  # "report" | "progress" | "help" | "unknown"
    admission: AdmissionFacts | None = None
    class_attendance: ClassAttendanceFacts | None = None
    period: Period | None = None
    questions: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    ambiguous: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()  # empty: the single fields are the only fact

    def all_facts(self) -> tuple[Fact, ...]:
        """Every fact of the message, in the order written; () when it reports nothing."""
        if self.facts:
            return self.facts
        if self.admission is None and self.class_attendance is None:
            return ()
        return (Fact(self.period, self.admission, self.class_attendance),)

    def to_json(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "admission": self.admission.to_json() if self.admission else None,
            "class_attendance": self.class_attendance.to_json() if self.class_attendance else None,
            "period": self.period.to_json() if self.period else None,
            "questions": list(self.questions),
            "facts": [fact.to_json() for fact in self.all_facts()],
        }


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _set(text: str) -> frozenset[str]:
    """A frozenset from comma-separated phrases (tables stay compact and readable)."""
    return frozenset(p.strip() for p in text.split(",") if p.strip())


# --------------------------------------------------------------------------------------------------
# Lexicon: folded phrase -> item kind. Longest match wins.

# One string per kind, phrases separated by commas (kept as text so the table stays readable).
_LEXICON_TEXT: dict[str, str] = {
    "ADMIT": (
        "ket nap, kn, ket nap dang, ket nap vao dang, knd, ket nap moi, le ket nap, ket nap dang vien, "
        "ket nap dang vien moi, ket nap duoc, vao dang, dung vao hang ngu cua dang, vao hang ngu cua "
        "dang, dung vao hang ngu dang, gia nhap dang, ketnap, ket nap dc, ket nap duoc dc"
    ),
    "HEAD": "dang vien, dang vien du bi, dvdb, dvm, dang vien dang, d vien, dang v",
    "DV": "dv, d/v, d.v",
    "YOUTH": (
        "doan vien, doan vien thanh nien, dvtn, doan vien tn, dv tn, dv doan, doan vien cong san, la doan "
        "vien, doan vien doan tncs, doan vien doan thanh nien"
    ),
    "CAND": (
        "quan chung, quan chung uu tu, qcut, qc, doi tuong, doi tuong dang, hoc vien, ho so, truong hop"
    ),
    "CLS": "dong chi, d/c, dc, d/chi, dchi, nguoi, ca nhan, ban, em, dong chi moi",
    "FEMALE": "nu, phu nu, nu gioi, gioi tinh nu, dong chi nu, la nu, chi em",
    "MALE": "nam gioi, gioi tinh nam, dong chi nam, la nam",
    "REL": (
        "ton giao, theo ton giao, co ton giao, theo dao, co dao, cong giao, theo cong giao, thien chua, "
        "thien chua giao, dao thien chua, dao cong giao, theo dao cong giao, theo dao thien chua, giao "
        "dan, phat giao, theo phat giao, dao phat, theo dao phat, phat tu, tin lanh, dao tin lanh, theo "
        "dao tin lanh, cao dai, dao cao dai, hoa hao, dao hoa hao, nguoi co dao, dong bao co dao, cong "
        "giao toan tong, nguoi theo dao, dong bao cong giao, hoi giao, dao hoi, chuc sac, theo tin lanh, "
        "la giao dan"
    ),
    "NOREL": (
        "khong ton giao, khong theo ton giao, khong theo dao, khong co dao, khong co ton giao, khong theo "
        "dao nao, khong theo ton giao nao"
    ),
    "ETH": (
        "dan toc thieu so, dtts, nguoi dan toc, nguoi dan toc thieu so, dong bao dan toc, dong bao dan "
        "toc thieu so, la nguoi dan toc, dan toc it nguoi, thieu so, muong, hmong, h'mong, h’mong, nung, "
        "khmer, kho me, khome, ede, e de, gia rai, jrai, bahnar, ba na, xo dang, san diu, san chay, cao "
        "lan, mnong, m'nong, raglai, ra glai, stieng, xtieng, lo lo, ha nhi, kho mu, co tu, ta oi, van "
        "kieu, chu ru, gie trieng, pa then, la chi, phu la, si la, pu peo, co lao, la hu, xinh mun, ro "
        "mam, dan toc tay, dan toc thai, dan toc dao, dan toc hoa, dan toc cham, dan toc giay, dan toc "
        "mong, dan toc lao, dan toc lu, dan toc ma, dan toc khang, dan toc tho, dan toc chut, dan toc co, "
        "dan toc bru, dan toc mang, dan toc ngai, dan toc cong, nguoi tay, nguoi thai, nguoi dao, nguoi "
        "hoa, nguoi cham, nguoi giay, nguoi mong, nguoi lao, nguoi ma, nguoi khang, nguoi tho, nguoi bru, "
        "nguoi muong, nguoi nung, nguoi khmer, nguoi hmong, nguoi ede, nguoi gia rai, nguoi ba na, nguoi "
        "xo dang, nguoi san diu, nguoi san chay, nguoi cao lan, dan toc muong, dan toc nung, dan toc "
        "khmer, dan toc hmong, dan toc h'mong, dan toc ede, dan toc gia rai, dan toc ba na, dan toc xo "
        "dang, dan toc san diu, dan toc san chay, dan toc cao lan, dan toc, la dan toc"
    ),
    "KINH": "dan toc kinh, nguoi kinh, kinh",
    "EDU": (
        "thpt, trung hoc pho thong, pho thong trung hoc, ptth, cap 3, cap ba, cap iii, 12/12, lop 12, tot "
        "nghiep thpt, trung cap, cao dang, dai hoc, thac si, ths, tien si, cu nhan, ky su, sau dai hoc, "
        "tot nghiep 12, thpt tro len, tu thpt tro len, trinh do thpt, bac si, dh, cd, tc, tot nghiep dai "
        "hoc, trinh do dai hoc, trinh do cao dang, trinh do trung cap, 12/12 tro len, bo tuc thpt, btvh "
        "thpt, gdtx, sinh vien, hoc sinh thpt, hs thpt, trinh do 12/12, hoc van 12/12"
    ),
    "LOWEDU": (
        "thcs, 9/12, cap 2, cap hai, trung hoc co so, tieu hoc, cap 1, 8/12, 7/12, trinh do 9/12, hoc van "
        "9/12"
    ),
    "ALL": "ca, tat ca, toan bo, deu, deu la, ca hai deu, het, ca thay, tat ca deu, 100%, ca ca, toan the",
    "NONE": (
        "khong co ai, khong ai, chua co ai, khong co dong chi nao, khong co nguoi nao, khong co, chua co, "
        "chua co dong chi nao, khong co truong hop nao, khong dong chi nao, khong phai, khong phai la, "
        "khong la, chua phai, chua la"
    ),
    "NEG": "khong, chua, chang, ko, k, kg, khg, hok, hong, kh, chua the",
    "SENT": "cu, da cu, gioi thieu, cu di, de cu di, gt, lua chon cu",
    "STUDY": (
        "di hoc, hoc, tham gia, theo hoc, du lop, tham du, tham gia hoc, tham gia lop, du hoc, dang hoc, "
        "duoc hoc, da hoc, hoc lop, di hoc lop, du"
    ),
    "CLASS": (
        "lop, lop hoc, lop nhan thuc, lop boi duong, lop bdnt, nhan thuc ve dang, cam tinh dang, lop cam "
        "tinh, lop cam tinh dang, boi duong nhan thuc, bdnt, lop bd, nhan thuc, lop boi duong nhan thuc "
        "ve dang, lop nhan thuc ve dang, lop bdnt ve dang, lop nhan thuc dang, bd nhan thuc, lop boi "
        "duong ket nap dang, lop ly luan chinh tri, llct, trung tam chinh tri, ttct, lop tim hieu ve dang"
    ),
    "DONE": (
        "hoan thanh, hoc xong, dat yeu cau, tot nghiep lop, da hoan thanh, hoan thanh chuong trinh, ket "
        "thuc lop, du dieu kien, hoan thanh khoa hoc"
    ),
    "CERT": (
        "giay chung nhan, gcn, chung nhan, cap giay chung nhan, cap gcn, duoc cap giay chung nhan, duoc "
        "cap gcn, nhan giay chung nhan, nhan gcn, co gcn, co giay chung nhan, cap chung nhan, duoc cap "
        "chung nhan, duoc cap"
    ),
    "PLAN": (
        "ke hoach, chi tieu, phan dau, du kien, se, du dinh, muc tieu, dang ky chi tieu, sap, sap toi, "
        "neu, can, phai, chuan bi, de nghi, xet, xem xet, dang xem xet, lam ho so, hoan thien ho so, hoan "
        "tat ho so, tham dinh, tao nguon, dang lam ho so, cho, dang cho, uoc tinh, hy vong, "
        "mong, nam toi, thang toi, quy toi, thang sau, quy sau, nam sau, nam nay phan dau, duoc "
        "giao, nghi quyet, tinh uy giao, huyen uy giao, de ra"
    ),
    "PAST": "da, vua, vua moi, da duoc",
    "Q": (
        "bao nhieu, may, the nao, ra sao, nhu the nao, bao gio, chua nhi, khong nhi, nhi, gi, sao, lam "
        "sao, the, a, khong a, chua a, duoc chua, bn, bnhieu"
    ),
    "PROG": (
        "tien do, tiendo, tinh hinh, ket qua, so lieu, thong ke, tong hop, dat bao nhieu, xem tien do, "
        "bao cao tien do, tien do ket nap, ti le, ty le"
    ),
    "HELP": (
        "help, huong dan, giup, tro giup, cach dung, cach bao cao, menu, start, huong dan su dung, giup "
        "do, giup voi, chi dan, lam sao de, lam the nao de, bao cao the nao, bao cao nhu the nao, cu "
        "phap, dung the nao"
    ),
    "GREET": "chao, xin chao, hello, hi, alo, cam on, thanks, thank, ok, oke, okay",
    "AND": "va, &, +, voi, cung, con",
    "TRONGDO": (
        "trong do, trong so do, trong so nay, trong do co, gom, bao gom, cu the, co cau, trong so, trong "
        "so dang vien moi, trong do so"
    ),
    "CO": "co, thi co, co duoc",
    "NEW": "moi",
    "MORE": "them, bo sung, duoc them, tang, tang them",
    "DEVELOP": "phat trien, phat trien duoc, phat trien dang vien, phat trien them",
    "TOTAL": (
        "hien co, tong so, co tong, tong so dang vien, toan chi bo co, hien nay co, hien tai co, quan ly, "
        "sinh hoat, chuyen den, chuyen ve, chuyen chinh thuc, cong nhan chinh thuc, chuyen dang chinh "
        "thuc, chuyen sinh hoat, dang vien chinh thuc, xoa ten, khai tru, tu tran, tu tuat, qua doi, ra "
        "khoi dang, chuyen di"
    ),
    "DUOC": "duoc",
    "BLOCK": (
        "de, nham, truoc khi, dieu kien, de ket nap, tieu chuan, thu tuc, quy trinh, ho so ket nap, de "
        "nghi ket nap, xet ket nap, chuan bi ket nap, tao nguon ket nap, doi tuong ket nap, boi duong ket "
        "nap, nguon ket nap, lam ho so ket nap"
    ),
    "LABEL": "trinh do, hoc van, trinh do hoc van, trinh do van hoa, van hoa, td, gioi tinh",
    "CONLAI": "con lai, so con lai, cac dong chi con lai, con lai la",
    "TUOI": "tuoi",
}
_LEXICON: dict[str, tuple[str, ...]] = {
    kind: tuple(p.strip() for p in text.split(",") if p.strip()) for kind, text in _LEXICON_TEXT.items()
}

# Multiword phrases keyed by first token; longest first.
_PHRASES: dict[str, list[tuple[tuple[str, ...], str, str]]] = {}
for _kind, _phrases in _LEXICON.items():
    for _p in _phrases:
        _toks = tuple(_p.split())
        _PHRASES.setdefault(_toks[0], []).append((_toks, _kind, " ".join(_toks)))

# One-word entries that share their folded form with unrelated words. With diacritics only the listed
# spellings count ("cử" sends, "cũ"/"cụ" do not); without diacritics the pairs in _BARE_SKIP are
# too ambiguous to count at all ("cho" is far more often "for" than "chờ").
_ACCENTED_ONLY: dict[tuple[str, str], frozenset[str]] = {
    ("NEW", "moi"): frozenset({"mới"}),
    ("CLS", "ban"): frozenset({"bạn"}),
    ("CLS", "em"): frozenset({"em"}),
    ("SENT", "cu"): frozenset({"cử"}),
    ("PLAN", "se"): frozenset({"sẽ"}),
    ("PLAN", "can"): frozenset({"cần"}),
    ("PLAN", "cho"): frozenset({"chờ"}),
    ("PLAN", "mong"): frozenset({"mong"}),
    ("Q", "may"): frozenset({"mấy"}),
    ("Q", "a"): frozenset({"à"}),
    ("Q", "the"): frozenset({"thế"}),
    ("Q", "gi"): frozenset({"gì"}),
    ("Q", "sao"): frozenset({"sao"}),
    ("Q", "nhi"): frozenset({"nhỉ"}),
    ("ALL", "ca"): frozenset({"cả"}),
    ("ALL", "het"): frozenset({"hết"}),
    ("CO", "co"): frozenset({"có"}),
    ("STUDY", "du"): frozenset({"dự"}),
    ("AND", "con"): frozenset({"còn"}),
    ("KINH", "kinh"): frozenset({"kinh"}),
    ("FEMALE", "nu"): frozenset({"nữ", "nu"}),
}
_BARE_SKIP = frozenset(
    {("PLAN", "cho"), ("PLAN", "can"), ("Q", "a"), ("Q", "the"), ("Q", "sao"), ("STUDY", "du")}
)
for _lst in _PHRASES.values():
    _lst.sort(key=lambda e: -len(e[0]))
# The same table split for speed: multiword phrases keyed by their first two words (longest first),
# one-word entries keyed by the word.
_LEXN: dict[tuple[str, str], list[tuple[tuple[str, ...], int, str, str]]] = {}
_LEX1: dict[str, list[tuple[str, str]]] = {}
for _first, _lst in _PHRASES.items():
    for _toks, _kind, _text in _lst:
        if len(_toks) > 1:
            _LEXN.setdefault((_toks[0], _toks[1]), []).append((_toks, len(_toks), _kind, _text))
        else:
            _LEX1.setdefault(_first, []).append((_kind, _text))
# For the item pass: the distinct lengths under each first-two-words key (longest first) and each
# multiword phrase's entry (the first listed wins), so a try is one dict lookup instead of a scan.
_LEXN_LENGTHS: dict[tuple[str, str], tuple[int, ...]] = {
    key: tuple(sorted({length for _, length, _, _ in entries}, reverse=True))
    for key, entries in _LEXN.items()
}
_LEX_PHRASE: dict[tuple[str, ...], tuple[str, str]] = {}
for _entries in _LEXN.values():
    for _toks, _, _kind, _text in _entries:
        _LEX_PHRASE.setdefault(_toks, (_kind, _text))

_SINGLE_LEX = frozenset(p for ps in _LEXICON.values() for p in ps if " " not in p)
_ATTRS = frozenset({"FEMALE", "MALE", "YOUTH", "REL", "NOREL", "ETH", "KINH", "EDU", "LOWEDU"})
_NOUNS = frozenset({"HEAD", "DV", "CAND", "CLS"})
_FIELD_OF = {
    "FEMALE": "female",
    "MALE": "female",
    "YOUTH": "youth_union",
    "REL": "religious",
    "NOREL": "religious",
    "ETH": "ethnic_minority",
    "KINH": "ethnic_minority",
    "EDU": "upper_secondary_or_above",
    "LOWEDU": "upper_secondary_or_above",
    "NOYOUTH": "youth_union",
}
# Attributes that state the complement of a field ("2 nam" -> female = count - 2).
_COMPLEMENT = frozenset({"MALE", "NOREL", "KINH", "LOWEDU", "NOYOUTH"})
_CLASS_KINDS = frozenset({"SENT", "STUDY", "CLASS", "DONE", "CERT"})

# Words that can be numbers but also common words; without diacritics they need a noun after them.
_WEAK_NUMBER_WORDS = frozenset({"nam", "sau", "bay", "tam", "ba", "chin", "bon", "muoi"})
# Words that can open a number ("không", "trăm", "linh", "tư", "lăm" only continue one).
_NUMBER_START = frozenset({"mot", "hai", "ba", "bon", "nam", "sau", "bay", "tam", "chin", "muoi"})
# Accented forms that are *not* numbers although they fold to number words.
_ACCENT_NOT_NUMBER = _words(
    "nam nằm nâm sau sâu sấu bay bây bày tam tạm tâm tầm tấm bà bá bả bạ bã mọt mót hải hài hái hại "
    "bộn bồn bổn muối muỗi chìn hay"
)
_NUM_CONTEXT_BEFORE = frozenset({"ADMIT", "SENT", "MORE", "DUOC", "ALL", "COLON", "LA", "DEVELOP", "TRONGDO"})

_SURNAMES_FOLDED = _words(
    "bach banh bui cao chau chu dam dang dao diep dinh do doan duong giang giap ha han hau ho hoang "
    "hua huynh kha khuat khuc kieu lac lai lam le lieu loc luc luong luu ly mac mach mai nghiem ngo "
    "nguyen ninh nong pham phan phung phuong quach quan sam ta thach thai thieu tiet tieu tong trac "
    "tran trieu trinh truong uong vo vu vuong"
)
_SURNAMES_ACCENTED = _words(
    "bành bùi bạch cao chu châu cù diệp dương giang giáp hoàng huỳnh hà hàn hầu hồ hứa kha khuất khúc "
    "khổng kim kiều la liễu lâm lê lí lò lù lý lưu lương lạc lại lộc lục mai mã mạc mạch mẫn nghiêm "
    "nguyễn ngô ninh nông phan phí phùng phương phạm quan quách sầm thiều thái thân thạch tiêu tiết "
    "triệu trác trương trần trịnh tân tăng tạ tống uông vi viên võ vĩnh vũ vương âu đinh đoàn đàm đào "
    "đặng đỗ"
)
# Given names that are also domain words or number words: allowed as the last syllable of a name.
_NAME_COLLIDERS = _set("an, ba, bay, binh, chin, hai, hung, lan, mot, muoi, nam, nu, sau, tam, tu")
_MIDDLE_NAMES = _words(
    "anh bao bich chi cong dang dinh duc gia hai hong huu khanh kim manh minh my ngoc nhu phuong "
    "quang quoc thai thanh thi thu tien trung tuan van xuan"
)
_PERSON_TITLES = _set(
    "anh, ba, ban, chau, chi, cho, co, d/c, d/chi, dc, dchi, dong chi, dong chi moi, em, ho ten, ong, "
    "qc, qcut, quan chung, ten"
)
_ROLE_WORDS = _set(
    "ban, bi, can, chi, chu, dai, dang, doan, giao, hieu, pho, thuong, to, tong, tro, truong, uy"
)
_PLACE_WORDS = _set(
    "ap, ban, bo phan, chi bo, cong ty, cum, dang bo, doi, dot, giao xu, ho dao, huyen, khoa, khoi, "
    "khu, khu pho, kp, lan, lang, lop, nha may, phong, phuong, so, tdp, thi tran, thon, thu, tinh, "
    "to, to dan pho, truong, ward, xa, xi nghiep, xom"
)

# Phone numbers (0912 345 678, +84 912...) and any run of 7+ digits: ids, never counts.
_NOISE = re.compile(r"(?<![\d.])(?:\+?84|0)[1-9]\d{1,2}[\s.-]?\d{3}[\s.-]?\d{3,4}(?!\d)|\d{7,}")
_TOKEN_PATTERN = (
    # letters first, then digits behind one lookahead: alternatives with different first characters
    # cannot both match, so the order only saves the engine failed attempts on the common tokens
    r"[a-z]+(?:['’][a-z]+)?(?:/[a-z]+)?"
    r"|(?=\d)(?:\d+(?:[.,]\d+)?\s?%|\d{1,3}(?:\.\d{3})+(?![\d])|\d+/\d+|\d+)"
    r"|\n|[^\s\w]|[^\W\d_a-z]+"
)
_TOKEN = re.compile(_TOKEN_PATTERN)
_SENT_END = frozenset({".", "!", "?", "\n", ";"})
_SEPS = frozenset({",", "(", ")", "-", "/"})
_COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?\s*")
# Any match of _NOISE holds three digits in a row; most messages have none once years are masked.
_THREE_DIGITS = re.compile(r"\d\d\d")


class _Item:
    """A token or a phrase after lexicon lookup."""

    __slots__ = ("f", "kind", "value")

    def __init__(self, kind: str, f: str, value: int | str | None = None) -> None:
        self.kind = kind
        self.f = f
        self.value = value

    def __repr__(self) -> str:  # debugging aid
        return f"{self.kind}({self.f}{'=' + str(self.value) if self.value is not None else ''})"


# --------------------------------------------------------------------------------------------------
# Tokenising
#
# Tokens are three parallel lists rather than one object per token, which cost more to build than
# the passes spent reading them: `fs` folded, `accs` accented lowercase, `origs` as typed. `accs` is
# only read when the text carries diacritics and `origs` only for cased text or to spell a name;
# otherwise they alias `fs`, which holds the same letters there. `kinds` is "W" until a name or place
# claims the token.


def _mask(folded: str, today: date) -> tuple[str, list[PeriodHit]]:
    """Replace periods, phones and long digit runs by one-character markers (same length)."""
    hits = scan_periods(folded, today)
    text = folded
    for h in hits:
        text = (
            text[: h.start]
            + ("§" if h.kind != "birth" else "#")
            + " " * (h.end - h.start - 1)
            + text[h.end :]
        )
    if _THREE_DIGITS.search(text) is None:
        return text, hits
    return _NOISE.sub(_blank, text), hits


def _blank(m: re.Match[str]) -> str:
    return "#" + " " * (m.end() - m.start() - 1)


def _tokenize(masked: str, acc: str | None, orig: str | None) -> tuple[list[str], list[str], list[str]]:
    """Tokens of the masked folded text, with the accented and the cased spelling at the same spans."""
    if acc is None and orig is None:
        fs = _TOKEN.findall(masked)
        return fs, fs, fs
    ms = list(_TOKEN.finditer(masked))
    fs = [m.group() for m in ms]
    accs = fs if acc is None else [acc[m.start() : m.end()] for m in ms]
    return fs, accs, accs if orig is None else [orig[m.start() : m.end()] for m in ms]


# --------------------------------------------------------------------------------------------------
# Names and places


def _is_title(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or word[1:].islower()) and word.isalpha()


def _name_tokens(
    fs: list[str], accs: list[str], origs: list[str], i: int, cased: bool, marks: bool, after_title: bool
) -> int:
    """How many tokens from i form a person name (0 if none)."""
    n = len(fs)
    f = fs[i]
    if not f.isalpha():
        return 0
    surname = (accs[i] in _SURNAMES_ACCENTED) if marks else (f in _SURNAMES_FOLDED)
    if cased:
        if not _is_title(origs[i]):
            return 0
        if f in _ROLE_WORDS and after_title:
            return 0
        j = i + 1
        while j < n and j - i < 4 and _is_title(origs[j]) and fs[j].isalpha():
            j += 1
        length = j - i
        if length >= 2 and (surname or after_title):
            return length
        if length == 1 and after_title and f not in _ROLE_WORDS and f not in _NOT_NAMES:
            return 1
        return 0
    # no case information: lean on the surname list and the usual middle names; a domain phrase
    # ("dao cong giao", "dang vien") is never a name
    if (
        i + 1 < n
        and (lengths := _LEXN_LENGTHS.get((f, fs[i + 1]))) is not None
        and any(i + length <= n and tuple(fs[i : i + length]) in _LEX_PHRASE for length in lengths)
    ):
        return 0
    if not surname:
        if (
            after_title
            and f not in _PHRASES
            and f not in _WEAK_NUMBER_WORDS
            and len(f) > 1
            and (i + 1 >= n or not fs[i + 1].isalpha() or fs[i + 1] in _PHRASES)
        ):
            return 1 if f not in _ROLE_WORDS and f not in _PLACE_WORDS_FLAT and f not in _NOT_NAMES else 0
        return 0
    if i + 1 < n and fs[i + 1] in _MIDDLE_NAMES:
        j = i + 2
        while j < n and j - i < 4 and _name_syllable(fs[j]):
            j += 1
        return j - i if j - i >= 2 else 0
    if after_title:
        j = i + 1
        while j < n and j - i < 4 and _name_syllable(fs[j]):
            j += 1
        return j - i if j - i >= 2 else 0
    return 0


_NOT_NAMES = _set("ai, ay, dang, do, doan, dv, gi, kia, nao, nay, nu, qcut")
_PLACE_WORDS_FLAT = frozenset(w for p in _PLACE_WORDS for w in p.split())
_STOP_IN_NAME = _set(
    "con, cung, da, dang, di, duoc, dv, em, hoc, ket, la, nap, ngay, nu, o, sinh, tai, thang, theo, "
    "thuoc, va, voi"
)


def _name_syllable(f: str) -> bool:
    return f.isalpha() and f not in _STOP_IN_NAME and (f not in _SINGLE_LEX or f in _NAME_COLLIDERS)


def _by_first(phrases: frozenset[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    table: dict[str, list[tuple[str, ...]]] = {}
    for p in phrases:
        words = tuple(p.split())
        table.setdefault(words[0], []).append(words)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in table.items()}


_PLACE_FIRST = _by_first(_PLACE_WORDS)
_TITLE_FIRST = _by_first(_PERSON_TITLES)
_NAME_PASS_WORDS = frozenset(_PLACE_FIRST) | frozenset(_TITLE_FIRST) | {"va", ",", "&"}


def _match_phrase(fs: list[str], i: int, table: dict[str, tuple[tuple[str, ...], ...]]) -> int:
    """Length of the longest phrase of `table` starting at fs[i] (0 if none)."""
    cands = table.get(fs[i])
    if cands is None:
        return 0
    n = len(fs)
    for words in cands:
        length = len(words)
        if length == 1 or (i + length <= n and tuple(fs[i + 1 : i + length]) == words[1:]):
            return length
    return 0


def _names_and_places(
    fs: list[str],
    accs: list[str],
    origs: list[str],
    kinds: list[str],
    vals: dict[int, str],
    cased: bool,
    marks: bool,
) -> list[str]:
    """Mark name tokens (kind NAME on the first, SKIP on the rest) and place names (SKIP)."""
    # Only a few tokens can start a name or a place: find them in one quick sweep.
    pass_words = _NAME_PASS_WORDS
    if cased:
        cand = [
            i for i, (f, o) in enumerate(zip(fs, origs, strict=True)) if f in pass_words or o[:1].isupper()
        ]
    elif marks:
        sur = _SURNAMES_ACCENTED
        cand = [i for i, (f, a) in enumerate(zip(fs, accs, strict=True)) if f in pass_words or a in sur]
    else:
        sur = _SURNAMES_FOLDED
        cand = [i for i, f in enumerate(fs) if f in pass_words or f in sur]
    names: list[str] = []
    if not cand:
        return names
    n = len(fs)
    free = 0  # first token not consumed yet
    name_end = -1  # token right after the last name found
    for i in cand:
        if i < free:
            continue
        if kinds[i] != "W":
            continue
        f = fs[i]
        free = i + 1
        place_len = _match_phrase(fs, i, _PLACE_FIRST) if f in _PLACE_FIRST else 0
        if (
            place_len
            and not (f == "ban" and marks and accs[i] != "bản")
            and not (f == "lop" and i + place_len < n and not fs[i + place_len].isdigit())
        ):
            j = i + place_len
            if j < n and fs[j] == "so":
                j += 1
            if j < n and fs[j].isdigit() and not (f == "so" and j + 1 < n and fs[j + 1] == ":"):
                if f == "so" and j + 1 < n and fs[j + 1].isalpha():
                    continue  # "số 2 đảng viên": "số" is "number of", not an address
                if f == "lop" and fs[j] == "12":
                    continue
                kinds[j] = "SKIP"
                free = j + 1
                continue
            if cased and f not in ("so", "thu", "dot", "lan", "lop", "ban", "to"):
                # "Chi bộ Trường Tiểu học Liêm Cần": capitalised words, and a lowercase one between them
                k = j
                while (
                    k < n
                    and k - j < 6
                    and fs[k].isalpha()
                    and (_is_title(origs[k]) or (k > j and k + 1 < n and _is_title(origs[k + 1])))
                ):
                    kinds[k] = "SKIP"
                    k += 1
                if k > j:
                    free = k
                    continue
        title_len = _match_phrase(fs, i, _TITLE_FIRST) if f in _TITLE_FIRST else 0
        if title_len and f == "co" and not cased:
            title_len = 0  # "co" is far more often "có" than "cô"
        if title_len:
            j = i + title_len
            if j < n and fs[j] == ":":
                j += 1
            k = _name_tokens(fs, accs, origs, j, cased, marks, True) if j < n else 0
            if k:
                _mark_name(origs, kinds, vals, j, k, names, cased)
                free = name_end = j + k
            else:
                free = i + title_len
            continue
        if i == name_end and f in ("va", ",", "&") and i + 1 < n:
            # "đ/c Lan và Hùng": a second name right after a name
            k = _name_tokens(fs, accs, origs, i + 1, cased, marks, True)
            if k:
                _mark_name(origs, kinds, vals, i + 1, k, names, cased)
                free = name_end = i + 1 + k
                continue
        # a name without a title starts with a capital or a known surname
        if (
            _is_title(origs[i])
            if cased
            else (accs[i] in _SURNAMES_ACCENTED if marks else f in _SURNAMES_FOLDED)
        ) and (k := _name_tokens(fs, accs, origs, i, cased, marks, False)):
            _mark_name(origs, kinds, vals, i, k, names, cased)
            free = name_end = i + k
    return names


def _mark_name(
    origs: list[str], kinds: list[str], vals: dict[int, str], i: int, k: int, names: list[str], cased: bool
) -> None:
    words = origs[i : i + k]
    name = " ".join(words if cased else [w[:1].upper() + w[1:].lower() for w in words])
    kinds[i] = "NAME"
    vals[i] = name
    for x in range(i + 1, i + k):
        kinds[x] = "SKIP"
    names.append(name)


# --------------------------------------------------------------------------------------------------
# Items


def _items(
    fs: list[str], accs: list[str], kinds: list[str], vals: dict[int, str], marks: bool
) -> list[_Item]:
    items: list[_Item] = []
    append = items.append
    n = len(fs)
    plain = kinds.count("W") == n  # no names or places marked
    i = 0
    while i < n:
        if kinds[i] != "W":
            if kinds[i] == "NAME":
                append(_Item("NAME", fs[i], vals[i]))
            i += 1
            continue
        f = fs[i]
        c0 = f[0]
        if f not in _LEXICAL and c0 not in "§#%" and not c0.isdigit():
            # not a lexicon word, number or marker: what the checks below would end with
            append(_Item(_PLAIN_KIND.get(f, "W"), f))
            i += 1
            continue
        if c0 == "§":
            append(_Item("PERIOD", f))
            i += 1
            continue
        if c0 == "#":
            append(_Item("MASK", f))
            i += 1
            continue
        if f[-1] == "%":
            value = f[:-1].strip().replace(",", ".")
            try:
                pct = float(value)
            except ValueError:
                pct = -1.0
            append(_Item("ALL" if pct == 100 else "PCT", f))
            i += 1
            continue
        digit = c0.isdigit()
        if digit and "/" not in f:
            parsed = parse_number_words(fs, i)
            if parsed is not None:
                value, used = parsed
                # a count above MAX_COUNT is an id, an amount of money or noise, never people
                append(_Item("NUM" if value <= MAX_COUNT else "MASK", f, value))
                i += used
                continue
        # lexicon phrases (longest first), then number words
        if i + 1 < n and (lengths := _LEXN_LENGTHS.get((f, fs[i + 1]))) is not None and kinds[i + 1] == "W":
            for length in lengths:
                if length > 2:
                    if i + length > n:
                        continue
                    entry = _LEX_PHRASE.get(tuple(fs[i : i + length]))
                    # every word of the phrase must still be free (not part of a name or place)
                    if entry is None or not (plain or kinds[i + 2 : i + length].count("W") == length - 2):
                        continue
                else:
                    entry = _LEX_PHRASE[(f, fs[i + 1])]
                append(_Item(entry[0], entry[1]))
                i += length
                break
            else:
                lengths = None
            if lengths is not None:
                continue
        single = _LEX1.get(f)
        if single is not None:
            for kind, text in single:
                key = (kind, f)
                allowed = _ACCENTED_ONLY.get(key)
                if allowed is not None and (accs[i] not in allowed if marks else key in _BARE_SKIP):
                    continue
                if kind == "NEG" and f in ("k", "hong", "kh") and i + 1 < n and fs[i + 1].isdigit():
                    continue
                append(_Item(kind, text))
                i += 1
                break
            else:
                single = None
            if single is not None:
                continue
        # number words
        if f in _NUMBER_START:
            num = _number_word(fs, accs[i], i, marks, items)
            if num is not None:
                value, used = num
                append(_Item("NUM", f, value))
                i += used
                continue
            if f == "nam" and (not marks or accs[i] == "nam"):
                append(_Item("NAMQ" if not marks else "MALE", f))
                i += 1
                continue
        if digit and "/" in f:
            num_s, _, den_s = f.partition("/")
            num_v, den_v = int(num_s[:9]), int(den_s[:9] or 0)
            if num_v <= den_v:  # "8/8 đồng chí hoàn thành": eight out of eight
                append(_Item("NUM", f, num_v))
            else:
                append(_Item("MASK", f))
        else:
            append(_Item(_PLAIN_KIND.get(f, "W"), f))
        i += 1
    return items


# Words that start a lexicon entry or a number: everything else takes the plain path in _items.
_LEXICAL = frozenset(first for first, _ in _LEXN) | frozenset(_LEX1) | _NUMBER_START
# Kinds of the tokens that are neither numbers nor lexicon entries.
_PLAIN_KIND: dict[str, str] = {
    **dict.fromkeys(_SENT_END, "STOP"),
    **dict.fromkeys(_SEPS, "SEP"),
    ":": "COLON",
    "=": "COLON",
    **dict.fromkeys(("la", "thuoc", "chiem"), "LA"),
}

_NOUN_HEADS = _set(
    "ban, ca, d/c, d/chi, dang, dc, dchi, doan, doi, dong, dv, dvtn, em, ho, hoc, nguoi, nu, qc, "
    "qcut, quan, tn, truong"
)


def _number_word(
    folded: list[str], acc: str, i: int, marks: bool, items: list[_Item]
) -> tuple[int, int] | None:
    f = folded[i]
    if marks and acc in _ACCENT_NOT_NUMBER and acc:
        return None
    parsed = parse_number_words(folded, i)
    if parsed is None:
        return None
    value, used = parsed
    if used == 1 and f in _WEAK_NUMBER_WORDS and not (marks and acc != f):
        # an unaccented weak word stands for a number only with a counting context around it
        nxt = folded[i + 1] if i + 1 < len(folded) else ""
        prev_kind = items[-1].kind if items else ""
        if f == "nam":
            # "dv nam doan vien": after a noun or a number it is "male"; before a noun it counts
            if prev_kind in _NOUNS or prev_kind == "NUM" or prev_kind in _ATTRS:
                return None
            if nxt in _NOUN_HEADS and nxt != "nu":
                return value, used
            return None
        if nxt in _NOUN_HEADS or prev_kind in _NUM_CONTEXT_BEFORE:
            if f == "bay" and nxt == "gio":
                return None
            return value, used
        return None
    if used == 1 and f == "mot" and marks and acc not in ("một", "mốt"):
        return None
    if used == 1 and f == "hai" and marks and acc != "hai":
        return None
    return value, used


# --------------------------------------------------------------------------------------------------
# Facts

_Adder = Callable[[str, int], None]


def _sentence_bounds(ctx: _Ctx, k: int) -> tuple[int, int]:
    """(first item, index of the closing STOP or len) of the sentence holding item k."""
    sid = ctx.sid if ctx.sid is not None else ctx.index_sentences()
    return ctx.bounds[sid[k]]


def _sentence_kinds(ctx: _Ctx, k: int) -> set[str]:
    sid = ctx.sid if ctx.sid is not None else ctx.index_sentences()
    return ctx.skinds[sid[k]]


_NO_KINDS: set[str] = set()


def _is_question(ctx: _Ctx, s: int, e: int) -> bool:
    items = ctx.items
    kinds = _sentence_kinds(ctx, s) if s < len(items) else _NO_KINDS
    if "Q" in kinds or "QMARK" in kinds:
        return True
    # sentence-final "chưa"/"không" ("đã kết nạp chưa")
    last = e - 1
    while last >= s and items[last].kind in ("SEP", "COLON"):
        last -= 1
    return (
        last > s
        and items[last].kind == "NEG"
        and items[last - 1].kind not in ("NEG",)
        and items[last].f in ("chua", "khong", "ko", "k", "hong", "hok")
    )


def _in_plan(items: list[_Item], s: int, k: int) -> bool:
    """A plan word earlier in the same clause chain governs this trigger, unless "đã" intervenes."""
    for j in range(k - 1, s - 1, -1):
        kind = items[j].kind
        if kind == "PAST" and items[j].f in ("da", "vua", "vua moi", "da duoc"):
            return False
        if kind == "PLAN":
            # "hoàn thành chỉ tiêu kết nạp 12", "vượt chỉ tiêu": an achievement, not a plan
            return not (
                j > s and (items[j - 1].kind == "DONE" or items[j - 1].f in ("dat", "vuot", "vuot muc"))
            )
    return False


def _blocked(items: list[_Item], k: int) -> bool:
    """ "để kết nạp", "hồ sơ kết nạp", "đối tượng kết nạp": the trigger is a purpose or a noun."""
    if (
        k > 0
        and items[k - 1].kind in ("BLOCK", "CAND")
        and items[k - 1].f not in ("quan chung", "qcut", "qc")
    ):
        return items[k - 1].kind == "BLOCK" or items[k - 1].f in ("doi tuong", "ho so", "hoc vien")
    if k > 0 and items[k - 1].kind == "CLASS":
        return True
    return k > 1 and items[k - 1].f in ("cho", "cua") and items[k - 2].kind in ("BLOCK", "CLASS")


class _Ctx:
    """The item stream, what is being asked, and sentence indexes so scope checks are lookups."""

    __slots__ = ("ambiguous", "bounds", "items", "questions", "sid", "skinds")

    def __init__(self, items: list[_Item]) -> None:
        self.items = items  # a plain list: indexing a list subclass is three times slower
        self.ambiguous: list[str] = []
        self.questions: list[str] = []
        self.sid: list[int] | None = None  # sentence index built lazily: most messages never need it
        self.bounds: list[tuple[int, int]] = []
        self.skinds: list[set[str]] = []

    def index_sentences(self) -> list[int]:
        kinds = [it.kind for it in self.items]
        n = len(kinds)
        if "STOP" not in kinds:  # the usual one-sentence message
            self.sid = [0] * n
            self.bounds = [(0, n)]
            self.skinds = [set(kinds)]
            return self.sid
        sid: list[int] = []
        bounds: list[tuple[int, int]] = []
        skinds: list[set[str]] = []
        start = 0
        for k in [k for k, kind in enumerate(kinds) if kind == "STOP"]:
            cur = set(kinds[start:k])
            if self.items[k].f == "?":
                cur.add("QMARK")
            sid += [len(bounds)] * (k + 1 - start)
            bounds.append((start, k))
            skinds.append(cur)
            start = k + 1
        sid += [len(bounds)] * (n - start)
        bounds.append((start, n))
        skinds.append(set(kinds[start:]))
        self.sid = sid
        self.bounds = bounds
        self.skinds = skinds
        return sid

    def ask(self, key: str, question: str) -> None:
        if key not in self.ambiguous:
            self.ambiguous.append(key)
            self.questions.append(question)


_COUNT_SKIP = frozenset(
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
_COUNT_SKIP_WORDS = frozenset(
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


def _find_count_forward(items: list[_Item], k: int, e: int) -> int | None:
    """Index of the count item after trigger k (NUM / NAME / NEG), or None."""
    seps = 0
    for j in range(k + 1, min(e, k + 9)):
        it = items[j]
        kind = it.kind
        if kind in ("NUM", "NAME"):
            return j
        if kind == "NEG" or kind == "NONE":
            return j
        if kind in _CLASS_KINDS or kind in ("ADMIT", "PLAN", "STOP"):
            return None
        if kind == "SEP":
            seps += 1
            if seps > 1:
                return None
            continue
        if kind == "W" and it.f not in _COUNT_SKIP_WORDS and len(it.f) > 0 and it.f.isalpha() and j > k + 3:
            return None
        if kind in _ATTRS:
            continue
        if kind not in _COUNT_SKIP and kind not in _ATTRS:
            return None
    return None


def _find_count_backward(items: list[_Item], k: int, s: int) -> int | None:
    """'2 quần chúng được kết nạp', '02 đv mới được KN': a count before the trigger."""
    for j in range(k - 1, max(s - 1, k - 8), -1):
        it = items[j]
        if it.kind == "NUM":
            # the count must be followed by a noun or an attribute
            nxt = items[j + 1] if j + 1 < len(items) else None
            if nxt is not None and (
                nxt.kind in _NOUNS
                or nxt.kind in _ATTRS
                or nxt.kind in ("DUOC", "PAST", "ADMIT")
                or nxt.kind == "YOUTH"
            ):
                return j
            return None
        if it.kind in ("STOP", "SEP", "PLAN", "PERIOD") or it.kind in _CLASS_KINDS:
            return None
    return None


_NEG_BEFORE = frozenset({"NEG", "NONE"})


def _negated_before(items: list[_Item], k: int, s: int) -> bool:
    for j in range(k - 1, max(s - 1, k - 6), -1):
        kind = items[j].kind
        if kind in _NEG_BEFORE:
            return True
        if kind in ("NUM", "SEP", "STOP", "PERIOD"):
            return False
    return False


@dataclass(slots=True)
class _Admission:
    count: int | None
    head_end: int  # first item after the count and its noun phrase
    region_end: int
    head_noun: str | None  # "HEAD", "DV", "CAND", "CLS", "YOUTH" or None
    trigger: int
    names: list[str]
    attrs_head: list[str]


_TRIGGER_KINDS = frozenset({"ADMIT", "HEAD", "DV", "MORE", "DEVELOP"})


def _find_admission(ctx: _Ctx) -> _Admission | None:
    items = ctx.items
    n = len(items)
    for k in [k for k, it in enumerate(items) if it.kind in _TRIGGER_KINDS]:  # the only kinds handled
        it = items[k]
        kind = it.kind
        synthetic = False
        if kind == "ADMIT":
            if it.f in ("vao dang",) and k > 0 and items[k - 1].kind == "ADMIT":
                continue
            if _blocked(items, k):
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
        s, e = _sentence_bounds(ctx, k)
        if _is_question(ctx, s, e):
            continue
        if _in_plan(items, s, k):
            continue
        if synthetic and any(items[j].kind == "TOTAL" for j in range(max(s, k - 3), k)):
            continue
        # scope: until the next class trigger or the next admission trigger
        region_end = n
        for j in range(k + 1, n):
            kj = items[j].kind
            if kj == "SENT" or (kj in ("STUDY", "CLASS", "DONE", "CERT") and _class_sentence(ctx, j)):
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
            if kj == "ADMIT" and j > k + 1 and not _blocked(items, j):
                sj, _ = _sentence_bounds(ctx, j)
                if sj > s:
                    region_end = j
                    break
        if synthetic and kind in ("HEAD", "DV"):
            adm = _synthetic_head(ctx, k, s, e, region_end)
        elif synthetic:
            j = k + 1
            if items[j].kind in ("DUOC", "MORE"):
                j += 1
            noun = items[j + 1].kind
            if noun == "DV" and not any(items[x].kind in ("ADMIT", "HEAD") for x in range(n)):
                ctx.ask(
                    "dv_meaning", f"Đồng chí báo cáo {items[j].value} đảng viên mới được kết nạp phải không?"
                )
                return None
            adm = _Admission(int(items[j].value or 0), j + 2, region_end, noun, k, [], [])
        else:
            adm = _admission_from_trigger(ctx, k, s, e, region_end)
        if adm is None:
            continue
        # a Youth Union subject admitting "dv": đoàn viên, not đảng viên
        if adm.head_noun == "DV" and any(
            items[j].f in ("chi doan", "doan", "doan thanh nien")
            or (items[j].kind == "YOUTH" and items[j].f == "doan")
            for j in range(s, k)
        ):
            ctx.ask("dv_meaning", "Đồng chí báo cáo kết nạp đảng viên hay kết nạp đoàn viên?")
            return None
        return adm
    return None


def _class_sentence(ctx: _Ctx, j: int) -> bool:
    items = ctx.items
    kind = items[j].kind
    if kind in ("CLASS", "CERT"):
        return True
    if kind == "DONE" and j + 1 < len(items) and items[j + 1].kind == "PLAN":
        return False
    kinds = _sentence_kinds(ctx, j)
    return (
        "CLASS" in kinds
        or "SENT" in kinds
        or items[j].f
        in (
            "di hoc",
            "di hoc lop",
        )
    )


def _synthetic_head(ctx: _Ctx, k: int, s: int, e: int, region_end: int) -> _Admission | None:
    items = ctx.items
    if any(items[j].kind == "TOTAL" for j in range(s, e)):
        return None
    # count before ("2 đảng viên mới") or after ("đảng viên mới: 2")
    if k > 0 and items[k - 1].kind == "NUM":
        return _Admission(int(items[k - 1].value or 0), k + 2, region_end, "HEAD", k, [], [])
    if k > 1 and items[k - 1].kind in ("CLS",) and items[k - 2].kind == "NUM":
        return _Admission(int(items[k - 2].value or 0), k + 2, region_end, "HEAD", k, [], [])
    j = k + 2
    while j < min(e, k + 5) and items[j].kind in ("COLON", "PERIOD", "W", "DUOC", "ADMIT", "LA", "CLS"):
        j += 1
    if j < e and items[j].kind == "NUM":
        return _Admission(int(items[j].value or 0), j + 1, region_end, "HEAD", k, [], [])
    if j < e and items[j].kind == "NAME":  # "đảng viên mới: đồng chí Mai Thị Ngọc"
        names = _name_list(items, j)
        return _Admission(len(names), j, region_end, "NAME", k, names, [])
    if _negated_before(items, k, s):
        return _Admission(0, k + 2, region_end, "HEAD", k, [], [])
    return None


def _admission_from_trigger(ctx: _Ctx, k: int, s: int, e: int, region_end: int) -> _Admission | None:
    items = ctx.items
    n = len(items)
    negated = _negated_before(items, k, s)
    j = _find_count_forward(items, k, min(e, region_end))
    if j is not None and items[j].kind in ("NEG", "NONE"):
        # "kết nạp: chưa có", "kết nạp được 0"
        return _Admission(0, j + 1, region_end, None, k, [], [])
    if j is not None and items[j].kind == "NAME":
        names = _name_list(items, j)
        end = j
        while end < n and items[end].kind in ("NAME", "AND", "SEP"):
            end += 1
        return _Admission(len(names), j, region_end, "NAME", k, names, [])
    if negated and (j is None or items[j].value == 0):
        return _Admission(0, k + 1, region_end, None, k, [], [])
    back = None
    if j is None:
        back = _find_count_backward(items, k, s)
    if j is None and back is None:
        # "kết nạp đảng viên mới" with no number: ask
        if not negated:
            ctx.ask("admission_count", "Chi bộ đã kết nạp bao nhiêu đảng viên?")
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
        if kind in _NOUNS or (kind == "YOUTH" and head_noun is None):
            if head_noun is None or (head_noun in ("CLS", "CAND") and kind in ("HEAD", "DV")):
                head_noun = kind if kind != "YOUTH" else "YOUTH"
            if kind == "YOUTH":
                attrs.append("YOUTH")
            h += 1
            continue
        if kind in _ATTRS or kind == "NAMQ":
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
        names = _name_list(items, h + 1)
    return _Admission(count, h, region_end, head_noun, k, names, attrs)


def _name_list(items: list[_Item], j: int) -> list[str]:
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


def _breakdown(ctx: _Ctx, adm: _Admission, count: int) -> dict[str, int | None]:
    items = ctx.items
    values: dict[str, int | None] = dict.fromkeys(BREAKDOWN_FIELDS)
    found: dict[str, list[int]] = {}
    complements: dict[str, list[int]] = {}

    def add(kind: str, value: int) -> None:
        field = _FIELD_OF[kind]
        if kind in _COMPLEMENT:
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
                if it.kind in _ATTRS or it.kind == "NAMQ":
                    add("MALE" if it.kind == "NAMQ" else it.kind, each)
        region = region[: name_positions[0]]

    clauses: list[list[_Item]] = []
    cur: list[_Item] = []
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
        _clause(ctx, clause, count, add, last_num)

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
                    f"Số đồng chí {_COMPLEMENT_LABEL[field]} ({total}) nhiều hơn số đảng viên kết nạp "
                    f"({count}), đồng chí kiểm tra lại giúp?",
                )
    return values


def _clause(ctx: _Ctx, clause: list[_Item], count: int, add: _Adder, last_num: list[int | None]) -> None:
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
        elif kind in _ATTRS or kind == "NAMQ" or kind == "DV":
            if kind == "DV":
                # "1 dv nữ" repeats the head noun; "1 dv" alone is đoàn viên
                nxt = clause[x + 1].kind if x + 1 < n else ""
                if nxt in _ATTRS or nxt == "NAMQ":
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
                ctx.ask("nam_meaning", "“nam” ở đây là số năm (5) hay là nam giới?")
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
            if has_none and kind not in _COMPLEMENT and _neg_precedes_attr(atoms, a):
                add(_NEG_OF.get(kind, kind), v)  # "1 không phải đoàn viên": complement
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


_NEG_OF = {"YOUTH": "NOYOUTH", "FEMALE": "MALE", "REL": "NOREL", "ETH": "KINH", "EDU": "LOWEDU"}


def _neg_precedes_attr(atoms: list[tuple[str, int]], attr: str) -> bool:
    for x, (k, _) in enumerate(atoms):
        if k == attr:
            return x > 0 and atoms[x - 1][0] == "NONE"
    return False


# --------------------------------------------------------------------------------------------------
# Class attendance


def _find_class(ctx: _Ctx, admission_region: tuple[int, int] | None) -> ClassAttendanceFacts | None:
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
        s, e = _sentence_bounds(ctx, k)
        if (
            not any(items[x].kind in ("CLASS", "SENT", "CERT") for x in range(s, e))
            and not (kind == "STUDY" and it.f in ("di hoc", "di hoc lop"))
            and not (kind == "DONE" and seen)
        ):
            continue
        if _is_question(ctx, s, e) or _in_plan(items, s, k):
            continue
        if kind == "DONE" and k + 1 < n and items[k + 1].kind == "PLAN":
            continue  # "hoàn thành chỉ tiêu"
        if kind in ("SENT", "STUDY") and sent is None:
            v = _class_count(items, k, s, e)
            if v is not None:
                sent = v
                seen = True
        elif kind in ("DONE", "CERT") and completed is None:
            v = _class_count(items, k, s, e, sent)
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


def _class_count(items: list[_Item], k: int, s: int, e: int, whole: int | None = None) -> int | None:
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


# --------------------------------------------------------------------------------------------------
# Entry point

_Q_FEMALE = ("Trong {n} đảng viên mới, có bao nhiêu đồng chí nữ?", "Đảng viên mới có phải là nữ không?")
_QUESTIONS = {
    "female": _Q_FEMALE,
    "youth_union": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí là đoàn viên?",
        "Đảng viên mới có phải là đoàn viên không?",
    ),
    "religious": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí theo tôn giáo?",
        "Đảng viên mới có theo tôn giáo không?",
    ),
    "ethnic_minority": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí là người dân tộc thiểu số?",
        "Đảng viên mới có phải là người dân tộc thiểu số không?",
    ),
    "upper_secondary_or_above": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí có trình độ THPT trở lên?",
        "Đảng viên mới có trình độ THPT trở lên không?",
    ),
}
_COMPLEMENT_LABEL = {
    "female": "nam",
    "youth_union": "không phải đoàn viên",
    "religious": "không theo tôn giáo",
    "ethnic_minority": "người Kinh",
    "upper_secondary_or_above": "dưới THPT",
}
_FIELD_LABEL = {
    "female": "nữ",
    "youth_union": "đoàn viên",
    "religious": "theo tôn giáo",
    "ethnic_minority": "dân tộc thiểu số",
    "upper_secondary_or_above": "THPT trở lên",
}


def _missing_questions(admission: AdmissionFacts, ambiguous: tuple[str, ...]) -> list[str]:
    """One question per breakdown not given, in field order; none for a field already being clarified."""
    count = admission.count
    return [
        _breakdown_question(field, count)
        for field, key, value in zip(BREAKDOWN_FIELDS, _EXCEEDS, _breakdown_values(admission), strict=True)
        if value is None and not (ambiguous and key in ambiguous)
    ]


_EXCEEDS = tuple(f"{field}_exceeds" for field in BREAKDOWN_FIELDS)


def _breakdown_values(a: AdmissionFacts) -> tuple[int | None, ...]:
    return (a.female, a.youth_union, a.religious, a.ethnic_minority, a.upper_secondary_or_above)


@lru_cache(maxsize=512)
def _breakdown_question(field: str, count: int) -> str:
    many, one = _QUESTIONS[field]
    return one if count == 1 else many.format(n=count)


def _command(folded: str) -> tuple[str | None, int]:
    if folded[:1] != "/":  # cheaper than the regex for the usual message
        return None, 0
    m = _COMMAND.match(folded)
    if not m:
        return None, 0
    return m.group(1), m.end()


def parse_message(text: str, today: date) -> ParseResult:
    """Parse one chat message; never raises on any str input."""
    norm = normalize(text[: MAX_INPUT * 2] if text else "")[:MAX_INPUT]
    if not norm:
        return ParseResult("unknown")
    folded = fold_normalized(norm)
    cmd, cmd_end = _command(folded)
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
            return ParseResult("report", questions=("Đồng chí vui lòng gửi nội dung báo cáo.",))
    masked, hits = _mask(folded, today)
    lower = norm.lower()
    aligned = len(lower) == len(folded) == len(norm)
    # folding changed more than case exactly when the text carries diacritics
    marks = aligned and lower != folded and has_vietnamese_marks(norm)
    cased = aligned and not norm.isupper() and not norm.islower()
    fs, accs, origs = _tokenize(masked, lower if marks else None, norm if cased else None)
    tkinds = ["W"] * len(fs)
    vals: dict[int, str] = {}
    names = _names_and_places(fs, accs, origs, tkinds, vals, cased, marks)
    items = _items(fs, accs, tkinds, vals, marks)
    ctx = _Ctx(items)
    period = best_period(hits)
    kinds = {it.kind for it in items}

    # without a trigger or a class word the searches below find nothing: skip their scans
    adm = _find_admission(ctx) if not kinds.isdisjoint(_TRIGGER_KINDS) else None
    admission: AdmissionFacts | None = None
    region: tuple[int, int] | None = None
    if adm is not None and adm.count is not None:
        region = (adm.trigger, adm.region_end)
        count = adm.count
        if adm.names and count == 0:
            count = len(adm.names)
        if count > 0:
            values = _breakdown(ctx, adm, count)
            all_names = (
                [str(it.value) for it in items[adm.trigger : adm.region_end] if it.kind == "NAME"]
                if "NAME" in kinds
                else []
            )
            if values["female"] is None and all_names and len(all_names) == count:
                values["female"] = _female_from_names(all_names)
            for field in BREAKDOWN_FIELDS:
                v = values[field]
                if v is not None and v > count:
                    ctx.ask(
                        f"{field}_exceeds",
                        f"Số đồng chí {_FIELD_LABEL[field]} ({v}) nhiều hơn số đảng viên kết nạp ({count}), "
                        "đồng chí kiểm tra lại giúp?",
                    )
                    values[field] = None
            admission = AdmissionFacts(count=count, **values)
        else:
            admission = AdmissionFacts(count=0)
    attendance = _find_class(ctx, region) if not kinds.isdisjoint(_CLASS_KINDS) else None
    if (
        attendance is not None
        and attendance.sent is not None
        and attendance.completed is not None
        and attendance.completed > attendance.sent
    ):
        ctx.ask(
            "completed_exceeds",
            f"Số hoàn thành lớp ({attendance.completed}) nhiều hơn số được cử đi học "
            f"({attendance.sent}), đồng chí kiểm tra lại giúp?",
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
            questions.extend(_missing_questions(admission, tuple(ctx.ambiguous)))
        return ParseResult(
            "report", admission, attendance, period, tuple(questions), tuple(names), tuple(ctx.ambiguous)
        )
    if "PROG" in kinds and not ("HELP" in kinds and "tien do" not in folded):
        return ParseResult("progress", period=period, names=tuple(names))
    # a question about how many / how far: "đã kết nạp được bao nhiêu?", "đã đạt chỉ tiêu chưa?"
    q_words = {it.f for it in items if it.kind == "Q"}
    how_much = (
        bool(q_words - _NOT_PROGRESS_Q)
        or ("?" in folded and not q_words)
        or (items and items[-1].kind == "NEG" and items[-1].f == "chua")
    )
    if how_much and kinds & _PROGRESS_TOPICS and "HELP" not in kinds and "BLOCK" not in kinds:
        return ParseResult("progress", period=period, names=tuple(names))
    if "HELP" in kinds:
        return ParseResult("help")
    return ParseResult("unknown", names=tuple(names))


_NOT_PROGRESS_Q = frozenset({"bao gio", "gi", "lam sao", "sao", "a", "nhi", "the"})
_PROGRESS_TOPICS = frozenset({"ADMIT", "HEAD", "DV", "CLASS", "SENT", "DONE", "CERT", "PLAN"})


def _female_from_names(names: list[str]) -> int | None:
    """Vietnamese middle names: "Thị" is a woman, "Văn" a man; any other name leaves it open."""
    female = 0
    for name in names:
        parts = name.lower().split()
        if len(parts) < 3:
            return None
        middle = parts[1:-1]
        if "thị" in middle or "thi" in middle:
            female += 1
        elif "văn" in middle or "van" in middle:
            continue
        else:
            return None
    return female
