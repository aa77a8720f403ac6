"""End-to-end benchmark: the real `tiendo serve` taking Telegram webhooks from simulated secretaries.

    .venv/bin/python -m bench.bench_e2e [--quick] [--backend echo,sqlite,postgresql]
                                                          [--env KEY=VALUE[,KEY=VALUE…]]… [--time-limit S]

Each secretary (200; 20 with --quick) is a private chat that registers with /dangky CODE and then,
waiting for each answer before the next message, sends a mix of full reports confirmed by pressing the
summary's Xác nhận button (callback data taken from the inline keyboard the fake API received) or by
typing "1", short reports whose breakdowns are asked in one question and answered in one message (typed,
or the Không rõ button), /tiendo and /baocao; each report is for its own past month, as real reports
are (the same report twice is asked about as a likely duplicate). Updates go by
POST to /telegram/webhook on 127.0.0.1 (httpx, keep-alive); replies go to a fake Bot API on 127.0.0.1
(tests/utils/fake_bot_api.py, asyncio) in this process, which matches them to the chat that waits for them.

Measured per backend: updates/s (POSTs answered 200 between the 10th and 90th percentile of the run),
latency from POST to the reply's arrival at the fake API (p50/p95/p99), CPU time of the server process
per update (/proc/PID/stat utime+stime), its resident size idle (after start-up) and at peak (VmHWM).
The floor ("echo") is a bare python-telegram-bot echo bot on the same web stack (bench/_e2e_echo.py).
Afterwards the database must hold every confirmed report exactly once (compared with the confirms sent).

Goals, as ratios to the echo bot measured in the same run (the cores are shared, so absolute figures
move with the machine's load): >= 60 % of its updates/s and CPU per update <= 1.5x its, with SQLite and
with PostgreSQL; idle RSS <= 150 MB. PostgreSQL: BENCH_POSTGRES_URL / TEST_POSTGRES_URL (a database is created
and dropped), else a throw-away server (bench/_progress_pg.py).

Each database backend runs three times by default: as shipped, with TELEGRAM_MAX_RATE=0, and so with
two `tiendo serve` workers (WORKERS=2, the bench's own key: each POST goes to one of them at random, as
behind a load balancer; docs/deploy.md §6). As shipped the bot paces everything it sends to 28 messages
a second (Telegram's overall limit for a bot, bot/cli.py), so that row measures the pacing; the others
show what the server itself sustains. --env replaces these variants with the settings given (one row
per --env; "" for as shipped).
The Markdown is printed and written to bench/results/e2e.md (not with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from bench import _goals
from bench._e2e_db import Stored, prepare, stored
from bench._e2e_load import SCENARIOS, Load, LoadResult
from bench._goals import Goal
from bench._progress_pg import postgres_database
from tests.utils.fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "e2e.md"
DEFAULT_VARIANTS = ("", "TELEGRAM_MAX_RATE=0", "TELEGRAM_MAX_RATE=0,WORKERS=2")
SECRET = "bench-webhook-secret-0123456789"
TOKEN = "123456:BENCH-TOKEN"
# Against the bare python-telegram-bot echo bot measured in the same run (same machine, same load at the
# same moment): absolute figures move with whatever else the shared cores do, the ratios much less.
GOAL_RATE_RATIO = 0.60
GOAL_CPU_RATIO = 1.5
GOAL_IDLE_MB = 150.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
START_TIMEOUT = 90.0
DRAIN_TIMEOUT = 90.0


def log(message: str) -> None:
    print(message, flush=True)


# --- the process under test -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), from /proc (no psutil here)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    numbers = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = numbers[3] + numbers[4]
    return float(sum(numbers) - idle), float(sum(numbers))


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/webhook"


def serve_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bot", "serve", "--port", str(port)]


def parse_settings(text: str) -> dict[str, str]:
    """'KEY=VALUE,KEY=VALUE' -> a dict; '' -> as shipped."""
    settings = {}
    for item in (i for i in text.split(",") if i):
        key, sep, value = item.partition("=")
        if not sep or not key.isupper():
            raise SystemExit(f"--env wants KEY=VALUE, not {item!r}")
        settings[key] = value
    return settings


def campaign_day(today: date) -> int:
    """A campaign day whose 72-hour grace window is not now: the monthly campaign stays out of the run."""
    return 15 if today.day <= 5 or today.day > 25 else 1


async def start_server(
    command: list[str], env: dict[str, str], port: int, work: Path, api: FakeBotAPI
) -> Server:
    log_path = work / f"server-{port}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, port, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
            if api.counts["setWebhook"] > 0:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{port}/healthz", timeout=5)).status_code == 200:
                        return server
            await asyncio.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"server did not start in {START_TIMEOUT:.0f} s: {log_path.read_text()[-2000:]}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            log("  the server did not stop within 30 s of SIGTERM: killed")
            server.process.kill()
            server.process.wait(timeout=10)
    if server.process.returncode not in (0, -signal.SIGTERM):
        log(f"  the server exited with {server.process.returncode}")


# --- one run ------------------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    backend: str  # echo | sqlite | postgresql
    secretaries: int
    load: LoadResult
    cpu_s: float
    idle_mb: float
    peak_mb: float
    busy_pct: float  # the whole machine during the load
    busy_s: float  # CPU seconds the whole machine spent during the load
    harness_cpu_s: float
    leftover: int
    stored: Stored | None = None
    log_errors: int = 0
    drained_s: float = 0.0
    load_avg: float = 0.0  # the machine's 1-minute load average at the end of the load (2 cores shared)

    @property
    def rate(self) -> float:
        times = sorted(self.load.accepted)
        if len(times) < 10:
            return 0.0
        lo, hi = int(len(times) * 0.1), int(len(times) * 0.9)
        return (hi - lo) / max(times[hi] - times[lo], 1e-9)

    @property
    def duration(self) -> float:
        return self.load.finished - self.load.started

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(self.load.updates, 1)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def run_one(
    *,
    label: str,
    backend: str,
    database_url: str | None,
    settings: dict[str, str],
    secretaries: int,
    per_secretary: int,
    time_limit: float,
    work: Path,
) -> Row:
    settings = dict(settings)
    workers = int(settings.pop("WORKERS", "1"))  # ours, not a product setting: serve processes
    codes = [f"ECHO{i}" for i in range(secretaries)]
    if database_url is not None:
        log(f"  preparing the database ({secretaries} cells, invites)…")
        codes = prepare(database_url, secretaries, year=date.today().year).codes
    load_holder: list[Load] = []
    api = FakeBotAPI(on_call=lambda m, p, t: load_holder[0].on_call(m, p, t) if load_holder else None)
    await api.start()
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "PUBLIC_BASE_URL": f"https://tiendo.bench:{port}",  # what a proxy serves; posts go to 127.0.0.1
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "MESSAGES_PER_MINUTE": "0",  # one secretary sends faster than a person: no per-chat flood limit
        "QUIET_HOURS": "",
        "CAMPAIGN_DAY": str(campaign_day(date.today())),
        "CAMPAIGN_GRACE_HOURS": "0",
        "MPLBACKEND": "Agg",
    }
    if database_url is not None:
        env["DATABASE_URL"] = database_url
        env.update(settings)
        command = serve_command(port)
    else:
        command = [sys.executable, "-m", "bench._e2e_echo", "--port", str(port), "--api", api.base_url]
        command += ["--secret", SECRET]
    servers = [await start_server(command, env, port, work, api)]
    for _ in range(workers - 1):  # the same settings behind one public URL, each on its own port
        other = free_port()
        servers.append(await start_server(serve_command(other), env, other, work, api))
    server = servers[0]
    pids = [s.process.pid for s in servers]

    def cpu_all() -> float:
        return sum(cpu_seconds(pid) for pid in pids)

    try:
        await asyncio.sleep(2.0)  # let start-up settle before "idle"
        idle_mb = max(memory_mb(pid)[0] for pid in pids)  # per process: each worker is one
        load = Load(
            url=server.url,
            secret=SECRET,
            codes=codes,
            per_secretary=per_secretary,
            time_limit=time_limit,
            echo=database_url is None,
            more_urls=tuple(s.url for s in servers[1:]),
        )
        load_holder.append(load)
        peak_rss = idle_mb

        async def sample() -> None:
            nonlocal peak_rss
            while True:
                peak_rss = max(peak_rss, *(memory_mb(pid)[0] for pid in pids))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        cpu0, busy0, harness0 = cpu_all(), machine_busy(), time.process_time()
        result = await load.run()
        cpu1, busy1, harness1 = cpu_all(), machine_busy(), time.process_time()
        sampler.cancel()
        hwm = max(memory_mb(pid)[1] for pid in pids)
        busy = 100 * (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1)
        row = Row(
            label=label,
            backend=backend,
            secretaries=secretaries,
            load=result,
            cpu_s=cpu1 - cpu0,
            idle_mb=idle_mb,
            peak_mb=max(hwm, peak_rss),
            busy_pct=busy,
            busy_s=(busy1[0] - busy0[0]) / CLK_TCK,
            harness_cpu_s=harness1 - harness0,
            leftover=0,
            load_avg=os.getloadavg()[0],
        )
        if database_url is not None:
            # Everything accepted must be processed before the database is read (and the server stopped).
            drain_start = time.monotonic()
            while time.monotonic() - drain_start < DRAIN_TIMEOUT:
                row.stored = await asyncio.to_thread(stored, database_url)
                if row.stored.inbox_unprocessed == 0:
                    break
                await asyncio.sleep(0.5)
            row.drained_s = time.monotonic() - drain_start
        await asyncio.sleep(0.5)
        row.leftover = load.leftover_replies()
    finally:
        for each in servers:
            stop_server(each)
        await api.stop()
    text = "".join(s.log_path.read_text(errors="replace") for s in servers)
    row.log_errors = text.count("Traceback")
    if row.log_errors:
        log(f"  server log has {row.log_errors} tracebacks; last lines:\n{text[-1500:]}")
    return row


# --- reporting ------------------------------------------------------------------------------------------


def check_row(row: Row, echo: Row | None) -> tuple[str, list[str]]:
    """'yes'/'no' for the goals, and the problems found (lost/duplicated reports, errors)."""
    problems = []
    load = row.load
    if load.errors:
        problems.append(", ".join(f"{k}: {v}" for k, v in sorted(load.errors.items())))
    if row.leftover:
        problems.append(f"{row.leftover} replies nobody waited for")
    if row.log_errors:
        problems.append(f"{row.log_errors} tracebacks in the server log")
    if row.stored is not None:
        s = row.stored
        sent = sum(load.confirms_sent.values())
        if s.reports != sent or s.by_user != load.confirms_sent:
            problems.append(f"confirms sent {sent:,} but {s.reports:,} reports stored")
        if s.duplicate_keys:
            problems.append(f"{s.duplicate_keys} duplicated reports")
        missing = set(load.receipts) - s.receipts
        if missing or len(set(load.receipts)) != len(load.receipts):
            problems.append(f"{len(missing)} receipts not in the database / receipts repeated")
        if s.inbox_unprocessed or s.inbox_failed:
            problems.append(f"inbox: {s.inbox_unprocessed} unprocessed, {s.inbox_failed} failed")
        if s.accounts != row.secretaries:
            problems.append(f"{s.accounts} accounts for {row.secretaries} secretaries")
    if row.backend == "echo":
        return "—", problems
    if row.label.endswith("(as shipped)"):  # paced by TELEGRAM_MAX_RATE: the rate is the pacing's
        ratio_ok = echo is not None and row.cpu_ms <= GOAL_CPU_RATIO * echo.cpu_ms
    else:
        ratio_ok = (
            echo is not None
            and row.cpu_ms <= GOAL_CPU_RATIO * echo.cpu_ms
            and row.rate >= GOAL_RATE_RATIO * echo.rate
        )
    met = ratio_ok and row.idle_mb <= GOAL_IDLE_MB and not problems
    return ("yes" if met else "**no**"), problems


def markdown(rows: list[Row], args: argparse.Namespace, where_pg: str) -> str:
    echo = next((r for r in rows if r.backend == "echo"), None)
    lines = [
        "<!-- written by bench/bench_e2e.py -->",
        "| backend | secretaries | updates | duration | updates/s | ÷ echo | latency p50 / p95 / p99 (ms) "
        "| CPU ms/update | ÷ echo | RSS idle / peak (MB) | goal met |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    notes: list[str] = []
    for row in rows:
        lat = row.load.all_latencies()
        p50, p95, p99 = (1000 * percentile(lat, q) for q in (50, 95, 99))
        ratio = f"{row.cpu_ms / echo.cpu_ms:.2f}×" if echo is not None and row.backend != "echo" else "—"
        share = f"{row.rate / echo.rate:.0%}" if echo is not None and row.backend != "echo" else "—"
        met, problems = check_row(row, echo)
        stop = " ⏱" if row.load.stopped_by_time else ""
        lines.append(
            f"| {row.label} | {row.secretaries} | {row.load.updates:,}{stop} | {row.duration:.0f} s "
            f"| {row.rate:,.0f} | {share} | {p50:,.0f} / {p95:,.0f} / {p99:,.0f} "
            f"| {row.cpu_ms:.1f} | {ratio} "
            f"| {row.idle_mb:.0f} / {row.peak_mb:.0f} | {met} |"
        )
        per_update = 1000 * row.harness_cpu_s / max(row.load.updates, 1)
        accept50, accept99 = (1000 * percentile(row.load.accept_latency, q) for q in (50, 99))
        # CPU of everything else on the machine (PostgreSQL, other jobs) during the load, in cores
        others = max(0.0, row.busy_s - row.cpu_s - row.harness_cpu_s) / max(row.duration, 1e-9)
        detail = (
            f"machine CPU busy {row.busy_pct:.0f} %, load average {row.load_avg:.1f} (other processes, "
            f"PostgreSQL included: {others:.2f} "
            f"cores), harness CPU {per_update:.1f} ms/update, "
            f"POST answered p50 {accept50:.0f} ms / p99 {accept99:.0f} ms"
        )
        if row.load.retries:
            detail += " (sent again: " + ", ".join(f"{k} {v}" for k, v in row.load.retries.items()) + ")"
        if row.stored is not None:
            s = row.stored
            detail += (
                f"; {sum(row.load.confirms_sent.values()):,} confirms sent, {s.reports:,} reports stored "
                f"({len(set(row.load.receipts)):,} receipts seen), duplicates {s.duplicate_keys}, "
                f"inbox {s.inbox:,} rows ({s.inbox_unprocessed} unprocessed, {s.inbox_failed} failed, "
                f"drained {row.drained_s:.1f} s after the load)"
            )
        kinds = ", ".join(
            f"{kind} {len(v):,} ({1000 * percentile(v, 50):,.0f}/{1000 * percentile(v, 95):,.0f})"
            for kind, v in sorted(row.load.latency.items())
        )
        notes.append(f"- **{row.label}**: {detail}. Per kind, count (p50/p95 ms): {kinds}.")
        if problems:
            notes.append(f"  Problems: {'; '.join(problems)}.")
        if row.load.samples:
            notes.append(
                f"  Unexpected replies (first {len(row.load.samples)}): {'; '.join(row.load.samples)}"
            )
    goals = (
        f"Goals, against the echo bot of the same run: ≥ {GOAL_RATE_RATIO:.0%} of its updates/s (rows "
        f"without the overall pacing), CPU per update ≤ {GOAL_CPU_RATIO:.1f}× its; "
        f"idle RSS ≤ {GOAL_IDLE_MB:.0f} MB, no lost or duplicated report, no error."
    )
    if echo is not None:
        goals += (
            f" The echo bot, which does nothing but answer, sustains {echo.rate:,.0f} updates/s here with "
            f"{echo.cpu_ms:.1f} ms of server CPU per update, the load generator sharing the same "
            f"{os.cpu_count()} cores: the framework's own ceiling on this machine."
        )
    if any(r.label.endswith("(as shipped)") for r in rows):
        goals += (
            " As shipped, every reply waits for the bot's overall pacing (TELEGRAM_MAX_RATE, 28 a second), "
            "so those rows measure the pacing, not the server."
        )
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    machine = (
        f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; PostgreSQL: {where_pg or 'not run'}."
    )
    command = (
        "Command: `"
        + " ".join(shlex.quote(a) for a in ["python", "-m", "bench.bench_e2e", *sys.argv[1:]])
        + "`."
    )
    mix = ", ".join(f"{name} {weight:.0%}" for name, weight in SCENARIOS)
    method = (
        "Updates/s: POSTs answered 200 between the 10th and 90th percentile of their answer times (each "
        "secretary waits for the reply before its next message, so this is the rate the server sustains "
        "with that many chats in flight). Latency: from the start of the POST to the reply's sendMessage "
        "arriving at the fake Bot API. CPU: utime+stime of the server processes (all threads) over the load, "
        "÷ updates; PostgreSQL's own CPU is not in it (see machine CPU busy). RSS idle: VmRSS 2 s after "
        "start-up (webhook set, /healthz ok), before the load; peak: VmHWM at the end. ⏱: stopped at the "
        f"time limit ({args.time_limit:.0f} s) before every secretary had sent its share. Scenario picks "
        f"after /dangky: {mix}; a confirmation is a press of the summary's Xác nhận button or a typed "
        '"1" (half each); the one question for the breakdowns of a short report is answered typed or by the '
        "Không rõ button (half each); each report is for its own past month. "
        "The echo bot: bench/_e2e_echo.py (PTB Application, concurrent updates, no database, no rate "
        "limiter) on the same Starlette/uvicorn stack; its 'replies' echo the input, the same count per step."
    )
    return "\n".join([*lines, "", goals, machine, command, method, "", *notes, ""])


def goals(rows: list[Row]) -> list[Goal]:
    """The summary's lines: capacity from the rows without the overall pacing, the rest from all rows."""
    command = " ".join(["python", "-m", "bench.bench_e2e", *sys.argv[1:]])
    echo = next((r for r in rows if r.backend == "echo"), None)
    served = [r for r in rows if r.backend != "echo"]
    capacity = [r for r in served if not r.label.endswith("(as shipped)")] or served
    found: list[Goal] = []
    for row in capacity:
        if echo is None:
            continue
        share = row.rate / echo.rate
        found.append(
            Goal(f"End to end, {row.label}: updates/s ÷ the echo bot's ({row.rate:,.0f} ÷ {echo.rate:,.0f}), "
                 f"{row.secretaries} secretaries", f"{share:.0%}", f"≥ {GOAL_RATE_RATIO:.0%}",
                 share >= GOAL_RATE_RATIO, command)
        )  # fmt: skip
        ratio = row.cpu_ms / echo.cpu_ms
        found.append(
            Goal(f"End to end, {row.label}: CPU per update ÷ the echo bot's "
                 f"({row.cpu_ms:.1f} ÷ {echo.cpu_ms:.1f} ms)", f"{ratio:.2f}×", f"≤ {GOAL_CPU_RATIO:.1f}×",
                 ratio <= GOAL_CPU_RATIO, command)
        )  # fmt: skip
    if served:
        idle = max(r.idle_mb for r in served)
        found.append(
            Goal("End to end: resident memory idle, largest of the rows", f"{idle:.0f} MB",
                 f"≤ {GOAL_IDLE_MB:.0f} MB", idle <= GOAL_IDLE_MB, command)
        )  # fmt: skip
        confirmed = sum(r.stored.reports for r in served if r.stored is not None)
        problems = [p for r in served for p in check_row(r, echo)[1]]
        found.append(
            Goal(f"End to end: reports lost or doubled, errors ({confirmed:,} reports confirmed)",
                 str(len(problems)) if problems else "0", "0", not problems, command)
        )  # fmt: skip
    return found


