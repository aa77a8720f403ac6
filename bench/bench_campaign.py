"""Benchmark for the monthly campaign: sending it through the outbox under Telegram's flood limit, and
composing a national one.

    .venv/bin/python -m bench.bench_campaign [--part send|compose|both] [--quick]

send: a campaign of 10,000 recipients (1,000 with --quick) composed over a generated province tree in a
SQLite file, then sent by the product's OutboxSender + Telegram channel through an ExtBot with
AIORateLimiter(max_retries=2), as `tiendo nudge --send` does (bot/cli.py), to a fake Bot API in its own
process on 127.0.0.1 that delivers at most 30 sendMessage a second (sliding one-second window), answers
the rest 429 "retry after N", and answers 1 % of calls 429 at random. The outbox is drained until no
message is pending. Goals: >= 27 messages a second sustained (90 % of the cap), 0 lost, 0 duplicated.

compose: a national tree (100,000 cells, 3,334 communes, 34 provinces) with secretaries, staff, targets,
March reports and rollups built in bulk; times bot.scheduler.compose (plan + enqueue + mark composed, one
transaction) and plan_campaign alone. Goal: compose <= 60 s, one message per expected recipient, and a
second compose adds 0. On SQLite, and on PostgreSQL when BENCH_POSTGRES_URL / TEST_POSTGRES_URL is set.

The Markdown is printed and written to bench/results/campaign.md (not with --quick); each part replaces
its own section of the file. --limiter / --patch measure a candidate product change (see VARIANTS/PATCHES).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, text
from sqlmodel import Session, col, select
from telegram.ext import AIORateLimiter, BaseRateLimiter, ExtBot

import handlers.campaign as campaign_mod
from bench import _goals
from bench._campaign_data import CAMPAIGN_MONTH, Built, Shape, build
from bench._campaign_limiter import SlidingWindowLimiter
from bench._goals import Goal
from bench._machine import describe
from bench._progress_pg import postgres_database
from bot.channels.telegram import TelegramChannel, TelegramRequest
from bot.outbox_sender import DrainResult, OutboxSender
from bot.scheduler import compose
from handlers.campaign import plan_campaign
from storage import outbox
from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus
from tests.utils.fake_bot_api import digest

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "campaign.md"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # the product's default zone: the sender's clock and compose's `now`
TOKEN = "123456:BENCH"
CAP = 30  # messages a second the fake API delivers
GOAL_RATE = 27.0  # 90 % of the cap
GOAL_COMPOSE_S = 60.0
INJECT = 0.01  # share of sendMessage answered 429 whatever the load
INJECT_RETRY_AFTER = 1  # seconds, in the injected 429s

SEND = Shape(
    "province, 10,000 recipients", "Đảng bộ tỉnh", "Đảng bộ tỉnh Bench",
    (("Đảng bộ xã", 100), ("Chi bộ", 9_899)),
    secretary_share=1.0, target_share=1.0, report_share=0.9, unreachable_share=0.0, staff_depths=(0, 1),
)  # fmt: skip
SEND_QUICK = Shape(
    "province, 1,000 recipients", "Đảng bộ tỉnh", "Đảng bộ tỉnh Bench",
    (("Đảng bộ xã", 10), ("Chi bộ", 989)),
    secretary_share=1.0, target_share=1.0, report_share=0.9, unreachable_share=0.0, staff_depths=(0, 1),
)  # fmt: skip
NATIONAL = Shape(
    "national", "Trung ương", "Toàn quốc (bench)",
    (("Đảng bộ tỉnh", 34), ("Đảng bộ xã", 3_334), ("Chi bộ", 100_000)),
    secretary_share=0.92, target_share=0.95, report_share=0.9, unreachable_share=0.005,
    staff_depths=(0, 1, 2),
)  # fmt: skip
NATIONAL_QUICK = Shape(
    "national (quick)", "Trung ương", "Toàn quốc (bench)",
    (("Đảng bộ tỉnh", 34), ("Đảng bộ xã", 170), ("Chi bộ", 5_000)),
    secretary_share=0.92, target_share=0.95, report_share=0.9, unreachable_share=0.005,
    staff_depths=(0, 1, 2),
)  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- rate-limiter variants (send)


def _product_limiter() -> AIORateLimiter:
    from bot.channels.telegram import smooth_rate_limiter

    return smooth_rate_limiter(max_retries=0)  # as bot/cli.py::_send_campaign


def _paced(rate: int, max_retries: int) -> Callable[[], AIORateLimiter]:
    # A bucket of one token refilled `rate` times a second: no burst, so no sliding second sees more
    # than rate + 1 sends, even right after a pause (the default bucket of 30 lets 30 + 30 through then).
    return lambda: AIORateLimiter(overall_max_rate=1, overall_time_period=1 / rate, max_retries=max_retries)


VARIANTS: dict[str, tuple[Callable[[], BaseRateLimiter[Any]], str]] = {
    "product": (_product_limiter, "`smooth_rate_limiter(max_retries=0)`, 2 at a time at 28/s (bot/cli.py)"),
    "smooth": (
        _paced(28, 2),
        "`AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 28, max_retries=2)` (candidate change)",
    ),
    "smooth-noretry": (
        _paced(28, 0),
        "`AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 28, max_retries=0)` (candidate change)",
    ),
    "smooth29-noretry": (
        _paced(29, 0),
        "`AIORateLimiter(overall_max_rate=1, overall_time_period=1 / 29, max_retries=0)` (candidate change)",
    ),
    "window": (
        lambda: SlidingWindowLimiter(per_second=29, pause_from=5.0),
        "`SlidingWindowLimiter(per_second=29, pause_from=5)` (bench/_campaign_limiter.py, candidate change)",
    ),
    "bucket2-noretry": (
        lambda: AIORateLimiter(overall_max_rate=2, overall_time_period=2 / 28, max_retries=0),
        "`AIORateLimiter(overall_max_rate=2, overall_time_period=2 / 28, max_retries=0)` (candidate change)",
    ),
    "burst-noretry": (
        lambda: AIORateLimiter(max_retries=0),
        "`AIORateLimiter(max_retries=0)` (candidate change)",
    ),
}


# ---------------------------------------------------------------- the fake Bot API process


@contextmanager
def fake_api(*, window: str) -> Iterator[str]:
    """Start the tests' fake Bot API as a process of its own, with Telegram's flood limit; yields its
    base URL (stats at <port>/stats)."""
    command = [
        sys.executable,
        "-m",
        "tests.utils.fake_bot_api",
        f"--flood-limit={CAP}",
        f"--window={window}",
        f"--inject={INJECT}",
        f"--retry-after={INJECT_RETRY_AFTER}",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.match(r"port (\d+)", line)
        if not match:
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def api_stats(address: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{address}/stats", timeout=30) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------- send


@dataclass
class SendRun:
    drained: DrainResult
    rounds: int
    wall_s: float
    cpu_s: float
    stopped_early: bool


def _pending(database: Database) -> tuple[int, datetime | None]:
    with database.session() as session:
        n, due = session.execute(
            select(func.count(), func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == OutboxStatus.pending.value
            )
        ).one()
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=ZONE)  # SQLite gives back the wall time it was given, without the zone
    return int(n), due


async def send_all(
    database: Database, base_url: str, limiter: BaseRateLimiter[Any], *, limit_s: float
) -> SendRun:
    """What `tiendo nudge --send` does, then keep draining until nothing is pending (as `tiendo run`)."""
    total = DrainResult()
    rounds = 0
    stopped = False
    cpu0, t0 = time.process_time(), time.perf_counter()
    bot = ExtBot(TOKEN, base_url=f"{base_url}/bot", request=TelegramRequest(), rate_limiter=limiter)
    async with bot:
        sender = OutboxSender(
            database, {"telegram": TelegramChannel.for_bot(bot)}, clock=lambda: datetime.now(ZONE)
        )
        while True:
            result = await sender.drain()
            rounds += 1
            total.sent += result.sent
            total.retried += result.retried
            total.failed += result.failed
            total.unreachable += result.unreachable
            total.errors += result.errors
            left, due = await asyncio.to_thread(_pending, database)
            if not left:
                break
            if time.perf_counter() - t0 > limit_s:
                stopped = True
                break
            # 429'd messages wait for retry_after + 1 s: sleep until the first is due.
            wait = (due - datetime.now(ZONE)).total_seconds() if due else 1.0
            await asyncio.sleep(min(max(wait, 0.02), 30.0))
    return SendRun(total, rounds, time.perf_counter() - t0, time.process_time() - cpu0, stopped)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered) / 100) - 1))]


@dataclass
class SendFigures:
    shape: str
    variant: str
    window: str
    recipients: int
    compose_s: float
    delivered: int
    duplicates: int
    lost: int
    unexpected: int
    left: dict[str, int]
    wall_s: float
    span_s: float
    rate: float
    slowest_10s: float
    limited: int
    injected: int
    requests: int
    sender_retried: int
    latency_p50: float
    latency_p95: float
    cpu_s: float
    api_cpu_s: float
    rounds: int
    stopped_early: bool

    @property
    def met(self) -> bool:
        return (
            self.rate >= GOAL_RATE
            and self.duplicates == 0
            and self.lost == 0
            and self.delivered == self.recipients
            and not self.stopped_early
        )


def run_send(shape: Shape, *, variant: str, window: str) -> SendFigures:
    log(f"== send: {shape.name}, limiter {variant}, {window} window at the fake API")
    with tempfile.TemporaryDirectory(prefix="tiendo-bench-send-") as folder:
        database = Database(f"sqlite:///{folder}/tiendo.db")
        try:
            database.migrate()
            built = build(database, shape, log=log)
            enqueued_at = datetime.now(ZONE)
            t0 = time.perf_counter()
            added = compose(database, CAMPAIGN_MONTH, now=enqueued_at)
            compose_s = time.perf_counter() - t0
            assert added == built.expected_recipients, (
                f"composed {added}, expected {built.expected_recipients}"
            )
            log(f"  composed {added:,} messages in {compose_s:.1f} s; sending…")
            with database.session() as session:
                rows = session.execute(select(OutboxMessage.chat_id, OutboxMessage.text)).all()
            wanted = {(int(chat), digest(body)) for chat, body in rows}
            assert len(wanted) == len({chat for chat, _ in wanted}) == added  # one message a recipient
            with fake_api(window=window) as address:
                # A ceiling so that a stuck run ends: five times the time at the cap, plus a minute.
                limit_s = 5 * added / CAP + 60
                run = asyncio.run(send_all(database, address, VARIANTS[variant][0](), limit_s=limit_s))
                stats = api_stats(address)
            with database.session() as session:
                left = {k: v for k, v in outbox.counts(session).items() if k != OutboxStatus.sent.value}
        finally:
            database.dispose()

    delivered = [(int(chat), str(fp), float(at)) for chat, fp, at in stats["delivered"]]
    pairs = Counter((chat, fp) for chat, fp, _ in delivered)
    per_chat = Counter(chat for chat, _, _ in delivered)
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    lost = len(wanted - set(pairs))
    unexpected = len(set(pairs) - wanted)
    times = sorted(at for _, _, at in delivered)
    span = times[-1] - times[0] if len(times) > 1 else math.nan
    rate = (len(times) - 1) / span if len(times) > 1 else 0.0
    # The slowest 10-second stretch between the first and the last delivery: "sustained", not an average.
    slowest = math.nan
    if span >= 10:
        buckets = Counter(int(at - times[0]) for at in times)
        full = int(span)
        per_second = [buckets.get(s, 0) for s in range(full)]
        slowest = min(sum(per_second[s : s + 10]) / 10 for s in range(0, full - 9))
    latencies = [at - enqueued_at.timestamp() for at in times]
    figures = SendFigures(
        shape=shape.name,
        variant=variant,
        window=window,
        recipients=added,
        compose_s=compose_s,
        delivered=len(pairs),
        duplicates=duplicates,
        lost=lost,
        unexpected=unexpected,
        left=left,
        wall_s=run.wall_s,
        span_s=span,
        rate=rate,
        slowest_10s=slowest,
        limited=int(stats["limited"]),
        injected=int(stats["injected"]),
        requests=int(stats["requests"]),
        sender_retried=run.drained.retried,
        latency_p50=pct(latencies, 50),
        latency_p95=pct(latencies, 95),
        cpu_s=run.cpu_s,
        api_cpu_s=float(stats["cpu_s"]),
        rounds=run.rounds,
        stopped_early=run.stopped_early,
    )
    log(
        f"  delivered {figures.delivered:,}/{added:,}, duplicates {duplicates}, lost {lost}, "
        f"left {left or 'none'}; {rate:.2f} msg/s sustained over {span:.0f} s (slowest 10 s: "
        f"{slowest:.1f}/s); 429s {figures.limited:,} over the limit + {figures.injected:,} injected; "
        f"sender rescheduled {run.drained.retried:,}; CPU {run.cpu_s:.1f} s"
    )
    return figures


def send_markdown(f: SendFigures, command: str) -> str:
    yes = "yes" if f.met else "**no**"
    ok = lambda good: "yes" if good else "**no**"  # noqa: E731
    lines = [
        f"### Sending: {f.recipients:,} recipients, limiter {f.variant}",
        "",
        "| figure | measured | goal | met |",
        "|---|--:|--:|---|",
        f"| sustained rate (delivered / first→last delivery) | **{f.rate:.2f} msg/s** | ≥ {GOAL_RATE:.0f} "
        f"msg/s | {ok(f.rate >= GOAL_RATE)} |",
        f"| delivered | {f.delivered:,} of {f.recipients:,} | all | {ok(f.delivered == f.recipients)} |",
        f"| duplicated | {f.duplicates} | 0 | {ok(f.duplicates == 0)} |",
        f"| lost (pending/failed/unreachable left, or never delivered) | {f.lost} "
        f"(left in outbox: {f.left or 'none'}) | 0 | {ok(f.lost == 0 and not f.left)} |",
        f"| slowest 10 s stretch | {f.slowest_10s:.1f} msg/s | | |",
        f"| wall time of the drain loop | {f.wall_s:.0f} s | ({f.recipients / GOAL_RATE:.0f} s at "
        f"{GOAL_RATE:.0f}/s) | |",
        f"| 429s served: over the limit / injected at random | {f.limited:,} / {f.injected:,} "
        f"(of {f.requests:,} sendMessage) | | |",
        f"| RetryAfter past the limiter's retries (rescheduled by the sender) | {f.sender_retried:,} | | |",
        f"| enqueue → delivery p50 / p95 | {f.latency_p50:.0f} s / {f.latency_p95:.0f} s | | |",
        f"| CPU time of the sender process | {f.cpu_s:.1f} s ({1000 * f.cpu_s / max(1, f.delivered):.2f} ms "
        f"a message; fake API process {f.api_cpu_s:.1f} s) | | |",
        f"| all goals | | | {yes} |",
        "",
        f"Setup: {f.shape} composed with `bot.scheduler.compose` over a generated tree in a SQLite file "
        f"({f.compose_s:.1f} s), sent by `OutboxSender` (batch 50, concurrency 30) + the Telegram channel "
        f"through an `ExtBot` with {VARIANTS[f.variant][1]}, drained in {f.rounds} rounds "
        "(`drain()` until nothing pending, sleeping until the next `next_attempt_at`). "
        f"Fake Bot API in its own process on 127.0.0.1: ≤ {CAP} sendMessage delivered per {f.window} "
        f"one-second window, over it 429 `retry_after` 1 s; plus {INJECT:.0%} of calls 429 "
        f"`retry_after` {INJECT_RETRY_AFTER} s at random. Duplicates and losses are counted from what the "
        "API recorded against the outbox rows (chat id + text).",
        f"Command: `{command}`.",
    ]
    if f.stopped_early:
        lines.append("**The run hit its time ceiling before the outbox was empty.**")
    return "\n".join(lines)


# ---------------------------------------------------------------- compose


PLAN_STEPS = ("active_units", "disabled_kinds", "reported_units", "active_targets", "accounts")


@contextmanager
def timed_steps() -> Iterator[dict[str, float]]:
    """Time plan_campaign's queries and its per-staff summaries by wrapping what it calls."""
    spent: dict[str, float] = dict.fromkeys((*PLAN_STEPS, "_summary"), 0.0)
    originals: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        originals.append((owner, name, original))
        setattr(owner, name, timed)

    for name in PLAN_STEPS:
        wrap(campaign_mod.campaigns, name)
    wrap(campaign_mod, "_summary")
    try:
        yield spent
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


