"""The deployment kit: the lock file, the container's files and the optional PostgreSQL driver.

(The systemd units are run as systemd would run them in tests/test_systemd.py.)
"""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def pinned() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock: name -> (version, hashes)."""
    text = LOCK.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)", line)
        assert match, f"not a hashed pin: {line[:80]}"
        pins[canonicalize_name(match.group(1))] = (
            match.group(2),
            re.findall(r"[0-9a-f]{64}", match.group(3)),
        )
    return pins


def test_the_lock_pins_the_runtime_and_the_postgresql_extra_with_hashes() -> None:
    """What `make install` and the Dockerfile install: every requirement of pyproject.toml (the runtime
    and its postgresql extra) pinned to a version it accepts, every file by its hash; regenerate it
    with `make lock` when pyproject.toml changes."""
    pins = pinned()
    project = PYPROJECT["project"]
    wanted = [
        Requirement(r) for r in (*project["dependencies"], *project["optional-dependencies"]["postgresql"])
    ]
    build = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for requirement in (*wanted, *build):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock: run make lock"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), f"{requirement}: locked {version}"
        assert hashes
    for extra in ("binary",):  # psycopg[binary]: the compiled driver, no libpq needed on the server
        assert canonicalize_name(f"psycopg-{extra}") in pins
    # Development tools stay out of a server's install.
    for tool in ("pytest", "ruff", "playwright", "pip-tools", "hypothesis"):
        assert canonicalize_name(tool) not in pins, tool


def test_postgresql_driver_is_an_extra() -> None:
    """A SQLite-only install does without psycopg; the dev setup (and so CI) gets it through the extra."""
    project = PYPROJECT["project"]
    assert not [r for r in project["dependencies"] if canonicalize_name(Requirement(r).name) == "psycopg"]
    assert [Requirement(r).name for r in project["optional-dependencies"]["postgresql"]] == ["psycopg"]
    assert "tiendo[postgresql]" in project["optional-dependencies"]["dev"]


SQLITE_ONLY = """
import sys
# As on a server installed without the postgresql extra: importing psycopg fails.
sys.modules["psycopg"] = None
from bot.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without_driver(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-c", SQLITE_ONLY, *args],
        cwd=tmp_path,
        env={**env, "ZALO_BOT_TOKEN": "1234567890:not-a-real-token-xxxxxxxxxxxxxxxxxxxx"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_the_driver_sqlite_works_and_postgresql_says_what_to_install(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/tiendo.db"
    for args in (("migrate",), ("demo",), ("progress", "--today", "2023-11-01")):
        done = run_without_driver(tmp_path, database, *args)
        assert done.returncode == 0, done.stderr
    assert "Đảng bộ huyện Thanh Liêm" in done.stdout
    for args in (("migrate",), ("units", "list"), ("serve",)):
        done = run_without_driver(tmp_path, "postgresql://tiendo:pw-secret@127.0.0.1:5432/tiendo", *args)
        assert done.returncode == 1
        last = done.stderr.strip().splitlines()[-1]  # serve logs its start before
        assert last.startswith("Lỗi: DATABASE_URL là postgresql:// nhưng máy này chưa cài"), done.stderr
        assert "psycopg" in done.stderr and "make install" in done.stderr
        assert "Traceback" not in done.stderr and "pw-secret" not in done.stderr


# --- tiendo migrate, tiendo backup FOLDER --keep-days N -----------------------------------------


@pytest.fixture
def tiendo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`tiendo …` in-process against the given database."""
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no stray .env

    def run(database_url: str, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("DATABASE_URL", database_url)
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_migrate_says_what_it_did(tiendo, empty_database_url: str) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from storage.db import Database, migration_config

    head = sorted(p.stem for p in (ROOT / "storage" / "migrations" / "versions").glob("0*.py"))[-1]
    database = Database(empty_database_url)
    config = migration_config()
    with database.engine.begin() as connection:  # a database left by an older version
        config.attributes["connection"] = connection
        command.upgrade(config, "0003_kept_replies")
    database.dispose()
    code, out, err = tiendo(empty_database_url, "migrate")
    assert code == 0, err
    assert f"từ phiên bản 0003_kept_replies lên {head} (0004_channels, 0005_retention," in out
    code, out, _ = tiendo(empty_database_url, "migrate")
    assert code == 0 and f"đã ở phiên bản mới nhất ({head}): không có gì phải nâng cấp" in out
    if not empty_database_url.startswith("sqlite"):
        assert "@" not in out  # host, port and name: never the user and password


def test_migrate_creates_an_empty_database(tiendo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = tiendo(f"sqlite:///{tmp_path}/new/tiendo.db", "migrate")
    assert code == 0, err
    assert out.startswith(f"Đã tạo các bảng của cơ sở dữ liệu {tmp_path}/new/tiendo.db, phiên bản 0")


def test_backup_into_a_folder_keeps_the_last_days(tiendo, database_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "backups"
    folder.mkdir()
    suffix = "db" if database_url.startswith("sqlite") else "dump"
    old = folder / f"tiendo-2020-01-31-021500.{suffix}"
    recent = folder / f"tiendo-{_days_ago(3):%Y-%m-%d}-021500.{suffix}"
    other = folder / "tiendo-notes.txt"  # not named like a backup: never touched
    for path in (old, recent, other):
        path.write_text("x")
    code, out, err = tiendo(database_url, "backup", str(folder), "--keep-days", "30")
    assert code == 0, err
    written = [p for p in folder.iterdir() if p not in (recent, other)]
    assert len(written) == 1 and re.fullmatch(rf"tiendo-\d{{4}}-\d\d-\d\d-\d{{6}}\.{suffix}", written[0].name)
    assert written[0].stat().st_mode & 0o777 == 0o600 and written[0].stat().st_size > 1000
    assert f"Đã sao lưu cơ sở dữ liệu vào {written[0]}." in out
    assert f"Đã xóa 1 bản sao lưu cũ hơn 30 ngày: {old.name}." in out
    assert not old.exists() and recent.exists() and other.exists()
    # The copy restores.
    code, _, err = tiendo(database_url, "restore", str(written[0]), "--yes")
    assert code == 0, err


def test_backup_folder_created_private_and_mistakes_refused(tiendo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    database = f"sqlite:///{tmp_path}/tiendo.db"
    assert tiendo(database, "migrate")[0] == 0
    code, _, err = tiendo(database, "backup", str(tmp_path / "new-folder"), "--keep-days", "7")
    assert code == 0, err
    assert (tmp_path / "new-folder").stat().st_mode & 0o777 == 0o700
    assert len(list((tmp_path / "new-folder").iterdir())) == 1
    code, _, err = tiendo(database, "backup", str(tmp_path / "tiendo.db"), "--keep-days", "7")
    assert code == 1 and "là một tệp" in err
    code, _, err = tiendo(database, "backup", str(tmp_path / "new-folder"), "--keep-days", "0")
    assert code == 1 and "--keep-days cần từ 1 ngày" in err


def test_a_failed_backup_leaves_no_file_that_looks_like_one(tiendo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if not any(Path("/usr/lib/postgresql").glob("*/bin/pg_dump")) and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    folder = tmp_path / "backups"
    code, _, err = tiendo("postgresql://nobody@127.0.0.1:1/none", "backup", str(folder), "--keep-days", "7")
    assert code == 1 and "pg_dump không chạy được" in err
    assert list(folder.iterdir()) == []  # neither a backup's name nor a partial copy


def _days_ago(days: int):  # type: ignore[no-untyped-def]
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(days=days)
