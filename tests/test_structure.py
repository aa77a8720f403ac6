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


def _modules_imported(path: Path) -> set[str]:
    """Full names of the modules a file imports (`from a.b import c` gives a.b and a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


CHANNELS = ROOT / "bot" / "channels"
PLATFORM_MODULES = ("telegram", "bot.channels.telegram", "bot.channels.zalo", "bot.channels.zalo_client")


def test_only_the_channel_implementations_know_the_platforms() -> None:
    """Nothing outside bot/channels/ imports python-telegram-bot, the Zalo client or a platform's
    channel module: the outbox sender, the web routes, run, serve and the CLI hold a map of channels."""
    for folder in ("bot", "handlers", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            if CHANNELS in path.parents:
                continue
            imported = _modules_imported(path)
            platform = {n for n in imported for p in PLATFORM_MODULES if n == p or n.startswith(p + ".")}
            assert not platform, (path, platform)


def test_the_channel_neutral_runtime_branches_on_no_channel_name() -> None:
    for name in ("outbox_sender.py", "web.py", "serve.py", "dispatch.py", "scheduler.py", "usage.py"):
        source = (ROOT / "bot" / name).read_text(encoding="utf-8")
        assert not re.search(r"""["'](telegram|zalo)["']""", source, re.IGNORECASE), name


def test_every_channel_module_is_found_and_builds_channels_that_keep_the_protocol(tmp_path: Path) -> None:
    """Adding a channel is adding a module to bot/channels/: the registry finds it by itself."""
    from bot import channels
    from bot.channels.base import Channel
    from bot.settings import Settings
    from handlers.types import Services

    found = [module.__name__ for module in channels.modules()]
    assert found[0] == "bot.channels.zalo"  # Zalo first
    assert set(found) == {"bot.channels.zalo", "bot.channels.telegram", "bot.channels.terminal"}
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite:///{tmp_path}/x.db",
        telegram_bot_token="123:TEST",
        zalo_bot_token="456:TEST",
        zalo_bots="xa-a=789:TEST, xa-b=790:TEST",
    )
    built = channels.build(channels.Wiring(settings=settings, services=Services(session=None)))  # type: ignore[arg-type]
    assert list(built) == ["zalo", "zalo:xa-a", "zalo:xa-b", "telegram"]
    for channel in built.values():
        assert isinstance(channel, Channel), channel
    assert [c.webhook_path for c in built.values()] == [
        "/zalo/webhook",
        "/zalo/xa-a/webhook",
        "/zalo/xa-b/webhook",
        "/telegram/webhook",
    ]
    from bot.channels.terminal import TerminalChannel

    assert isinstance(TerminalChannel(Services(session=None)), Channel)  # type: ignore[arg-type]
    assert channels.any_configured(settings)
    assert not channels.any_configured(Settings(_env_file=None))


def test_the_five_breakdowns_are_defined_once() -> None:
    """Parser facts, tables, rollups, report inputs and exports all carry storage's BREAKDOWN_FIELDS."""
    from dataclasses import fields

    from handlers import exports, parser, progress_text
    from storage import reports, rollups
    from storage.models import AdmissionEntry, SubtreeMonthRollup

    assert parser.BREAKDOWN_FIELDS is BREAKDOWN_FIELDS
    assert [f.name for f in fields(parser.AdmissionFacts)] == ["count", *BREAKDOWN_FIELDS]
    assert [f.name for f in fields(reports.AdmissionInput)] == [
        "count",
        *BREAKDOWN_FIELDS,
        "names",
        "ceremony_date",
    ]
    total_fields = {f.name for f in fields(rollups.Totals)}
    for name in BREAKDOWN_FIELDS:
        assert name in AdmissionEntry.model_fields
        assert {name, f"{name}_known"} <= total_fields
        assert {name, f"{name}_known"} <= set(SubtreeMonthRollup.model_fields)
    assert set(exports.SHARE_TITLES) == set(progress_text.SHARES) == set(BREAKDOWN_FIELDS)
