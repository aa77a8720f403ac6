"""Dates and periods in Vietnamese chat text -> inclusive (start, end) date ranges.

All matching runs on folded text (no diacritics, lowercase). Conventions (see shared/GLOSSARY.md):
dates are day first ("3/5" is 3 May, never March 5th); a month or quarter without a year is the
latest one that has begun by `today`; a day-month without a year is in the current year.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from handlers.numbers import words_to_int
from handlers.text import fold

__all__ = ["MASKED_KINDS", "Period", "PeriodHit", "find_period", "parse_period", "scan_periods"]


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


# rank: lower is more specific; a range the user spelled out beats everything.
RANK_RANGE, RANK_DAY, RANK_WEEK, RANK_MONTH, RANK_QUARTER, RANK_HALF, RANK_YEAR, RANK_BARE_YEAR = range(8)
# Kinds that are masked (their digits are never a count) but are never a period: birth dates, clock
# times, school years, the years of a person's schooling or service.
MASKED_KINDS = frozenset({"birth", "time", "school"})


@dataclass(slots=True)
class PeriodHit:
    start: int  # span in the folded text
    end: int
    rank: int
    kind: str  # "day", "week", "month", "quarter", "half", "year", "range", or one of MASKED_KINDS
    a: int = 0  # day / month / quarter / half (1, 2) depending on kind
    b: int = 0  # month for "day"
    year: int | None = None  # None: not said, anchored later
    period: Period | None = None


_Y4 = r"(?:19|20)\d{2}"
_MN = r"(?:1[0-2]|0?[1-9])"
_DN = r"(?:3[01]|[12]\d|0?[1-9])"
_MONTH_WORDS = {
    "gieng": 1,
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "tu": 4,
    "bon": 4,
    "nam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
    "muoi": 10,
    "muoi mot": 11,
    "muoi hai": 12,
    "chap": 12,
}
_MW = r"(?:muoi\s+mot|muoi\s+hai|gieng|chap|mot|hai|ba|tu|bon|nam|sau|bay|tam|chin|muoi)"
_QUARTERS = {
    "i": 1,
    "ii": 2,
    "iii": 3,
    "iv": 4,
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "1": 1,
    "2": 2,
    "3": 3,
    "4": 4,
}
_YEAR_TAIL = rf"(?:\s*(?:[/.-]|,?\s*nam)\s*(?P<NAME>{_Y4}|nay|ngoai|truoc))?"


def _year_tail(name: str) -> str:
    return _YEAR_TAIL.replace("NAME", name)


_DAY_WORD = (
    r"(?:(?:hai|ba)\s+muoi(?:\s+(?:mot|hai|ba|bon|tu|lam|nam|sau|bay|tam|chin))?"
    r"|muoi(?:\s+(?:mot|hai|ba|bon|lam|nam|sau|bay|tam|chin))?|mot|hai|ba|bon|nam|sau|bay|tam|chin)"
)
_WEEKDAY = r"(?:hai|ba|tu|nam|sau|bay|[2-7]|chu\s+nhat)"
_WEEK_REL = r"(?:vua\s+roi|vua\s+qua|tuan\s+truoc|tuan\s+roi|tuan\s+qua|tuan\s+nay|truoc)"
# (first letters, pattern): the letters an alternative can start with let the engine skip every other
# position, and try only the alternatives that can start with the letter at hand.
_ALTERNATIVES: tuple[tuple[str, str], ...] = (
    # clock times ("7h30", "14:00", "9 giờ 30 phút"): an hour is never a count, and says "when it
    # will happen" more often than "what happened"
    (
        "0123456789",
        r"(?P<time>(?<![\d/.,:])\d{1,2}\s*(?:h|g|gio)\s*(?:\d{1,2}\s*(?:phut|p)?)?(?![\w/'’])"
        r"|(?<![\d/.,:])\d{1,2}:\d{2}(?::\d{2})?(?![\d/]))",
    ),
    # birth dates/years are masked so they never become a period or a count
    (
        "sn",
        rf"(?P<birth>\b(?:(?:nam|ngay)\s+)?(?:sinh(?:\s+ra)?|sn|ns)\s*(?:ngay|nam|thang)?\s*:?\s*"
        rf"(?:\d{{1,2}}\s*[/.-]\s*){{0,2}}(?:{_Y4}|\d{{2}})\b)",
    ),
    # a school year, a course's years, the year someone graduated or served: never the report's period
    (
        "nk",
        rf"(?P<school>\b(?:nam\s+hoc|nien\s+khoa|khoa(?:\s+hoc)?)\s*:?\s*{_Y4}\s*[-–/]\s*"
        rf"(?:{_Y4}|\d{{2}})\b)",
    ),
    ("t", rf"(?P<past_t>\btot\s+nghiep(?:\s+[a-z0-9/]+){{0,3}}?\s+(?P<pt_y>(?:nam\s+)?{_Y4})\b)"),
    (
        "nxrv",
        rf"(?P<past>\b(?:nhap\s+ngu|xuat\s+ngu|ra\s+truong|vao\s+doan)\s+(?P<pa_y>(?:nam\s+|tu\s+nam\s+)?{_Y4})\b)",
    ),
    (
        "t",
        r"(?P<since>\btu\s+dau\s+(?P<since_w>nam|thang|quy)(?:\s+(?:den|toi)\s+(?:nay|hien\s+nay|bay\s+gio))?)",
    ),
    (
        "0123456789sn",
        r"(?P<half>\b(?:(?P<nm>1[0-1]|[1-9]|sau)\s*thang|nua)"
        r"\s*(?P<half_w>dau|cuoi)\s*nam\b"
        + _year_tail("half_y").replace(r"(?:[/.-]|,?\s*nam)", r"(?:[/.-]|,)?")
        + ")",
    ),
    (
        "nhmd",
        rf"(?P<dwords>\b(?:ngay|hom|mung|mong|dip)\s+(?P<dw_d>{_DAY_WORD})"
        rf"\s+thang\s+(?P<dw_m>{_MW}|{_MN})\b" + _year_tail("dw_y") + ")",
    ),
    (
        "nhmd",
        rf"(?P<dlong>\b(?:ngay|hom|mung|mong|dip)\s*(?P<dl_d>{_DN})\s*thang\s*(?P<dl_m>{_MN})"
        rf"(?:\s*(?:nam|[/.-])\s*(?P<dl_y>{_Y4}))?\b)",
    ),
    (
        "0123456789n",
        rf"(?P<day>(?<![\d/.,-])(?:ngay\s*)?(?P<d_d>{_DN})\s*[/.-]\s*(?P<d_m>{_MN})\s*[/.-]\s*"
        rf"(?P<d_y>{_Y4}|\d{{2}})(?![\d/.-]|,\d))",
    ),
    ("0123456789", rf"(?P<yrange>(?<![\d/.,-])(?P<yr1>{_Y4})\s*[-–]\s*(?P<yr2>{_Y4})(?![\d/.,-]))"),
    # "tháng 10", "T10", and the abbreviations "thg 10", "th10", "th.10"
    (
        "t",
        rf"(?P<month>(?:\bthang\s*|\bthg\.?\s*|\bth\.?(?=\d)|\bt(?=\d))(?P<m_m>{_MN})(?![\d%])"
        + _year_tail("m_y")
        + r"\b)",
    ),
    ("0123456789", rf"(?P<mbare>(?<![\d/.,-])(?P<mb_m>{_MN})\s*[/-]\s*(?P<mb_y>{_Y4})(?![\d/.,]))"),
    # "ngày 5-11", "hôm 3.11": a keyword lets "-" and "." separate day and month; alone only "/"
    (
        "0123456789nhmd",
        rf"(?P<dshort>(?<![\d/.,-])(?:(?:(?P<ds_kw>ngay|hom|mung|mong|dip)\s*)(?P<ds_d>{_DN})\s*[/.-]\s*(?P<ds_m>{_MN})"
        rf"|(?P<ds_d2>{_DN})\s*/\s*(?P<ds_m2>{_MN}))"
        r"(?![\d/.%]|,\d)(?!\s*(?:dong\s+chi|d/c|dc\b|dv\b|dang\s+vien|qcut|qc\b|quan\s+chung|nguoi|hoan\s+thanh"
        r"|dat\b|duoc|nu\b|so\b|hoc\s+vien)))",
    ),
    # "ngày 28 vừa qua", "hôm 5 rồi": a day without its month is the latest such day
    (
        "nhmd",
        rf"(?P<dbare>\b(?:ngay|hom|mung|mong|dip)\s*(?P<db_d>{_DN})(?:\s+(?:vua\s+qua|vua\s+roi|roi)\b"
        r"|(?![\d/.%-]|,\d)(?!\s*(?:thang|nam|ngay|hom|tuan|lan|buoi|dot|dong\s+chi|d/c|dc\b|dv\b|dang\s+vien"
        r"|qcut|qc\b|quan\s+chung|nguoi|nu\b|hoc\s+vien|gio|h\b|g\b|phut))))",
    ),
    ("t", rf"(?P<mword>\bthang\s+(?P<mw>{_MW})\b" + _year_tail("mw_y") + ")"),
    ("t", r"(?P<mrel>\bthang\s*(?P<mr>nay|ni|truoc\s+nua|truoc|vua\s+qua|vua\s+roi|qua|roi|hien\s+tai)\b)"),
    (
        "q",
        r"(?P<quarter>\b(?:quy\s*(?P<q>iv|iii|ii|i|[1-4]|mot|hai|ba|bon|tu)|q\.?(?P<q2>[1-4]))\b"
        + _year_tail("q_y")
        + ")",
    ),
    ("q", r"(?P<qrel>\bquy\s*(?P<qr>nay|ni|truoc|vua\s+qua|vua\s+roi|roi|qua|hien\s+tai)\b)"),
    ("t", r"(?P<wrel>\btuan\s*(?P<wr>nay|ni|truoc\s+nua|truoc|roi|qua|vua\s+qua|vua\s+roi|hien\s+tai)\b)"),
    # "đầu tuần", "giữa tuần (này)": this week; "cuối tuần trước": last week ("cuối tuần" alone is
    # the weekend ahead as often as the one behind: not read)
    (
        "dcg",
        r"(?P<wedge>\b(?P<we>dau|cuoi|giua)\s+tuan(?:\s+(?P<we_r>nay|ni|truoc|roi|qua|vua\s+qua|vua\s+roi))?"
        r"\b(?!\s+(?:sau|toi)\b))",
    ),
    # "trong tháng, chi bộ đã kết nạp...": the month already named, or else this one
    (
        "t",
        r"(?P<frame>\btrong\s+(?P<fr>thang|tuan|quy|nam)(?![a-z0-9])(?!\s*(?:[0-9]|(?:nay|ni|truoc|roi|qua|vua|sau"
        r"|toi|ngoai|hien|mot|hai|ba|bon|tu|nam|bay|tam|chin|muoi|gieng|chap|i|ii|iii|iv)\b)))",
    ),
    ("h", rf"(?P<wday>\bhom\s+thu\s*(?P<wd>{_WEEKDAY})(?:\s+(?P<wd_rel>{_WEEK_REL}))?\b)"),
    ("h", r"(?P<wday_cn>\bhom\s+chu\s+nhat(?:\s+(?P<wc_rel>" + _WEEK_REL + r"))?\b)"),
    ("t", rf"(?P<wday_t>\bthu\s*(?P<wt>{_WEEKDAY})\s+(?P<wt_rel>{_WEEK_REL})\b)"),
    # "cách đây 2 tuần", "cách đây 3 hôm", "2 tuần trước": counted back from today
    (
        "c",
        r"(?P<ago>\bcach\s+day\s+(?P<ago_n>\d{1,2}|mot|hai|ba|bon|nam|sau|bay|tam|chin|muoi)"
        r"\s+(?P<ago_u>ngay|hom|tuan|thang|nam)\b)",
    ),
    (
        "0123456789hbnsmc",
        r"(?P<ago2>(?<![\d/.,])(?P<ago2_n>\d{1,2}|mot|hai|ba|bon|nam|sau|bay|chin|muoi)"
        r"\s+(?P<ago2_u>ngay|hom|tuan|thang)\s+(?:truoc|qua)\b(?!\s+(?:khi|do|nay)\b))",
    ),
    ("n", rf"(?P<year>\bnam\s*(?P<y>{_Y4})\b)"),
    ("n", r"(?P<yrel>\bnam\s*(?P<yr>nay|ni|ngoai|truoc|kia|roi|hien\s+tai|vua\s+qua|qua)\b)"),
    # a year said in words, as voice typing writes it: "năm hai nghìn không trăm hai mươi tư"
    (
        "n",
        r"(?P<yword>\bnam\s+(?P<yw>hai\s+(?:nghin|ngan)(?:\s+(?:khong\s+tram|linh|le))?"
        r"(?:\s+(?:mot|hai|ba|bon|tu|nam|lam|sau|bay|tam|chin|muoi)){0,3})\b)",
    ),
    ("hbscd", r"(?P<dayrel>\b(?:hom|bua|sang|chieu|dem)\s*(?P<hr>nay|ni|qua|kia)\b|\bh(?P<hr2>qua|nay)\b)"),
    ("t", r"(?P<dayrel_t>\b(?:toi|trua)\s+(?P<hr3>nay|qua)\b)"),
    ("0123456789", rf"(?P<bare>(?<![\d/.,-])(?P<by>{_Y4})(?![\d/.,%]))"),
)


def _literal_first(alternative: str) -> str:
    """ "(?P<kind>\\bthang...)" -> "(?:thang...)(?P<kind>)": the same match, its kind still the last
    group closed (`lastgroup`), but the branch now opens with its first letter, which the engine checks
    before trying the branch (the word start is the whole pattern's lookbehind)."""
    match = re.fullmatch(r"\(\?P<(\w+)>(.*)\)", alternative, re.S)
    assert match is not None, alternative
    name, body = match.groups()
    return f"(?:{body.removeprefix(chr(92) + 'b')})(?P<{name}>)"


def _group(first: str) -> str:
    """The alternatives that can start with a letter of `first`, in their order."""
    alts = [_literal_first(pattern) for letters, pattern in _ALTERNATIVES if set(letters) <= set(first)]
    return "|".join(alts)


_TQ = "tq"
_OTHER = "".join(sorted({c for letters, _ in _ALTERNATIVES for c in letters} - set(_TQ)))
assert all(set(letters) <= set(_TQ) or not set(letters) & set(_TQ) for letters, _ in _ALTERNATIVES)
# Alternatives with different first letters never match at the same place, so the split keeps the
# leftmost-first result of one flat alternation.
_PATTERN = re.compile(f"(?<![a-z])(?:(?=[{_TQ}])(?:{_group(_TQ)})|(?=[{_OTHER}])(?:{_group(_OTHER)}))")
# Where an alternative can start: a number, "t10"/"q3", or one of these words. Trying the big pattern
# only there (`matches`) finds what `_PATTERN.finditer` finds at half the cost; every new alternative's
# first word belongs here (tests/test_numbers_periods.py compares the two on the corpus and at random).
_STARTS = re.compile(
    r"(?<![a-z])(?:\d+|[tq]\d|(?:sinh|sn|ns|nam|trong|thg|th|q|nien|khoa|tot|nhap|xuat|ra|vao|tu|sau|nua|ngay|hom|mung"
    r"|mong|dip|thang|quy|tuan|thu|bua|sang|chieu|dem|hqua|hnay|toi|trua|dau|cuoi|giua|cach|mot|hai|ba"
    r"|bon|bay|chin|muoi)(?![a-z]))"
)


def matches(folded: str) -> list[re.Match[str]]:
    """The matches of `_PATTERN.finditer(folded)`, found by trying the pattern at the possible starts."""
    found: list[re.Match[str]] = []
    end = 0
    match = _PATTERN.match
    for start in _STARTS.finditer(folded):
        at = start.start()
        if at < end:
            continue
        m = match(folded, at)
        if m is not None:
            found.append(m)
            end = m.end()
    return found


_ANY_DIGIT = re.compile(r"\d")
# "từ A đến B", "A - B": joins two hits into one range.
_RANGE_JOIN = re.compile(r"\s*(?:den|toi|-|–|->|~)\s*(?:het\s+)?$")
_RANGE_FROM = re.compile(r"(?:\btu|\bbat\s+dau\s+tu)\s*$")
_UNTIL_NOW = re.compile(
    r"\s*(?:tinh\s+)?(?:den|toi)\s+(?:nay|hien\s+nay|hien\s+tai|bay\s+gio|gio|thoi\s+diem\s+nay)\b"
)
# "trình độ 12/12" is schooling, not 12 December.
_SCHOOL_BEFORE = re.compile(
    r"(?:trinh\s+do|hoc\s+van|van\s+hoa|hoc\s+het|tot\s+nghiep|lop|td|hv|hoc)\s*:?\s*$"
)


# Cached: pure, and the same few months and years recur in report after report.
@lru_cache(maxsize=256)
def _month_period(year: int, month: int) -> Period:
    return Period(date(year, month, 1), date(year, month, monthrange(year, month)[1]))


@lru_cache(maxsize=256)
def _quarter_period(year: int, q: int) -> Period:
    first = 3 * q - 2
    return Period(date(year, first, 1), _month_period(year, first + 2).end)


@lru_cache(maxsize=256)
def _half_period(year: int, half: int) -> Period:
    return (
        Period(date(year, 1, 1), date(year, 6, 30))
        if half == 1
        else Period(date(year, 7, 1), date(year, 12, 31))
    )


@lru_cache(maxsize=256)
def _year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31))


