"""Breakdowns a tree adds to the five ("dưới 30 tuổi", "sinh viên", "công nhân"): their words, and how
many of an admission's new members each one counts.

The definitions are the caller's (the conversation reads its tree's from `storage.extra_breakdowns`
and passes them to `parse_message`): the parser reads no database. Their phrases are folded and cut
as the message is, and found in the item stream of the admission that the five are read from, without
changing that stream: what the five read is the same with or without them. The counts follow the
five's rules: a number next to the phrase ("2 sinh viên", "dưới 30 tuổi: 2", "50% là sinh viên"), a
negation ("không ai dưới 30 tuổi" is 0, "1 không phải sinh viên" the others), everyone for a bare
phrase ("kết nạp 2 sinh viên", "đều dưới 30 tuổi"), each named person for words after a name, nothing
after "có" ("trong đó có sinh viên": asked). A total above the count is dropped: the bot asks.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from handlers.parser.admissions import AdmissionHead, clauses
from handlers.parser.context import Ctx, Item
from handlers.parser.lexicon import ACCENTED_PHRASES, ATTRS, BARE_PHRASES, FIELD_OF, LEXICON
from handlers.parser.tokens import TOKEN
from handlers.text import fold
from storage.breakdowns import Breakdown

Pairs = tuple[tuple[str, int], ...]  # (key, value) of the breakdowns read, in the tree's order


@dataclass(frozen=True)
class Vocabulary:
    """The phrases of a tree's breakdowns, folded and cut into words as a message's tokens are."""

    by_first: dict[str, tuple[tuple[tuple[str, ...], str], ...]]  # first word -> (words, key), longest first
    keys: tuple[str, ...]


def vocabulary(breakdowns: Sequence[Breakdown] | None) -> Vocabulary | None:
    """The compiled phrases of `breakdowns` (built once per list); None when there are none."""
    if not breakdowns:
        return None
    return _compiled(tuple(breakdowns))


@lru_cache(maxsize=256)
def _compiled(breakdowns: tuple[Breakdown, ...]) -> Vocabulary:
    table: dict[str, dict[tuple[str, ...], str]] = {}
    for breakdown in breakdowns:
        for phrase in (*breakdown.words, breakdown.label):
            words = tuple(TOKEN.findall(fold(phrase)))
            if words:
                table.setdefault(words[0], {}).setdefault(words, breakdown.key)
    by_first = {
        first: tuple(sorted(entries.items(), key=lambda entry: -len(entry[0])))
        for first, entries in table.items()
    }
    return Vocabulary(by_first, tuple(b.key for b in breakdowns))


# Education words name real breakdowns of their own ("sinh viên", "cao đẳng trở lên", "đại học"): a tree
# may add them. Every other word the parser already reads says one of the five or the report's frame.
_OPEN_KINDS = frozenset({"EDU"})
_FIVE_LABELS = {
    "female": "nữ",
    "youth_union": "đoàn viên",
    "religious": "tôn giáo",
    "ethnic_minority": "dân tộc thiểu số",
    "upper_secondary_or_above": "THPT trở lên",
}


@lru_cache(maxsize=1)
def _lexicon_kinds() -> dict[tuple[str, ...], str]:
    """Every phrase of the parser's lexicon, cut into words as a tree's phrases are, and its kind."""
    return {tuple(TOKEN.findall(p)): kind for kind, phrases in LEXICON.items() for p in phrases}


def _read_as_written(phrase: str, cut: tuple[str, ...]) -> bool:
    """Whether the lexicon reads `phrase` as typed: some phrases only with their own accents."""
    key = " ".join(cut)
    accented = ACCENTED_PHRASES.get(key)
    if accented is None or key in BARE_PHRASES:
        return True
    return " ".join(unicodedata.normalize("NFC", phrase).lower().split()) in accented


def word_problems(label: str, words: Sequence[str]) -> list[str]:
    """Why a tree's phrases cannot name a breakdown, in Vietnamese: a phrase the parser already reads as
    one of the five ("nữ") would count the same people twice; one it reads as a report's own words
    ("đồng chí", "kết nạp") would be said of every new member of every report."""
    found: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for phrase in (*words, label):
        cut = tuple(TOKEN.findall(fold(phrase)))
        kind = _lexicon_kinds().get(cut)
        if kind is not None and not _read_as_written(phrase, cut):
            kind = None  # the lexicon reads it only with other accents ("công nhận", not "công nhân")
        if kind is None or kind in _OPEN_KINDS or cut in seen:
            continue
        seen.add(cut)
        if kind in FIELD_OF:
            found.append(f"cách viết '{phrase}' đã thuộc nhóm có sẵn '{_FIVE_LABELS[FIELD_OF[kind]]}'")
        else:
            found.append(f"cách viết '{phrase}' là từ chung của mọi báo cáo, không chỉ một nhóm")
    return found


def _match(items: Sequence[Item], i: int, phrase: tuple[str, ...]) -> int | None:
    """The item after `phrase` when it starts at item i and ends at an item's end; else None."""
    at, j = 0, i
    while at < len(phrase):
        if j >= len(items):
            return None
        words = items[j].f.split()
        if not words or tuple(phrase[at : at + len(words)]) != tuple(words):
            return None
        at += len(words)
        j += 1
    return j


