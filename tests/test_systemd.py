"""The systemd units of deploy/, run as written: the install path moved to this checkout (its .venv,
as `make install` or `make test` leaves it), the settings file made from .env.example, a Zalo
stand-in for the platform, an https PUBLIC_BASE_URL (a proxy's) and a free port.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from storage.db import normalise_url
from tests.utils.fake_zalo_server import TOKEN, FakeZaloServer
from tests.utils.systemd import Service, environment_file, read_unit

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTALL = "/opt/tiendo/app"  # where docs/deploy.md installs the code, as the units say
WEBHOOK_SECRET = "zalo-webhook-secret-0123456789"
BASE = "https://tiendo.example.vn"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def zalo() -> Iterator[FakeZaloServer]:
    with FakeZaloServer() as server:
        yield server


def settings_file(tmp_path: Path, **values: str) -> Path:
    """.env.example with these values filled in, as an administrator would (docs/deploy.md)."""
    lines = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        key = line.partition("=")[0]
        if not line.startswith("#") and key in values:
            line = f"{key}={values.pop(key)}"
        lines.append(line)
    assert not values, f"not in .env.example: {values}"
    path = tmp_path / "env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def zalo_settings(zalo: FakeZaloServer, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "ZALO_BOT_TOKEN": TOKEN,
        "ZALO_API_BASE_URL": zalo.base_url,
        "PUBLIC_BASE_URL": BASE,
        "ZALO_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SECRET_KEY": "file-link-signing-key-0123456789",
        "DATABASE_URL": database_url,
        **extra,
    }


def installed(tmp_path: Path, env: Path) -> dict[str, str]:
    """The units' paths -> this test's: the code is this checkout; settings, backups, cache are the test's."""
    if not (ROOT / ".venv" / "bin" / "tiendo").exists():
        pytest.fail("no .venv/bin/tiendo in this checkout: run make install (or make test) first")
    return {
        f"{INSTALL}/.env": str(env),
        INSTALL: str(ROOT),
        "/var/cache/tiendo": str(tmp_path / "cache"),
    }


def wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()[1][-3000:]
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
            if answer.status_code == 200 and answer.json()["status"] == "ok":
                return answer.json()
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "no healthy /healthz"
        time.sleep(0.2)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def talk(zalo: FakeZaloServer, user: str) -> None:
    """A user writes to the bot through the registered webhook; the bot answers."""
    before = len(zalo.sent_texts(user))
    update = zalo.make_update("message.text.received", user, "/start", "Lan", None)
    assert zalo.deliver_webhook(update) == 200
    wait_for(lambda: len(zalo.sent_texts(user)) > before)


def test_env_example_reads_the_same_in_systemd_and_in_the_bot() -> None:
    """The same .env is read by systemd (EnvironmentFile=) and by the bot (python-dotenv): a comment
    after a value would become part of it for systemd, so .env.example keeps them on their own lines."""
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert environment_file(text) == dotenv_values(stream=__import__("io").StringIO(text))
    # The parser is systemd's in the cases that matter (systemd.exec(5)):
    sample = (
        "A=1 # not a comment\n# comment\n; comment\nB = \"two words\"\nC='x y'\nnot a setting\nD=a\\\nb\n"
    )
    assert environment_file(sample) == {"A": "1 # not a comment", "B": "two words", "C": "x y", "D": "ab"}


