"""Chaos benchmark: 100,000 fuzzed messages through the conversation handler, never a confirmation.

    .venv/bin/python -m bench.bench_fuzz [--quick] [--messages N] [--time-limit S]

handlers.conversation.handle, in process, on a SQLite file (WAL, as the app runs it), with five
registered secretaries, one staff member and one stranger writing in turn (messages_per_minute=0).
The messages come from a seeded generator, not hypothesis (its per-example cost would make 100,000
take far longer): random Unicode (Vietnamese, combining marks, emoji, CJK, RTL, zero-width), Vietnamese
report fragments shuffled, SQL-looking text, huge and negative numbers, every command with random
arguments, control characters and NUL, over-long texts, stickers/photos/edits, and button data of
every kind except confirm. A typed "1" or "xác nhận" while options are offered would confirm, so those
are skipped (counted). Goals: exceptions 0, reports stored 0 (nothing is ever confirmed), and every
message answered. Also reported: lone UTF-16 surrogates (a JSON "\\ud800" escape decodes to one),
kept apart since Telegram sends valid UTF-8. Writes bench/results/fuzz.md (not with --quick).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sqlite3
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import func, select

from bench import _goals
from bench._goals import Goal
from handlers.conversation import handle
from handlers.text import fold
from handlers.types import Incoming, Kind, Services
from storage import accounts, targets, units
from storage.db import Database
from storage.models import AdmissionEntry, ClassAttendance, Metric, Report, Role

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent

RESULTS = BENCH / "results" / "fuzz.md"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
CONFIRM_WORDS = {"1", "xac nhan"}

FRAGMENTS = [
    "kết nạp", "ket nap", "KN", "kn", "đảng viên", "dv", "đ/c", "nữ", "nam", "đoàn viên", "tôn giáo",
    "dân tộc", "THPT", "cử", "đi học", "lớp nhận thức", "hoàn thành", "quần chúng ưu tú", "QCUT",
    "tháng 10/2023", "tháng 13", "quý III/2023", "quý 5", "năm 2023", "năm 1899", "năm 9999", "nhiệm kỳ",
    "từ 11/2023 đến 6/2025", "hai mươi mốt", "một trăm", "mười lăm", "1.025", "1,5", "2,000,000", "-3",
    "0", "1", "2", "3", "tất cả", "không rõ", "có", "không", "ko", "năm hiện tại", "quý này", "hôm qua",
    "ngày mai", "tháng sau", "chưa kết nạp được ai", "Sửa", "Hủy", "chi bộ", "thôn Đông", "Kiện Khê",
    "ｋết", "\u0301", "\u200b", "\u202e", "🎉", "👍🏽", "🇻🇳", "\ufeff", "ĐẢNG VIÊN", "KẾT NẠP",
]  # fmt: skip
SQL = [
    "'; DROP TABLE report; --", '" OR 1=1 --', "1; DELETE FROM account", "' UNION SELECT * FROM invite --",
    "%", "_", "\\", "$1", ":name", "?", "/* */", "NULL", "true", "{{7*7}}", "${jndi:ldap://x}",
]  # fmt: skip
COMMANDS = [
    "/start", "/help", "/huongdan", "/trogiup", "/dangky", "/tiendo", "/thidua", "/xuat", "/nhacnho",
    "/huy", "/baocao", "/sua", "/ketnap", "/lop", "/TIENDO", "/tiendo@tiendo_bot", "/khongco", "/",
]  # fmt: skip
CHOICE_ACTIONS = ["ans", "edit", "cancel", "withdraw", "keep", "unit", "page", "chart", "xlsx", "bogus", ""]
RANGES = [
    (0x20, 0x7E), (0xA0, 0x24F), (0x1E00, 0x1EFF), (0x300, 0x36F), (0x1F300, 0x1FAFF), (0x4E00, 0x9FFF),
    (0x590, 0x6FF), (0x2000, 0x206F), (0xFE00, 0xFE0F), (0xFF00, 0xFFEF), (0x0, 0x1F), (0x10000, 0x10FFFF),
]  # fmt: skip


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def unicode(self, size: int) -> str:
        rng = self.rng
        chars = []
        for _ in range(size):
            lo, hi = rng.choice(RANGES)
            code = rng.randint(lo, hi)
            if 0xD800 <= code <= 0xDFFF:
                code = 0xFFFD
            chars.append(chr(code))
        return "".join(chars)

    def number(self) -> str:
        rng = self.rng
        return rng.choice(
            [
                str(rng.randint(0, 10)),
                str(rng.randint(-(10**6), 10**6)),
                str(rng.randint(0, 10**40)),
                "9" * rng.randint(1, 400),
                f"{rng.random() * 1e6:.3f}",
                "1e308",
                "0x1F",
                "١٢٣",  # Arabic-Indic digits
                "１２",  # full-width digits
            ]
        )

    def text(self) -> tuple[str, str]:
        """(category, text)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.25:
            return "unicode", self.unicode(rng.randint(0, 120))
        if roll < 0.55:
            parts = [
                rng.choice([rng.choice(FRAGMENTS), self.number(), self.unicode(rng.randint(1, 6))])
                for _ in range(rng.randint(1, 12))
            ]
            return "fragments", rng.choice([" ", ", ", "", "\n", " và "]).join(parts)
        if roll < 0.62:
            return "sql", " ".join(rng.choice([rng.choice(SQL), rng.choice(FRAGMENTS)]) for _ in range(3))
        if roll < 0.80:
            args = rng.choice(
                [
                    "",
                    self.number(),
                    rng.choice(FRAGMENTS),
                    self.unicode(rng.randint(1, 20)),
                    "BN-" + self.unicode(6),
                ]
            )
            return "command", f"{rng.choice(COMMANDS)} {args}".rstrip()
        if roll < 0.86:
            return "control", "".join(
                chr(rng.randint(0, 0x1F)) if rng.random() < 0.5 else "a" for _ in range(40)
            )
        if roll < 0.88:
            return "long", rng.choice(FRAGMENTS) * rng.randint(200, 3000)
        if roll < 0.93:
            return "answer", rng.choice(
                ["0", "2", "3", "tất cả", "không rõ", "có", "không", "hai", "99", "-1"]
            )
        return "numbers", " ".join(self.number() for _ in range(rng.randint(1, 5)))

    def choice(self) -> str:
        rng = self.rng
        action = rng.choice(CHOICE_ACTIONS)
        rest = rng.choice(["", self.number(), self.unicode(8), "x" * 32, f"{rng.getrandbits(128):032x}:1"])
        return f"{action}:{rest}" if action else rest


