"""Masking, tokenising and the item pass: folded text -> items (lexicon kinds, numbers, markers)."""

from __future__ import annotations

import re
from datetime import date

from handlers.numbers import parse_number_words
from handlers.parser.context import Item
from handlers.parser.lexicon import (
    ACCENTED_ONLY,
    ACCENTED_PHRASES,
    BARE_PHRASES,
    BARE_SKIP,
    LEX1,
    LEX_PHRASE,
    LEXN,
    LEXN_LENGTHS,
    NUMBER_START,
    PERSON_SEX,
    PERSON_SEX_BARE,
    PERSON_SEX_FOLDED,
    phrase_set,
)
from handlers.parser.numbers import number_word
from handlers.parser.result import MAX_COUNT
from handlers.periods import MASKED_KINDS, PeriodHit, scan_periods

NOISE = re.compile(r"(?<![\d.])(?:\+?84|0)[1-9]\d{1,2}[\s.-]?\d{3}[\s.-]?\d{3,4}(?!\d)|\d{7,}")
TOKEN_PATTERN = (
    # letters first, then digits behind one lookahead: alternatives with different first characters
    # cannot both match, so the order only saves the engine failed attempts on the common tokens
    # "đ.c", "d.v": letters joined by dots, each a single letter, are one abbreviation
    r"[a-z]+(?:['’][a-z]+)?(?:/[a-z]+)?(?:\.[a-z](?![a-z]))*"
    r"|(?=\d)(?:\d+(?:[.,]\d+)?\s?%|\d{1,3}(?:\.\d{3})+(?![\d])|\d+,\d+(?![\d,/])|\d+\.\d{1,2}(?![\d.,/])"
    r"|\d+/\d+|\d+)"
    # a minus sign on a count ("kết nạp -5"): kept with its digits so it is never read as 5
    r"|(?<![\w.,/-])-\d+(?![\d/.])"
    r"|\n|[^\s\w]|[^\W\d_a-z]+"
)
TOKEN = re.compile(TOKEN_PATTERN)
SENT_END = frozenset({".", "!", "?", "\n", ";"})
SEPS = frozenset({",", "(", ")", "-", "/"})
COMMAND = re.compile(r"^/([a-z_]+)(?:@\w+)?\s*")
# Any match of NOISE holds three digits in a row; most messages have none once years are masked.
THREE_DIGITS = re.compile(r"\d\d\d")


# --------------------------------------------------------------------------------------------------
# Tokenising
#
# Tokens are three parallel lists rather than one object per token, which cost more to build than
# the passes spent reading them: `fs` folded, `accs` accented lowercase, `origs` as typed. `accs` is
# only read when the text carries diacritics and `origs` only for cased text or to spell a name;
# otherwise they alias `fs`, which holds the same letters there. `kinds` is "W" until a name or place
# claims the token.


def mask_periods(folded: str, today: date) -> tuple[str, list[PeriodHit]]:
    """Replace periods, phones and long digit runs by one-character markers (same length)."""
    hits = scan_periods(folded, today)
    text = folded
    for h in hits:
        marker = "§" if h.kind not in MASKED_KINDS else "@" if h.kind == "time" else "#"
        text = text[: h.start] + marker + " " * (h.end - h.start - 1) + text[h.end :]
    if THREE_DIGITS.search(text) is None:
        return text, hits
    return NOISE.sub(blank, text), hits


def blank(m: re.Match[str]) -> str:
    return "#" + " " * (m.end() - m.start() - 1)


def tokenize(masked: str, acc: str | None, orig: str | None) -> tuple[list[str], list[str], list[str]]:
    """Tokens of the masked folded text, with the accented and the cased spelling at the same spans."""
    if acc is None and orig is None:
        fs = TOKEN.findall(masked)
        return fs, fs, fs
    ms = list(TOKEN.finditer(masked))
    fs = [m.group() for m in ms]
    accs = fs if acc is None else [acc[m.start() : m.end()] for m in ms]
    return fs, accs, accs if orig is None else [orig[m.start() : m.end()] for m in ms]


# --------------------------------------------------------------------------------------------------
# Items


