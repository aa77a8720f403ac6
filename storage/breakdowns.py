"""The five breakdowns of an admission, defined once; and the shape of the ones a tree adds.

The admission entry's columns, the rollups' `<field>` and `<field>_known` totals, the parser's
facts, the exports' share columns and the tests all follow this tuple (tests/test_structure.py
checks that they do). No project imports here: the parser reads it at start-up.

A province (any unit) may add breakdowns its statistics ask for ("dưới 30 tuổi", "sinh viên"): they
are data, not code (`storage.extra_breakdowns` keeps them, `Breakdown` below is what the parser,
the dialogue and the exports are given).
"""

import re
from dataclasses import dataclass

BREAKDOWN_FIELDS: tuple[str, ...] = (
    "female",
    "youth_union",
    "religious",
    "ethnic_minority",
    "upper_secondary_or_above",
)

# A key names a tree's breakdown in storage, in the dialogue's state and in `tiendo parse` output.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
# Names a key may not take: the five, the figures of a report, and the draft's own words.
RESERVED_KEYS = frozenset(
    {*BREAKDOWN_FIELDS, "count", "sent", "completed", "names", "ceremony_date", "extra", "unknown"}
)


@dataclass(frozen=True)
class Breakdown:
    """A breakdown a tree adds to the five: a count among the new members of an admission."""

    key: str  # "under_30"
    label: str  # as it reads inside a sentence: "dưới 30 tuổi", "sinh viên"
    words: tuple[str, ...]  # what people type for it; matched without diacritics
    question: str  # the end of "Trong 3 đảng viên mới, bao nhiêu đồng chí …?": "dưới 30 tuổi"
    position: int = 0  # its place among the added ones (after the five), in questions and exports
    share: bool = True  # shown as a share of the new members (like the five), else as a count

    @property
    def title(self) -> str:
        """The label as a column title or a table row: "Dưới 30 tuổi"."""
        return self.label[:1].upper() + self.label[1:]
