"""Number words in context: when "nam", "sau", "ba"... count, and when they are other words."""

from __future__ import annotations

from handlers.numbers import parse_number_words
from handlers.parser.context import Item
from handlers.parser.lexicon import (
    ACCENT_NOT_NUMBER,
    ATTRS,
    NOUNS,
    NUM_CONTEXT_BEFORE,
    WEAK_NUMBER_WORDS,
    phrase_set,
)

NOUN_HEADS = phrase_set(
    "ban, ca, d/c, d/chi, dang, dc, dchi, doan, doi, dong, dv, dvtn, em, ho, hoc, nguoi, nu, qc, "
    "qcut, quan, tn, truong"
)


def number_word(
    folded: list[str], acc: str, i: int, marks: bool, items: list[Item]
) -> tuple[int, int] | None:
    f = folded[i]
    if marks and acc in ACCENT_NOT_NUMBER and acc:
        return None
    parsed = parse_number_words(folded, i)
    if parsed is None:
        return None
    value, used = parsed
    if used == 1 and f in WEAK_NUMBER_WORDS and not (marks and acc != f):
        # an unaccented weak word stands for a number only with a counting context around it
        nxt = folded[i + 1] if i + 1 < len(folded) else ""
        prev_kind = items[-1].kind if items else ""
        if f == "nam":
            # "dv nam doan vien": after a noun or a number it is "male"; before a noun it counts
            if prev_kind in NOUNS or prev_kind == "NUM" or prev_kind in ATTRS:
                return None
            if nxt in NOUN_HEADS and nxt != "nu":
                return value, used
            return None
        if nxt in NOUN_HEADS or prev_kind in NUM_CONTEXT_BEFORE:
            if f == "bay" and nxt == "gio":
                return None
            return value, used
        return None
    if used == 1 and f == "mot" and marks and acc not in ("một", "mốt"):
        return None
    if used == 1 and f == "hai" and marks and acc != "hai":
        return None
    return value, used
