"""A PostgreSQL database for bench_progress: a fresh database on a given server, or a throw-away server.

With BENCH_POSTGRES_URL (or TEST_POSTGRES_URL) set, a database is created on that server and dropped
at the end. Otherwise a server is started the way .ci/run does it (initdb in a temp dir, loopback, a
free port) and stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from storage.db import normalise_url

# Loading speed only (the data is thrown away); memory figures a national server would have.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "8GB",
    "shared_buffers": "2GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
}


def server_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server() -> Iterator[str]:
    """Start a throw-away server; yields its admin URL."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql/*/bin and no BENCH_POSTGRES_URL")
    work = Path(tempfile.mkdtemp(prefix="tiendo-bench-pg."))
    as_pg: list[str] = []
    if os.geteuid() == 0:
        # The server refuses to run as root.
        shutil.chown(work, user="postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = work / "data"
    port = _free_port()
    options = f"-p {port} -k {work} -c listen_addresses=127.0.0.1 " + " ".join(
        f"-c {key}={value}" for key, value in SERVER_SETTINGS.items()
    )
    log = work / "server.log"
    started = False
    try:
        subprocess.run(
            [*as_pg, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"],
            check=True,
            capture_output=True,
        )
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            subprocess.run(
                [*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
                check=False,
                capture_output=True,
            )
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _fresh_database(admin_url: str) -> Iterator[str]:
    """Create a database on the server, yield its URL, drop it afterwards."""
    admin_url = normalise_url(admin_url)
    name = f"tiendo_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_database() -> Iterator[tuple[str, str]]:
    """Yields (url of a fresh empty database, where it runs)."""
    given = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    if given:
        with _fresh_database(given) as url:
            yield url, "server from BENCH_POSTGRES_URL/TEST_POSTGRES_URL"
        return
    with _server() as admin_url, _fresh_database(admin_url) as url:
        settings = ", ".join(f"{key}={value}" for key, value in SERVER_SETTINGS.items())
        yield url, f"throw-away server on 127.0.0.1 ({settings})"
