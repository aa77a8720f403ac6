"""Rules of the code base that a reviewer would otherwise check by hand."""

import ast
import re
from pathlib import Path

from handlers.i18n import catalog
from storage.breakdowns import BREAKDOWN_FIELDS

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_imports_point_one_way() -> None:
    for path in (ROOT / "handlers").rglob("*.py"):
        assert not _imports(path) & {"telegram", "bot", "httpx"}, path
    for path in (ROOT / "storage").rglob("*.py"):
        assert not _imports(path) & {"telegram", "bot", "handlers"}, path


def test_every_text_key_used_in_code_is_in_the_vietnamese_catalog() -> None:
    keys = catalog("vi")
    pattern = re.compile(r"""\bt\(\s*["']([a-z_.]+)["']""")
    used: set[str] = set()
    for folder in ("handlers", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            used.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "no keys found: the pattern is wrong"
    missing = sorted(k for k in used if k not in keys)
    assert not missing, missing
    # Keys built at run time from enums: every value must have its text.
    for prefix, values in (
        ("role.", ("secretary", "staff", "admin")),
        ("unsupported.", ("sticker", "photo", "voice", "document", "unsupported", "edited")),
        ("report.status.", ("confirmed", "withdrawn")),
        ("breakdown.", BREAKDOWN_FIELDS),
    ):
        for value in values:
            assert prefix + value in keys


def test_the_five_breakdowns_are_defined_once() -> None:
    """Parser facts, tables, rollups, report inputs and exports all carry storage's BREAKDOWN_FIELDS."""
    from dataclasses import fields

    from handlers import exports, parser, progress_text
    from storage import reports, rollups
    from storage.models import AdmissionEntry, SubtreeMonthRollup

    assert parser.BREAKDOWN_FIELDS is BREAKDOWN_FIELDS
    assert [f.name for f in fields(parser.AdmissionFacts)] == ["count", *BREAKDOWN_FIELDS]
    assert [f.name for f in fields(reports.AdmissionInput)] == ["count", *BREAKDOWN_FIELDS, "names"]
    total_fields = {f.name for f in fields(rollups.Totals)}
    for name in BREAKDOWN_FIELDS:
        assert name in AdmissionEntry.model_fields
        assert {name, f"{name}_known"} <= total_fields
        assert {name, f"{name}_known"} <= set(SubtreeMonthRollup.model_fields)
    assert set(exports.SHARE_TITLES) == set(progress_text.SHARES) == set(BREAKDOWN_FIELDS)
