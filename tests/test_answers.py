"""The readers of what secretaries type back: yes and no, free breakdown answers, fixes of one field."""

from datetime import date

import pytest

from handlers.answers import is_unknown, yes_no
from handlers.fixes import BREAKDOWNS, read, resolve

TODAY = date(2023, 11, 15)
ALL_FIELDS = BREAKDOWNS


@pytest.mark.parametrize(
    "text",
    [
        "có",
        "co",
        "dạ có ạ",
        "vâng",
        "vang a",
        "dạ vâng",
        "ừ",
        "u",
        "uk",
        "ukm",
        "ừa",
        "ok",
        "oke",
        "okie",
        "OK anh",
        "dc",
        "đc",
        "được",
        "duoc roi",
        "đúng",
        "dung roi",
        "Dạ, đúng rồi ạ",
        "đúng vậy",
        "chuẩn",
        "chuan roi",
        "chính xác",
        "xác nhận",
        "xac nhan nhe",
        "đồng ý",
        "không sai",
        "👍",
        "Đúng rồi!",
        "dạ phải",
    ],
)
def test_yes_in_its_polite_and_short_forms(text: str) -> None:
    assert yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "không",
        "khong",
        "ko",
        "k",
        "kg",
        "không ạ",
        "dạ không",
        "Dạ không ạ",
        "hông",
        "hong co",
        "hổng có",
        "hok",
        "khum",
        "ko ai",
        "chưa có ai",
        "chua",
        "chưa đúng",
        "không đúng",
        "không phải",
        "sai",
        "sai rồi",
        "không, sai rồi",
        "có đâu",
        "làm gì có",
        "❌",
        "nhầm rồi",
    ],
)
def test_no_in_its_polite_and_short_forms(text: str) -> None:
    assert yes_no(text) is False


@pytest.mark.parametrize(
    "text",
    ["đúng không?", "dung khong", "được chưa", "2", "tôn giáo là 0", "không rõ", "", "ok?", "tháng 10"],
)
def test_questions_numbers_and_other_words_are_not_a_yes_or_a_no(text: str) -> None:
    assert yes_no(text) is None


@pytest.mark.parametrize("text", ["không rõ", "chua ro", "k biet", "Chưa biết ạ", "bỏ qua", "?", "không nhớ"])
def test_unknown(text: str) -> None:
    assert is_unknown(text)
    assert not is_unknown("không")


def values(text: str, count: int, asked: tuple[str, ...] = ALL_FIELDS) -> dict[str, int | None]:
    return resolve(read(text, TODAY), count=count, asked=asked).values


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        # the examples
        ("2 nữ, cả 3 đoàn viên, còn lại không", 3, (2, 3, 0, 0, 0)),
        ("không ai theo đạo, 1 dân tộc Mường", 2, (None, None, 0, 1, None)),
        # without diacritics, without commas (voice to text), number words
        ("2 nu ca 3 doan vien con lai khong", 3, (2, 3, 0, 0, 0)),
        ("hai nữ một đoàn viên không ai theo đạo", 3, (2, 1, 0, None, None)),
        ("mot nu hai doan vien con lai khong co", 2, (1, 2, 0, 0, 0)),
        # field first, with ":" or "là"
        ("nữ: 2, đoàn viên: 3, tôn giáo: không, dân tộc: 0, THPT: 3", 3, (2, 3, 0, 0, 3)),
        ("nu 1 dv 2 tg 0 dt 0 thpt 2", 2, (1, 2, 0, 0, 2)),
        ("tôn giáo là 0", 2, (None, None, 0, None, None)),
        # the others counted: men, not religious, Kinh, below upper secondary
        ("2 nam", 3, (1, None, None, None, None)),
        ("2 người không theo đạo", 3, (None, None, 1, None, None)),
        ("cả 3 đều là người Kinh", 3, (None, None, None, 0, None)),
        ("1 đồng chí trình độ 9/12", 2, (None, None, None, None, 1)),
        ("ca 2 deu chua tot nghiep thpt", 2, (None, None, None, None, 0)),
        ("1 người không phải đoàn viên", 3, (None, 2, None, None, None)),
        # a quantifier over a list, forward and backward
        ("cả hai đều là nữ, đoàn viên, không theo đạo, người Kinh, tốt nghiệp THPT", 2, (2, 2, 0, 0, 2)),
        ("1 nữ, 1 đoàn viên; tôn giáo, dân tộc không rõ", 2, (1, 1, None, None, None)),
        ("không ai theo tôn giáo hay dân tộc thiểu số", 2, (None, None, 0, 0, None)),
        # one new member: attributes without numbers
        ("nữ, đoàn viên, không theo đạo, người Kinh, cấp 3", 1, (1, 1, 0, 0, 1)),
        ("nam, đoàn viên, còn lại không", 1, (0, 1, 0, 0, 0)),
        ("dân tộc Tày, theo đạo Phật", 1, (None, None, 1, 1, None)),
        # the same attribute said twice is one answer
        ("1 nu con lai nam", 2, (1, None, None, None, None)),
    ],
)
def test_free_breakdown_answers(text: str, count: int, expected: tuple[int | None, ...]) -> None:
    got = values(text, count)
    assert tuple(got.get(f) for f in ALL_FIELDS) == expected
    # a field the text does not name is not set (None above may also mean "said unknown")
    for field, value in zip(ALL_FIELDS, expected, strict=True):
        if value is not None:
            assert field in got


