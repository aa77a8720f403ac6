"""Tests for handlers.parser: the corpus, focused features and a never-raise property."""

from __future__ import annotations

import json
import unicodedata
from datetime import date
from pathlib import Path

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
    ):
        assert question(key, **values).strip()
    for field in BREAKDOWN_FIELDS:
        assert field_label(field) and field_label(field, complement=True)
    # the breakdown questions are the dialogue's own texts
    assert parse("kết nạp 2 đảng viên, 2 nữ").questions[0] == t("ask.youth_union", n="2")