def marked(items: Sequence[Item], vocab: Vocabulary) -> list[Item]:
    """A copy of `items` where each breakdown phrase is one item ("XB", the phrase, its key)."""
    out: list[Item] = []
    i, n = 0, len(items)
    while i < n:
        words = items[i].f.split()
        for phrase, key in vocab.by_first.get(words[0], ()) if words else ():
            end = _match(items, i, phrase)
            if end is not None:
                out.append(Item("XB", " ".join(phrase), key))
                i = end
                break
        else:
            out.append(items[i])
            i += 1
    return out


def read_extra(ctx: Ctx, adm: AdmissionHead, count: int) -> Pairs:
    """The tree's breakdowns of `count` new members, from the admission's words."""
    vocab = ctx.extra
    if vocab is None:
        return ()
    items = ctx.items
    found: dict[str, list[int]] = {}
    # Between the count and the end of its noun phrase ("kết nạp 2 sinh viên"): said of everyone.
    for it in marked(items[_head_start(items, adm, count) : adm.head_end], vocab):
        if it.kind == "XB":
            found.setdefault(str(it.value), []).append(count)
    region = _co_apart(marked(items[adm.head_end : adm.region_end], vocab))
    if any(it.kind == "XB" for it in region):
        names = [x for x, it in enumerate(region) if it.kind == "NAME"]
        if len(names) >= 2 or (len(names) == 1 and count == 1 and adm.head_noun == "NAME"):
            # "đ/c Hương (sinh viên) và đ/c Long (công nhân)": each person's own words
            for a, b in zip(names, [*names[1:], len(region)], strict=True):
                chunk = region[a + 1 : b]
                each = count if any(it.kind == "ALL" for it in chunk) else 1
                _read_clauses(clauses(chunk), each, found)
            region = region[: names[0]]
        _read_clauses(clauses(region), count, found)
    out: list[tuple[str, int]] = []
    for key in vocab.keys:
        values = found.get(key)
        if not values:
            continue
        total = sum(values)
        # separate people add up; a sum beyond the count means the same people were described twice
        value = total if total <= count else max(values)
        if value <= count:
            out.append((key, value))
    return tuple(out)


def _co_apart(items: list[Item]) -> list[Item]:
    """ "trong đó có" is one item that cuts clauses: its "có" goes with the clause after it, where it
    says that some are, not how many ("trong đó có sinh viên")."""
    out: list[Item] = []
    for it in items:
        if it.kind == "TRONGDO" and it.f.endswith(" co"):
            out += [Item("TRONGDO", it.f[:-3]), Item("CO", "co")]
        else:
            out.append(it)
    return out


def _head_start(items: list[Item], adm: AdmissionHead, count: int) -> int:
    """The item after the admission's count, when it stands in the few items before the head's end."""
    for j in range(adm.head_end - 1, max(-1, adm.head_end - 10), -1):
        kind = items[j].kind
        if kind == "NUM" and items[j].value == count:
            return j + 1
        if kind in ("STOP", "SEP"):
            break
    return adm.head_end