def _prev_month(today: date) -> tuple[int, int]:
    return (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)


def _rel_year(word: str | None, today: date) -> int | None:
    if word is None:
        return None
    if word in ("nay", "ni", "hien tai", "hien", "nay nay"):
        return today.year
    if word in ("ngoai", "truoc", "roi"):
        return today.year - 1
    if word == "kia":  # "năm kia": the year before last
        return today.year - 2
    # Any other word the pattern let through is not a year we know: no period rather than a crash.
    return int(word) if word.isdecimal() else None


_MASK_GROUPS = {"birth": "birth", "time": "time", "school": "school", "past_t": "school", "past": "school"}
_WORDS_WITHOUT_DIGITS = ("nam", "thang", "quy", "hom", "dau", "tuan", "qua", "nay", "ni", "dip")
_DAYS_BACK = {"nay": 0, "ni": 0, "qua": 1, "kia": 2}
_WEEKDAYS = {"hai": 0, "2": 0, "ba": 1, "3": 1, "tu": 2, "4": 2, "nam": 3, "5": 3, "sau": 4, "6": 4}
_WEEKDAYS |= {"bay": 5, "7": 5, "chu nhat": 6}


def _weekday_date(weekday: int, rel: str | None, today: date) -> date:
    """ "hôm thứ hai (vừa rồi)": the latest Monday before today; "thứ 2 tuần trước": last week's."""
    monday = today - timedelta(days=today.weekday())
    if rel is not None and "tuan" in rel:
        week = monday if "nay" in rel else monday - timedelta(days=7)
        return week + timedelta(days=weekday)
    back = (today.weekday() - weekday) % 7 or 7
    return today - timedelta(days=back)


