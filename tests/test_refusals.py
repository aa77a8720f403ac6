"""Storage refuses with a code and its data; handlers word the refusal from the catalog."""

import re
from datetime import date
from pathlib import Path

import pytest

from handlers.i18n import catalog, refusal
from storage import targets, units
from storage.db import Database
from storage.errors import InvalidInput, NotFound
from storage.models import Metric
from storage.reports import AlreadyWithdrawn
from storage.workflow import PeriodLocked

ROOT = Path(__file__).resolve().parent.parent
RAISED = re.compile(
    r"(?:InvalidInput|NotFound|InviteRefused|PeriodLocked|AlreadyWithdrawn|MissingDriver)\(\s*f?\"([^\"]+)\""
)
# Codes built from a value: every value they are built from.
FAMILIES = {
    "storage.invite.cancel_{status}": ("used", "cancelled", "expired"),
    "storage.report.too_large.{what}": ("admissions", "sent", "completed", "classes"),
    "storage.workflow.{name}": ("deadline_day", "quarter_deadline_day", "year_deadline_day"),
}


def _raised_codes() -> list[str]:
    found: list[str] = []
    for folder in ("storage", "handlers", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            found += RAISED.findall(path.read_text(encoding="utf-8"))
    return found


def test_every_refusal_code_has_its_vietnamese_text() -> None:
    texts = catalog("vi")
    codes = _raised_codes()
    assert len(codes) > 50  # the pattern still finds the raises
    for code in codes:
        keys = [re.sub(r"\{\w+\}", value, code) for value in FAMILIES[code]] if "{" in code else [code]
        for key in keys:
            assert key in texts, key


def test_storage_words_no_refusal_itself() -> None:
    """A raise in storage names a code, never a sentence (Vietnamese letters, a CLI command)."""
    for path in (ROOT / "storage").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for call in re.findall(r"raise \w+\((.*?)\)(?:\s+from None)?$", source, flags=re.M | re.S):
            if "storage.units.problems" in call:
                continue  # not yet: a unit file's line problems are still worded by units.check_units
            assert not re.search(r"[à-ỹđ]|tiendo ", call[:200]), (path.name, call[:80])


def test_numbers_and_dates_are_written_the_vietnamese_way() -> None:
    assert (
        refusal(InvalidInput("storage.figure.out_of_range", high=10_000_000))
        == "Số liệu phải từ 0 đến 10.000.000."
    )
    locked = PeriodLocked(
        "storage.workflow.locked",
        month=date(2023, 9, 30),
        closes=date(2023, 10, 9),
        deadline=date(2023, 10, 5),
    )
    assert refusal(locked).startswith(
        "Kỳ báo cáo tháng 09/2023 đã khóa sổ từ ngày 09/10/2023 (hạn báo cáo 05/10/2023)"
    )
    # identifiers stay as typed: line 1234 of a file, invite number 1234
    assert (
        refusal(InvalidInput("storage.units.columns", line="1234", count=3))
        == "Dòng 1234: cần đúng 4 cột, có 3."
    )
    assert refusal(AlreadyWithdrawn("storage.report.already_withdrawn", receipt="BN-7")) == (
        "Báo cáo BN-7 đã được rút trước đó."
    )
    assert str(NotFound("storage.units.not_found", code="X")) == "storage.units.not_found {'code': 'X'}"


def test_the_command_line_names_its_options_where_a_chat_would_not(database: Database) -> None:
    with database.session() as session:
        root = units.create_unit(session, code="R", name="Đảng bộ R", level="Đảng bộ", parent=None)
        with pytest.raises(InvalidInput) as refused:
            targets.set_target(
                session,
                unit=root,
                metric=Metric.admissions,
                start=date(2023, 1, 1),
                end=date(2023, 12, 31),
                value=5,
                max_value=3,
            )
    assert refused.value.code == "storage.target.max_below_value"
    assert refused.value.data == {"value": 5, "max_value": 3}
    assert refusal(refused.value) == "Mức tối đa (3) phải không nhỏ hơn mức chỉ tiêu (5)."
    assert (
        refusal(refused.value, surface="cli")
        == "Mức tối đa (--max 3) phải không nhỏ hơn mức tối thiểu (--value 5)."
    )
    # a surface without words of its own for a code gets the catalog's
    with database.session() as session, pytest.raises(NotFound) as missing:
        units.get_by_code(session, "KHONG-CO")
    assert refusal(missing.value, surface="cli") == "Không có đơn vị mã 'KHONG-CO'."
