"""Person names and place names in the token stream."""

from __future__ import annotations

from handlers.parser.lexicon import (
    ATTRS,
    FEMALE_GIVEN_NAMES,
    LEX_PHRASE,
    LEXN,
    LEXN_LENGTHS,
    MALE_GIVEN_NAMES,
    MIDDLE_NAMES,
    NAME_COLLIDERS,
    NUMBER_START,
    PERSON_TITLES,
    PHRASES,
    PLACE_WORDS,
    ROLE_WORDS,
    SINGLE_LEX,
    SURNAMES_ACCENTED,
    SURNAMES_FOLDED,
    WEAK_NUMBER_WORDS,
    phrase_set,
)

# --------------------------------------------------------------------------------------------------
# Names and places


def is_title(word: str) -> bool:
    if "'" in word or "’" in word:  # "H'Nhi", "Y’Moan": each part capitalised
        parts = [part for part in word.replace("’", "'").split("'") if part]
        return bool(parts) and all(is_title(part) for part in parts)
    return word[:1].isupper() and (len(word) == 1 or word[1:].islower()) and word.isalpha()


def name_tokens(
    fs: list[str], accs: list[str], origs: list[str], i: int, cased: bool, marks: bool, after_title: bool
) -> int:
    """How many tokens from i form a person name (0 if none)."""
    n = len(fs)
    f = fs[i]
    if not f.replace("'", "").replace("’", "").isalpha():
        return 0
    surname = (accs[i] in SURNAMES_ACCENTED) if marks else (f in SURNAMES_FOLDED)
    if cased:
        if not is_title(origs[i]):
            return 0
        if f in ROLE_WORDS and after_title:
            return 0
        if _attribute_phrase(fs, i) or _domain_phrase(fs, i):
            return 0  # "đồng chí Ê Đê": an ethnic group, not a name; "Năm sinh", "Cao Đài" neither
        j = i + 1
        while j < n and j - i < 4 and is_title(origs[j]) and fs[j].replace("'", "").isalpha():
            j += 1
        length = j - i
        if length >= 2 and (surname or after_title):
            return length
        if (
            length == 1
            and after_title
            and f not in ROLE_WORDS
            and (f not in NOT_NAMES or accs[i] in GIVEN_NAMES)
        ):
            return 1
        return 0
    # no case information: lean on the surname list and the usual middle names; a domain phrase
    # ("dao cong giao", "dang vien") is never a name
    if (
        i + 1 < n
        and (lengths := LEXN_LENGTHS.get((f, fs[i + 1]))) is not None
        and any(i + length <= n and tuple(fs[i : i + length]) in LEX_PHRASE for length in lengths)
    ):
        return 0
    if not surname:
        if (
            after_title
            and f not in PHRASES
            and f not in WEAK_NUMBER_WORDS
            and f not in NUMBER_START
            and len(f) > 1
            and (i + 1 >= n or not fs[i + 1].isalpha() or fs[i + 1] in PHRASES)
        ):
            return 1 if f not in ROLE_WORDS and f not in PLACE_WORDS_FLAT and f not in NOT_NAMES else 0
        return 0
    if i + 1 < n and fs[i + 1] in MIDDLE_NAMES:
        j = i + 2
        while j < n and j - i < 4 and name_syllable(fs[j]) and not _domain_phrase(fs, j):
            j += 1
        return j - i if j - i >= 2 else 0
    if after_title:
        j = i + 1
        while j < n and j - i < 4 and name_syllable(fs[j]) and not _domain_phrase(fs, j):
            j += 1
        return j - i if j - i >= 2 else 0
    return 0


def _domain_phrase(fs: list[str], i: int) -> bool:
    """A lexicon phrase of two or more words starts at i ("... Thị Hoa đoàn viên": the name ends)."""
    lengths = LEXN_LENGTHS.get((fs[i], fs[i + 1])) if i + 1 < len(fs) else None
    return lengths is not None and any(tuple(fs[i : i + length]) in LEX_PHRASE for length in lengths)


