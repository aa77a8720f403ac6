"""`tiendo parse`: the stable JSON interface for debugging and integrations."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["intent", "admission", "class_attendance", "period", "questions", "facts"]


def tiendo(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_one_message_as_json() -> None:
    result = tiendo("parse", "--today", "2023-11-20", "ket nap 1 dv nu, theo dao cong giao, thang 10/2023")
    assert result.returncode == 0, result.stderr
    parsed = json.loads(result.stdout)
    assert list(parsed) == KEYS
    assert parsed["intent"] == "report"
    assert parsed["admission"] == {
        "count": 1,
        "female": 1,
        "youth_union": None,
        "religious": 1,
        "ethnic_minority": None,
        "upper_secondary_or_above": None,
    }
    assert parsed["period"] == {"start": "2023-10-01", "end": "2023-10-31"}


def test_jsonl_keeps_order_and_accepts_json_strings_for_line_breaks() -> None:
    lines = [
        "tiến độ",
        "cử 5 QCUT đi học lớp nhận thức về Đảng",
        json.dumps("kết nạp 2 đảng viên\ntrong đó 1 nữ"),
        "tháng này chưa kết nạp được đảng viên nào",
        "xin chào",
    ]
    result = tiendo("parse", "--jsonl", "--today", "2023-11-20", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["intent"] for o in out] == ["progress", "report", "report", "report", "unknown"]
    assert out[1]["class_attendance"] == {"sent": 5, "completed": None}
    assert out[2]["admission"]["female"] == 1
    assert out[3]["admission"]["count"] == 0 and out[3]["period"] == {
        "start": "2023-11-01",
        "end": "2023-11-30",
    }


def test_parse_without_text_is_a_clear_error() -> None:
    result = tiendo("parse")
    assert result.returncode == 1 and "--jsonl" in result.stderr


def test_corpus_accuracy_through_tiendo_parse() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.corpus_accuracy"], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    print(result.stdout.splitlines()[-1])
    assert result.returncode == 0, result.stdout[-3000:]
    assert "corpus accuracy through tiendo parse" in result.stdout
