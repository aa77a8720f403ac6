"""What a message says: the facts a parse returns, in the shape callers and the JSON output use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from handlers.periods import Period
from storage.breakdowns import BREAKDOWN_FIELDS

__all__ = ["BREAKDOWN_FIELDS", "MAX_COUNT", "AdmissionFacts", "ClassAttendanceFacts", "Fact", "ParseResult"]

MAX_COUNT = 100_000


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
    # the breakdowns the caller's tree adds (key, value), of `admission`; only those the words give
    extra: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "admission": self.admission.to_json() if self.admission else None,
            "class_attendance": self.class_attendance.to_json() if self.class_attendance else None,
            "period": self.period.to_json() if self.period else None,
        }
        if self.extra:
            data["extra"] = dict(self.extra)
        return data


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
    # the breakdowns the caller's tree adds (key, value) of `admission`, when the caller gave its
    # tree's definitions (parse_message's `breakdowns`); with several facts, their totals
    extra: tuple[tuple[str, int], ...] = ()
    # nothing reported, but an admission or a class is spoken of as planned or on a day still to
    # come ("năm sau phấn đấu kết nạp 3", "kết nạp 2 đv ngày 5/11" on 01/11): the bot says so
    plan: bool = False

    def all_facts(self) -> tuple[Fact, ...]:
        """Every fact of the message, in the order written; () when it reports nothing."""
        if self.facts:
            return self.facts
        if self.admission is None and self.class_attendance is None:
            return ()
        return (Fact(self.period, self.admission, self.class_attendance, self.extra),)

    def to_json(self) -> dict[str, object]:
        admission = self.admission.to_json() if self.admission else None
        attendance = self.class_attendance.to_json() if self.class_attendance else None
        period = self.period.to_json() if self.period else None
        if self.facts:
            facts = [fact.to_json() for fact in self.facts]
        elif admission is None and attendance is None:
            facts = []
        else:  # the one fact is the single fields
            facts = [Fact(self.period, self.admission, self.class_attendance, self.extra).to_json()]
        data: dict[str, object] = {
            "intent": self.intent,
            "admission": admission,
            "class_attendance": attendance,
            "period": period,
            "questions": list(self.questions),
            "facts": facts,
        }
        if self.extra:  # only with a tree's breakdowns: the shape is the same without them
            data["extra"] = dict(self.extra)
        return data

    def to_json_line(self) -> str:
        """`json.dumps(self.to_json(), ensure_ascii=False)`, built from cached pieces: `tiendo parse
        --jsonl` writes one per message, and the same counts, periods and questions recur."""
        admission = _json(self.admission)
        attendance = _json(self.class_attendance)
        period = _json(self.period)
        if self.facts:
            facts = "[" + ", ".join(_json(fact) for fact in self.facts) + "]"
        elif self.admission is None and self.class_attendance is None:
            facts = "[]"
        elif self.extra:
            facts = "[" + _json(Fact(self.period, self.admission, self.class_attendance, self.extra)) + "]"
        else:
            facts = f'[{{"admission": {admission}, "class_attendance": {attendance}, "period": {period}}}]'
        extra = f', "extra": {json.dumps(dict(self.extra), ensure_ascii=False)}' if self.extra else ""
        return (
            f'{{"intent": "{self.intent}", "admission": {admission}, "class_attendance": {attendance}, '
            f'"period": {period}, "questions": {_strings(self.questions)}, "facts": {facts}{extra}}}'
        )


@lru_cache(maxsize=4096)
def _json(value: AdmissionFacts | ClassAttendanceFacts | Period | Fact | None) -> str:
    return "null" if value is None else json.dumps(value.to_json(), ensure_ascii=False)


@lru_cache(maxsize=4096)
def _strings(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), ensure_ascii=False)
