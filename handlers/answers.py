"""Short answers: yes, no and "I don't know", in every polite and short form people type.

Secretaries answer a question the way they would answer a person: "dạ đúng rồi ạ", "vâng", "ok",
"ừ", "uk", "dc", "chuẩn", "hông", "ko ai", "chưa có ai", with or without diacritics, Northern or
Southern. Politeness particles ("dạ", "ạ", "nhé", "ạ đồng chí") carry no meaning here; a negation
decides ("không đúng" is no, "dạ không" is no), except the double negation "không sai" (yes).
A question ("đúng không?") or any word that is not part of a yes or a no is not a yes/no answer.
"""

from __future__ import annotations

import re

from handlers.text import fold

__all__ = ["is_unknown", "yes_no"]

# Whole phrases first (folded), so that their words are not read one by one.
_YES_PHRASES = (
    "xac nhan",
    "chinh xac",
    "dong y",
    "nhat tri",
    "khong sai",
    "ko sai",
    "k sai",
    "khong co gi sai",
    "dung vay",
    "dung the",
    "chuan roi",
    "ok roi",
    "duoc roi",
    "ghi di",
    "ghi nhan",
    "ok e",
    "o ke",
    "chinh no",
)
_NO_PHRASES = (
    "chua dung",
    "khong dung",
    "ko dung",
    "k dung",
    "khong phai",
    "ko phai",
    "k phai",
    "chua chinh xac",
    "khong chinh xac",
    "lam gi co",
    "co dau",
    "dau co",
    "nham roi",
    "bi nham",
)
_YES_WORDS = frozenset(
    {
        "da",  # "dạ": the polite yes of the North and the South alike
        "vang",
        "u",
        "uh",
        "uhm",
        "um",
        "umm",
        "uk",
        "ukm",
        "ung",
        "o",
        "oh",
        "ua",
        "ok",
        "oke",
        "okie",
        "oki",
        "okay",
        "okey",
        "okela",
        "okla",
        "yes",
        "y",
        "co",
        "dung",
        "chuan",
        "phai",
        "duoc",
        "dc",
        "ghi",
        "yep",
        "yeah",
        "roger",
        "xn",
    }
)
_NO_WORDS = frozenset(
    {
        "khong",
        "ko",
        "k",
        "kg",
        "khg",
        "kh",
        "hk",
        "hong",
        "hok",
        "hem",
        "hum",
        "khum",
        "kp",
        "chua",
        "chang",
        "cha",
        "no",
        "n",
        "sai",
        "nham",
    }
)
# Words that change nothing: particles, forms of address, "rồi", "luôn", "hết"...
_FILLER = frozenset(
    {
        "a",
        "ah",
        "ak",
        "nhe",
        "nha",
        "nhen",
        "ne",
        "ha",
        "hen",
        "oi",
        "nhi",
        "day",
        "do",
        "luon",
        "thoi",
        "roi",
        "vay",
        "the",
        "ma",
        "het",
        "ca",
        "lam",
        "that",
        "qua",
        "ai",
        "dong",
        "chi",
        "anh",
        "em",
        "ban",
        "bac",
        "chu",
        "minh",
        "toi",
        "tui",
        "bot",
        "di",
        "nao",
        "gi",
        "nguoi",
        "cai",
        "nay",
        "voi",
        "la",
        "hoan",
        "toan",
    }
)
_EMOJI_YES = ("👍", "👌", "✅", "🆗", "✔", "☑")
_EMOJI_NO = ("👎", "❌", "✖", "🚫")
_UNKNOWN = frozenset(
    {
        "khong ro",
        "chua ro",
        "ko ro",
        "k ro",
        "kg ro",
        "khong biet",
        "chua biet",
        "ko biet",
        "k biet",
        "kb",
        "khong nho",
        "ko nho",
        "chua nam duoc",
        "chua nam",
        "chua co thong tin",
        "khong co thong tin",
        "chua co so lieu",
        "bo qua",
        "skip",
        "de sau",
        "khong ro lam",
        "chua ro lam",
        "chiu",
        "khong chac",
        "ko chac",
        "chua chac",
    }
)
_WORD = re.compile(r"[a-z0-9']+")
_CHUNKS = re.compile(r"[,.;!\n]+")
# "đúng không", "có không", "được chưa": a question even when the "?" is left out.
_TAGGED = frozenset({"dung", "co", "duoc", "dc", "phai", "ok", "chuan"})
_TAGS = frozenset({"khong", "ko", "k", "chua", "hong", "hok"})


def _words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the text is not (only) a yes or a no."""
    if "?" in text:
        return None  # "đúng không?" asks, it does not answer
    stripped = text.strip()
    if stripped and not _words(stripped):
        if any(e in stripped for e in _EMOJI_YES):
            return True
        if any(e in stripped for e in _EMOJI_NO):
            return False
        return None
    if is_unknown(text):
        return None
    saw_yes = saw_no = False
    # Commas separate answers: "không, sai rồi" is two noes, not the double negation "không sai".
    for chunk in _CHUNKS.split(fold(text)):
        words = _WORD.findall(chunk)
        if not words:
            continue
        joined = f" {' '.join(words)} "
        for phrase in _NO_PHRASES:
            if f" {phrase} " in joined:
                saw_no = True
                joined = joined.replace(f" {phrase} ", " ")
        for phrase in _YES_PHRASES:
            if f" {phrase} " in joined:
                saw_yes = True
                joined = joined.replace(f" {phrase} ", " ")
        meaning = [w for w in joined.split() if w not in _FILLER]
        if len(meaning) == 2 and meaning[0] in _TAGGED and meaning[1] in _TAGS:
            return None  # "đúng không", "được chưa" without the question mark: still a question
        for word in meaning:
            if word in _NO_WORDS:
                saw_no = True
            elif word in _YES_WORDS:
                saw_yes = True
            else:
                return None  # a word that belongs to something else: not a plain yes or no
    if saw_no:
        return False  # "dạ không", "không đúng", "hong có": the negation decides
    return True if saw_yes else None


def is_unknown(text: str) -> bool:
    """'không rõ', 'chưa biết', 'bỏ qua', '?': the sender does not know (the figure stays unknown)."""
    words = [w for w in _words(text) if w not in ("a", "ah", "nhe", "nha", "roi", "da", "lam")]
    if not words:
        return text.strip() in ("?", "??", "???")
    return " ".join(words) in _UNKNOWN