def test_unknown_is_set_as_unknown_not_left_open() -> None:
    got = values("1 nữ, tôn giáo không rõ", 2)
    assert got == {"female": 1, "religious": None}


@pytest.mark.parametrize(
    ("text", "count", "field", "value"),
    [
        ("có", 1, "female", 1),
        ("dạ có", 1, "female", 1),
        ("không", 1, "female", 0),
        ("ko ai", 3, "female", 0),
        ("2", 3, "female", 2),
        ("hai", 3, "female", 2),
        ("bảy", 10, "female", 7),
        ("sau nu", 10, "female", 6),
        ("tất cả", 3, "female", 3),
        ("cả 3", 3, "female", 3),
        ("không rõ", 3, "female", None),
    ],
)
def test_an_answer_without_a_field_answers_the_only_question(
    text: str, count: int, field: str, value: int | None
) -> None:
    assert values(text, count, (field,)) == {field: value}


@pytest.mark.parametrize("text", ["2", "có", "sau"])
def test_a_bare_number_or_yes_to_several_questions_settles_nothing(text: str) -> None:
    assert values(text, 3) == {}


def test_none_and_unknown_alone_answer_every_question() -> None:
    assert values("chưa có ai", 3) == dict.fromkeys(ALL_FIELDS, 0)
    assert values("không rõ", 3) == dict.fromkeys(ALL_FIELDS)


def test_a_figure_above_the_count_is_reported_not_set() -> None:
    outcome = resolve(read("5 nữ", TODAY), count=3, asked=("female",))
    assert outcome.values == {} and outcome.too_many == [("female", 5)]


def test_a_field_without_a_number_is_unsure_when_several_were_admitted() -> None:
    outcome = resolve(read("nữ", TODAY), count=3, asked=ALL_FIELDS)
    assert outcome.values == {} and outcome.unsure == ["female"]


