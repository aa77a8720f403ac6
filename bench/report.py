"""Gather the figures every benchmark wrote to bench/results/ into docs/performance.md.

.venv/bin/python -m bench.report      (make bench runs the benchmarks, then this)
"""

import os
import platform
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from bench._goals import summary

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "docs" / "performance.md"
ORDER = ("parser.md", "progress.md", "web.md", "metrics.md", "campaign.md", "e2e.md", "fuzz.md", "chaos.md")


def machine() -> str:
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    postgres = "not found"
    for folder in sorted(Path("/usr/lib/postgresql").glob("*/bin")):
        postgres = subprocess.run(
            [str(folder / "postgres"), "--version"], capture_output=True, text=True
        ).stdout.strip()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; {postgres}"
    )


# The fast chaos and security checks live in the test suite (CI); listed here with their cases.
CI_TESTS = (
    "tests/test_security.py",
    "tests/test_races.py",
    "tests/test_revocation.py",
    "tests/test_chaos.py",
    "tests/test_outbox_crash.py",
    "tests/test_run_polling.py",
    "tests/test_web.py",
    "tests/test_cli.py::test_backup_and_restore",
)


def ci_tests() -> list[str]:
    """Each test function of CI_TESTS with its number of cases (each runs on SQLite and PostgreSQL)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *CI_TESTS],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    cases: dict[str, int] = {}
    for line in listed.splitlines():
        if "::" in line:
            name = line.split("[", 1)[0]
            cases[name] = cases.get(name, 0) + 1
    if not cases:
        return []
    lines = [
        "## Chaos and security in the test suite",
        "",
        f"Run by `make test` and `.ci/run` on every change: {sum(cases.values())} cases (each on SQLite and "
        "on PostgreSQL when `TEST_POSTGRES_URL` is set, as in CI); every one asserts what is stored or "
        "what the user is sent. The slow scenarios are in the chaos benchmark above.",
        "",
        "| test | cases |",
        "|---|--:|",
    ]
    lines += [f"| `{name}` | {n} |" for name, n in cases.items()]
    return [*lines, ""]


def main() -> None:
    parts = [
        "# Performance",
        "",
        "Written by `make bench` (each benchmark in `bench/` writes its block to `bench/results/`, then",
        "`python -m bench.report` gathers them here). Benchmarks are run by hand, never in the test suite.",
        "",
        f"Machine: {machine()}.",
        f"Gathered: {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.",
        "",
    ]
    parts += summary(tuple(n.removesuffix(".md") for n in ORDER))
    names = [n for n in ORDER if (RESULTS / n).exists()]
    names += sorted(p.name for p in RESULTS.glob("*.md") if p.name not in ORDER)
    for name in names:
        parts += [(RESULTS / name).read_text(encoding="utf-8").strip(), ""]
    if not names:
        parts.append("No benchmark has been run yet: `make bench`.")
    parts += ["", *ci_tests()]
    OUT.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)} from {len(names)} result file(s)")


if __name__ == "__main__":
    main()