# Candidate product changes, applied by monkeypatching (--patch). The two measured here (subtree
# slices in the staff summaries, one batched insert in outbox.enqueue) are now in the product.
PATCHES: dict[str, Callable[[], Any]] = {}


@contextmanager
def patched(names: list[str]) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(PATCHES[name]())
        yield


@contextmanager
def timed_enqueue() -> Iterator[dict[str, float]]:
    """Time outbox.enqueue inside compose (whichever version is in place)."""
    spent = {"enqueue": 0.0}
    current = outbox.enqueue

    def timed(*args: Any, **kwargs: Any) -> int:
        t0 = time.perf_counter()
        try:
            return current(*args, **kwargs)
        finally:
            spent["enqueue"] += time.perf_counter() - t0

    outbox.enqueue = timed
    try:
        yield spent
    finally:
        outbox.enqueue = current


@dataclass
class ComposeFigures:
    shape: str
    backend: str
    built: Built
    compose_s: float
    added: int
    rows: int
    distinct_accounts: int
    second_s: float
    second_added: int | None
    writer_wait_s: float | None
    writer_error: str | None
    patch: str | None = None
    plan_s: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)
    messages_s: float = 0.0
    kinds: dict[str, int] = field(default_factory=dict)
    unpatched_plan_s: float | None = None
    enqueue_s: float = 0.0

    @property
    def met(self) -> bool:
        return (
            self.compose_s <= GOAL_COMPOSE_S
            and self.added == self.rows == self.distinct_accounts == self.built.expected_recipients
            and self.second_added == 0
        )


