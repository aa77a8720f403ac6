"""Benchmark for handlers.parser (run by hand, not collected by pytest).

    .venv/bin/python -m bench.bench_parser [--messages 100000] [--breakdowns]

Parses the test corpus repeated to about N messages on one core and prints throughput and the
p50/p99 latency per message. Goal: >= 20,000 msg/s and p99 < 1 ms. With --breakdowns, every message
is read with two breakdowns a tree adds to the five ("dưới 30 tuổi", "sinh viên"), as the
conversation reads a message of such a tree.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from handlers.parser import parse_message
from storage.breakdowns import Breakdown

ROOT = Path(__file__).resolve().parent.parent

CORPUS = ROOT / "tests" / "corpus" / "messages.jsonl"


def load() -> list[tuple[str, date]]:
    with CORPUS.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [(r["text"], date.fromisoformat(r["today"])) for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=100_000, help="total messages to parse")
    ap.add_argument("--breakdowns", action="store_true", help="read with two breakdowns a tree adds")
    args = ap.parse_args()
    added = (
        (
            Breakdown("under_30", "dưới 30 tuổi", ("dưới 30 tuổi", "dưới 30"), "dưới 30 tuổi"),
            Breakdown("student", "sinh viên", ("sinh viên", "sv"), "là sinh viên", 2),
        )
        if args.breakdowns
        else None
    )

    corpus = load()
    repeats = max(1, args.messages // len(corpus))
    work = corpus * repeats
    for text, today in corpus:  # warm-up: imports, regex caches, branch paths
        parse_message(text, today, added)

    gc.collect()
    gc.disable()  # measure the parser, not the collector's timing luck
    try:
        # throughput: one tight loop, no per-message timer overhead
        t0 = time.perf_counter()
        for text, today in work:
            parse_message(text, today, added)
        elapsed = time.perf_counter() - t0

        # latency: a separate pass timing every message
        clock = time.perf_counter_ns
        lat: list[int] = []
        append = lat.append
        for text, today in work:
            s = clock()
            parse_message(text, today, added)
            append(clock() - s)
    finally:
        gc.enable()

    lat.sort()
    n = len(lat)
    p50 = lat[n // 2] / 1000
    p99 = lat[min(n - 1, int(n * 0.99))] / 1000
    worst = lat[-1] / 1000
    mean = statistics.fmean(lat) / 1000
    print(f"corpus: {len(corpus)} messages x {repeats} = {len(work)} parses, Python {sys.version.split()[0]}")
    print(f"throughput: {len(work) / elapsed:,.0f} msg/s ({elapsed:.2f} s)")
    print(f"latency per message: p50 {p50:.1f} us, p99 {p99:.1f} us, mean {mean:.1f} us, max {worst:.1f} us")


if __name__ == "__main__":
    main()
