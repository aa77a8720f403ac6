"""The five breakdowns of an admission, defined once.

The admission entry's columns, the rollups' `<field>` and `<field>_known` totals, the parser's
facts, the exports' share columns and the tests all follow this tuple (tests/test_structure.py
checks that they do). No imports here: the parser reads it at start-up.
"""

BREAKDOWN_FIELDS: tuple[str, ...] = (
    "female",
    "youth_union",
    "religious",
    "ethnic_minority",
    "upper_secondary_or_above",
)
