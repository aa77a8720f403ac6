"""The parser corpus through `tiendo parse --jsonl`, as an integration would use it: prints accuracy.

Run: .venv/bin/python -m bench.corpus_accuracy [--corpus tests/corpus/everyday.jsonl ...]
Every file of tests/corpus/ by default, each reported on its own and all together. A case is fully
right when intent, admission, class_attendance and period match (and each fact, when the case lists
them). Of the rest, a reading is WRONG when it states a figure or a period the message does not say (a
report stored from a message that is none, a count or breakdown that differs, a period that differs or,
left out, would default to the current month when the message meant another): the kind of failure a
secretary who confirms without reading would store. The others only ask or leave a field open (OPEN), or
throw a report away as not understood (DROPPED). Exit status 1 when any file or the whole is below --min
(default 0.97).
"""

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("intent", "admission", "class_attendance", "period")


def _within_month(period: dict, today: str) -> bool:
    return period["start"][:7] == today[:7] == period["end"][:7]


def wrongs(got: dict, want: dict, today: str) -> list[str]:
    """What the reading states that the message does not: figures or periods a confirmation would store."""
    stated = got["intent"] == "report" and (got["admission"] or got["class_attendance"])
    if not stated:
        if got["intent"] == "progress" == want["intent"] and got["period"] not in (None, want["period"]):
            return ["progress period"]
        return []
    if want["intent"] != "report":
        return ["a report read from a message that is none"]
    found = []
    for part in ("admission", "class_attendance"):
        if got[part] is None:
            continue
        if want[part] is None:
            found.append(f"{part} invented")
            continue
        found += [f"{part}.{k}" for k, v in got[part].items() if v is not None and v != want[part][k]]
    if got["period"] is not None and got["period"] != want["period"]:
        found.append("period")
    elif got["period"] is None and want["period"] is not None and not _within_month(want["period"], today):
        found.append("period left to default")
    return found


def run(corpus: Path) -> tuple[int, list[str], int, int]:
    # split on "\n" only: a message may hold a Unicode line separator, which splitlines() would cut
    cases = [json.loads(line) for line in corpus.read_text(encoding="utf-8").split("\n") if line.strip()]
    by_day: dict[str, list[dict]] = defaultdict(list)
    for case in cases:
        by_day[case["today"]].append(case)
    failures = []
    wrong = dropped = 0
    for today, group in sorted(by_day.items()):
        # JSON string lines keep the line breaks some messages have.
        stdin = "".join(json.dumps(case["text"], ensure_ascii=False) + "\n" for case in group)
        result = subprocess.run(
            [sys.executable, "-m", "bot", "parse", "--jsonl", "--today", today],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        outputs = result.stdout.splitlines()
        if len(outputs) != len(group):
            raise SystemExit(f"{today}: {len(group)} messages in, {len(outputs)} lines out")
        for case, line in zip(group, outputs, strict=True):
            got = json.loads(line)
            keys = COMPARED + (("facts",) if "facts" in case["expect"] else ())
            diff = [
                f"{k}: got {got[k]} want {case['expect'][k]}" for k in keys if got[k] != case["expect"][k]
            ]
            if diff:
                want = case["expect"]
                kind = "OPEN"
                if found := wrongs(got, want, today):
                    kind, wrong = "WRONG " + ", ".join(found), wrong + 1
                elif want["intent"] == "report" and got["intent"] != "report":
                    kind, dropped = "DROPPED", dropped + 1
                failures.append(f"[{kind}] {case['text']!r}: " + "; ".join(diff))
    return len(cases), failures, wrong, dropped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--corpus", type=Path, nargs="*", default=sorted((ROOT / "tests" / "corpus").glob("*.jsonl"))
    )
    parser.add_argument("--min", type=float, default=0.97)
    args = parser.parse_args()
    ok = True
    grand_total = grand_failed = 0
    for corpus in args.corpus:
        total, failures, wrong, dropped = run(corpus)
        accuracy = 1 - len(failures) / total
        for line in failures:
            print("FAIL", line)
        print(
            f"{corpus.name}: {accuracy:.2%} fully right ({total - len(failures)}/{total}); "
            f"wrong figure or period: {wrong}; report not understood: {dropped}"
        )
        ok = ok and accuracy >= args.min
        grand_total += total
        grand_failed += len(failures)
    accuracy = 1 - grand_failed / grand_total
    print(
        f"corpus accuracy through tiendo parse: {accuracy:.2%} ({grand_total - grand_failed}/{grand_total})"
    )
    return 0 if ok and accuracy >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
