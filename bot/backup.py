"""Consistent copies of a running database, and restoring them.

SQLite: the online backup API (a consistent snapshot while the bot writes). PostgreSQL: pg_dump in
custom format (one transaction snapshot) and pg_restore --clean. A copy is written under a temporary
name and renamed once complete: a file with a backup's name is a whole backup.
"""

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import normalise_url
from storage.errors import InvalidInput


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if candidates:
        return str(candidates[-1])
    raise InvalidInput("backup.no_tool", name=name)


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(normalise_url(url))
    args = [
        "--host",
        parsed.host or "127.0.0.1",
        "--port",
        str(parsed.port or 5432),
        "--username",
        parsed.username or "postgres",
        "--dbname",
        parsed.database or "postgres",
    ]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return args, env


def _private(target: Path) -> None:
    """Create the file (or take an existing one) readable by its owner only, before anything is in it."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(target, 0o600)


def backup(url: str, target: Path) -> None:
    """A copy of everything (reports, names, accounts): written 0600, and so are SQLite's side files."""
    parsed = make_url(normalise_url(url))
    source = Path(parsed.database or "")
    if parsed.get_backend_name() == "sqlite" and not source.exists():
        raise InvalidInput("backup.no_database_file", path=str(source))
    partial = target.with_name(f".{target.name}.partial")
    previous = os.umask(0o077)  # also for the journal SQLite writes next to the copy
    try:
        _private(partial)
        if parsed.get_backend_name() == "sqlite":
            with (
                contextlib.closing(sqlite3.connect(source)) as live,
                contextlib.closing(sqlite3.connect(partial)) as copy,
            ):
                live.backup(copy)
        else:
            args, env = _pg_args(url)
            result = subprocess.run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(partial), *args],
                capture_output=True,
                text=True,
                env={**_base_env(), **env},
            )
            if result.returncode != 0:
                raise InvalidInput("backup.pg_dump_failed", detail=result.stderr.strip()[:300])
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    finally:
        os.umask(previous)
        partial.unlink(missing_ok=True)


# Backups into a folder: tiendo-2025-11-01-021500.dump (PostgreSQL) or .db (SQLite), local time.
_DATED = re.compile(r"tiendo-(\d{4}-\d{2}-\d{2}-\d{6})\.(dump|db)")


def backup_into(url: str, folder: Path, *, keep_days: int | None, now: datetime) -> tuple[Path, list[Path]]:
    """A dated backup in `folder`; then, if `keep_days`, the folder's backups older than that are
    deleted (only files named like a backup, and only once the new one is complete)."""
    suffix = "db" if make_url(normalise_url(url)).get_backend_name() == "sqlite" else "dump"
    target = folder / f"tiendo-{now:%Y-%m-%d-%H%M%S}.{suffix}"
    backup(url, target)
    pruned: list[Path] = []
    if keep_days is not None:
        cutoff = now.replace(tzinfo=None) - timedelta(days=keep_days)
        for path in sorted(folder.iterdir()):
            match = _DATED.fullmatch(path.name)
            if path == target or match is None or not path.is_file():
                continue
            if datetime.strptime(match.group(1), "%Y-%m-%d-%H%M%S") < cutoff:
                path.unlink()
                pruned.append(path)
    return target, pruned


def restore(url: str, source: Path) -> None:
    if not source.exists():
        raise InvalidInput("backup.no_backup_file", path=str(source))
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() == "sqlite":
        target = Path(parsed.database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as copy, sqlite3.connect(target) as live:
            copy.backup(live)
        return
    args, env = _pg_args(url)
    result = subprocess.run(
        [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", *args, str(source)],
        capture_output=True,
        text=True,
        env={**_base_env(), **env},
    )
    if result.returncode != 0:
        raise InvalidInput("backup.pg_restore_failed", detail=result.stderr.strip()[:300])


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "PGSSLMODE")}
