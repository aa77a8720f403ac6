"""`tiendo run` as a real process, long polling a Bot API stand-in on loopback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.utils.fake_bot_server import FakeBotServer

ROOT = Path(__file__).resolve().parent.parent


def test_tiendo_run_polls_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    with FakeBotServer() as server:
        server.updates.append(
            {
                "update_id": 10,
                "message": {
                    "message_id": 1,
                    "date": 1698800000,
                    "chat": {"id": 42, "type": "private"},
                    "from": {"id": 42, "is_bot": False, "first_name": "Lan"},
                    "text": "/start",
                },
            }
        )
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": "123456:SECRET-TOKEN",
            "TELEGRAM_API_BASE_URL": server.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
            "LOG_LEVEL": "INFO",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not server.sent_texts():
                time.sleep(0.1)
            assert server.sent_texts(), "the bot answered nothing"
            assert "/dangky" in server.sent_texts()[0]
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "SECRET-TOKEN" not in output  # the token is in every Bot API URL: never logged
        methods = [m for m, _ in server.calls]
        assert "setMyCommands" in methods