def test_the_service_runs_as_written(zalo: FakeZaloServer, tmp_path: Path) -> None:
    """tiendo.service on SQLite: ExecStartPre= migrates and says so, ExecStart= serves the webhook,
    /healthz and /metrics, and KillSignal= stops it within TimeoutStopSec=; then the backup service."""
    port = free_port()
    zalo.forward_to = f"http://127.0.0.1:{port}"
    database = tmp_path / "data" / "tiendo.db"
    env = settings_file(tmp_path, **zalo_settings(zalo, f"sqlite:///{database}", LOG_FORMAT="json"))
    paths = installed(tmp_path, env)
    service = Service.load(DEPLOY / "tiendo.service", {**paths, "--port 8080": f"--port {port}"})
    # Nothing of this process's environment reaches the service: systemd starts from a clean one.
    assert "TEST_POSTGRES_URL" not in service.environment() and "VIRTUAL_ENV" not in service.environment()

    (migrate,) = service.start_pre()
    assert migrate.returncode == 0, migrate.stderr
    assert migrate.stdout.startswith(f"Đã tạo các bảng của cơ sở dữ liệu {database}, phiên bản 0")
    assert database.stat().st_mode & 0o777 == 0o600

    process = service.start()
    try:
        health = wait_healthy(port, process)
        assert health["channels"]["zalo"]["webhook"] == "ok"
        assert zalo.webhook_url == f"{BASE}/zalo/webhook"
        talk(zalo, "zalo-user-1")
        figures = scrape(port)
        assert figures[("tiendo_database_up", ())] == 1
        assert figures[("tiendo_updates_received", (("channel", "zalo"), ("window", "1h")))] == 1
        assert figures[("tiendo_updates_answered", (("channel", "zalo"), ("window", "1h")))] == 1
        assert figures[("tiendo_bot_messages_sent", (("channel", "zalo"),))] == 1
        # Through a proxy (its X-Forwarded-For), /metrics is refused.
        proxied = httpx.get(
            f"http://127.0.0.1:{port}/metrics", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10
        )
        assert proxied.status_code == 403
    finally:
        took, out, err = service.stop(process)
    assert Service.clean_exit(process.returncode), err[-3000:]
    assert took < 30
    # LOG_FORMAT=json: every line the service wrote to the journal is a JSON object, without a secret.
    lines = [json.loads(line) for line in err.splitlines() if line]
    assert any("Application shutdown complete" in line["message"] for line in lines)
    for secret in (TOKEN, TOKEN.split(":")[1], WEBHOOK_SECRET):
        assert secret not in err and secret not in out

    (again,) = service.start_pre()
    assert again.returncode == 0 and "đã ở phiên bản mới nhất" in again.stdout

    # The nightly backup, with the same settings: a dated copy, 0600, and old ones pruned.
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)  # docs/deploy.md: install -d -o tiendo -g tiendo -m 700
    (backups / "tiendo-2020-01-01-021500.db").write_text("old")
    nightly = Service.load(DEPLOY / "tiendo-backup.service", {**paths, "/var/backups/tiendo": str(backups)})
    done = nightly.run()
    assert done.returncode == 0, done.stderr
    (copy,) = backups.iterdir()
    assert re.fullmatch(r"tiendo-\d{4}-\d\d-\d\d-\d{6}\.db", copy.name)
    assert copy.stat().st_mode & 0o777 == 0o600 and copy.stat().st_size > 0
    assert "Đã xóa 1 bản sao lưu cũ hơn 30 ngày" in done.stdout


@pytest.fixture
def empty_postgres_url(empty_database_url: str) -> str:
    if empty_database_url.startswith("sqlite"):
        pytest.skip("the workers' race on migrations is PostgreSQL's (SQLite serialises them)")
    return empty_database_url