def prepare(url: str) -> tuple[Database, list[tuple[str, str, Role | None]]]:
    """A district, a commune, five cells; five secretaries, one staff member, one stranger."""
    database = Database(url)
    database.migrate()
    users: list[tuple[str, str, Role | None]] = []
    with database.session() as session:
        root = units.create_unit(session, code="F", name="Đảng bộ huyện Fuzz", level="Huyện ủy", parent=None)
        commune = units.create_unit(
            session, code="F-X", name="Đảng bộ xã Fuzz", level="Đảng bộ xã", parent=root
        )
        targets.set_target(
            session, unit=commune, metric=Metric.admissions, start=datetime(2023, 1, 1).date(),
            end=datetime(2030, 12, 31).date(), value=24, source="Kế hoạch",
        )  # fmt: skip
        codes = []
        for n in range(5):
            cell = units.create_unit(
                session, code=f"F-X-{n}", name=f"Chi bộ thôn Fuzz {n}", level="Chi bộ", parent=commune
            )
            codes.append((f"s{n}", accounts.create_invite(session, unit=cell, role=Role.secretary)))
        codes.append(("staff", accounts.create_invite(session, unit=commune, role=Role.staff)))
    for user, code in codes:
        services = Services(session=database.session, timezone=ZONE, messages_per_minute=0)
        reply = handle(Incoming(channel="fuzz", user_id=user, chat_id=user, text=f"/dangky {code}"), services)
        assert "Đã đăng ký" in reply[0].text, reply
        users.append((user, user, Role.staff if user == "staff" else Role.secretary))
    users.append(("stranger", "stranger", None))
    return database, users


def stored(database: Database) -> tuple[int, int, int]:
    with database.session() as session:
        return tuple(  # type: ignore[return-value]
            int(session.exec(select(func.count()).select_from(model)).one())
            for model in (Report, AdmissionEntry, ClassAttendance)
        )


