"""Vietnamese number words and digit strings to int.

Works on *folded* tokens (see `handlers.text.fold`), so "năm" and "nam", "tư" and "từ" look the same
here: deciding whether a word is a number at all is the parser's job (it has context and accents);
this module only answers "if these tokens are a number, which one".
"""

from __future__ import annotations

import re

from handlers.text import fold

__all__ = ["DIGITS", "MAX_VALUE", "parse_digits", "parse_number_words", "words_to_int"]

MAX_VALUE = 10**9  # anything longer is not a count; keeps int() away from 4000-digit strings

# Units as they appear on their own or before "mươi"/"trăm"/"nghìn".
_UNITS: dict[str, int] = {
    "khong": 0,
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "nam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
}
# Forms that only occur after a tens word: hai mươi mốt (21), hai mươi tư (24), mười lăm / nhăm (15).
_AFTER_TENS: dict[str, int] = {**_UNITS, "mot": 1, "tu": 4, "lam": 5, "nham": 5, "khong": 0}
_TEN_WORDS = frozenset({"muoi", "chuc"})
_HUNDRED = "tram"
_THOUSAND = frozenset({"nghin", "ngan"})
_ZERO_LINK = frozenset({"linh", "le"})

DIGITS = re.compile(r"\d{1,3}(?:\.\d{3})+|\d+")


def parse_digits(token: str) -> int | None:
    """'01' -> 1, '1.025' -> 1025 (dot groups thousands), '12' -> 12; anything else -> None."""
    if token.isdecimal():  # the usual plain count; DIGITS's \d is exactly the decimal digits
        if len(token) > 13:
            return None
        value = int(token)
        return value if value <= MAX_VALUE else None
    if not token or len(token) > 13 or DIGITS.fullmatch(token) is None:
        return None
    value = int(token.replace(".", ""))
    return value if value <= MAX_VALUE else None


def _below_thousand(tokens: list[str], i: int) -> tuple[int, int] | None:
    """Parse 0..999 in words starting at tokens[i]; returns (value, consumed)."""
    n = len(tokens)
    j = i
    value = 0
    tok = tokens[j] if j < n else ""
    hundreds: int | None = None
    # "[unit] trăm"
    if tok in _UNITS and j + 1 < n and tokens[j + 1] == _HUNDRED and tok != "khong":
        hundreds = _UNITS[tok]
        j += 2
    elif tok == _HUNDRED:  # bare "trăm" = một trăm (colloquial "trăm hai" = 120)
        hundreds = 1
        j += 1
    if hundreds is not None:
        value = hundreds * 100
        if j < n and tokens[j] in _ZERO_LINK and j + 1 < n and tokens[j + 1] in _AFTER_TENS:
            # một trăm linh năm = 105
            return value + _AFTER_TENS[tokens[j + 1]], j + 2 - i
        rest = _tens(tokens, j)
        if rest is not None:
            tens_value, used = rest
            if used == 1 and tens_value < 10 and tokens[j] in _UNITS:
                # "một trăm hai" is 120 in speech: a lone unit after trăm counts tens
                return value + tens_value * 10, j + 1 - i
            return value + tens_value, j + used - i
        return value, j - i
    rest = _tens(tokens, i)
    return rest


def _tens(tokens: list[str], i: int) -> tuple[int, int] | None:
    """Parse 0..99 in words at tokens[i]."""
    n = len(tokens)
    if i >= n:
        return None
    tok = tokens[i]
    if tok == "muoi":  # mười, mười một, mười lăm
        if i + 1 < n and tokens[i + 1] in _AFTER_TENS and tokens[i + 1] not in ("mot", "khong", "tu"):
            return 10 + _AFTER_TENS[tokens[i + 1]], 2
        if i + 1 < n and tokens[i + 1] == "mot":  # mười một
            return 11, 2
        return 10, 1
    if tok in _UNITS:
        unit = _UNITS[tok]
        if i + 1 < n and tokens[i + 1] in _TEN_WORDS and unit >= 1:
            value = unit * 10
            if i + 2 < n and tokens[i + 2] in _AFTER_TENS and tokens[i + 2] != "khong":
                return value + _AFTER_TENS[tokens[i + 2]], 3
            return value, 2
        return unit, 1
    return None


def parse_number_words(tokens: list[str], i: int) -> tuple[int, int] | None:
    """Read a number at tokens[i] (folded tokens): digits or words up to the thousands.

    Returns (value, tokens consumed) or None. "hai muoi mot" -> (21, 3); "1.025" -> (1025, 1).
    """
    if i < 0 or i >= len(tokens):
        return None
    tok = tokens[i]
    if tok[:1].isdigit():
        value = parse_digits(tok)
        if value is None:
            return None
        # "2 nghìn" / "2 trăm": digits followed by a multiplier word
        if i + 1 < len(tokens) and tokens[i + 1] in _THOUSAND:
            return value * 1000, 2
        return value, 1
    head = _below_thousand(tokens, i)
    if head is None:
        return None
    value, used = head
    j = i + used
    if j < len(tokens) and tokens[j] in _THOUSAND and value > 0:
        value *= 1000
        j += 1
        # "hai nghìn không trăm linh năm" / "một nghìn hai trăm"
        if j + 1 < len(tokens) and tokens[j] == "khong" and tokens[j + 1] == _HUNDRED:
            j += 2
            if j + 1 < len(tokens) and tokens[j] in _ZERO_LINK and tokens[j + 1] in _AFTER_TENS:
                return value + _AFTER_TENS[tokens[j + 1]], j + 2 - i
            rest = _tens(tokens, j)
            if rest is not None:
                return value + rest[0], j + rest[1] - i
            return value, j - i
        if j + 1 < len(tokens) and tokens[j] in _ZERO_LINK and tokens[j + 1] in _AFTER_TENS:
            return value + _AFTER_TENS[tokens[j + 1]], j + 2 - i  # "ba nghìn lẻ năm" = 3005
        rest = _below_thousand(tokens, j)
        if rest is not None and (rest[1] > 1 or tokens[j] == _HUNDRED or tokens[j] in _UNITS):
            low, low_used = rest
            if low_used == 1 and tokens[j] in _UNITS and low < 10:
                # "hai nghìn rưỡi" is not handled; "hai nghìn hai" = 2200 in speech
                return value + low * 100, j + 1 - i
            return value + low, j + low_used - i
        return value, j - i
    return value, used


_SPLIT = re.compile(r"[^\w.]+|(?<!\d)\.|\.(?!\d)")


def words_to_int(text: str) -> int | None:
    """The whole text is one number: 'hai mươi mốt' -> 21, '01' -> 1, '1.025' -> 1025; else None."""
    tokens = [t for t in _SPLIT.split(fold(text)) if t]
    if not tokens:
        return None
    parsed = parse_number_words(tokens, 0)
    if parsed is None or parsed[1] != len(tokens):
        return None
    return parsed[0]