def _writer_probe(database: Database, started: threading.Event, out: dict[str, Any]) -> None:
    """A report confirmed while the campaign composes: how long does its write transaction wait?"""
    started.wait()
    time.sleep(0.5)
    t0 = time.perf_counter()
    try:
        with database.session() as session:
            session.execute(text("SELECT 1"))  # opens the transaction (BEGIN IMMEDIATE on SQLite)
    except Exception as error:  # reported in the table, not raised
        out["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"
    out["wait"] = time.perf_counter() - t0


def run_compose(database: Database, shape: Shape, *, patch: list[str]) -> ComposeFigures:
    backend = database.engine.dialect.name
    log(f"== compose: {shape.name} on {backend}" + (f", patched: {'+'.join(patch)}" if patch else ""))
    database.migrate()
    built = build(database, shape, log=log)
    now = datetime(2025, 4, 1, 8, 0, tzinfo=ZONE)

    reference: dict[str, str] | None = None
    unpatched_s = None
    if patch:
        # The product as it is first: its messages are what the patched code must write, word for word.
        unpatched_s, _, _, _, reference = _plan_once(database)
        log(f"  plan_campaign unpatched {unpatched_s:.1f} s")
    with patched(patch):
        plan_s, steps, messages_s, kinds, texts = _plan_once(database)
        if reference is not None:
            assert texts == reference, "the patched plan_campaign writes other messages"
            log(f"  patched: the {len(texts):,} messages are identical to the unpatched ones")
        log(
            f"  plan_campaign {plan_s:.1f} s ("
            + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())
            + f"); messages() {messages_s:.1f} s; {len(texts):,} messages, kinds {kinds}"
        )
        del texts, reference
        figures = _compose_checked(database, shape, built, now, patch)
    figures.plan_s, figures.steps, figures.messages_s, figures.kinds = plan_s, steps, messages_s, kinds
    figures.unpatched_plan_s = unpatched_s
    return figures