_PEOPLE = ATTRS | {"XB", "NAMQ"}
_NEG = frozenset({"NEG", "NONE"})
_NEG_GAP = frozenset({"LA", "CO", "CLS", "W"})


def _negated(clause: list[Item], x: int) -> bool:
    """A negation just before the phrase: "không ai dưới 30 tuổi", "không phải là sinh viên"."""
    for y in range(x - 1, max(-1, x - 4), -1):
        kind = clause[y].kind
        if kind in _NEG:
            return True
        if kind not in _NEG_GAP:
            return False
    return False


def _read_clauses(parts: list[list[Item]], count: int, found: dict[str, list[int]]) -> None:
    """Each clause's numbers paired with its breakdown phrases, as the five are read."""
    inherited: int | None = None
    for clause in parts:
        kinds = {it.kind for it in clause}
        if kinds & {"CONLAI", "PLAN"}:
            inherited = None  # "còn lại là …" restates; a plan is no fact: asked instead
            continue
        nums: list[tuple[int, int]] = []
        whole = True
        for x, it in enumerate(clause):
            if it.kind == "NUM" or _age_masked_count(clause, x):
                nums.append((x, int(it.value or 0)))
            elif it.kind == "PCT":
                share = _percent(it.f) * count / 100
                if share == int(share) and share >= 0:
                    nums.append((x, int(share)))  # "50% là sinh viên" of 4: 2
                else:
                    whole = False  # "50%" of 3: no whole number of people, the bot asks
        if not whole:
            inherited = None
            continue
        people = [x for x, it in enumerate(clause) if it.kind in _PEOPLE]
        phrases = [x for x in people if clause[x].kind == "XB"]
        before = inherited
        inherited = nums[0][1] if len(nums) == 1 and people else None
        if not phrases:
            continue
        number_first = bool(nums) and (not people or nums[0][0] < people[0])
        for x in phrases:
            negated = _negated(clause, x)
            value: int | None
            if nums:
                if len(nums) == 1:
                    value = nums[0][1]
                elif number_first:
                    value = next((v for p, v in reversed(nums) if p < x), None)
                else:
                    value = next((v for p, v in nums if p > x), None)
                if value is not None and negated:
                    value = count - value if value <= count else None  # "1 không phải sinh viên"
            elif negated:
                value = 0
            elif "ALL" in kinds or count == 1:
                value = count
            elif "CO" in kinds:
                value = None  # "trong đó có sinh viên": how many is not said
            elif before is not None:
                value = before  # "trong đó 1 nữ, dưới 30 tuổi": the same person
            else:
                value = count  # a bare attribute is said of everyone, as for the five
            if value is not None:
                found.setdefault(str(clause[x].value), []).append(value)


def _age_masked_count(clause: list[Item], x: int) -> bool:
    """A number the five's reading took for an age because the word after it is "tuổi", when that word
    begins the tree's phrase ("2 tuổi 18–30", "1 tuổi đời dưới 30"): it counts people."""
    it = clause[x]
    if it.kind != "MASK" or not isinstance(it.value, int) or x + 1 >= len(clause):
        return False
    after = clause[x + 1]
    return after.kind == "XB" and _lexicon_kinds().get(tuple(after.f.split()[:1])) == "TUOI"


def _percent(text: str) -> float:
    try:
        return float(text.rstrip("%").strip().replace(",", "."))
    except ValueError:
        return -1.0


def total_extra(parts: Sequence[tuple[int, Pairs]]) -> Pairs:
    """The breakdowns of several admissions (count, pairs) together: known only when every part with
    members gave it, as the five are added up."""
    with_members = [pairs for count, pairs in parts if count > 0]
    if not with_members:
        return ()
    keys = [key for key, _ in with_members[0]]
    out = []
    for key in keys:
        values = [dict(pairs).get(key) for pairs in with_members]
        if all(v is not None for v in values):
            out.append((key, sum(v for v in values if v is not None)))
    return tuple(out)
