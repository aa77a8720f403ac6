"""Questions the parser asks about what a message left open."""

from __future__ import annotations

from functools import lru_cache

from handlers.parser.result import BREAKDOWN_FIELDS, AdmissionFacts

# --------------------------------------------------------------------------------------------------
# Entry point

Q_FEMALE = ("Trong {n} đảng viên mới, có bao nhiêu đồng chí nữ?", "Đảng viên mới có phải là nữ không?")
QUESTIONS = {
    "female": Q_FEMALE,
    "youth_union": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí là đoàn viên?",
        "Đảng viên mới có phải là đoàn viên không?",
    ),
    "religious": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí theo tôn giáo?",
        "Đảng viên mới có theo tôn giáo không?",
    ),
    "ethnic_minority": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí là người dân tộc thiểu số?",
        "Đảng viên mới có phải là người dân tộc thiểu số không?",
    ),
    "upper_secondary_or_above": (
        "Trong {n} đảng viên mới, có bao nhiêu đồng chí có trình độ THPT trở lên?",
        "Đảng viên mới có trình độ THPT trở lên không?",
    ),
}
COMPLEMENT_LABEL = {
    "female": "nam",
    "youth_union": "không phải đoàn viên",
    "religious": "không theo tôn giáo",
    "ethnic_minority": "người Kinh",
    "upper_secondary_or_above": "dưới THPT",
}
FIELD_LABEL = {
    "female": "nữ",
    "youth_union": "đoàn viên",
    "religious": "theo tôn giáo",
    "ethnic_minority": "dân tộc thiểu số",
    "upper_secondary_or_above": "THPT trở lên",
}


def missing_questions(admission: AdmissionFacts, ambiguous: tuple[str, ...]) -> list[str]:
    """One question per breakdown not given, in field order; none for a field already being clarified."""
    count = admission.count
    return [
        breakdown_question(field, count)
        for field, key, value in zip(BREAKDOWN_FIELDS, EXCEEDS, breakdown_values(admission), strict=True)
        if value is None and not (ambiguous and key in ambiguous)
    ]


EXCEEDS = tuple(f"{field}_exceeds" for field in BREAKDOWN_FIELDS)


def breakdown_values(a: AdmissionFacts) -> tuple[int | None, ...]:
    return (a.female, a.youth_union, a.religious, a.ethnic_minority, a.upper_secondary_or_above)


@lru_cache(maxsize=512)
def breakdown_question(field: str, count: int) -> str:
    many, one = QUESTIONS[field]
    return one if count == 1 else many.format(n=count)