@pytest.mark.parametrize(
    ("text", "changes", "period", "old_period", "old_numbers"),
    [
        ("tôn giáo là 0 chứ", {"religious": 0}, None, None, []),
        ("tháng 10 chứ không phải tháng 11", {}, date(2023, 10, 1), date(2023, 11, 1), []),
        ("không phải tháng 11 mà là tháng 10", {}, date(2023, 10, 1), date(2023, 11, 1), []),
        ("thang truoc", {}, date(2023, 10, 1), None, []),
        ("kết nạp 3 chứ không phải 2", {"count": 3}, None, None, [2]),
        ("sửa nữ thành 1", {"female": 1}, None, None, []),
        ("nu 2 chu ko phai 1", {"female": 2}, None, None, [1]),
        ("cử 4 quần chúng đi học chứ không phải 3", {"sent": 4}, None, None, [3]),
        ("hoàn thành 3", {"completed": 3}, None, None, []),
    ],
)
def test_fixes_of_one_field(
    text: str,
    changes: dict[str, int],
    period: date | None,
    old_period: date | None,
    old_numbers: list[int],
) -> None:
    reading = read(text, TODAY)
    assert resolve(reading, count=2 if "count" not in changes else None, sent=5).values == changes
    assert (reading.period.start if reading.period else None) == period
    assert (reading.old_period.start if reading.old_period else None) == old_period
    assert reading.old_numbers == old_numbers


def test_a_number_after_dang_vien_is_the_count() -> None:
    reading = read("3 đảng viên chứ không phải 2", TODAY)
    assert reading.head and [v.number for v in reading.bare] == [3] and reading.old_numbers == [2]


@pytest.mark.parametrize(
    "text", ["để tôi hỏi lại đã", "ok anh", "cảm ơn", "thôi, không gửi nữa", "chắc là 2"]
)
def test_words_that_name_nothing_read_as_nothing(text: str) -> None:
    reading = read(text, TODAY)
    assert resolve(reading, count=2, asked=ALL_FIELDS).values == {}
    assert resolve(reading, count=2, asked=("female",)).values == {}  # not even to a single question
    assert not reading.mentions and not reading.period


@pytest.mark.parametrize(
    ("text", "count", "expected", "unsure"),
    [
        # A "không ai" runs over the fields after it only until one is said in its negative form
        # ("kinh", "nam", "lương"): what follows describes the people and is asked, never taken as 0.
        (
            "ca 2 doan vien, ko ai theo dao, kinh, thpt",
            2,
            (None, 2, 0, 0, None),
            ["upper_secondary_or_above"],
        ),
        (
            "không ai theo đạo, người Kinh, tốt nghiệp THPT",
            3,
            (None, None, 0, 0, None),
            ["upper_secondary_or_above"],
        ),
        ("k ai theo dao, nam, doan vien", 2, (0, None, 0, None, None), ["youth_union"]),
        ("ko ai theo dao, kinh, thpt het", 2, (None, None, 0, 0, 2), []),
        # ... and still over a list of positive fields
        ("không ai theo đạo, dân tộc", 2, (None, None, 0, 0, None), []),
    ],
)
def test_a_negation_over_a_list_ends_at_a_field_said_in_its_negative_form(
    text: str, count: int, expected: tuple[int | None, ...], unsure: list[str]
) -> None:
    outcome = resolve(read(text, TODAY), count=count, asked=())
    assert tuple(outcome.values.get(f) for f in ALL_FIELDS) == expected
    assert sorted(outcome.unsure) == sorted(unsure)


@pytest.mark.parametrize(
    ("text", "asked", "expected"),
    [
        # "dv" alone is the new members themselves unless other breakdowns stand beside it or
        # đoàn viên is what was asked
        ("nham, 2 dv thoi", (), {"count": 2}),
        ("so dv la 2", (), {"count": 2}),
        ("chỉ 2 đv thôi", (), {"count": 2}),
        ("sai, kn 2 d/v", (), {"count": 2}),
        ("2 nu, 1 dv", (), {"female": 2, "youth_union": 1}),
        ("2 dv", ("youth_union",), {"youth_union": 2}),
        ("1 dv", ("female", "youth_union", "religious"), {"youth_union": 1}),
        ("2 doan vien", (), {"youth_union": 2}),
    ],
)
def test_dv_alone_is_the_count_unless_it_stands_among_breakdowns(
    text: str, asked: tuple[str, ...], expected: dict[str, int]
) -> None:
    assert resolve(read(text, TODAY), count=3, asked=asked).values == expected
