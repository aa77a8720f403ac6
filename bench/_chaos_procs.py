"""Real processes for bench_chaos: the bot (killed -9 and restarted at will) and a PostgreSQL server of
its own that can be stopped and started again (the dev server on 55432 is never touched).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench._progress_pg import _free_port, server_bin
from storage.db import normalise_url

READY_TIMEOUT = 60.0


@dataclass
class Life:
    process: subprocess.Popen[bytes]
    log_path: Path
    killed: bool = False  # by the harness (SIGKILL) or stopped by it (SIGTERM)


@dataclass
class Bot:
    """One command (`python -m bot serve|run|nudge …`, through bench/_chaos_traced.py), started again
    after every kill."""

    args: list[str]
    env: dict[str, str]
    work: Path
    name: str
    lives: list[Life] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.lives[-1].process.pid

    @property
    def pids(self) -> list[int]:
        return [life.process.pid for life in self.lives]

    def start(self) -> None:
        log_path = self.work / f"{self.name}-{len(self.lives)}.log"
        with log_path.open("wb") as out:
            # The shipped bot, with each Bot API request tagged with the update it answers.
            process = subprocess.Popen(
                [sys.executable, "-m", "bench._chaos_traced", *self.args],
                cwd=self.work,
                env=self.env,
                stdout=out,
                stderr=out,
            )
        self.lives.append(Life(process, log_path))

    def alive(self) -> bool:
        return bool(self.lives) and self.lives[-1].process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine or the OOM killer takes the process."""
        life = self.lives[-1]
        life.killed = True
        if life.process.poll() is None:
            life.process.kill()
        life.process.wait(timeout=30)

    def stop(self) -> None:
        life = self.lives[-1]
        if life.process.poll() is None:
            life.killed = True
            life.process.send_signal(signal.SIGTERM)
            try:
                life.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                life.process.kill()
                life.process.wait(timeout=10)

    async def ready(self, port: int) -> None:
        """Until /healthz answers 200 (serve)."""
        deadline = time.monotonic() + READY_TIMEOUT
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=2)).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready in {READY_TIMEOUT:.0f} s: {self.tail()}")

    def tail(self) -> str:
        return self.lives[-1].log_path.read_text(errors="replace")[-2000:] if self.lives else ""

    def crashes(self) -> list[str]:
        """Lives that ended without the harness ending them (exit code), or are dead right now."""
        return [
            f"pid {life.process.pid} exited {life.process.returncode}"
            for life in self.lives
            if life.process.poll() is not None and not life.killed
        ]

    def tracebacks(self) -> Counter[str]:
        """The last line of every traceback in the logs (the exception), counted."""
        found: Counter[str] = Counter()
        for life in self.lives:
            text = life.log_path.read_text(errors="replace")
            for block in text.split("Traceback (most recent call last):")[1:]:
                lines = [ln for ln in block.splitlines() if ln and not ln.startswith((" ", "\t"))]
                last = lines[0] if lines else "?"
                found[re.sub(r"0x[0-9a-f]+|\d{3,}", "N", last)[:140]] += 1
        return found


class Postgres:
    """A throw-away PostgreSQL server (initdb in a temp dir, loopback, a free port) that the chaos bench
    may stop (`pg_ctl stop -m immediate`: the server vanishes, as on a crash) and start again."""

    def __init__(self) -> None:
        bin_dir = server_bin()
        if bin_dir is None:
            raise RuntimeError("no PostgreSQL server in /usr/lib/postgresql/*/bin")
        self.bin = bin_dir
        self.work = Path(tempfile.mkdtemp(prefix="tiendo-bench-chaos-pg."))
        self.as_pg: list[str] = []
        if os.geteuid() == 0:  # the server refuses to run as root
            shutil.chown(self.work, user="postgres")
            self.as_pg = ["runuser", "-u", "postgres", "--"]
        self.data = self.work / "data"
        self.port = _free_port()
        self.options = (
            # fsync off is safe here (the machine does not crash, only the server); synchronous_commit
            # stays on: off, an immediate stop loses the last commits the bot was told were durable.
            f"-p {self.port} -k {self.work} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self.version = ""

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_pg, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
        )

    def init(self) -> None:
        subprocess.run(
            [
                *self.as_pg,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
        )
        self.start()
        self.version = (
            subprocess.run([str(self.bin / "postgres"), "--version"], capture_output=True, text=True)
            .stdout.split("(PostgreSQL)")[-1]
            .strip()
        )

    def start(self) -> None:
        self._ctl("-l", str(self.work / "server.log"), "-w", "-o", self.options, "start")

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("fast")
        shutil.rmtree(self.work, ignore_errors=True)

    def _admin(self, statement: str) -> None:
        # A new connection each time: one pooled across an outage would be dead when reused.
        engine = create_engine(
            normalise_url(self.admin_url), isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database on this server, dropped afterwards."""
        name = f"tiendo_chaos_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:{self.port}/{name}"
        finally:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def postgres() -> Iterator[Postgres | None]:
    """A throw-away server, or None where PostgreSQL is not installed."""
    if server_bin() is None:
        yield None
        return
    server = Postgres()
    try:
        server.init()
        yield server
    finally:
        server.close()
