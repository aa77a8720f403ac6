"""`tiendo parse --jsonl` end to end, start-up included, as the parser issue measures it.

    .venv/bin/python -m bench.bench_parse_cli [--messages 100000] [--runs 3]

Feeds the first corpus (tests/corpus/messages.jsonl, the workload the goal was set on), repeated to N
lines, to the real command on one core and reports messages per second (best and median of the runs,
wall clock and CPU), plus the in-process p50/p99 latency per message; then the same for the whole
corpus (every tests/corpus/*.jsonl: longer, harder messages), for information. Goals: >= 20,000
messages/s, p99 < 1 ms. Writes bench/results/parser.md. Wall clock depends on the machine's load,
which the report gives; the CPU time of the process does much less.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench import _goals
from bench._goals import Goal
from handlers.parser import parse_message

ROOT = Path(__file__).resolve().parent.parent

CORPUS = ROOT / "tests" / "corpus" / "messages.jsonl"
CORPORA = sorted((ROOT / "tests" / "corpus").glob("*.jsonl"))
RESULTS = ROOT / "bench" / "results" / "parser.md"


def corpus(paths: list[Path]) -> list[str]:
    # split on "\n" only: a message may hold a Unicode line separator, which splitlines() would cut
    rows = [
        json.loads(line)
        for path in paths
        for line in path.read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]
    # a message with a line break (of any kind) goes as a JSON string, as `--jsonl` reads it
    return [
        json.dumps(r["text"], ensure_ascii=False) if r["text"] != r["text"].splitlines()[0] else r["text"]
        for r in rows
        if r["text"]
    ]


def run_cli(path: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `tiendo parse --jsonl` over the file, pinned to one core."""
    command = [sys.executable, "-m", "bot", "parse", "--jsonl", "--today", "2023-11-20"]
    if hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", "0", *command] if _has_taskset() else command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with path.open("rb") as stdin:
        subprocess.run(command, stdin=stdin, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _has_taskset() -> bool:
    return subprocess.run(["which", "taskset"], capture_output=True).returncode == 0


def latencies(lines: list[str]) -> tuple[float, float]:
    today = date(2023, 11, 20)
    samples = []
    for text in lines:
        start = time.perf_counter_ns()
        parse_message(text, today)
        samples.append((time.perf_counter_ns() - start) / 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99)]


def measure(paths: list[Path], messages: int, runs: int) -> dict[str, float]:
    base = corpus(paths)
    lines = (base * (messages // len(base) + 1))[:messages]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "messages.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        results = [run_cli(path) for _ in range(runs)]
    walls, cpus = [w for w, _ in results], [c for _, c in results]
    p50, p99 = latencies(lines[:20_000])
    return {
        "corpus": len(base),
        "best": messages / min(walls),
        "median": messages / statistics.median(walls),
        "cpu": messages / min(cpus),
        "p50": p50,
        "p99": p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    first = measure([CORPUS], args.messages, args.runs)
    whole = measure(CORPORA, args.messages, args.runs)
    load = os.getloadavg()[0]

    def met(ok: bool) -> str:
        return "yes" if ok else "no"

    rows = [
        ("messages/s, best wall clock", f"{first['best']:,.0f}", "≥ 20,000", met(first["best"] >= 20_000)),
        ("messages/s, median wall clock", f"{first['median']:,.0f}", "", ""),
        ("messages/s, CPU time of the process", f"{first['cpu']:,.0f}", "", ""),
        ("latency p50 per message (in process)", f"{first['p50']:.0f} µs", "", ""),
        (
            "latency p99 per message (in process)",
            f"{first['p99']:.0f} µs",
            "< 1 ms",
            met(first["p99"] < 1000),
        ),
        (
            f"whole corpus ({whole['corpus']} messages): messages/s, best wall clock",
            f"{whole['best']:,.0f}",
            "",
            "",
        ),
        ("whole corpus: messages/s, CPU time of the process", f"{whole['cpu']:,.0f}", "", ""),
        ("whole corpus: latency p99 per message (in process)", f"{whole['p99']:.0f} µs", "", ""),
    ]
    command = f".venv/bin/python -m bench.bench_parse_cli --messages {args.messages} --runs {args.runs}"
    block = "\n".join(
        [
            "### Parser: `tiendo parse --jsonl`, start-up included",
            "",
            f"Command: `{command}` ({first['corpus']} messages of the first corpus repeated, then the whole "
            f"corpus; one core; load average {load_before:.1f} at the start, {load:.1f} at the end, on 2 "
            "cores shared with other work: the wall clock drops with the load, the CPU time much less).",
            "",
            "| figure | measured | goal | met |",
            "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        ]
    )
    print(block)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(block + "\n", encoding="utf-8")
    rate_best, p99 = first["best"], first["p99"]
    _goals.write(
        "parser",
        [
            Goal("Parser, `tiendo parse --jsonl` end to end, best wall clock", f"{rate_best:,.0f} msg/s",
                 "≥ 20,000 msg/s", rate_best >= 20_000, command),
            Goal("Parser, p99 per message", f"{p99:.0f} µs", "< 1 ms", p99 < 1000, command),
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