def make_items(
    fs: list[str], accs: list[str], kinds: list[str], vals: dict[int, str], marks: bool, masked: str = ""
) -> tuple[list[Item], bool]:
    """Items of the tokens, and whether a word looks mistyped (see MISTYPED); `masked` (the text they
    come from) lets the checks of ages, ordinals and schooling be skipped when their words are absent."""
    mistyped = False
    items: list[Item] = []
    append = items.append
    n = len(fs)
    plain = kinds.count("W") == n  # no names or places marked
    period_index = 0  # PERIOD items carry the index of their hit among the periods (not the masks)
    i = 0
    while i < n:
        if kinds[i] != "W":
            if kinds[i] == "NAME":
                append(item("NAME", fs[i], vals[i]))
            i += 1
            continue
        f = fs[i]
        c0 = f[0]
        if (
            f in PERSON_SEX_FOLDED
            and items
            and items[-1].kind == "NUM"
            and not (i + 1 < n and (f, fs[i + 1]) in LEXN_LENGTHS)
        ):
            # "2 anh 1 chị", "ba ông một bà", "1 cô giáo": the person word counted says the sex
            sex = PERSON_SEX.get(accs[i]) if marks else PERSON_SEX_BARE.get(f)
            if sex is not None:
                append(item(sex, f))
                i += 1
                continue
        if f not in LEXICAL and c0 not in "§#@%-" and not c0.isdigit() and f != "am":
            # not a lexicon word, number or marker: what the checks below would end with
            plain_item = _PLAIN.get(f)
            if plain_item is None:
                plain_item = Item(PLAIN_KIND.get(f, "W"), f, MISTYPED if mistyped_shape(f) else None)
                if len(_PLAIN) < _SHARED_MAX:
                    _PLAIN[f] = plain_item
            if plain_item.value is not None:
                mistyped = True
            append(plain_item)
            i += 1
            continue
        if c0 == "§":
            append(item("PERIOD", f, period_index))
            period_index += 1
            i += 1
            continue
        if c0 == "#":
            append(item("MASK", f))
            i += 1
            continue
        if c0 == "@":
            append(item("TIME", f))
            i += 1
            continue
        if f == "am" and i + 1 < n and fs[i + 1][:1].isdigit() and (not marks or accs[i] == "âm"):
            append(item("BADNUM", "-" + fs[i + 1]))  # "kết nạp âm 2": a negative count
            i += 2
            continue
        if c0 == "-" and len(f) > 1:
            append(item("BADNUM", f))  # "-5": not a count; the bot asks
            i += 1
            continue
        if f[-1] == "%":
            percent = f[:-1].strip().replace(",", ".")
            try:
                pct = float(percent)
            except ValueError:
                pct = -1.0
            append(item("ALL" if pct == 100 else "PCT", f))
            i += 1
            continue
        digit = c0.isdigit()
        if digit and ("," in f or ("." in f and len(f) - f.index(".") <= 3)):
            append(item("BADNUM", f))  # "2,5 đảng viên": people are not counted in fractions
            i += 1
            continue
        if digit and "/" not in f:
            parsed = parse_number_words(fs, i)
            if parsed is not None:
                value, used = parsed
                # a count above MAX_COUNT is an id, an amount of money or noise, never people
                append(item("NUM" if value <= MAX_COUNT else "MASK", f, value))
                i += used
                continue
        # lexicon phrases (longest first), then number words
        if i + 1 < n and (lengths := LEXN_LENGTHS.get((f, fs[i + 1]))) is not None and kinds[i + 1] == "W":
            for length in lengths:
                if length > 2:
                    if i + length > n:
                        continue
                    entry = LEX_PHRASE.get(tuple(fs[i : i + length]))
                    # every word of the phrase must still be free (not part of a name or place)
                    if entry is None or not (plain or kinds[i + 2 : i + length].count("W") == length - 2):
                        continue
                else:
                    entry = LEX_PHRASE[(f, fs[i + 1])]
                spellings = ACCENTED_PHRASES.get(entry[1])
                if spellings is not None and (
                    " ".join(accs[i : i + length]) not in spellings if marks else entry[1] not in BARE_PHRASES
                ):
                    continue
                append(item(entry[0], entry[1]))
                i += length
                break
            else:
                lengths = None
            if lengths is not None:
                continue
        single = LEX1.get(f)
        if single is not None:
            for kind, text in single:
                key = (kind, f)
                allowed = ACCENTED_ONLY.get(key)
                if allowed is not None and (accs[i] not in allowed if marks else key in BARE_SKIP):
                    continue
                if kind == "NEG" and f in ("k", "hong", "kh") and i + 1 < n and fs[i + 1].isdigit():
                    continue
                append(item(kind, text))
                i += 1
                break
            else:
                single = None
            if single is not None:
                continue
        # number words
        if f in NUMBER_START:
            num = number_word(fs, accs[i], i, marks, items)
            if num is not None:
                value, used = num
                append(item("NUM" if value <= MAX_COUNT else "MASK", f, value))
                i += used
                continue
            if f == "nam" and (not marks or accs[i] == "nam"):
                append(item("NAMQ" if not marks else "MALE", f))
                i += 1
                continue
        if digit and "/" in f:
            num_s, _, den_s = f.partition("/")
            num_v, den_v = int(num_s[:9]), int(den_s[:9] or 0)
            if num_v <= den_v:  # "8/8 đồng chí hoàn thành": eight out of eight
                append(item("NUM", f, num_v))
            else:
                append(item("MASK", f))
        else:
            append(item(PLAIN_KIND.get(f, "W"), f))
        i += 1
    if (
        not masked
        or "tuoi" in masked
        or "hoc" in masked
        or "thu" in masked
        or "nghiep" in masked
        or "sinh vien" in masked
        or "cao dang" in masked
        or "giao" in masked
        or "truong" in masked
    ):
        _ages_and_schooling(items)
    if "vai" in masked or "dam" in masked or not masked:
        for k in range(1, len(items)):
            if items[k].kind == "NUM" and items[k - 1].f in _VAGUE and not items[k].f[:1].isdigit():
                items[k] = Item("W", items[k].f, items[k].value)  # "vài ba đồng chí": a few, no figure
    return items, mistyped


