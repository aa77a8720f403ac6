"""The parser corpus through `tiendo parse --jsonl`, as an integration would use it: prints accuracy.

Run: .venv/bin/python bench/corpus_accuracy.py [--corpus tests/corpus/messages.jsonl]
Exit status 1 when accuracy is below --min (default 0.97).
"""

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPARED = ("intent", "admission", "class_attendance", "period")


def run(corpus: Path) -> tuple[int, list[str]]:
    cases = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_day: dict[str, list[dict]] = defaultdict(list)
    for case in cases:
        by_day[case["today"]].append(case)
    failures = []
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
            diff = [
                f"{k}: got {got[k]} want {case['expect'][k]}" for k in COMPARED if got[k] != case["expect"][k]
            ]
            if diff:
                failures.append(f"{case['text']!r}: " + "; ".join(diff))
    return len(cases), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=ROOT / "tests" / "corpus" / "messages.jsonl")
    parser.add_argument("--min", type=float, default=0.97)
    args = parser.parse_args()
    total, failures = run(args.corpus)
    accuracy = 1 - len(failures) / total
    for line in failures:
        print("FAIL", line)
    print(f"corpus accuracy through tiendo parse: {accuracy:.2%} ({total - len(failures)}/{total})")
    return 0 if accuracy >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