def run(count: int, time_limit: float, seed: int) -> dict[str, object]:
    generator = Generator(seed)
    rng = generator.rng
    with tempfile.TemporaryDirectory(prefix="tiendo-bench-fuzz.") as tmp:
        database, users = prepare(f"sqlite:///{tmp}/fuzz.db")
        services = Services(session=database.session, timezone=ZONE, messages_per_minute=0)
        before = stored(database)
        categories: Counter[str] = Counter()
        exceptions: Counter[str] = Counter()
        samples: list[str] = []
        surrogate_errors: Counter[str] = Counter()
        unanswered = skipped = surrogates = 0
        slowest: list[tuple[float, str]] = []
        started = time.perf_counter()
        done = 0
        for n in range(count):
            if time.perf_counter() - started > time_limit:
                break
            user, chat, _ = users[n % len(users)]
            roll = rng.random()
            surrogate = False
            if roll < 0.08:
                category, kind, data = "choice", Kind.choice, generator.choice()
                if data.startswith("confirm"):
                    skipped += 1
                    continue
                incoming = Incoming(
                    channel="fuzz", user_id=user, chat_id=chat, kind=kind, choice=data, text=""
                )
            elif roll < 0.11:
                kind = rng.choice(
                    [Kind.sticker, Kind.photo, Kind.voice, Kind.document, Kind.edited, Kind.unsupported]
                )
                category = "non-text"
                incoming = Incoming(channel="fuzz", user_id=user, chat_id=chat, kind=kind, text="")
            else:
                category, text = generator.text()
                if rng.random() < 0.005:  # what a JSON "\ud83d" escape without its pair decodes to
                    text, surrogate, category = text + "\ud83d", True, "lone surrogate"
                if fold(text).strip(" .!") in CONFIRM_WORDS:
                    skipped += 1  # typed while a summary is offered, this would confirm
                    continue
                incoming = Incoming(channel="fuzz", user_id=user, chat_id=chat, text=text)
            incoming = replace(incoming, delivery_id=f"fuzz-{n}", display_name="Fuzz")
            categories[category] += 1
            t0 = time.perf_counter()
            try:
                replies = handle(incoming, services)
            except Exception as error:
                # Grouped by type, message (positions left out) and the innermost frame of the project.
                frames = traceback.extract_tb(error.__traceback__)
                ours = [f for f in frames if "/main/" in f.filename and "/.venv/" not in f.filename]
                at = f"{ours[-1].filename.split('/main/')[-1]}:{ours[-1].lineno}" if ours else "?"
                message = re.sub(r"position \d+", "position N", str(error)[:120])
                name = f"{type(error).__name__}: {message} (in {at})"
                if surrogate:
                    surrogate_errors[name] += 1
                else:
                    exceptions[name] += 1
                    if len(samples) < 10:
                        where = traceback.extract_tb(error.__traceback__)[-1]
                        samples.append(
                            f"{name} at {where.filename.split('/main/')[-1]}:{where.lineno}, "
                            f"input {incoming!r:.300}"
                        )
                done += 1
                continue
            elapsed = time.perf_counter() - t0
            surrogates += surrogate
            if len(slowest) < 5 or elapsed > slowest[-1][0]:
                slowest = sorted(
                    [*slowest, (elapsed, f"{category}: {(incoming.text or incoming.choice or '')[:60]!r}")],
                    reverse=True,
                )[:5]
            if not replies or not all(r.text.strip() or r.files for r in replies):
                unanswered += 1
            done += 1
            if done % 10_000 == 0:
                print(f"  {done:,} messages, {time.perf_counter() - started:.0f} s", flush=True)
        seconds = time.perf_counter() - started
        after = stored(database)
        database.dispose()
    return {
        "done": done,
        "seconds": seconds,
        "categories": categories,
        "exceptions": exceptions,
        "samples": samples,
        "surrogate_errors": surrogate_errors,
        "surrogates": surrogates,
        "unanswered": unanswered,
        "skipped": skipped,
        "stored_before": before,
        "stored_after": after,
        "slowest": slowest,
        "stopped_by_time": done < count - skipped,
    }


