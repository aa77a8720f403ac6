"""Tests for handlers.parser: the corpus, focused features and a never-raise property."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.parser import AdmissionFacts, ClassAttendanceFacts, ParseResult, parse_message
from handlers.periods import Period

CORPORA = sorted((Path(__file__).parent / "corpus").glob("*.jsonl"))
TODAY = date(2023, 11, 20)
COMPARED = ("intent", "admission", "class_attendance", "period")


def _load_corpus(path: Path) -> list[dict]:
    # split on "\n" only: a message may hold a Unicode line separator, which splitlines() would cut
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def parse(text: str, today: date = TODAY) -> ParseResult:
    return parse_message(text, today)


def adm(text: str, today: date = TODAY) -> AdmissionFacts | None:
    return parse(text, today).admission


# ---------------------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: p.name)
def test_corpus_accuracy(path: Path) -> None:
    """Each corpus file read at least 97 % fully right (every compared field, and each fact listed)."""
    cases = _load_corpus(path)
    assert len(cases) >= 350
    failures: list[str] = []
    for case in cases:
        got = parse_message(case["text"], date.fromisoformat(case["today"])).to_json()
        want = case["expect"]
        keys = COMPARED + (("facts",) if "facts" in want else ())
        diff = {k: (got[k], want[k]) for k in keys if got[k] != want[k]}
        if diff:
            failures.append(
                f"{case['text']!r}: " + "; ".join(f"{k}: got {g} want {w}" for k, (g, w) in diff.items())
            )
    accuracy = 1 - len(failures) / len(cases)
    print(f"\n{path.name} accuracy: {accuracy:.2%} ({len(cases) - len(failures)}/{len(cases)})")
    for line in failures:
        print("  FAIL", line)
    assert accuracy >= 0.97


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: p.name)
def test_corpus_is_well_formed(path: Path) -> None:
    texts = set()
    for case in _load_corpus(path):
        assert set(case) == {"text", "today", "expect"}
        assert case["text"] not in texts, case["text"]
        texts.add(case["text"])
        date.fromisoformat(case["today"])
        assert case["expect"]["intent"] in ("report", "progress", "help", "unknown")
        assert set(COMPARED) <= set(case["expect"]) <= {*COMPARED, "facts"}
        if "facts" in case["expect"]:
            assert len(case["expect"]["facts"]) >= 2


# ---------------------------------------------------------------------------------------------- contract


def test_brief_examples() -> None:
    assert adm("Chi bộ kết nạp 2 đảng viên, trong đó 1 nữ, 2 đoàn viên") == AdmissionFacts(
        2, female=1, youth_union=2
    )
    r = parse("ket nap 1 dv nu, theo dao cong giao, thang 10/2023")
    assert r.admission == AdmissionFacts(1, female=1, religious=1)
    assert r.period == Period(date(2023, 10, 1), date(2023, 10, 31))
    assert parse("cử 5 QCUT đi học lớp nhận thức về Đảng").class_attendance == ClassAttendanceFacts(sent=5)
    r = parse("tháng này chưa kết nạp được đảng viên nào")
    assert r.admission == AdmissionFacts(0)
    assert r.period == Period(date(2023, 11, 1), date(2023, 11, 30))
    assert parse("tiến độ").intent == "progress"


def test_to_json_shape() -> None:
    j = parse("kết nạp 2 đảng viên, 1 nữ tháng 10/2023").to_json()
    assert set(j) == {"intent", "admission", "class_attendance", "period", "questions", "facts"}
    assert j["admission"] == {
        "count": 2,
        "female": 1,
        "youth_union": None,
        "religious": None,
        "ethnic_minority": None,
        "upper_secondary_or_above": None,
    }
    assert j["class_attendance"] is None
    assert j["period"] == {"start": "2023-10-01", "end": "2023-10-31"}
    # one fact: the list repeats the single fields
    assert j["facts"] == [{k: j[k] for k in ("admission", "class_attendance", "period")}]
    assert parse("xin chào").to_json()["facts"] == []
    json.dumps(j)


def test_questions_follow_missing_fields_in_order() -> None:
    r = parse("kết nạp 2 đảng viên, 1 nữ")
    assert r.questions == (
        "Trong 2 đảng viên mới, có bao nhiêu đồng chí là đoàn viên?",
        "Trong 2 đảng viên mới, có bao nhiêu đồng chí theo tôn giáo?",
        "Trong 2 đảng viên mới, có bao nhiêu đồng chí là người dân tộc thiểu số?",
        "Trong 2 đảng viên mới, có bao nhiêu đồng chí có trình độ THPT trở lên?",
    )
    assert parse("ket nap 2 dang vien").questions[0] == "Trong 2 đảng viên mới, có bao nhiêu đồng chí nữ?"
    assert len(parse("ket nap 2 dang vien").questions) == 5


def test_no_questions_for_zero_or_complete_reports() -> None:
    assert parse("tháng này chưa kết nạp được đảng viên nào").questions == ()
    full = "kết nạp 1 đảng viên nữ, đoàn viên, dân tộc Tày, theo đạo Công giáo, trình độ cao đẳng"
    assert parse(full).questions == ()


# ---------------------------------------------------------------------------------------------- unicode


def test_nfd_and_nfc_parse_alike() -> None:
    text = "Kết nạp 3 đảng viên, 2 nữ, 1 dân tộc Mường, tháng 10/2023"
    assert parse(unicodedata.normalize("NFD", text)).to_json() == parse(text).to_json()


def test_zero_width_full_width_and_old_tones() -> None:
    assert adm("kết\u200b nạp \uff12 đảng\u200d viên, \uff11 nữ") == AdmissionFacts(2, female=1)
    assert adm("Đảng uỷ xã kết nạp 1 đảng viên nữ") == AdmissionFacts(1, female=1)


def test_case_and_diacritics_do_not_matter() -> None:
    want = AdmissionFacts(2, female=1, youth_union=1)
    for text in (
        "kết nạp 2 đảng viên, 1 nữ, 1 đoàn viên",
        "KET NAP 2 DANG VIEN, 1 NU, 1 DOAN VIEN",
        "ket nap 2 dv, 1 nu, 1 doan vien",
        "KN 2 ĐV, 1 NỮ, 1 ĐVTN",
    ):
        assert adm(text) == want, text


# ---------------------------------------------------------------------------------------------- facts


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("kết nạp mười hai đảng viên", 12),
        ("kết nạp hai mươi mốt đảng viên", 21),
        ("kết nạp một trăm linh năm đảng viên", 105),
        ("kn 01 dv", 1),
        ("Đảng bộ kết nạp 1.025 đảng viên", 1025),
        ("ket nap nam dang vien", 5),
        ("kết nạp năm đảng viên", 5),
        ("kết nạp mười lăm đảng viên", 15),
    ],
)
def test_number_words_as_counts(text: str, want: int) -> None:
    a = adm(text)
    assert a is not None and a.count == want


def test_male_counts_imply_female() -> None:
    assert adm("kết nạp 4 đảng viên, 3 nam") == AdmissionFacts(4, female=1)
    assert adm("ket nap 3 dv, 1 nam 2 nu") == AdmissionFacts(3, female=2)
    assert adm("Kết nạp 2 đv nam") == AdmissionFacts(2, female=0)


def test_quantifiers_all_and_none() -> None:
    assert adm("đã kết nạp 02 đ/c, cả 2 đều là đoàn viên") == AdmissionFacts(2, youth_union=2)
    assert adm("Kết nạp 3 đv, 100% là đoàn viên") == AdmissionFacts(3, youth_union=3)
    assert adm("kết nạp 5 đảng viên, không có ai theo đạo") == AdmissionFacts(5, religious=0)
    assert adm("kết nạp 2 đảng viên, 0 nữ") == AdmissionFacts(2, female=0)


def test_religion_ethnicity_education() -> None:
    assert adm("kết nạp 3 đv, 2 giáo dân").religious == 2  # type: ignore[union-attr]
    assert adm("kết nạp 1 đảng viên dân tộc Mường").ethnic_minority == 1  # type: ignore[union-attr]
    assert adm("kết nạp 4 đảng viên, trình độ: 3 THPT, 1 đại học").upper_secondary_or_above == 4  # type: ignore[union-attr]
    assert adm("kết nạp 1 đv, trình độ 9/12").upper_secondary_or_above == 0  # type: ignore[union-attr]


def test_class_attendance() -> None:
    assert parse("cử 6 quần chúng đi học, 5 hoàn thành").class_attendance == ClassAttendanceFacts(6, 5)
    assert parse("cấp GCN cho 5 QCUT").class_attendance == ClassAttendanceFacts(completed=5)
    assert parse("giới thiệu 4 quần chúng tham gia lớp bồi dưỡng").class_attendance == ClassAttendanceFacts(
        sent=4
    )


def test_both_kinds_in_one_message() -> None:
    r = parse("kết nạp 2 đảng viên, 1 nữ; cử 3 QCUT đi học lớp nhận thức")
    assert r.admission == AdmissionFacts(2, female=1)
    assert r.class_attendance == ClassAttendanceFacts(sent=3)


def test_names() -> None:
    r = parse("kết nạp đồng chí Trần Văn Nam")
    assert r.admission is not None and r.admission.count == 1
    assert r.names == ("Trần Văn Nam",)
    r = parse("kết nạp 2 đồng chí: Nguyễn Thị Lan và Lê Văn Hùng")
    assert r.admission is not None and r.admission.count == 2 and r.admission.female == 1
    assert r.names == ("Nguyễn Thị Lan", "Lê Văn Hùng")


# ---------------------------------------------------------------------------------------------- not reports


@pytest.mark.parametrize(
    "text",
    [
        "kế hoạch năm 2024 kết nạp 3 đảng viên",
        "chỉ tiêu năm nay là 5 đảng viên",
        "phấn đấu kết nạp 4 đảng viên",
        "dự kiến tháng 12 kết nạp 2 đồng chí",
        "tháng sau sẽ kết nạp 1 đảng viên",
        "chi bộ có 25 đảng viên",
        "chào bot",
        "đồng chí Lan sinh năm 1998",
        "0912 345 678",
    ],
)
def test_not_reports(text: str) -> None:
    r = parse(text)
    assert r.intent != "report"
    assert r.admission is None and r.class_attendance is None


@pytest.mark.parametrize("text", ["tiến độ", "tien do", "xem tiến độ", "/tiendo", "/tiendo@TienDoBot"])
def test_progress(text: str) -> None:
    assert parse(text).intent == "progress"


@pytest.mark.parametrize("text", ["help", "hướng dẫn", "giúp", "/help", "/start"])
def test_help(text: str) -> None:
    assert parse(text).intent == "help"


def test_birth_year_and_phone_are_not_counts() -> None:
    r = parse("kết nạp đ/c Vũ Văn Hải sinh 1995, SĐT 0912345678")
    assert r.admission is not None and r.admission.count == 1
    assert r.period is None


# ---------------------------------------------------------------------------------------------- ambiguity


def test_nam_ambiguity_is_asked() -> None:
    r = parse("ket nap 3 dv, nu nam")
    assert "nam_meaning" in r.ambiguous
    assert r.admission is not None and r.admission.female is None
    assert r.questions[0].startswith("“nam”")


def test_dv_ambiguity_is_asked() -> None:
    r = parse("chi đoàn kết nạp 5 đv")
    assert "dv_meaning" in r.ambiguous and r.admission is None
    r = parse("thêm 2 dv")
    assert "dv_meaning" in r.ambiguous and r.admission is None


def test_breakdown_never_exceeds_count() -> None:
    r = parse("ket nap 2 dv, 3 nu")
    assert r.admission == AdmissionFacts(2)
    assert "female_exceeds" in r.ambiguous
    assert r.questions[0].startswith("Số đồng chí nữ (3)")


def test_dv_in_breakdown_is_youth_union() -> None:
    assert adm("ket nap 2 dv, 1 dv") == AdmissionFacts(2, youth_union=1)
    assert adm("ket nap 3 dv, 1 dv nu") == AdmissionFacts(3, female=1)


def test_missing_count_is_asked() -> None:
    r = parse("kết nạp đảng viên")
    assert r.intent == "report" and r.admission is None
    assert "admission_count" in r.ambiguous


# ---------------------------------------------------------------------------------------------- robustness

_COUNT_FIELDS = ("count", "female", "youth_union", "religious", "ethnic_minority", "upper_secondary_or_above")
_WORDS = st.sampled_from(
    [
        "kết nạp",
        "ket nap",
        "KN",
        "đảng viên",
        "dv",
        "nữ",
        "nam",
        "năm",
        "đoàn viên",
        "cử",
        "đi học",
        "lớp",
        "hoàn thành",
        "GCN",
        "tháng",
        "quý",
        "/",
        "10",
        "2023",
        "99999999999",
        "1.025",
        "0",
        "hai mươi",
        "một trăm",
        "nghìn",
        "'; DROP TABLE x; --",
        "🙂",
        "\u200b",
        "、",
        "ngày",
        "31/02/2023",
        "không",
        "cả",
        "100%",
        ",",
        ".",
    ]
)


def _check(r: ParseResult) -> None:
    assert r.intent in ("report", "progress", "help", "unknown")
    if r.admission is not None:
        for f in _COUNT_FIELDS:
            v = getattr(r.admission, f)
            assert v is None or 0 <= v <= 100_000
    if r.class_attendance is not None:
        for v in (r.class_attendance.sent, r.class_attendance.completed):
            assert v is None or 0 <= v <= 100_000
    json.dumps(r.to_json())


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_random_text(text: str) -> None:
    _check(parse_message(text, TODAY))


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=25), st.integers(min_value=0, max_value=10**30))
def test_never_raises_on_domain_soup(words: list[str], big: int) -> None:
    _check(parse_message(" ".join(words) + f" {big}", TODAY))
    _check(parse_message(f"kết nạp {big} đảng viên, {big} nữ", TODAY))


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)), st.text(max_size=40))
def test_never_raises_for_any_today(today: date, text: str) -> None:
    _check(parse_message("tháng 1 quý 4 năm nay hôm qua " + text, today))


def test_current_year_in_words_does_not_crash() -> None:
    today = date(2023, 11, 1)
    for text in ("Kết nạp 2 đảng viên năm hiện tại", "6 tháng đầu năm hiện tại kết nạp 3 đảng viên"):
        result = parse_message(text, today)
        assert result.intent == "report" and result.admission is not None
        assert result.period is None or result.period.start.year == 2023