def test_two_workers_of_the_template_start_at_once_on_postgresql(
    zalo: FakeZaloServer, tmp_path: Path, empty_postgres_url: str
) -> None:
    """tiendo@.service twice at the same moment on an empty PostgreSQL database: one migrates, the
    other waits and finds it done; both serve, and /metrics gives the same figures from each."""
    url = make_url(normalise_url(empty_postgres_url)).set(drivername="postgresql")
    env = settings_file(tmp_path, **zalo_settings(zalo, url.render_as_string(hide_password=False)))
    paths = installed(tmp_path, env)
    ports = [free_port(), free_port()]
    workers = [Service.load(DEPLOY / "tiendo@.service", paths, instance=str(port)) for port in ports]
    zalo.forward_to = f"http://127.0.0.1:{ports[0]}"

    # Both ExecStartPre= at the same moment (systemd starts enabled units in parallel).
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        outcomes = [result[0] for result in pool.map(lambda worker: worker.start_pre(), workers)]
    for outcome in outcomes:
        assert outcome.returncode == 0, outcome.stderr
    said = sorted(outcome.stdout.split(" ", 1)[0] for outcome in outcomes)
    assert said == ["Cơ", "Đã"], [o.stdout for o in outcomes]  # "Đã tạo các bảng…" once, "… mới nhất" once

    processes = [worker.start() for worker in workers]
    try:
        for port, process in zip(ports, processes, strict=True):
            wait_healthy(port, process)
        talk(zalo, "zalo-user-2")
        first, second = (scrape(port) for port in ports)
        shared = {key for key in first if key[0].startswith("tiendo_") and "seconds" not in key[0]}
        assert {key: first[key] for key in shared} == {key: second[key] for key in shared}
        assert first[("tiendo_updates_answered", (("channel", "zalo"), ("window", "1h")))] == 1
        assert first[("tiendo_info", (("database", "postgresql"), ("version", "0.1.0")))] == 1
    finally:
        stopped = [worker.stop(process) for worker, process in zip(workers, processes, strict=True)]
    for process, (took, _, err) in zip(processes, stopped, strict=True):
        assert Service.clean_exit(process.returncode), err[-3000:]
        assert took < 30

    # The backup service on PostgreSQL: pg_dump's custom format, readable by pg_restore.
    backups = tmp_path / "backups"
    backups.mkdir(mode=0o700)
    nightly = Service.load(DEPLOY / "tiendo-backup.service", {**paths, "/var/backups/tiendo": str(backups)})
    done = nightly.run()
    assert done.returncode == 0, done.stderr
    (copy,) = backups.iterdir()
    assert copy.suffix == ".dump" and copy.stat().st_mode & 0o777 == 0o600
    pg_restore = (
        shutil.which("pg_restore") or sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_restore"))[-1]
    )
    listing = subprocess.run([str(pg_restore), "--list", str(copy)], capture_output=True, text=True)
    assert listing.returncode == 0 and "TABLE public report" in listing.stdout


def test_the_template_differs_from_the_service_only_by_its_port() -> None:
    """tiendo@.service is tiendo.service with the instance as the port: a change to one goes to both."""
    single = read_unit((DEPLOY / "tiendo.service").read_text(encoding="utf-8"))
    template = read_unit((DEPLOY / "tiendo@.service").read_text(encoding="utf-8"))
    assert template["Service"].pop("ExecStart") == [
        f"{INSTALL}/.venv/bin/tiendo serve --host 127.0.0.1 --port %i"
    ]
    assert single["Service"].pop("ExecStart") == [
        f"{INSTALL}/.venv/bin/tiendo serve --host 127.0.0.1 --port 8080"
    ]
    assert template["Service"] == single["Service"] and template["Install"] == single["Install"]


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify`: every key known, every value parsed, every program there, once the
    paths are this checkout's (User= names an account the server has: root here)."""
    env = settings_file(tmp_path)
    paths = {**installed(tmp_path, env), "User=tiendo": "User=root", "Group=tiendo": "Group=root"}
    names = ["tiendo.service", "tiendo@.service", "tiendo-backup.service", "tiendo-backup.timer"]
    for name in names:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        for old, new in sorted(paths.items(), key=lambda item: len(item[0]), reverse=True):
            text = text.replace(old, new)
        (tmp_path / name).write_text(text, encoding="utf-8")
    units = [str(tmp_path / name.replace("@.", "@8081.")) for name in names]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "info"},
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    timer = read_unit((DEPLOY / "tiendo-backup.timer").read_text(encoding="utf-8"))
    (when,) = timer["Timer"]["OnCalendar"]
    calendar = subprocess.run(["systemd-analyze", "calendar", when], capture_output=True, text=True)
    assert calendar.returncode == 0 and "Asia/Ho_Chi_Minh" in calendar.stdout