def _attribute_phrase(fs: list[str], i: int) -> bool:
    """A phrase that says an attribute of a person starts at i ("Ê Đê", "Gia Rai", "Ba Na")."""
    lengths = LEXN_LENGTHS.get((fs[i], fs[i + 1])) if i + 1 < len(fs) else None
    if lengths is None:
        return False
    for length in lengths:
        entry = LEX_PHRASE.get(tuple(fs[i : i + length]))
        if entry is not None and entry[0] in ATTRS:
            return True
    return False


NOT_NAMES = phrase_set(
    "ai, ay, dang, do, doan, dv, gi, kia, nao, nay, nu, qcut, oi, nhe, nha, nhen, ha, nhi, luon, roi, "
    "thoi, nghe, nhe, ne, hen, day, do, vay, ak, ah"
)
# given names that fold like a particle ("hả", "nhỉ"): with their accents after a title, names
GIVEN_NAMES = frozenset({"hà", "nhi"})
PLACE_WORDS_FLAT = frozenset(w for p in PLACE_WORDS for w in p.split())
STOP_IN_NAME = phrase_set(
    "con, cung, da, dang, di, duoc, dv, em, hoc, ket, la, nap, ngay, nu, o, sinh, tai, thang, theo, "
    "thuoc, va, voi"
)


def name_syllable(f: str) -> bool:
    return f.isalpha() and f not in STOP_IN_NAME and (f not in SINGLE_LEX or f in NAME_COLLIDERS)


def by_first(phrases: frozenset[str]) -> dict[str, tuple[tuple[str, ...], ...]]:
    table: dict[str, list[tuple[str, ...]]] = {}
    for p in phrases:
        words = tuple(p.split())
        table.setdefault(words[0], []).append(words)
    return {k: tuple(sorted(v, key=len, reverse=True)) for k, v in table.items()}


PLACE_FIRST = by_first(PLACE_WORDS)
TITLE_FIRST = by_first(PERSON_TITLES)
NAME_PASS_WORDS = frozenset(PLACE_FIRST) | frozenset(TITLE_FIRST)
_NAME_JOINERS = frozenset({"va", ",", "&"})
# With diacritics, a one-word title must be spelled as one: "bạn", not "bàn"; "chị", not "chỉ".
_TITLE_SPELLING = {
    "ban": "bạn",
    "chi": "chị",
    "co": "cô",
    "ong": "ông",
    "ba": "bà",
    "chau": "cháu",
    "anh": "anh",
}


def match_phrase(fs: list[str], i: int, table: dict[str, tuple[tuple[str, ...], ...]]) -> int:
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


