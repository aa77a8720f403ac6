"""The README's admin examples, run as written on the demo's data (`tiendo demo`)."""

import json
import re
import shlex
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parent.parent
# Long-running or covered elsewhere: the bot itself, the terminal chat, a restore over the database.
NOT_HERE = {"run", "serve", "chat", "start", "restore", "demo"}
# The README's syntax placeholders: a line holding one is a summary, not an example.
PLACEHOLDERS = {
    "CODE",
    "CODE2",
    "CHA",
    "MÃ_NHÓM",
    "SỐ",
    "TỆP",
    "THƯ_MỤC",
    "MOI",
    "A",
    "B",
    "N",
    "F",
    "H",
    "P",
    "TEXT",
}
# Identifiers the CLI's text must say in Vietnamese (as words; "demo-staff-TL", an account's id, is data).
ENGLISH = re.compile(
    r"(?<![\w-])(admissions|class_completions|members_total|candidate_pool|secretary|staff)(?![\w-])"
)


def readme_examples() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Lệnh quản trị", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    examples = []
    for line in block.replace("\\\n", " ").splitlines():
        for part in line.split("; tiendo "):
            argv = shlex.split(part if part.startswith("tiendo ") else "tiendo " + part, comments=True)
            placeholder = any(a in PLACEHOLDERS or "[" in a or "|" in a or "YYYY" in a for a in argv)
            if argv[1] in NOT_HERE or placeholder or argv[2:3] == ["import"]:
                continue
            examples.append(argv[1:])
    return examples


@pytest.fixture
def demo_cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.chdir(tmp_path)  # no stray .env; files written here
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ZALO_BOTS", "kien-khe=12345:abc")
    for name in ("TELEGRAM_BOT_TOKEN", "ZALO_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["demo"]) == 0
    capsys.readouterr()

    def run(argv: list[str]) -> tuple[int, str, str]:
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_readme_examples_run_as_written_on_the_demo(demo_cli) -> None:
    examples = readme_examples()
    ran = [" ".join(argv[:2]) for argv in examples]
    # The examples that set and list things are concrete, not summaries the filter above skipped.
    for expected in ("targets set", "figures set", "invite --unit", "bots set", "units history", "nudge off"):
        assert expected in ran, ran
    assert len(examples) >= 20, ran
    for argv in examples:
        code, out, err = demo_cli(argv)
        assert code == 0, (argv, out, err)
        if "--json" in argv:
            json.loads(out)
        else:
            assert not ENGLISH.findall(out), (argv, out)


def test_readme_examples_say_what_they_did(demo_cli) -> None:
    target = (
        "targets set --unit TL-KK --metric admissions --from 2023-11-01 --to 2025-06-30 --value 170 --max 200"
    )
    code, out, _ = demo_cli(target.split())
    assert code == 0 and "Đã đặt chỉ tiêu kết nạp đảng viên cho Đảng bộ thị trấn Kiện Khê: 170–200" in out
    assert "(01/11/2023 → 30/06/2025)" in out
    code, out, _ = demo_cli(["invite", "--unit", "TL-KK-01", "--role", "secretary", "--days", "7"])
    assert code == 0 and "vai trò bí thư chi bộ" in out
    code, out, _ = demo_cli(["accounts", "list", "--unit", "TL", "--all"])
    assert code == 0 and "bí thư chi bộ" in out and "\tsecretary" not in out
    code, out, _ = demo_cli(["units", "list", "--json"])
    units = {u["code"]: u for u in json.loads(out)}
    assert units["TL-KK-01"]["parent_code"] == "TL-KK" and units["TL"]["parent_code"] is None
    code, out, _ = demo_cli(["bots", "list", "--json"])
    (bot,) = json.loads(out)
    assert bot["name"] == "zalo:kien-khe" and bot["configured"] and bot["users"] >= 0
    code, out, _ = demo_cli(["approval", "list", "--unit", "TL", "--json"])
    assert code == 0 and all(item["unit_code"].startswith("TL") for item in json.loads(out))
    code, out, _ = demo_cli(["groups", "list", "--json"])
    assert code == 0 and json.loads(out) == []
