"""Tests for handlers.text, handlers.numbers and handlers.periods."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.numbers import parse_number_words, words_to_int
from handlers.periods import Period, find_period, parse_period
from handlers.text import fold, normalize

TODAY = date(2023, 11, 20)

# ---------------------------------------------------------------------------------------------- text


def test_fold_examples_from_the_brief() -> None:
    assert fold("Kiện Khê") == "kien khe"
    assert fold("ĐẢNG ỦY") == "dang uy"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("uỷ", "ủy"),
        ("hoà", "hòa"),
        ("thuỷ", "thủy"),
        ("khoẻ", "khỏe"),
        ("Đảng uỷ", "Đảng ủy"),
        ("THUỶ", "THỦY"),
    ],
)
def test_old_tone_placement_is_unified(old: str, new: str) -> None:
    assert normalize(old) == new


@pytest.mark.parametrize("word", ["quả", "quý", "Quỳnh", "huyền", "thuyết", "khuya"])
def test_tone_placement_leaves_correct_words_alone(word: str) -> None:
    assert normalize(word) == word


def test_normalize_nfd_zero_width_full_width_and_spaces() -> None:
    assert normalize(unicodedata.normalize("NFD", "Đảng ủy")) == "Đảng ủy"
    assert normalize("kết\u200b nạp\u200d\ufeff\u2060") == "kết nạp"
    assert normalize("ＫＮ　２０２３") == "KN 2023"
    assert normalize("  a \t b\u00a0 c  ") == "a b c"


def test_fold_keeps_length_of_normalized_text() -> None:
    text = normalize("Chi bộ Kiện Khê kết nạp 2 đảng viên, 1 nữ, dân tộc H'Mông")
    assert len(fold(text)) == len(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_fold_is_idempotent_and_never_raises(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert normalize(normalize(text)) == normalize(text)


# ---------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("hai muoi mot", 21),
        ("mot tram linh nam", 105),
        ("01", 1),
        ("1.025", 1025),
        ("mười hai", 12),
        ("một", 1),
        ("bốn", 4),
        ("năm", 5),
        ("mười", 10),
        ("mười lăm", 15),
        ("mười nhăm", 15),
        ("hai mươi tư", 24),
        ("hai mươi mốt", 21),
        ("ba mươi", 30),
        ("chín mươi chín", 99),
        ("một trăm", 100),
        ("một trăm lẻ một", 101),
        ("một trăm hai mươi", 120),
        ("một trăm hai", 120),
        ("một nghìn", 1000),
        ("hai ngàn", 2000),
        ("ba nghìn lẻ năm", 3005),
        ("một nghìn không trăm hai mươi lăm", 1025),
        ("7.025", 7025),
        ("0", 0),
        ("2 nghìn", 2000),
    ],
)
def test_words_to_int(text: str, value: int) -> None:
    assert words_to_int(text) == value


@pytest.mark.parametrize("text", ["", "abc", "hai con", "1,5", "mười hai đảng viên", "1.02", "nghìn"])
def test_words_to_int_rejects_non_numbers(text: str) -> None:
    assert words_to_int(text) is None


def test_parse_number_words_reports_tokens_consumed() -> None:
    assert parse_number_words(["ket", "nap", "hai", "muoi", "mot", "dv"], 2) == (21, 3)
    assert parse_number_words(["1.025", "dv"], 0) == (1025, 1)
    assert parse_number_words(["dv"], 0) is None
    assert parse_number_words([], 0) is None
    assert parse_number_words(["hai"], 5) is None


def test_huge_digit_strings_are_not_numbers() -> None:
    assert words_to_int("9" * 4000) is None


# ---------------------------------------------------------------------------------------------- periods


def _p(a: str, b: str) -> Period:
    return Period(date.fromisoformat(a), date.fromisoformat(b))


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("ngày 15/10/2023", _p("2023-10-15", "2023-10-15")),
        ("15-10-2023", _p("2023-10-15", "2023-10-15")),
        ("15.10.2023", _p("2023-10-15", "2023-10-15")),
        ("03/11", _p("2023-11-03", "2023-11-03")),  # day first, this year
        ("3/5", _p("2023-05-03", "2023-05-03")),
        ("ngày 15 tháng 10 năm 2023", _p("2023-10-15", "2023-10-15")),
        ("ngày mười lăm tháng mười", _p("2023-10-15", "2023-10-15")),
        ("tháng 10/2023", _p("2023-10-01", "2023-10-31")),
        ("T10/2023", _p("2023-10-01", "2023-10-31")),
        ("10/2023", _p("2023-10-01", "2023-10-31")),
        ("tháng mười năm 2023", _p("2023-10-01", "2023-10-31")),
        ("tháng 2/2024", _p("2024-02-01", "2024-02-29")),
        ("tháng 10", _p("2023-10-01", "2023-10-31")),
        ("tháng 12", _p("2022-12-01", "2022-12-31")),  # the latest December up to today
        ("tháng này", _p("2023-11-01", "2023-11-30")),
        ("tháng trước", _p("2023-10-01", "2023-10-31")),
        ("quý III/2023", _p("2023-07-01", "2023-09-30")),
        ("quý 4 năm 2023", _p("2023-10-01", "2023-12-31")),
        ("quý 3", _p("2023-07-01", "2023-09-30")),
        ("Q1/2024", _p("2024-01-01", "2024-03-31")),
        ("quý này", _p("2023-10-01", "2023-12-31")),
        ("6 tháng đầu năm 2023", _p("2023-01-01", "2023-06-30")),
        ("6 tháng cuối năm 2023", _p("2023-07-01", "2023-12-31")),
        ("năm 2023", _p("2023-01-01", "2023-12-31")),
        ("nam 2023", _p("2023-01-01", "2023-12-31")),
        ("năm nay", _p("2023-01-01", "2023-12-31")),
        ("năm ngoái", _p("2022-01-01", "2022-12-31")),
        ("hôm nay", _p("2023-11-20", "2023-11-20")),
        ("hôm qua", _p("2023-11-19", "2023-11-19")),
        ("từ 11/2023 đến 6/2025", _p("2023-11-01", "2025-06-30")),
        ("từ tháng 3 đến nay", _p("2023-03-01", "2023-11-20")),
        ("từ đầu năm đến nay", _p("2023-01-01", "2023-11-20")),
        ("nhiệm kỳ 2020-2025", _p("2020-01-01", "2025-12-31")),
    ],
)
def test_parse_period(text: str, want: Period) -> None:
    assert parse_period(text, TODAY) == want
    assert find_period(text, TODAY) == want or text == "nhiệm kỳ 2020-2025"


@pytest.mark.parametrize(
    "text", ["sinh năm 1998", "sinh ngày 12/03/1998", "trình độ 12/12", "0912 345 678", "1.025", "tháng sau"]
)
def test_not_periods(text: str) -> None:
    assert find_period(text, TODAY) is None


def test_parse_period_needs_the_whole_text() -> None:
    assert parse_period("kết nạp 2 đảng viên tháng 10/2023", TODAY) is None
    assert parse_period("2023", TODAY) == _p("2023-01-01", "2023-12-31")
    assert parse_period("", TODAY) is None


def test_find_period_prefers_the_most_specific() -> None:
    assert find_period("năm 2023, ngày 15/10 kết nạp 1 đảng viên", TODAY) == _p("2023-10-15", "2023-10-15")
    # a month said without its year takes the year said elsewhere in the message
    assert find_period("năm 2022 chi bộ kết nạp tháng 10", TODAY) == _p("2022-10-01", "2022-10-31")


def test_invalid_dates_are_ignored() -> None:
    assert find_period("ngày 31/02/2023", TODAY) is None
    assert find_period("tháng 13/2023", TODAY) is None


def test_period_to_json() -> None:
    assert _p("2023-10-01", "2023-10-31").to_json() == {"start": "2023-10-01", "end": "2023-10-31"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.dates(min_value=date(1901, 1, 1), max_value=date(2199, 12, 31)))
def test_periods_never_raise_and_are_ordered(text: str, today: date) -> None:
    for p in (find_period(text, today), parse_period(text, today)):
        assert p is None or p.start <= p.end


def _corpus_texts() -> list[str]:
    import json
    from pathlib import Path

    folder = Path(__file__).parent / "corpus"
    return [
        json.loads(line)["text"]
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]


def test_trying_the_pattern_at_its_starts_finds_what_a_full_scan_finds() -> None:
    from handlers import periods
    from handlers.text import fold

    for text in _corpus_texts():
        folded = fold(text)
        full = [(m.span(), m.lastgroup) for m in periods._PATTERN.finditer(folded)]
        assert [(m.span(), m.lastgroup) for m in periods.matches(folded)] == full, text


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "thang",
                "10",
                "/",
                "2023",
                "ngay",
                "hom",
                "qua",
                " ",
                "nam",
                "t9",
                "q3",
                "tuan",
                "truoc",
                "7h30",
                "-",
                "sinh",
                "tot nghiep",
                "thu",
                "hai",
                "vua roi",
                "nay",
                ",",
                "x",
            ]
        ),
        max_size=12,
    )
)
def test_the_starts_cover_every_alternative(words: list[str]) -> None:
    from handlers import periods

    folded = " ".join(words)
    full = [(m.span(), m.lastgroup) for m in periods._PATTERN.finditer(folded)]
    assert [(m.span(), m.lastgroup) for m in periods.matches(folded)] == full