def names_and_places(
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
    pass_words = NAME_PASS_WORDS
    if cased:
        cand = [
            i for i, (f, o) in enumerate(zip(fs, origs, strict=True)) if f in pass_words or o[:1].isupper()
        ]
    elif marks:
        sur = SURNAMES_ACCENTED
        cand = [i for i, (f, a) in enumerate(zip(fs, accs, strict=True)) if f in pass_words or a in sur]
    else:
        sur = SURNAMES_FOLDED
        cand = [i for i, f in enumerate(fs) if f in pass_words or f in sur]
    names: list[str] = []
    if not cand:
        return names
    n = len(fs)
    listing = _listings(fs) if cased and ":" in fs else []
    free = 0  # first token not consumed yet
    for i in cand:
        if i < free:
            continue
        if kinds[i] != "W":
            continue
        f = fs[i]
        free = i + 1
        if i > 0 and (fs[i - 1], f) in LEXN and f not in NAME_PASS_WORDS:
            continue  # the second word of a domain phrase ("trong đó", "đảng viên") starts no name
        place_len = match_phrase(fs, i, PLACE_FIRST) if f in PLACE_FIRST else 0
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
                if f == "lop" and len(fs[j]) <= 2 and int(fs[j]) <= 12:
                    continue  # "lớp 9", "hết lớp 12": a school grade
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
                    and (is_title(origs[k]) or (k > j and k + 1 < n and is_title(origs[k + 1])))
                ):
                    kinds[k] = "SKIP"
                    k += 1
                if k > j:
                    free = k
                    continue
        title_len = match_phrase(fs, i, TITLE_FIRST) if f in TITLE_FIRST else 0
        if title_len and f == "co" and not cased:
            title_len = 0  # "co" is far more often "có" than "cô"
        if title_len == 1 and marks and accs[i] != _TITLE_SPELLING.get(f, accs[i]):
            title_len = 0  # "bàn việc" is not "bạn Việc"
        if title_len:
            j = i + title_len
            if j < n and fs[j] == ":":
                j += 1
            k = name_tokens(fs, accs, origs, j, cased, marks, True) if j < n else 0
            if k:
                free = _names_from(fs, accs, origs, kinds, vals, names, j, k, cased, marks)
            else:
                free = i + title_len
            continue
        # a name without a title starts with a capital or a known surname; after "kết nạp:" a
        # capitalised name needs no known surname ("kết nạp: Ksor H'Nhi, Rơ Mah Thuận")
        listed = cased and any(a < i < b for a, b in listing)
        if (
            is_title(origs[i]) if cased else (accs[i] in SURNAMES_ACCENTED if marks else f in SURNAMES_FOLDED)
        ) and (k := name_tokens(fs, accs, origs, i, cased, marks, listed)) > int(listed):
            free = _names_from(fs, accs, origs, kinds, vals, names, i, k, cased, marks)
    return names


_LISTING_VERBS = frozenset({"nap", "kn", "k/n", "kndv"})
_LINE_ENDS = frozenset({"\n", ".", ";"})


def _listings(fs: list[str]) -> list[tuple[int, int]]:
    """Token spans that list the people admitted: from "kết nạp:" ("kết nạp các đ/c:") to the line's end."""
    spans = []
    n = len(fs)
    for p, f in enumerate(fs):
        if f == ":" and any(fs[q] in _LISTING_VERBS for q in range(max(0, p - 5), p)):
            end = next((q for q in range(p + 1, n) if fs[q] in _LINE_ENDS), n)
            spans.append((p, end))
    return spans


def _names_from(
    fs: list[str],
    accs: list[str],
    origs: list[str],
    kinds: list[str],
    vals: dict[int, str],
    names: list[str],
    i: int,
    k: int,
    cased: bool,
    marks: bool,
) -> int:
    """Mark the name at i (k tokens) and those joined to it ("đ/c Lan và Hùng"); the first free token."""
    n = len(fs)
    while True:
        mark_name(origs, kinds, vals, i, k, names, cased)
        end = i + k
        if end + 1 >= n or fs[end] not in _NAME_JOINERS:
            return end
        k = name_tokens(fs, accs, origs, end + 1, cased, marks, True)
        if not k:
            return end
        i = end + 1


def mark_name(
    origs: list[str], kinds: list[str], vals: dict[int, str], i: int, k: int, names: list[str], cased: bool
) -> None:
    words = origs[i : i + k]
    name = " ".join(words if cased else [w[:1].upper() + w[1:].lower() for w in words])
    kinds[i] = "NAME"
    vals[i] = name
    for x in range(i + 1, i + k):
        kinds[x] = "SKIP"
    names.append(name)


def female_from_names(names: list[str]) -> int | None:
    """Vietnamese middle names: "Thị" is a woman, "Văn" a man; else a given name that is a man's or a
    woman's in nearly every case ("Lê Minh Tuấn", "Trần Ngọc Hằng"); any other name leaves it open."""
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
        elif parts[-1] in FEMALE_GIVEN_NAMES:
            female += 1
        elif parts[-1] in MALE_GIVEN_NAMES:
            continue
        else:
            return None
    return female