_VAGUE = frozenset({"vai", "dam", "mot vai"})


_AGE_SPAN = frozenset({"W", "NUM", "AND", "LA"})
# what "đang học ..." leaves unfinished ("12/12" is twelve grades of twelve: finished, however said)
_SCHOOL_UNFINISHED = frozenset({"lop 12", "thpt", "cap 3", "cap ba", "cap iii"})
# a school's level after a teacher or a school names the workplace
_SCHOOL_LEVELS = frozenset(
    {"cap 1", "cap 2", "cap hai", "cap 3", "cap ba", "cap iii", "thcs", "thpt", "tieu hoc", "trung hoc co so"}
    | {"trung hoc pho thong", "ptth"}
)
_WORKPLACE = frozenset({"giao", "truong", "vien"})
_HIGHER_EDU = frozenset({"dai hoc", "cao dang", "dh", "cd", "sinh vien", "hoc xong dai hoc"})


def _ages_and_schooling(items: list[Item]) -> None:
    """Ages are not counts ("24 tuổi", "tuổi đời 26", "độ tuổi từ 25 đến 30"); studying at a school
    is an education level, not the awareness class ("đang học đại học", "đang học lớp 12"). Items are
    shared between messages (see `item`): a changed one is replaced, never modified."""
    n = len(items)

    def relabel(k: int, kind: str) -> None:
        items[k] = Item(kind, items[k].f, items[k].value)

    for k in range(n):
        it = items[k]
        if it.kind in ("EDU", "LOWEDU") and it.f in _SCHOOL_LEVELS and k > 0 and items[k - 1].f in _WORKPLACE:
            relabel(k, "W")  # "cô giáo cấp 2", "giáo viên trường THCS": where they teach, not their schooling
        elif it.kind == "EDU" and it.f in _HIGHER_EDU and k + 2 < n and items[k + 1].f == "nam":
            if items[k + 2].kind == "NUM" or items[k + 2].f == "thu":
                relabel(k + 1, "W")  # "sinh viên năm 2", "đại học năm thứ 3": a year of study
                if items[k + 2].kind == "NUM":
                    relabel(k + 2, "MASK")
        elif (
            it.kind == "W"
            and it.f == "tot"
            and k + 2 < n
            and items[k + 1].f == "nghiep"
            and (items[k + 2].kind == "NUM" or items[k + 2].kind == "ALL")
        ):
            relabel(k, "DONE")  # "cử đi học 2, tốt nghiệp 2": completed the class (read so with one)
        elif (
            it.kind == "W"
            and it.f == "thu"
            and k + 1 < n
            and (items[k + 1].kind == "NUM" or items[k + 1].f == "nhat")
        ):
            # "đv thứ hai", "người thứ nhất": an ordinal, one person
            relabel(k, "ORD")
            if items[k + 1].kind == "NUM":
                relabel(k + 1, "MASK")
        elif it.kind == "TUOI":
            if k > 0 and items[k - 1].kind == "NUM":
                relabel(k - 1, "MASK")
            j = k + 1
            while j < n and j < k + 6 and items[j].kind in _AGE_SPAN:
                if items[j].kind == "NUM":
                    relabel(j, "MASK")
                j += 1
        elif it.kind == "STUDY" and "hoc" in it.f and k + 1 < n:
            nxt = items[k + 1]
            if nxt.kind == "EDU":
                relabel(k, "W")  # "đang học đại học": enrolled, so upper secondary is behind them
                if nxt.f in _SCHOOL_UNFINISHED and it.f != "da hoc":
                    relabel(k + 1, "W")  # "đang học lớp 12": not finished yet, the bot asks
            elif nxt.kind == "LOWEDU" or (
                nxt.kind in ("W", "NAMQ", "MALE") and nxt.f in ("nam", "khoa", "tai")
            ):
                relabel(k, "W")
                if nxt.f == "nam":  # "đang học năm 3 đại học": a year of study
                    relabel(k + 1, "W")
                    if k + 2 < n and items[k + 2].kind == "NUM":
                        relabel(k + 2, "MASK")
            elif nxt.kind == "NUM" and it.f.endswith("hoc lop") and 6 <= int(nxt.value or 0) <= 12:
                # "học lớp 12", "đang học lớp 9": a school grade, not candidates sent to the class (a
                # grade below 6 is no adult's schooling: "KN 1, học lớp 2" counts the class)
                relabel(k, "W")
                relabel(k + 1, "MASK")