def goal(result: dict[str, object]) -> Goal:
    exceptions: Counter[str] = result["exceptions"]  # type: ignore[assignment]
    surrogate_errors: Counter[str] = result["surrogate_errors"]  # type: ignore[assignment]
    after: tuple[int, int, int] = result["stored_after"]  # type: ignore[assignment]
    before: tuple[int, int, int] = result["stored_before"]  # type: ignore[assignment]
    crashes = sum(exceptions.values()) + sum(surrogate_errors.values())
    stored = sum(after) - sum(before)
    return Goal(
        f"Fuzz: {int(result['done']):,} random messages, never confirmed: exceptions / stored / unanswered",  # type: ignore[call-overload]
        f"{crashes} / {stored} / {result['unanswered']}",
        "0 / 0 / 0",
        crashes == 0 and stored == 0 and result["unanswered"] == 0,
        f"python -m bench.bench_fuzz {' '.join(sys.argv[1:])}".strip(),
    )


def markdown(result: dict[str, object], args: argparse.Namespace) -> str:
    exceptions: Counter[str] = result["exceptions"]  # type: ignore[assignment]
    surrogate_errors: Counter[str] = result["surrogate_errors"]  # type: ignore[assignment]
    categories: Counter[str] = result["categories"]  # type: ignore[assignment]
    after: tuple[int, int, int] = result["stored_after"]  # type: ignore[assignment]
    before: tuple[int, int, int] = result["stored_before"]  # type: ignore[assignment]
    crashes = sum(exceptions.values())
    new_reports = after[0] - before[0]
    done = int(result["done"])  # type: ignore[call-overload]
    seconds = float(result["seconds"])  # type: ignore[arg-type]
    met = crashes == 0 and after == before and result["unanswered"] == 0
    lines = [
        "<!-- written by bench/bench_fuzz.py -->",
        "| messages | time | per message | exceptions | reports stored | entries stored | unanswered "
        "| goal met |",
        "|--:|--:|--:|--:|--:|--:|--:|---|",
        f"| {done:,}{' ⏱' if result['stopped_by_time'] else ''} | {seconds:.0f} s "
        f"| {1000 * seconds / max(done, 1):.2f} ms | {crashes} | {new_reports} "
        f"| {after[1] - before[1]} + {after[2] - before[2]} | {result['unanswered']} "
        f"| {'yes' if met else '**no**'} (0 exceptions, 0 stored) |",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}. "
        f"Command: `python -m bench.bench_fuzz {' '.join(sys.argv[1:])}`.".rstrip(),
        "Messages by kind: " + ", ".join(f"{k} {v:,}" for k, v in categories.most_common()) + ".",
        f'Skipped (would confirm: a typed "1"/"xác nhận", or button data confirm:…): {result["skipped"]:,}.',
        "Slowest: " + "; ".join(f"{1000 * s:.0f} ms {what}" for s, what in result["slowest"]) + ".",  # type: ignore[attr-defined]
    ]
    if exceptions:
        lines.append("Exceptions: " + "; ".join(f"{v} × {k}" for k, v in exceptions.most_common()) + ".")
        lines += [f"- {s}" for s in result["samples"]]  # type: ignore[attr-defined]
    n_sur = int(result["surrogates"]) + sum(surrogate_errors.values())  # type: ignore[call-overload]
    if surrogate_errors:
        lines.append(
            f"Lone surrogates (kept apart, not in the goal): {sum(surrogate_errors.values())} of {n_sur} "
            "raised "
            + "; ".join(f"{v} × {k}" for k, v in surrogate_errors.most_common())
            + '. Telegram sends valid UTF-8, but json.loads turns a "\\ud83d" escape into one.'
        )
    else:
        lines.append(f"Lone surrogates (kept apart): {n_sur} messages, no exception.")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 messages")
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=1800.0, help="seconds at most")
    parser.add_argument("--seed", type=int, default=20231101)
    args = parser.parse_args()
    count = args.messages or (5_000 if args.quick else 100_000)
    result = run(count, args.time_limit, args.seed)
    text = markdown(result, args)
    print(text)
    if not args.quick and not args.messages:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")
        _goals.write("fuzz", [goal(result)])
        print(f"written to {RESULTS.relative_to(ROOT)}")
    exceptions: Counter[str] = result["exceptions"]  # type: ignore[assignment]
    return 1 if exceptions or result["stored_after"] != result["stored_before"] else 0


if __name__ == "__main__":
    sys.exit(main())
