"""Each benchmark's goals, measured, for the summary at the top of docs/performance.md.

A benchmark calls `write(name, goals)` next to its Markdown; bench/report.py reads every
bench/results/*.goals.json and puts one table first, so a reader sees each goal, what was measured
and whether it was met before the details.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Goal:
    figure: str  # what was measured, e.g. "/tiendo at the national root, p95"
    measured: str  # as shown, e.g. "9.3 ms"
    goal: str  # e.g. "≤ 300 ms"
    met: bool
    command: str  # how to measure it again


def write(name: str, goals: list[Goal]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = [asdict(g) for g in goals]
    (RESULTS / f"{name}.goals.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def read_all() -> list[tuple[str, Goal]]:
    found: list[tuple[str, Goal]] = []
    for path in sorted(RESULTS.glob("*.goals.json")):
        name = path.name.removesuffix(".goals.json")
        found += [(name, Goal(**item)) for item in json.loads(path.read_text(encoding="utf-8"))]
    return found


def summary(order: tuple[str, ...]) -> list[str]:
    """The Markdown table of every goal, benchmarks in `order` first."""
    goals = read_all()
    if not goals:
        return []
    rank = {name: i for i, name in enumerate(order)}
    # "campaign-send" sorts with "campaign"
    goals.sort(key=lambda item: rank.get(item[0].split("-")[0], len(rank)))
    missed = sum(1 for _, g in goals if not g.met)
    lines = [
        "## Goals at a glance",
        "",
        f"{len(goals) - missed} of {len(goals)} goals met. Each row's details are in its section below.",
        "",
        "| figure | measured | goal | met | command |",
        "|---|--:|--:|:-:|---|",
    ]
    for _, g in goals:
        lines.append(
            f"| {g.figure} | {g.measured} | {g.goal} | {'yes' if g.met else '**no**'} | `{g.command}` |"
        )
    return [*lines, ""]