# A word the lexicon does not know that looks like a Telex leftover ("napj", "ddangr", "vieen", "nữx",
# "viênn") is marked once, when first seen; the parser then repairs the text and reads it again.
MISTYPED = "mistyped"


def mistyped_shape(word: str) -> bool:
    return (
        (len(word) > 1 and word[-1] in "sfrxj")
        or "dd" in word
        or "aa" in word
        or "ee" in word
        or "oo" in word
        or "w" in word
        or (len(word) > 2 and word[-1] == word[-2] and word[-1] in "ntcmp")
    )


_SHARED: dict[tuple[str, str, int | str | None], Item] = {}
_PLAIN: dict[str, Item] = {}  # the same, for the words the lexicon does not know, by word
_SHARED_MAX = 50_000  # distinct words seen; a long-running bot stops adding beyond this


def item(kind: str, f: str, value: int | str | None = None) -> Item:
    """The one Item for (kind, word, value): words and phrases recur in every message, and building
    an object per token was a fifth of the item pass. Shared items are never modified."""
    key = (kind, f, value)
    found = _SHARED.get(key)
    if found is None:
        found = Item(kind, f, value)
        if len(_SHARED) < _SHARED_MAX:
            _SHARED[key] = found
    return found


# Words that start a lexicon entry or a number: everything else takes the plain path in make_items.
LEXICAL = frozenset(first for first, _ in LEXN) | frozenset(LEX1) | NUMBER_START
# Kinds of the tokens that are neither numbers nor lexicon entries.
PLAIN_KIND: dict[str, str] = {
    **dict.fromkeys(SENT_END, "STOP"),
    **dict.fromkeys(SEPS, "SEP"),
    ":": "COLON",
    "=": "COLON",
    **dict.fromkeys(("la", "thuoc", "chiem"), "LA"),
}

NOUN_HEADS = phrase_set(
    "ban, ca, d/c, d/chi, dang, dc, dchi, doan, doi, dong, dv, dvtn, em, ho, hoc, nguoi, nu, qc, "
    "qcut, quan, tn, truong"
)