# --- main -----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_url(work: Path, name: str) -> Iterator[str]:
    yield f"sqlite:///{work / name}"


async def main_async(args: argparse.Namespace) -> int:
    backends = [b for b in args.backend.split(",") if b]
    variants = [parse_settings(e) for e in (args.env or DEFAULT_VARIANTS)]
    secretaries = args.secretaries or (20 if args.quick else 200)
    total = args.updates or (1_000 if args.quick else 10_000)
    per_secretary = max(2, total // secretaries)
    rows: list[Row] = []
    where_pg = ""
    with tempfile.TemporaryDirectory(prefix="tiendo-bench-e2e.") as tmp:
        work = Path(tmp)
        for backend in backends:
            if backend == "echo":
                log(f"== echo bot, {secretaries} secretaries")
                rows.append(
                    await run_one(
                        label="echo (PTB floor)", backend="echo", database_url=None, settings={},
                        secretaries=secretaries, per_secretary=per_secretary, time_limit=args.time_limit,
                        work=work,
                    )
                )  # fmt: skip
                continue
            for settings in variants:
                extra = ", ".join(
                    f"{v} workers" if k == "WORKERS" else f"{k}={v}" for k, v in settings.items()
                )
                label = backend + (f", {extra}" if extra else " (as shipped)")
                log(f"== {label}, {secretaries} secretaries")
                if backend == "sqlite":
                    with sqlite_url(work, f"e2e-{len(rows)}.db") as url:
                        row = await run_one(
                            label=label, backend=backend, database_url=url, settings=settings,
                            secretaries=secretaries, per_secretary=per_secretary,
                            time_limit=args.time_limit, work=work,
                        )  # fmt: skip
                elif backend == "postgresql":
                    with postgres_database() as (url, where_pg):
                        row = await run_one(
                            label=label, backend=backend, database_url=url, settings=settings,
                            secretaries=secretaries, per_secretary=per_secretary,
                            time_limit=args.time_limit, work=work,
                        )  # fmt: skip
                else:
                    raise SystemExit(f"unknown backend {backend}")
                rows.append(row)
                done = f"{row.load.updates:,} updates, {row.duration:.0f} s, {row.rate:,.0f}/s"
                log(f"  {done}, {row.cpu_ms:.1f} CPU ms/update")
    text = markdown(rows, args, where_pg)
    print()
    print(text)
    for goal in goals(rows):
        log(f"{goal.figure}: {goal.measured} (goal {goal.goal}) {'met' if goal.met else 'MISSED'}")
    if not args.quick and not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")
        _goals.write("e2e", goals(rows))
        log(f"written to {RESULTS.relative_to(ROOT)}")
    echo = next((r for r in rows if r.backend == "echo"), None)
    return 1 if any(check_row(r, echo)[1] for r in rows) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 secretaries, about 1,000 updates")
    parser.add_argument("--backend", default="echo,sqlite,postgresql", help="comma-separated, in order")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        help='settings for one row per database, KEY=VALUE[,KEY=VALUE…] ("" for as shipped); '
        f"default: {' and '.join(repr(v) for v in DEFAULT_VARIANTS)}",
    )
    parser.add_argument("--secretaries", type=int, default=0)
    parser.add_argument("--updates", type=int, default=0, help="about how many updates in all")
    parser.add_argument("--time-limit", type=float, default=0.0, help="seconds of load per row at most")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.time_limit:
        args.time_limit = 60.0 if args.quick else 150.0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