def _plan_once(database: Database) -> tuple[float, dict[str, float], float, dict[str, int], dict[str, str]]:
    """plan_campaign alone, its steps timed, in a transaction rolled back; then plan.messages()."""
    with timed_steps() as steps, database.engine.connect() as connection, Session(bind=connection) as session:
        t0 = time.perf_counter()
        plan = plan_campaign(session, CAMPAIGN_MONTH)
        plan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        messages = plan.messages()
        messages_s = time.perf_counter() - t0
        session.rollback()
    kinds = {k: plan.count(k) for k in ("nudge", "praise", "reminder", "summary")}
    return plan_s, dict(steps), messages_s, kinds, {m.key: m.text for m in messages}


def _compose_checked(
    database: Database, shape: Shape, built: Built, now: datetime, patch: list[str]
) -> ComposeFigures:
    """compose for real (a writer arriving 0.5 s in), its rows counted, then composed a second time."""
    # compose for real, with a writer arriving half a second later.
    started = threading.Event()
    probe: dict[str, Any] = {}
    writer = threading.Thread(target=_writer_probe, args=(database, started, probe))
    writer.start()
    with timed_enqueue() as spent:
        t0 = time.perf_counter()
        started.set()
        added = compose(database, CAMPAIGN_MONTH, now=now)
        compose_s = time.perf_counter() - t0
    writer.join()
    with database.session() as session:
        rows, accounts = session.execute(
            select(func.count(), func.count(func.distinct(OutboxMessage.account_id))).where(
                col(OutboxMessage.campaign) == f"{CAMPAIGN_MONTH:%Y-%m}"
            )
        ).one()
    t0 = time.perf_counter()
    second = compose(database, CAMPAIGN_MONTH, now=now)
    second_s = time.perf_counter() - t0
    figures = ComposeFigures(
        shape=shape.name,
        backend=database.engine.dialect.name,
        built=built,
        compose_s=compose_s,
        added=added or 0,
        rows=int(rows),
        distinct_accounts=int(accounts),
        second_s=second_s,
        second_added=second,
        writer_wait_s=probe.get("wait"),
        writer_error=probe.get("error"),
        patch="+".join(patch) or None,
        enqueue_s=spent["enqueue"],
    )
    log(
        f"  compose {compose_s:.1f} s: {added:,} messages ({rows:,} rows, {accounts:,} accounts; expected "
        f"{built.expected_recipients:,}); second compose {second} in {second_s:.1f} s; a writer arriving "
        f"0.5 s in waited {figures.writer_wait_s:.1f} s"
        + (f" and failed: {figures.writer_error}" if figures.writer_error else "")
    )
    return figures


