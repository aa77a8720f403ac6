"""The machine a benchmark ran on, in one line: CPU, cores, Python, SQLite and PostgreSQL versions."""

import os
import platform
import sqlite3
from pathlib import Path


def describe(pg_version: str | None = None) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [
        f"{cpu}, {cores} cores",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if pg_version:
        parts.append(f"PostgreSQL {pg_version}")
    return "; ".join(parts)
