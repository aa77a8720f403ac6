"""Tests for handlers.parser: the corpus, focused features and a never-raise property."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.i18n import t
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
    assert len(cases) >= 150  # a held-out batch (holdout-*.jsonl) is smaller than the main files
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


def test_json_line_is_the_json_of_the_result() -> None:
    """`tiendo parse --jsonl` writes `to_json_line()`: the very text json.dumps gives for `to_json()`."""
    for path in CORPORA:
        for case in _load_corpus(path):
            result = parse_message(case["text"], date.fromisoformat(case["today"]))
            assert result.to_json_line() == json.dumps(result.to_json(), ensure_ascii=False)


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
        "§",
        "@bot",
        "7h30",
        "[Hình ảnh]",
        "\t",
        "|",
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


# ---------------------------------------------------------------------------------------------- issue 12
# Each failure the issue quotes, and messages of the same kind written differently (diacritics or not,
# abbreviations, number words, other regions' words). Read on 15/11/2023, a Wednesday.

ISSUE_DAY = date(2023, 11, 15)


def _read(text: str) -> dict[str, object]:
    got = parse_message(text, ISSUE_DAY).to_json()
    admission = got["admission"]
    if isinstance(admission, dict):
        got["admission"] = {k: v for k, v in admission.items() if v is not None}
    return got


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        ("kết nạp 3 đảng viên, 2 nữ, không tôn giáo", {"count": 3, "female": 2, "religious": 0}),
        ("4 dv, 2 nu, khong ton giao", {"count": 4, "female": 2, "religious": 0}),
        (
            "ket nap 1 dv, khong phai doan vien khong ton giao khong dan toc tot nghiep cap 3",
            {
                "count": 1,
                "youth_union": 0,
                "religious": 0,
                "ethnic_minority": 0,
                "upper_secondary_or_above": 1,
            },
        ),
        ("KN 2 dv nu, ko ai theo dao", {"count": 2, "female": 2, "religious": 0}),
        ("kết nạp 3 đv: 2 nữ, chưa ai là đoàn viên", {"count": 3, "female": 2, "youth_union": 0}),
        ("kết nạp 2 đv nữ, ko phải ĐVTN", {"count": 2, "female": 2, "youth_union": 0}),
        ("kn 3 dv trong do 1 nu 2 nam khong ai theo ton giao", {"count": 3, "female": 1, "religious": 0}),
        (
            "kết nạp 2 đảng viên, 1 nữ, không ai theo tôn giáo hay là dân tộc thiểu số",
            {"count": 2, "female": 1, "religious": 0, "ethnic_minority": 0},
        ),
        ("Chi bộ tui kết nạp 2 đv, không có ai theo đạo mô", {"count": 2, "religious": 0}),
        # a number with its own negation describes that many; the others are the complement
        ("kết nạp 3 đv, 1 đồng chí không phải đoàn viên", {"count": 3, "youth_union": 2}),
    ],
)
def test_negation_is_not_inverted(text: str, admission: dict[str, int]) -> None:
    assert _read(text)["admission"] == admission


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("ket nap 1 dong chi nu ngay 25/10, khong phai doan vien", "2023-10-25", "2023-10-25"),
        ("kết nạp 1 đv ngày 25/10/2023, 1 nữ", "2023-10-25", "2023-10-25"),
        ("25-10-2023, kết nạp 1 đv nữ", "2023-10-25", "2023-10-25"),
        ("hom 25 thang 10 ket nap 1 dang vien", "2023-10-25", "2023-10-25"),
        ("mùng 3 tháng 11 kết nạp 1 đồng chí", "2023-11-03", "2023-11-03"),
        ("ket nap 1 dv vao ngay 5-11", "2023-11-05", "2023-11-05"),
        ("tuan truoc ket nap 1 dv", "2023-11-06", "2023-11-12"),
        ("tuần rồi chi bộ kết nạp 2 đồng chí", "2023-11-06", "2023-11-12"),
        ("tuần này kết nạp 1 đv", "2023-11-13", "2023-11-19"),
        ("hôm qua cử 2 quần chúng đi học lớp nhận thức", "2023-11-14", "2023-11-14"),
        ("hqua kn 1 dv nu", "2023-11-14", "2023-11-14"),
        ("hom kia ket nap 1 dv", "2023-11-13", "2023-11-13"),
        ("hôm thứ hai vừa rồi kết nạp 1 đảng viên", "2023-11-13", "2023-11-13"),
        ("tháng ni chi bộ kết nạp 1 đồng chí nữ", "2023-11-01", "2023-11-30"),
        ("từ đầu năm đến nay chi bộ kết nạp 4 đảng viên", "2023-01-01", "2023-11-15"),
        ("6 tháng cuối năm kết nạp 2 đv", "2023-07-01", "2023-12-31"),
        ("năm ngoái chi bộ kết nạp 3 đv", "2022-01-01", "2022-12-31"),
    ],
)
def test_dates_are_read(text: str, start: str, end: str) -> None:
    assert _read(text)["period"] == {"start": start, "end": end}


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        ("ket nap 3 dv trong do hai nu mot nam", {"count": 3, "female": 2}),
        ("kết nạp 3 đồng chí, 2 chị 1 anh", {"count": 3, "female": 2}),
        ("kết nạp 2 chị em phụ nữ", {"count": 2, "female": 2}),
        ("ket nap 1 dv 24 tuoi, doan vien", {"count": 1, "youth_union": 1}),
        ("kết nạp 2 đảng viên trẻ (23 và 25 tuổi), cả hai là đoàn viên", {"count": 2, "youth_union": 2}),
        ("ket nap 2 dv, ca 2 dv deu la nu", {"count": 2, "female": 2}),
        ("KN 2 dv, 2 dv đều tốt nghiệp THPT", {"count": 2, "upper_secondary_or_above": 2}),
        (
            "chi bộ kết nạp 3 dv. 3 dv này đều là nữ, 2 dv là đoàn viên",
            {"count": 3, "female": 3, "youth_union": 2},
        ),
        (
            "kết nạp đồng chí Trần Thị Mai Phương, nữ, đoàn viên, 0 tôn giáo, 0 dân tộc",
            {"count": 1, "female": 1, "youth_union": 1, "religious": 0, "ethnic_minority": 0},
        ),
        ("kn 2 dv, dv thu nhat nu, dv thu hai nam", {"count": 2, "female": 1}),
        ("kết nạp 1 đv, đ/c tốt nghiệp THPT năm 2015", {"count": 1, "upper_secondary_or_above": 1}),
        (
            "kết nạp 2 dv, 1 đ/c đang học cao đẳng, 1 đ/c mới học hết lớp 9",
            {"count": 2, "upper_secondary_or_above": 1},
        ),
    ],
)
def test_counts_are_read(text: str, admission: dict[str, int]) -> None:
    assert _read(text)["admission"] == admission


@pytest.mark.parametrize(
    "text", ["kết nạp -5", "ket nap 2,5 dang vien", "kết nạp 1,5 đảng viên", "kết nạp âm 2 đảng viên"]
)
def test_counts_that_are_not_whole_numbers_are_asked(text: str) -> None:
    result = parse_message(text, ISSUE_DAY)
    assert (result.intent, result.admission) == ("report", None)
    assert result.ambiguous == ("admission_count",)
    assert "số nguyên" in result.questions[0]


@pytest.mark.parametrize(
    ("text", "admission", "period"),
    [
        (
            "Thực hiện Nghị quyết số 05-NQ/ĐU của Đảng ủy xã, tháng 10/2023 chi bộ đã kết nạp 2 đảng viên, "
            "trong đó 1 nữ.",
            {"count": 2, "female": 1},
            "2023-10",
        ),
        ("Chi bộ kết nạp 1 đảng viên nữ. Trân trọng báo cáo!", {"count": 1, "female": 1}, None),
        ("Kết nạp 2 đảng viên tháng 10, đạt 50% kế hoạch năm", {"count": 2}, "2023-10"),
        ("Sau khi xem xét hồ sơ, chi bộ đã kết nạp 1 quần chúng ưu tú vào Đảng", {"count": 1}, None),
        ("kn 1 dv nu nhe anh, co gi anh nhan lai em", {"count": 1, "female": 1}, None),
        ("tối 14/11 chi bộ họp xét và kết nạp 1 đảng viên", {"count": 1}, None),
    ],
)
def test_reports_are_kept_whatever_is_said_around_them(
    text: str, admission: dict[str, int], period: str | None
) -> None:
    got = _read(text)
    assert got["intent"] == "report" and got["admission"] == admission
    if period is not None:
        assert got["period"] is not None and str(got["period"]["start"]).startswith(period)  # type: ignore[index]


@pytest.mark.parametrize(
    "text",
    [
        # pledges and plans
        "sang năm chi bộ quyết tâm kết nạp 2 đv",
        "Chi bộ đăng ký kết nạp 2 đảng viên trong năm 2024",
        "Thông báo: 9 giờ ngày 25/11 chi bộ tổ chức lễ kết nạp 3 đảng viên",
        # schooling, the candidate pool, a class of the past, photo captions
        "Cháu nhà em học lớp 12 rồi",
        "chi bo hien co 7 qcut trong nguon, trong do 3 dc da hoc lop nhan thuc",
        "chi bộ có 2 quần chúng đã học lớp nhận thức năm ngoái, đang hoàn thiện hồ sơ",
        "Quần chúng Nguyễn Văn Tùng đã qua lớp cảm tình Đảng từ năm 2020",
        "[Hình ảnh] Lễ kết nạp đảng viên mới cho 01 đồng chí.",
        "[Ảnh] Chi bộ thôn Đông kết nạp 2 đảng viên",
        # other organisations' admissions
        "Chi đoàn kết nạp 5 đoàn viên mới",
        "ket nap 15 doan vien moi vao doan",
        "Hội Phụ nữ kết nạp 10 hội viên mới",
        "hoi nong dan ket nap 7 hoi vien",
        "Công đoàn trường kết nạp 4 công đoàn viên",
        # hearsay, questions, invitations
        "Nghe nói chi bộ thôn 3 kết nạp 2 đảng viên",
        "nghe đâu xã bên kết nạp 10 đảng viên",
        "tháng sau kết nạp 2 được không",
        "Quần chúng học lớp nhận thức xong bao lâu thì được kết nạp?",
        "Mời các đồng chí dự lễ kết nạp đảng viên lúc 7h30 ngày 20/5",
        "moi cac dc 8h sang mai du le ket nap dang vien moi",
    ],
)
def test_what_looks_like_a_report_and_is_not(text: str) -> None:
    got = _read(text)
    assert (got["intent"], got["admission"], got["class_attendance"]) == ("unknown", None, None), got


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("Hà Nam, ngày 2 tháng 11 năm 2023. BÁO CÁO kết quả tháng 10/2023: kết nạp 2 đảng viên", "2023-10"),
        ("[Chuyển tiếp] 08:15 02/11/2023\nChi bộ kết nạp 1 đảng viên tháng 10", "2023-10"),
        ("Chi bộ báo cáo tháng 10/2023 (gửi ngày 5/11): kết nạp 1 đảng viên", "2023-10"),
        ("Tin nhắn gửi lúc 20:15 ngày 1/11: chi bộ kết nạp 2 dv trong thang 10", "2023-10"),
        ("Tháng 10 chi bộ kết nạp 1 đv, là giáo viên chủ nhiệm lớp 12/3", "2023-10"),
    ],
)
def test_dates_that_are_not_the_period(text: str, month: str) -> None:
    period = _read(text)["period"]
    assert isinstance(period, dict) and period["start"] == f"{month}-01"


def test_the_reports_own_period_wins() -> None:
    got = parse_message("Báo cáo tháng 2: kết nạp 1 đv. Ngày gửi 03/03/2024", date(2024, 3, 5))
    assert got.period == Period(date(2024, 2, 1), date(2024, 2, 29))
    got = parse_message("kết nạp 1 đảng viên, trình độ 12/12, nữ", ISSUE_DAY)
    assert got.period is None and got.admission == AdmissionFacts(1, female=1, upper_secondary_or_above=1)
    # a new member's own past (a class, a school year) does not date the admission
    got = parse_message("kết nạp 1 đồng chí nữ, đ/c đã học lớp nhận thức tháng 3/2023", ISSUE_DAY)
    assert got.period is None
    got = parse_message("kết nạp 1 đv, đ/c là sinh viên năm học 2022-2023 đã tốt nghiệp", ISSUE_DAY)
    assert got.period is None


def test_several_facts_per_message() -> None:
    got = parse_message("tháng 9 kết nạp 1, tháng 10 kết nạp 2", ISSUE_DAY)
    assert [(f.admission.count if f.admission else None, f.period) for f in got.all_facts()] == [
        (1, Period(date(2023, 9, 1), date(2023, 9, 30))),
        (2, Period(date(2023, 10, 1), date(2023, 10, 31))),
    ]
    # the single fields are the totals over the span
    assert got.admission == AdmissionFacts(3) and got.period == Period(date(2023, 9, 1), date(2023, 10, 31))
    got = parse_message("Tháng 10: KN 1 đv nữ. Tháng 11: KN 1 đv nam, cử 2 QC đi học", ISSUE_DAY)
    assert [(f.admission, f.class_attendance) for f in got.all_facts()] == [
        (AdmissionFacts(1, female=1), None),
        (AdmissionFacts(1, female=0), ClassAttendanceFacts(sent=2)),
    ]
    assert got.admission == AdmissionFacts(2, female=1)
    # "each month" makes one fact per month; "tháng 9 và tháng 10" alone is one fact over both
    each = parse_message("tháng 9 và tháng 10 mỗi tháng kết nạp 1 đv", ISSUE_DAY)
    assert [f.admission for f in each.all_facts()] == [AdmissionFacts(1), AdmissionFacts(1)]
    both = parse_message("tháng 9 và tháng 10 kết nạp 3 đv", ISSUE_DAY)
    assert both.facts == () and both.period == Period(date(2023, 9, 1), date(2023, 10, 31))
    # a total followed by its parts is the parts
    parts = parse_message("Kết nạp đảng viên: 3 (T9: 1, T10: 2)", ISSUE_DAY)
    assert [f.admission.count for f in parts.all_facts() if f.admission] == [1, 2]


@pytest.mark.parametrize(
    ("text", "admission", "attendance"),
    [
        ("KN: 2\nHọc lớp NT: 3\nHoàn thành: 3", {"count": 2}, {"sent": 3, "completed": 3}),
        ("KN 2 / Hoc lop NT 3 / Hoan thanh 3", {"count": 2}, {"sent": 3, "completed": 3}),
        (
            "- KNĐV: 01 (nữ, đoàn viên)\n- Bồi dưỡng nhận thức: 02 QCUT",
            {"count": 1, "female": 1, "youth_union": 1},
            {"sent": 2, "completed": None},
        ),
        (
            "Nội dung\tSố lượng\nKết nạp đảng viên\t3\nTrong đó: nữ\t2\nCử đi học lớp nhận thức\t4\n"
            "Hoàn thành\t4",
            {"count": 3, "female": 2},
            {"sent": 4, "completed": 4},
        ),
        (
            "Chi bộ\tKết nạp\tNữ\tĐoàn viên\nThôn Đông\t2\t1\t2",
            {"count": 2, "female": 1, "youth_union": 2},
            None,
        ),
    ],
)
def test_forms_and_tables(
    text: str, admission: dict[str, int], attendance: dict[str, int | None] | None
) -> None:
    got = _read(text)
    assert (got["admission"], got["class_attendance"]) == (admission, attendance)


def test_a_table_with_a_row_per_month_is_a_fact_per_month() -> None:
    got = parse_message("Tháng\tKết nạp\tCử đi học\tHoàn thành\n9\t1\t2\t2\n10\t2\t3\t3", ISSUE_DAY)
    assert [(f.admission, f.class_attendance, f.period) for f in got.all_facts()] == [
        (AdmissionFacts(1), ClassAttendanceFacts(2, 2), Period(date(2023, 9, 1), date(2023, 9, 30))),
        (AdmissionFacts(2), ClassAttendanceFacts(3, 3), Period(date(2023, 10, 1), date(2023, 10, 31))),
    ]


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        ("keets napj 2 ddangr vieen nuwx", {"count": 2, "female": 2}),  # Telex with the input method off
        ("ke61t na5p 1 d9a3ng vie6n nu74", {"count": 1, "female": 1}),  # VNI
        ("kết nạpj 1 đảng viên, 1 nữx", {"count": 1, "female": 1}),  # a tone key too many
        ("kết nạ\u0440 2 đảng viên", {"count": 2}),  # a Cyrillic р
        ("kết nạp O2 đảng viên", {"count": 2}),  # the letter O for a zero
        ("kết nạp\u2060 1 đảng viên\u200e nữ", {"count": 1, "female": 1}),  # invisible characters
        ("Kết nạp đảng viên:\n1. Nguyễn Thị Lan\n2. Trần Văn Minh\n3. Lê Thị Hoa", {"count": 3, "female": 2}),
        (
            "Chi bộ kết nạp đ/c Phạm Thị Hương (nữ, đoàn viên) và đ/c Vũ Văn Long (đoàn viên)",
            {"count": 2, "female": 1, "youth_union": 2},
        ),
        (
            "chi bộ thôn tôi tháng mười vừa rồi kết nạp được hai đảng viên một nữ một nam "
            "cả hai đều là đoàn viên",
            {"count": 2, "female": 1, "youth_union": 2},
        ),
    ],
)
def test_typing_styles(text: str, admission: dict[str, int]) -> None:
    assert _read(text)["admission"] == admission


def test_every_parser_question_has_its_wording_in_the_catalog() -> None:
    from handlers.parser.questions import field_label, question
    from storage.breakdowns import BREAKDOWN_FIELDS

    values = {
        "n": 2,
        "value": "-5",
        "label": "nữ",
        "count": 2,
        "completed": 3,
        "sent": 2,
        "total": 3,
        "parts": 2,
    }
    for key in (
        "count",
        "count_invalid",
        "class_count_invalid",
        "dv_is_party",
        "dv_which",
        "nam_meaning",
        "exceeds",
        "completed_exceeds",
        "total_mismatch",
        "sent",
        "period",
    ):
        assert question(key, **values).strip()
    for field in BREAKDOWN_FIELDS:
        assert field_label(field) and field_label(field, complement=True)
    # the breakdown questions are the dialogue's own texts
    assert parse("kết nạp 2 đảng viên, 2 nữ").questions[0] == t("ask.youth_union", n="2")


# ---------------------------------------------------------------------------------------------- second round
# The kinds of failure a held-out batch (tests/corpus/holdout-2.jsonl) showed, each tested on variants of
# our own. Read on Monday 21/10/2024 unless said.

MONDAY = date(2024, 10, 21)


def _on(text: str, today: date = MONDAY) -> dict[str, Any]:
    """The result as `tiendo parse` prints it: JSON, read by the tests as JSON."""
    got: dict[str, Any] = parse_message(text, today).to_json()
    admission = got["admission"]
    if isinstance(admission, dict):
        got["admission"] = {k: v for k, v in admission.items() if v is not None}
    return got


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        # a person word after a count says the sex of those it counts
        ("kết nạp 2 anh 1 chị", {"count": 3, "female": 1}),
        ("chi bộ kết nạp hai bà một ông", {"count": 3, "female": 2}),
        ("kết nạp 3 đảng viên: 1 anh, 2 chị", {"count": 3, "female": 2}),
        ("vừa kết nạp cho 1 cô giáo mầm non", {"count": 1, "female": 1}),
        ("tháng ni kết nạp 2 đồng chí, 1 o với 1 anh", {"count": 2, "female": 1}),
        # the Southern "he": "ảnh", "ổng"; said again of everyone, it is no second person
        ("kết nạp 1 đồng chí nam, ảnh là đoàn viên", {"count": 1, "female": 0, "youth_union": 1}),
        ("kết nạp 2 ông, ổng nào cũng theo đạo Cao Đài", {"count": 2, "female": 0, "religious": 2}),
        # a person word used as a classifier says that person's sex only
        ("kết nạp 4 người: 1 chị người Tày, 3 người Kinh", {"count": 4, "ethnic_minority": 1}),
        (
            "kết nạp 2 người: 1 anh người Mường, 1 chị người Kinh",
            {"count": 2, "female": 1, "ethnic_minority": 1},
        ),
        # groups with their attributes in brackets
        (
            "kết nạp 1 đồng chí (nữ), 2 đồng chí (nam)",
            {"count": 3, "female": 1},
        ),
        # breakdowns that do not add up are asked
        ("kết nạp 4 đv, 1 nữ 1 nam", {"count": 4}),
        ("kết nạp 3 đv, 2 nữ, 2 nam", {"count": 3}),
        # a part known and the rest not
        ("kết nạp 3 đv, 2 là đoàn viên, còn 1 em chưa rõ", {"count": 3}),
        # a count said first, described after "kết nạp:"
        ("3 đồng chí mới được kết nạp: 2 nữ, 1 nam", {"count": 3, "female": 2}),
        # a denial closes its clause; the figure after it is the class's
        ("tháng này không kết nạp, có 3 quần chúng đang học lớp cảm tình", {"count": 0}),
        ("kết nạp tổng cộng 4 đảng viên, 2 nữ", {"count": 4, "female": 2}),
        # a year of study, "12/12" after "học": schooling
        ("kết nạp 1 đv nữ, sinh viên năm 3", {"count": 1, "female": 1, "upper_secondary_or_above": 1}),
        (
            "ket nap 1 dong chi, hoc 12/12, doan vien",
            {"count": 1, "youth_union": 1, "upper_secondary_or_above": 1},
        ),
        # labels: "ĐV" among them is đoàn viên; a labelled line takes no figure from the line before
        ("KN 3 ĐV (Nữ: 2, ĐV: 3)", {"count": 3, "female": 2, "youth_union": 3}),
        (
            "Kết nạp 2 đv\nDTTS: 0\nTrình độ: đại học",
            {"count": 2, "ethnic_minority": 0, "upper_secondary_or_above": 2},
        ),
        # names: a domain phrase ends them; ethnic groups are not names; given names say the sex
        ("kết nạp một người là chị trần thị lan đoàn viên", {"count": 1, "female": 1, "youth_union": 1}),
        ("kết nạp 1 đồng chí Ba Na, nam", {"count": 1, "female": 0, "ethnic_minority": 1}),
        ("kết nạp đ/c Đỗ Quang Dũng và đ/c Phạm Ngọc Hằng", {"count": 2, "female": 1}),
        (
            "Chi bộ kết nạp: Y Bhin Niê (nam, Ê Đê), H'Luyến Mlô (nữ, Ê Đê)",
            {"count": 2, "female": 1, "ethnic_minority": 2},
        ),
        # "là chị" is not the La Chí people, "người lao động" not the Lào
        ("kết nạp 1 đv là chị công nhân", {"count": 1, "female": 1}),
        ("kết nạp 2 người lao động trẻ", {"count": 2}),
    ],
)
def test_counts_and_breakdowns_second_round(text: str, admission: dict[str, int]) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert got["admission"] == admission


@pytest.mark.parametrize(
    ("text", "today", "start", "end"),
    [
        ("năm nay tính đến giờ kết nạp 3 đv", MONDAY, "2024-01-01", "2024-10-21"),
        ("quý 4 tới nay kết nạp 1 đv", date(2024, 11, 20), "2024-10-01", "2024-11-20"),
        ("tuần trước nữa kết nạp 1 đv", MONDAY, "2024-10-07", "2024-10-13"),
        ("tháng trước nữa cử 2 qc đi học lớp NT", MONDAY, "2024-08-01", "2024-08-31"),
        ("ngày 25 vừa rồi kết nạp 1 đv", MONDAY, "2024-09-25", "2024-09-25"),
        ("hôm 3 vừa qua kết nạp 1 đv", MONDAY, "2024-10-03", "2024-10-03"),
        ("đầu tuần này kết nạp 1 đv", MONDAY, "2024-10-21", "2024-10-27"),
        ("cuối tuần rồi kết nạp 1 đv", MONDAY, "2024-10-14", "2024-10-20"),
        ("dịp 3/2 kết nạp 2 đv", date(2025, 2, 10), "2025-02-03", "2025-02-03"),
        ("kết nạp hai đảng viên năm hai nghìn hai mươi ba", MONDAY, "2023-01-01", "2023-12-31"),
        ("năm kia chi bộ kết nạp 2 đv", MONDAY, "2022-01-01", "2022-12-31"),
        # a letter's date is only a day; a report's period is never one; a date to come is an event's
        ("Tin chuyển tiếp: tháng 9 kết nạp 2 đv", MONDAY, "2024-09-01", "2024-09-30"),
        ("đ/c Lan gửi báo cáo quý 3: kết nạp 2 đv", MONDAY, "2024-07-01", "2024-09-30"),
        # days inside the period a report names are its details
        ("Báo cáo tháng 9: lễ kết nạp ngày 12/9, 2 đồng chí", MONDAY, "2024-09-01", "2024-09-30"),
        # a level of schooling before a day does not make the day background
        ("kết nạp 1 đv trình độ cao đẳng hôm 15/10", MONDAY, "2024-10-15", "2024-10-15"),
    ],
)
def test_periods_second_round(text: str, today: date, start: str, end: str) -> None:
    got = _on(text, today)
    assert got["intent"] == "report"
    assert got["period"] == {"start": start, "end": end}


def test_a_period_given_with_an_alternative_is_asked() -> None:
    for text in ("kết nạp 1 đv tháng 8 hoặc 9 gì đó", "tháng 9 kết nạp 2 đv, hay là tháng 8 nhỉ"):
        got = parse_message(text, MONDAY)
        assert got.intent == "report" and got.period is None
        assert "period" in got.ambiguous and got.questions
        assert got.admission is not None  # the count is kept: only the period is asked


def test_a_count_given_with_an_alternative_is_asked() -> None:
    got = parse_message("ket nap 2 hoac 3 dv, em khong nho ro", MONDAY)
    assert got.intent == "report" and got.admission is None
    assert "admission_count" in got.ambiguous


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        # a line naming the fact under its figures
        (
            "T8: 2\nT9: 1\n(cử đi học lớp NT)",
            [
                (None, {"sent": 2, "completed": None}, "2024-08-01"),
                (None, {"sent": 1, "completed": None}, "2024-09-01"),
            ],
        ),
        # "T10 chưa có": none that month
        (
            "tháng 9 kết nạp 2 đv, tháng 10 chưa có",
            [({"count": 2}, None, "2024-09-01"), ({"count": 0}, None, "2024-10-01")],
        ),
        # completing without naming the class continues it
        (
            "quý 2 cử 3 qc đi học lớp bồi dưỡng, quý 3 cả 3 được cấp giấy chứng nhận",
            [
                (None, {"sent": 3, "completed": None}, "2024-04-01"),
                (None, {"sent": None, "completed": 3}, "2024-07-01"),
            ],
        ),
        # a period in brackets before the verb dates what follows
        (
            "Lần 1 (tháng 5) kết nạp 1 đ/c, lần 2 (tháng 8) kết nạp 2 đ/c",
            [({"count": 1}, None, "2024-05-01"), ({"count": 2}, None, "2024-08-01")],
        ),
    ],
)
def test_facts_second_round(text: str, facts: list[tuple[dict | None, dict | None, str]]) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    read = [
        (
            None if f["admission"] is None else {k: v for k, v in f["admission"].items() if v is not None},
            f["class_attendance"],
            f["period"]["start"],
        )
        for f in got["facts"]
    ]
    assert read == facts


@pytest.mark.parametrize(
    ("text", "sent", "completed"),
    [
        # the admission's words are not the class's, without punctuation too
        ("tháng này kết nạp ba đảng viên cử hai quần chúng đi học", 2, None),
        ("kết nạp không có cử đi học lớp nhận thức bốn người", 4, None),
        # people named after a class verb are counted
        ("Cử đi học lớp NTVĐ: Hà Văn Nam, Lò Thị Hoa", 2, None),
        ("cử 4 qc học lớp đối tượng, xong 4", 4, 4),
        ("cử đi học 3, tốt nghiệp 3", 3, 3),
    ],
)
def test_class_second_round(text: str, sent: int | None, completed: int | None) -> None:
    assert _on(text)["class_attendance"] == {"sent": sent, "completed": completed}


@pytest.mark.parametrize(
    "text",
    [
        "Công nhận chính thức cho 3 đồng chí kết nạp năm ngoái",
        "Trao huy hiệu 30 năm tuổi Đảng cho 2 đồng chí kết nạp năm 1994",
        "đồng chí Lan kết nạp năm 2020 nay đã chuyển công tác",
        "chi bộ có 2 đồng chí học lớp nhận thức năm ngoái mà vẫn chưa kết nạp được",
        "Nghe đâu chi bộ trường tiểu học kết nạp 3 cô rồi phải không anh?",
        "Nhận được Hướng dẫn số 12-HD/BTCTW về công tác phát triển đảng viên",
        "Thông báo: Đảng ủy tổ chức lễ kết nạp cho 5 quần chúng lúc 8h00 ngày 30/10/2024 tại hội trường",
    ],
)
def test_not_a_report_second_round(text: str) -> None:
    got = _on(text)
    assert got["intent"] == "unknown"
    assert got["admission"] is None and got["class_attendance"] is None


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        ("k/n 2 đ.viên, 1 nữ", {"count": 2, "female": 1}),
        ("chi bộ kết lạp 1 đảng viên", {"count": 1}),
        ("có 2 em dô Đảng tháng này", {"count": 2}),
        ("Kết nạp,Nữ,Đoàn viên\n3,1,3", {"count": 3, "female": 1, "youth_union": 3}),
        (
            "Đảng viên mới:\nHọ và tên\tGiới tính\tTôn giáo\nLò Văn Páo\tNam\tKhông\nVi Thị Lan\tNữ\tKhông",
            {"count": 2, "female": 1, "religious": 0},
        ),
    ],
)
def test_typing_and_tables_second_round(text: str, admission: dict[str, int]) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert got["admission"] == admission


def test_a_tables_period_column_heads_its_lines() -> None:
    got = _on("Nội dung | Tháng 9\nKết nạp | 1\nCử đi học | 2")
    assert got["period"] == {"start": "2024-09-01", "end": "2024-09-30"}
    assert got["class_attendance"] == {"sent": 2, "completed": None}


def test_dô_đảng_needs_its_accents() -> None:
    # "dở dang" (unfinished) folds like "dô Đảng": not an admission
    assert _on("hồ sơ của 2 quần chúng còn dở dang")["intent"] != "report"
    assert _on("ho so 2 quan chung con do dang")["intent"] != "report"


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        # counted back from today: days, weeks, months, in figures or words
        ("cách đây 2 tuần kết nạp 1 đv", "2024-10-07", "2024-10-13"),
        ("cach day ba hom ket nap 2 dv", "2024-10-18", "2024-10-18"),
        ("2 tuần trước kết nạp 1 đảng viên", "2024-10-07", "2024-10-13"),
        ("hai tháng trước chi bộ kết nạp 2 đv", "2024-08-01", "2024-08-31"),
        ("kết nạp 1 đv cách đây 1 tháng", "2024-09-01", "2024-09-30"),
        ("quý vừa rồi kết nạp 3 đv", "2024-07-01", "2024-09-30"),
        ("quy qua ket nap 2 dv", "2024-07-01", "2024-09-30"),
        # a day of the month alone is the latest such day, before a comma too
        ("ngày 15 kết nạp 1 đv", "2024-10-15", "2024-10-15"),
        ("ngay 28 ket nap 2 dang vien", "2024-09-28", "2024-09-28"),
        ("kết nạp 2 đv ngày 5, 1 nữ", "2024-10-05", "2024-10-05"),
    ],
)
def test_periods_counted_back_and_bare_days(text: str, start: str, end: str) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert got["period"] == {"start": start, "end": end}


def test_a_day_number_that_counts_is_no_day() -> None:
    # "ngày 5 đồng chí": five comrades, not the 5th
    assert _on("ngày 5 đồng chí kết nạp 2 đv")["period"] is None
    assert _on("hôm 3 người được kết nạp, chi bộ họp")["period"] is None


def test_a_particle_before_a_comma_stresses_and_does_not_ask() -> None:
    got = _on("kết nạp có 1 người à, nữ")
    assert got["intent"] == "report"
    assert got["admission"]["count"] == 1 and got["admission"]["female"] == 1


@pytest.mark.parametrize(
    "text",
    [
        # other organisations admit their own members: cooperatives, clubs
        "HTX nông nghiệp kết nạp thêm 8 thành viên",
        "Câu lạc bộ dưỡng sinh kết nạp 10 người",
        "clb huu tri ket nap 5 thanh vien moi",
        "Hợp tác xã dịch vụ kết nạp 3 xã viên",
        # someone else's cell, as told: "chi bộ ảnh/bả", "X nói chi bộ ..."
        "anh Hai bên ấp Tân Hòa nói chi bộ ảnh kết nạp 3 người rồi",
        "chị Ba nói chi bộ bả kết nạp 2 đảng viên",
        "ông Tư nói là chi bộ kết nạp 2 người",
    ],
)
def test_not_our_admission_third_round(text: str) -> None:
    got = _on(text)
    assert got["intent"] == "unknown"
    assert got["admission"] is None


def test_chi_bộ_anh_said_to_a_superior_is_a_report() -> None:
    assert _on("chi bộ anh kết nạp 2 đv tháng này")["admission"]["count"] == 2


@pytest.mark.parametrize(
    "text",
    [
        "kết nạp 2 đv, chưa rõ có ai là nữ không",
        "ket nap 3 dv, khong biet co ai la nu khong",
        "kết nạp 2 đv, chưa rõ có ai là đoàn viên không",
        "kết nạp 2 đv, không nhớ có ai theo đạo không",
    ],
)
def test_what_the_writer_does_not_know_is_not_read(text: str) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert all(v is None for k, v in got["admission"].items() if k != "count")


@pytest.mark.parametrize(
    "text",
    [
        "[09:15, 3/11/2025] Chi bộ Đông Hòa: kết nạp 1 đv nữ tháng 10",
        "[3/11/2025 09:15] Chi bộ Đông Hòa: kết nạp 1 đv nữ tháng 10",
        "[9:15 SA, 03/11] Lan: tháng 10 ket nap 1 dv nu",
    ],
)
def test_a_copied_messages_time_stamp_is_no_period(text: str) -> None:
    got = _on(text, date(2025, 11, 28))
    assert got["admission"]["count"] == 1
    assert got["period"] == {"start": "2025-10-01", "end": "2025-10-31"}


@pytest.mark.parametrize(
    ("text", "admission", "attendance"),
    [
        (
            "Danh sách quần chúng đi học lớp NTVĐ tháng 11: 1. Trần Văn Hải 2. Lê Thị Thu 3. Phan Văn Đức",
            None,
            {"sent": 3, "completed": None},
        ),
        ("cử đi học lớp nhận thức: 1/ Trần Văn Hải 2/ Lê Thị Thu", None, {"sent": 2, "completed": None}),
        ("Kết nạp đảng viên tháng 11: 1) Trần Văn Hải, 2) Lê Thị Thu, 3) Hồ Văn Nam", 3, None),
        ("Tháng 11: 1. Kết nạp 2 đv 2. Cử 3 qc đi học", 2, {"sent": 3, "completed": None}),
    ],
)
def test_a_numbered_lists_places_are_not_counts(
    text: str, admission: int | None, attendance: dict | None
) -> None:
    got = _on(text, date(2025, 11, 28))
    assert got["intent"] == "report"
    assert (got["admission"] and got["admission"]["count"]) == admission
    assert got["class_attendance"] == attendance


@pytest.mark.parametrize(
    ("text", "count"),
    [
        # counted groups of the same people joined by "và" add up, whatever is said of each
        ("Chi bộ kết nạp 1 đồng chí Chơ Ro và 1 đồng chí Kinh, cả 2 đều nam", 2),
        ("Chi bộ kết nạp 1 đồng chí Tày và 1 đồng chí Kinh", 2),
        ("kết nạp 1 đảng viên là giáo viên và 1 đảng viên là công an", 2),
        ("kết nạp 2 đv ở thôn Đông và 1 đv ở thôn Tây", 3),
        ("kết nạp 1 đồng chí người Kinh và 2 đồng chí người Mường", 3),
    ],
)
def test_groups_joined_by_và_add_up(text: str, count: int) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert got["admission"]["count"] == count


@pytest.mark.parametrize(
    ("text", "upper"),
    [
        # a school's level after a teacher or a school is where they work, not their schooling
        ("Hôm rồi chi bộ làm lễ kết nạp cho 1 cô giáo cấp 2", None),
        ("kết nạp 1 đv là giáo viên trường cấp 2", None),
        ("kết nạp 1 đv, giáo viên THCS", None),
        ("kết nạp 1 đv học hết cấp 2", 0),
        ("kết nạp 1 đv tốt nghiệp cấp 3", 1),
        # after figures of several fields, a bare attribute is said of the whole group
        ("kết nạp 3 đv: 3 nữ, 2 đoàn viên, trình độ cao đẳng trở lên", 3),
        ("Chi bộ kết nạp 03 đảng viên là giáo viên (03 nữ, 02 đoàn viên, trình độ đại học).", 3),
    ],
)
def test_schooling_third_round(text: str, upper: int | None) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert got["admission"].get("upper_secondary_or_above") == upper


def test_a_bare_attribute_after_one_figure_still_describes_those_people() -> None:
    got = _on("kết nạp 3 đv, trong đó 1 nữ, theo đạo Công giáo")
    assert got["admission"]["female"] == 1 and got["admission"]["religious"] == 1


@pytest.mark.parametrize(
    "text",
    [
        # a count the bot asks about keeps the period said with it
        "tháng này chi bộ kết nạp vài đồng chí",
        "ket nap 1 hay 2 dv thang nay chua chac",
        # "vài ba", "dăm ba": a few, never three
        "tháng này kết nạp vài ba đồng chí",
        "kết nạp dăm ba đồng chí trong tháng này",
    ],
)
def test_an_asked_count_keeps_its_period(text: str) -> None:
    got = parse_message(text, MONDAY)
    assert got.intent == "report" and got.admission is None and got.questions
    assert got.period == Period(date(2024, 10, 1), date(2024, 10, 31))


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        ("kết nạo 2 đảng viên", {"count": 2}),
        (
            "tháng rồi kết nạp 1 thằng cháu, đang học cao đẳng",
            {"count": 1, "female": 0, "upper_secondary_or_above": 1},
        ),
        ("kết nạp 1 thằng em họ", {"count": 1, "female": 0}),
    ],
)
def test_slips_and_person_words_third_round(text: str, admission: dict[str, int]) -> None:
    assert _on(text)["admission"] == admission


def test_a_pool_being_trained_is_a_status() -> None:
    for text in (
        "Chi bộ hiện đang bồi dưỡng 5 quần chúng ưu tú, 2 đồng chí đã có giấy chứng nhận lớp nhận thức",
        "chi bo dang boi duong 4 qcut, 1 dc da co giay chung nhan",
    ):
        assert _on(text)["intent"] == "unknown"
    # "kết nào" (which knot) is no admission without its accents
    assert _on("ket nao 2 dang vien")["intent"] != "report"


@pytest.mark.parametrize(
    "text",
    [
        # a status said after the report does not throw the report away
        "tháng này cử 3 qc đi học lớp nhận thức, đang bồi dưỡng thêm 2 quần chúng",
        "tháng này cử 3 qc đi học lớp nhận thức, hiện đang học",
    ],
)
def test_a_status_after_the_report_keeps_it(text: str) -> None:
    assert _on(text)["class_attendance"] == {"sent": 3, "completed": None}


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        # a closing "(cả N) đều ..." after several periods is said of everyone admitted
        (
            "tháng 8 kết nạp 1 đ/c nữ, tháng 9 kết nạp 2 đ/c nam, đều là đoàn viên",
            [{"count": 1, "female": 1, "youth_union": 1}, {"count": 2, "female": 0, "youth_union": 2}],
        ),
        (
            "tháng 8 kết nạp 1, tháng 9 kết nạp 2, cả 3 đều nữ",
            [{"count": 1, "female": 1}, {"count": 2, "female": 2}],
        ),
        # "cả 2" of three: only the last period's
        ("tháng 8 kết nạp 1, tháng 9 kết nạp 2, cả 2 đều nữ", [{"count": 1}, {"count": 2, "female": 2}]),
    ],
)
def test_said_of_everyone_after_several_periods(text: str, facts: list[dict[str, int]]) -> None:
    got = _on(text)
    assert [{k: v for k, v in f["admission"].items() if v is not None} for f in got["facts"]] == facts


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        # a grade below 6 is no adult's schooling: the class's count
        ("Tháng 6: KN 1, học lớp 2\nTháng 7: KN 0, học lớp 0", 2),
        ("tháng 9 kết nạp 1, học lớp 3", 3),
        ("kết nạp 1 đv học lớp 9", None),
    ],
)
def test_a_class_count_after_học_lớp(text: str, sent: int | None) -> None:
    got = _on(text)
    assert (got["class_attendance"] or {}).get("sent") == sent


def test_học_hết_12_is_upper_secondary() -> None:
    got = _on("kết nạp 1 đứa cháu gái, học hết 12 rồi")
    assert got["admission"] == {"count": 1, "female": 1, "upper_secondary_or_above": 1}


@pytest.mark.parametrize(
    ("text", "admission"),
    [
        # those named before a passive "được kết nạp" give the women count by their middle names
        (
            "3 đ/c: Hoàng Văn Tài, Nông Thị Mai, Hoàng Thị Ly được kết nạp ngày 3/2",
            {"count": 3, "female": 2},
        ),
        ("đ/c Hoàng Văn Tài, đ/c Nông Thị Mai được kết nạp", {"count": 2, "female": 1}),
        ("đồng chí Lê Văn Nam được kết nạp tháng 9", {"count": 1, "female": 0}),
        # given names that fold like a particle, after a title
        ("kết nạp đ/c Hà (nữ), đ/c Tuấn, đ/c Bình (nữ)", {"count": 3, "female": 2}),
        ("kết nạp đồng chí Hà và đồng chí Nhi", {"count": 2}),
    ],
)
def test_named_people_third_round(text: str, admission: dict[str, int]) -> None:
    assert _on(text)["admission"] == admission


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # how to send or type a report is a call for help; how the work goes is progress
        ("Gửi báo cáo kết nạp cho bot như thế nào ạ?", "help"),
        ("gui bao cao ket nap the nao vay", "help"),
        ("nhập số kết nạp vào bot ra sao?", "help"),
        ("tiến độ kết nạp như thế nào rồi?", "progress"),
    ],
)
def test_how_to_send_is_help(text: str, intent: str) -> None:
    assert _on(text)["intent"] == intent


@pytest.mark.parametrize(
    "text", ["kết nạp đ/c Nhé, đ/c Tuấn", "kết nạp đ/c Tuấn, đ/c Nhé", "kết nạp đ/c Tuấn và đ/c Nhé (nữ)"]
)
def test_a_title_before_a_word_not_read_as_a_name_asks_the_count(text: str) -> None:
    got = parse_message(text, MONDAY)
    assert got.intent == "report" and got.admission is None
    assert "admission_count" in got.ambiguous and got.questions


@pytest.mark.parametrize(
    "text",
    [
        # an organisation named as someone's job before "được kết nạp (vào) Đảng": the party admits
        "chủ nhiệm HTX Nguyễn Văn Nam được kết nạp đảng",
        "Bí thư chi đoàn Lê Văn Nam được kết nạp vào Đảng",
        "Chủ nhiệm CLB bóng chuyền Trần Văn Hùng được kết nạp vào Đảng",
    ],
)
def test_an_organisation_as_a_job_before_joining_the_party(text: str) -> None:
    got = _on(text)
    assert got["intent"] == "report"
    assert got["admission"] == {"count": 1, "female": 0}


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        # "không" in its short forms before every denial the lexicon knows
        ("kn 2 dv, 1 nu, 2 doan vien, ko dao, kinh, thpt", "religious", 0),
        ("ket nap 1 dv nu, k dao", "religious", 0),
        ("kết nạp 2 đảng viên, kh theo đạo", "religious", 0),
        ("kn 2 dv, hong ai theo dao", "religious", 0),  # listed as it is typed in the South
        ("kết nạp đ/c Hồng, nữ, có đạo", "religious", 1),  # a name, never a denial
        ("kn 2 dc, hok co ai theo ton giao", "religious", 0),
        ("kn 1 dv nam, ko sinh hoat doan", "youth_union", 0),
        ("kn 2 dv, khong dao", "religious", 0),
    ],
)
def test_short_forms_of_khong_deny_as_khong_does(text: str, field: str, value: int) -> None:
    assert _on(text)["admission"][field] == value