def _full_year(two_or_four: str) -> int:
    y = int(two_or_four)
    return 2000 + y if y < 100 else y


def _materialise(hit: PeriodHit, today: date, default_year: int | None) -> Period | None:
    """Turn a hit into dates; `default_year` is a year said elsewhere in the message."""
    try:
        if hit.period is not None:
            return hit.period
        year = hit.year
        if hit.kind == "day":
            return Period(d := date(year or default_year or today.year, hit.b, hit.a), d)
        if hit.kind == "month":
            if year is None:
                year = default_year
            if year is None:  # latest such month that has begun
                year = today.year if hit.a <= today.month else today.year - 1
            return _month_period(year, hit.a)
        if hit.kind == "quarter":
            if year is None:
                year = default_year
            if year is None:
                year = today.year if 3 * hit.a - 2 <= today.month else today.year - 1
            return _quarter_period(year, hit.a)
        if hit.kind == "half":
            if year is None:
                year = default_year
            if year is None:
                year = today.year if hit.a == 1 or today.month >= 7 else today.year - 1
            return _half_period(year, hit.a)
        if hit.kind == "year" and year is not None:
            return _year_period(year)
    except ValueError:  # 31/02 and friends
        return None
    return None


def scan_periods(folded: str, today: date, *, bare_years: bool = False) -> list[PeriodHit]:
    """All period mentions in folded text, in order, with ranges joined. Birth dates come back with
    kind "birth" so the parser can mask them; they are never a period."""
    hits: list[PeriodHit] = []
    if _ANY_DIGIT.search(folded) is None and not any(w in folded for w in _WORDS_WITHOUT_DIGITS):
        return hits  # every alternative needs a digit or one of these words: skip the big pattern
    for m in matches(folded):
        kind = m.lastgroup
        s, e = m.span()
        g = m.group
        if kind in _MASK_GROUPS:
            if kind in ("past", "past_t"):  # only the year: "tốt nghiệp THPT" still says the schooling
                s, e = m.span("pa_y" if kind == "past" else "pt_y")
            hits.append(PeriodHit(s, e, 99, _MASK_GROUPS[kind]))
        elif kind == "since":
            w = g("since_w")
            if w == "nam":
                start = date(today.year, 1, 1)
            elif w == "quy":
                start = _quarter_period(today.year, (today.month - 1) // 3 + 1).start
            else:
                start = date(today.year, today.month, 1)
            hits.append(PeriodHit(s, e, RANK_RANGE, "range", period=Period(start, today)))
        elif kind == "half":
            months = 6 if g("nm") is None else words_to_int(g("nm")) or 6
            first = g("half_w") == "dau"
            year = _rel_year(g("half_y"), today)
            if months == 6:
                hits.append(PeriodHit(s, e, RANK_HALF, "half", 1 if first else 2, year=year))
            else:  # "9 tháng đầu năm": January to September; "3 tháng cuối năm": October to December
                start_month = 1 if first else 13 - months
                if year is None:
                    year = today.year if start_month <= today.month else today.year - 1
                end_month = months if first else 12
                span = Period(date(year, start_month, 1), _month_period(year, end_month).end)
                hits.append(PeriodHit(s, e, RANK_RANGE, "range", period=span))
        elif kind == "dlong":
            hits.append(
                PeriodHit(
                    s,
                    e,
                    RANK_DAY,
                    "day",
                    int(g("dl_d")),
                    int(g("dl_m")),
                    int(g("dl_y")) if g("dl_y") else None,
                )
            )
        elif kind == "dwords":
            day_v = words_to_int(g("dw_d"))
            mw = " ".join(g("dw_m").split())
            month_v = _MONTH_WORDS.get(mw) or (int(mw) if mw.isdigit() else None)
            if day_v and month_v:
                hits.append(PeriodHit(s, e, RANK_DAY, "day", day_v, month_v, _rel_year(g("dw_y"), today)))
        elif kind == "day":
            hits.append(PeriodHit(s, e, RANK_DAY, "day", int(g("d_d")), int(g("d_m")), _full_year(g("d_y"))))
        elif kind == "yrange":
            y1, y2 = int(g("yr1")), int(g("yr2"))
            if y1 <= y2:
                hits.append(
                    PeriodHit(s, e, RANK_RANGE, "range", period=Period(date(y1, 1, 1), date(y2, 12, 31)))
                )
        elif kind == "month":
            hits.append(PeriodHit(s, e, RANK_MONTH, "month", int(g("m_m")), year=_rel_year(g("m_y"), today)))
        elif kind == "mbare":
            hits.append(PeriodHit(s, e, RANK_MONTH, "month", int(g("mb_m")), year=int(g("mb_y"))))
        elif kind == "dshort":
            if g("ds_kw") is None:
                if _SCHOOL_BEFORE.search(folded, 0, s):
                    continue
                hits.append(PeriodHit(s, e, RANK_DAY, "day", int(g("ds_d2")), int(g("ds_m2"))))
            else:
                hits.append(PeriodHit(s, e, RANK_DAY, "day", int(g("ds_d")), int(g("ds_m"))))
        elif kind == "mword":
            word = " ".join(g("mw").split())
            y = _rel_year(g("mw_y"), today)
            if word == "sau" and y is None:
                continue  # "tháng sau" is next month (a plan), not June
            hits.append(PeriodHit(s, e, RANK_MONTH, "month", _MONTH_WORDS[word], year=y))
        elif kind == "mrel":
            word = g("mr")
            y, mo = (today.year, today.month) if word in ("nay", "ni", "hien tai") else _prev_month(today)
            if word.startswith("truoc") and word != "truoc":  # "tháng trước nữa"
                y, mo = _prev_month(date(y, mo, 1))
            hits.append(PeriodHit(s, e, RANK_MONTH, "month", mo, year=y))
        elif kind == "quarter":
            q = _QUARTERS[g("q") or g("q2")]
            hits.append(PeriodHit(s, e, RANK_QUARTER, "quarter", q, year=_rel_year(g("q_y"), today)))
        elif kind == "qrel":
            q = (today.month - 1) // 3 + 1
            y = today.year
            if g("qr") not in ("nay", "ni", "hien tai"):
                q, y = (q - 1, y) if q > 1 else (4, y - 1)
            hits.append(PeriodHit(s, e, RANK_QUARTER, "quarter", q, year=y))
        elif kind == "year":
            hits.append(PeriodHit(s, e, RANK_YEAR, "year", year=int(g("y"))))
        elif kind == "yword":
            spoken = words_to_int(" ".join(g("yw").split()))
            if spoken is not None and 1945 <= spoken <= 2099:
                hits.append(PeriodHit(s, e, RANK_YEAR, "year", year=spoken))
        elif kind == "ago" or kind == "ago2":
            back = words_to_int(g("ago_n") or g("ago2_n")) or 0
            unit = g("ago_u") or g("ago2_u")
            if not 0 < back <= 31:
                continue
            if unit in ("ngay", "hom"):
                d = today - timedelta(days=back)
                period = Period(d, d)
            elif unit == "tuan":
                monday = today - timedelta(days=today.weekday() + 7 * back)
                period = Period(monday, monday + timedelta(days=6))
            elif unit == "thang":
                y, mo = today.year, today.month
                for _ in range(back):
                    y, mo = _prev_month(date(y, mo, 1))
                period = _month_period(y, mo)
            else:
                period = _year_period(today.year - back)
            hits.append(
                PeriodHit(s, e, RANK_DAY, "day" if unit in ("ngay", "hom") else "range", period=period)
            )
        elif kind == "dbare":
            day_v = int(g("db_d"))
            year, month = today.year, today.month
            if day_v > today.day:
                year, month = _prev_month(today)
            while day_v > monthrange(year, month)[1]:  # "ngày 31" in a short month: the one before
                year, month = _prev_month(date(year, month, 1))
            d = date(year, month, day_v)
            hits.append(PeriodHit(s, e, RANK_DAY, "day", period=Period(d, d)))
        elif kind == "yrel":
            word = g("yr")
            if word in ("qua", "vua qua"):  # "năm qua": the year just ended in January, else this one
                word = "truoc" if today.month <= 2 else "nay"
            hits.append(PeriodHit(s, e, RANK_YEAR, "year", year=_rel_year(word, today)))
        elif kind == "dayrel" or kind == "dayrel_t":
            word = g("hr") or g("hr2") or g("hr3")
            d = today - timedelta(days=_DAYS_BACK[word])
            hits.append(PeriodHit(s, e, RANK_DAY, "day", period=Period(d, d)))
        elif kind == "frame":
            word = g("fr")
            if word == "thang":
                period = _month_period(today.year, today.month)
            elif word == "quy":
                period = _quarter_period(today.year, (today.month - 1) // 3 + 1)
            elif word == "nam":
                period = _year_period(today.year)
            else:
                monday = today - timedelta(days=today.weekday())
                period = Period(monday, monday + timedelta(days=6))
            hits.append(PeriodHit(s, e, RANK_MONTH, "frame", period=period))
        elif kind == "wrel" or kind == "wedge":
            word = g("wr") if kind == "wrel" else g("we_r")
            if kind == "wedge" and word is None and g("we") == "cuoi":
                continue
            monday = today - timedelta(days=today.weekday())
            if word is not None and word not in ("nay", "ni", "hien tai"):
                monday -= timedelta(days=14 if word.startswith("truoc") and word != "truoc" else 7)
            hits.append(PeriodHit(s, e, RANK_WEEK, "week", period=Period(monday, monday + timedelta(days=6))))
        elif kind in ("wday", "wday_cn", "wday_t"):
            word = " ".join((g("wd") or g("wt") or "chu nhat").split())
            d = _weekday_date(_WEEKDAYS[word], g("wd_rel") or g("wc_rel") or g("wt_rel"), today)
            hits.append(PeriodHit(s, e, RANK_DAY, "day", period=Period(d, d)))
        elif kind == "bare":
            if bare_years:
                hits.append(PeriodHit(s, e, RANK_BARE_YEAR, "year", year=int(g("by"))))
            else:  # masked (a year is never a count) but not a period on its own
                hits.append(PeriodHit(s, e, 99, "birth"))
    if not hits:
        return hits
    if any(h.kind == "frame" for h in hits) and any(
        h.kind not in MASKED_KINDS and h.kind != "frame" for h in hits
    ):
        # "tháng 10 ... Trong tháng, chi bộ đã kết nạp": the frame is the month already named
        hits = [h if h.kind != "frame" else PeriodHit(h.start, h.end, 99, "school") for h in hits]
    default_year = next((h.year for h in hits if h.kind == "year" and h.year is not None), None)
    for h in hits:
        if h.kind not in MASKED_KINDS and h.period is None:
            h.period = _materialise(h, today, default_year)
    return _join_ranges(folded, hits, today)


def _join_ranges(folded: str, hits: list[PeriodHit], today: date) -> list[PeriodHit]:
    out: list[PeriodHit] = []
    i = 0
    n = len(hits)
    while i < n:
        h = hits[i]
        if h.period is not None and i + 1 < n and hits[i + 1].period is not None:
            nxt = hits[i + 1]
            between = folded[h.end : nxt.start]
            if _RANGE_JOIN.match(between) and (
                _RANGE_FROM.search(folded, 0, h.start) or "-" in between or "den" in between
            ):
                assert h.period is not None and nxt.period is not None
                start = min(h.period.start, nxt.period.start)
                end = max(h.period.end, nxt.period.end)
                from_m = _RANGE_FROM.search(folded, max(0, h.start - 12), h.start)
                s = from_m.start() if from_m else h.start
                out.append(PeriodHit(s, nxt.end, RANK_RANGE, "range", period=Period(start, end)))
                i += 2
                continue
        if h.period is not None and h.kind != "range":
            until = _UNTIL_NOW.match(folded, h.end)
            # "từ tháng 7 đến nay", "năm nay tính tới giờ", "năm 2024 đến nay": from its start to today
            if until and h.period.start <= today:
                out.append(
                    PeriodHit(h.start, until.end(), RANK_RANGE, "range", period=Period(h.period.start, today))
                )
                i += 1
                while i < n and hits[i].start < until.end():
                    i += 1  # "quý 4 tới nay": "tới nay" is not "tối nay" (tonight)
                continue
        out.append(h)
        i += 1
    return out


def best_period(hits: list[PeriodHit]) -> Period | None:
    """The most specific period among hits (a spelled-out range first), earliest on ties."""
    best: PeriodHit | None = None
    for h in hits:
        if h.period is None or h.kind in MASKED_KINDS:
            continue
        if best is None or h.rank < best.rank:
            best = h
    return best.period if best else None


def find_period(text: str, today: date) -> Period | None:
    """The period a message talks about: the most specific one mentioned, or None."""
    return best_period(scan_periods(fold(text), today))


_FILLER = re.compile(
    r"\b(?:trong|tu|den|toi|cua|vao|ky|ki|bao\s+cao|giai\s+doan|thoi\s+gian|tien\s+do|xem|cho|la|nhiem\s+k[yi])\b|[\s,.:;!?()/-]+"
)


def parse_period(text: str, today: date) -> Period | None:
    """The whole text is a period expression ("tháng 10/2023", "quý 3", "năm 2023",
    "từ 11/2023 đến 6/2025"); None if anything else is said."""
    folded = fold(text)
    hits = [h for h in scan_periods(folded, today, bare_years=True) if h.kind not in MASKED_KINDS]
    if not hits:
        return None
    rest = folded
    for h in reversed(hits):
        rest = rest[: h.start] + " " + rest[h.end :]
    if _FILLER.sub("", rest).strip():
        return None
    if len(hits) == 1:
        return hits[0].period
    periods = [h.period for h in hits if h.period is not None]
    if len(periods) != len(hits):
        return None
    # several pieces without a joiner ("tháng 10 năm 2023" already merges): take the most specific
    return best_period(hits)