def compose_markdown(rows: list[ComposeFigures], command: str) -> str:
    ok = lambda good: "yes" if good else "**no**"  # noqa: E731
    lines = [
        "### Composing a national campaign",
        "",
        "| DB | units / cells | recipients expected | compose (plan + enqueue + mark) | plan_campaign | "
        "messages composed | second compose | a writer waits | met (≤ 60 s, counts, 0 on second) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for f in rows:
        b = f.built
        wait = f"{f.writer_wait_s:.1f} s" + (f" (failed: {f.writer_error})" if f.writer_error else "")
        lines.append(
            f"| {f.backend}{' + ' + f.patch if f.patch else ''} | {b.units:,} / {b.cells:,} | "
            f"{b.expected_recipients:,} | **{f.compose_s:.1f} s** | {f.plan_s:.1f} s | {f.added:,} "
            f"({f.distinct_accounts:,} accounts) | +{f.second_added} in {f.second_s:.1f} s | {wait} | "
            f"{ok(f.met)} |"
        )
    lines.append("")
    for f in rows:
        b = f.built
        lines.append(
            f"- {f.backend}: plan_campaign steps: "
            + ", ".join(f"`{k}` {v:.2f} s" for k, v in f.steps.items())
            + f"; rest (Python over the tree) {f.plan_s - sum(f.steps.values()):.2f} s; `plan.messages()` "
            f"{f.messages_s:.2f} s; in compose, `outbox.enqueue` {f.enqueue_s:.2f} s"
            + (
                f"; unpatched plan_campaign in the same run {f.unpatched_plan_s:.2f} s, and the patched "
                "one's messages are identical (asserted)"
                if f.unpatched_plan_s is not None
                else ""
            )
            + ". Kinds: "
            + ", ".join(f"{k} {v:,}" for k, v in f.kinds.items())
            + f". Data: {b.secretaries:,} secretaries ({b.unreachable:,} blocked the bot), "
            f"{b.staff:,} staff, "
            f"{b.targets:,} targets, {b.reports:,} March reports ({b.silent_cells:,} cells silent), "
            f"{b.without_secretary:,} cells without a secretary; loaded in bulk in {b.seconds['load']:.0f} s."
        )
    lines += [
        "",
        "compose = `bot.scheduler.compose(database, 2025-04, now=…)` (lease, `plan_campaign`, "
        "`outbox.enqueue`, `mark_composed`, one transaction); plan_campaign timed alone in a rolled-back "
        'transaction, its queries and `_summary` timed by wrapping them. "A writer waits" = a write '
        "transaction (what confirming a report opens) started 0.5 s into compose.",
        f"Command: `{command}`.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------- report


def machine(pg_version: str | None) -> str:
    return "Machine: " + describe(pg_version) + "."


def write_section(name: str, body: str) -> None:
    """Replace this section of the results file, keeping the others."""
    begin, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{begin}\n{body}\n{end}"
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    if begin in old and end in old:
        new = old[: old.index(begin)] + block + old[old.index(end) + len(end) :]
    else:
        header = "<!-- written by bench/bench_campaign.py -->\n## Campaign benchmark\n"
        new = (old.rstrip() + "\n\n" if old else header + "\n") + block + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("send", "compose", "both"), default="both")
    ap.add_argument("--quick", action="store_true", help="1,000 messages; a national tree of 5,000 cells")
    ap.add_argument("--limiter", choices=tuple(VARIANTS), default="product", help="the bot's rate limiter")
    ap.add_argument("--window", choices=("sliding", "fixed"), default="sliding", help="the fake API's window")
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default=None)
    ap.add_argument(
        "--patch", choices=tuple(PATCHES), action="append", default=[], help="a candidate change (repeatable)"
    )
    args = ap.parse_args()
    # The sender logs every retry and the limiter every exhausted one: thousands of lines, counted instead.
    for name in ("telegram", "httpx", "bot.outbox_sender"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    command = "python -m bench.bench_campaign " + " ".join(sys.argv[1:])
    pg_url = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
    outputs: list[tuple[str, str]] = []
    pg_version = None

    if args.part in ("send", "both"):
        f = run_send(SEND_QUICK if args.quick else SEND, variant=args.limiter, window=args.window)
        name = "send" if args.limiter == "product" and args.window == "sliding" else f"send-{args.limiter}"
        outputs.append((name, send_markdown(f, command.strip())))
        if name == "send" and not args.quick:
            _goals.write(
                "campaign-send",
                [
                    Goal(f"Campaign send, {f.recipients:,} recipients: sustained rate", f"{f.rate:.2f} msg/s",
                         f"≥ {GOAL_RATE:.0f} msg/s", f.rate >= GOAL_RATE, command.strip()),
                    Goal("Campaign send: messages lost / sent twice", f"{f.lost} / {f.duplicates}", "0 / 0",
                         f.lost == 0 and f.duplicates == 0 and f.delivered == f.recipients, command.strip()),
                ],
            )  # fmt: skip

    if args.part in ("compose", "both"):
        shape = NATIONAL_QUICK if args.quick else NATIONAL
        backends = args.backend or ("both" if pg_url else "sqlite")
        rows: list[ComposeFigures] = []
        if backends in ("sqlite", "both"):
            with tempfile.TemporaryDirectory(prefix="tiendo-bench-compose-") as folder:
                database = Database(f"sqlite:///{folder}/tiendo.db")
                try:
                    rows.append(run_compose(database, shape, patch=args.patch))
                finally:
                    database.dispose()
        if backends in ("postgresql", "both"):
            if not pg_url:
                log("== compose on PostgreSQL: skipped (no BENCH_POSTGRES_URL / TEST_POSTGRES_URL)")
            else:
                with postgres_database() as (url, _where):
                    database = Database(url)
                    try:
                        with database.engine.connect() as connection:
                            pg_version = str(connection.exec_driver_sql("SHOW server_version").scalar_one())
                        rows.append(run_compose(database, shape, patch=args.patch))
                    finally:
                        database.dispose()
        name = "compose" if not args.patch else "compose-patched"
        outputs.append((name, compose_markdown(rows, command.strip())))
        if name == "compose" and not args.quick:
            _goals.write(
                "campaign-compose",
                [
                    Goal(f"Composing a national campaign ({r.built.expected_recipients:,} recipients), "
                         f"{r.backend}", f"{r.compose_s:.1f} s", f"≤ {GOAL_COMPOSE_S:.0f} s, each once",
                         r.met, command.strip())
                    for r in rows
                ],
            )  # fmt: skip

    for name, body in outputs:
        block = body + "\n" + machine(pg_version if name.startswith("compose") else None)
        print()
        print(block)
        if not args.quick:
            write_section(name, block)
    if args.quick:
        log(f"(--quick: {RESULTS.relative_to(ROOT)} left as it was)")
    else:
        log(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
