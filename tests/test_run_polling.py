"""`tiendo run` as a real process, long polling a Bot API stand-in on loopback."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlmodel import select

from storage import accounts, units
from storage.db import Database
from storage.models import Report, Role
from tests.utils.fake_bot_api import FakeBotAPI

ROOT = Path(__file__).resolve().parent.parent
USER = 42


def start(server: FakeBotAPI, database_url: str, cwd: Path) -> subprocess.Popen[str]:
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": "123456:SECRET-TOKEN",
        "TELEGRAM_API_BASE_URL": server.base_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_reply(server: FakeBotAPI, count: int) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        texts = server.texts()
        if len(texts) >= count:
            return texts[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no reply number {count}; got {server.texts()}")


def test_tiendo_run_polls_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    with FakeBotAPI() as server:
        server.add_message(USER, "/start")
        process = start(server, f"sqlite:///{tmp_path}/bot.db", tmp_path)
        try:
            assert "/dangky" in wait_for_reply(server, 1)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, output
        assert "SECRET-TOKEN" not in output  # the token is in every Bot API URL: never logged
        assert "setMyCommands" in [m for m, _ in server.calls]


def test_kill_9_mid_dialogue_then_the_next_message_continues_it(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path}/bot.db"
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        cell = units.create_unit(session, code="C1", name="Chi bộ thôn Đông", level="Chi bộ", parent=None)
        code = accounts.create_invite(session, unit=cell, role=Role.secretary)
    with FakeBotAPI() as server:
        first = start(server, database_url, tmp_path)
        try:
            server.add_message(USER, f"/dangky {code}")
            assert "Đã đăng ký" in wait_for_reply(server, 1)
            server.add_message(USER, "kết nạp 2 đảng viên, 2 nữ")
            assert wait_for_reply(server, 2).startswith(
                "Trong 2 đảng viên mới, bao nhiêu đồng chí là đoàn viên, theo tôn giáo,"
            )
        finally:
            first.kill()  # SIGKILL: no shutdown code runs
            first.communicate(timeout=30)
        second = start(server, database_url, tmp_path)
        try:
            server.add_message(USER, "1 đoàn viên")  # a partial answer: the rest is asked again
            assert wait_for_reply(server, 3) == "Đã ghi: 1 đoàn viên."
            assert wait_for_reply(server, 4).startswith(
                "Trong 2 đảng viên mới, bao nhiêu đồng chí theo tôn giáo,"
            )
            server.add_message(USER, "không ai theo đạo, không ai dân tộc, cả 2 THPT")
            assert (
                "2 nữ, 1 đoàn viên, 0 theo tôn giáo, 0 dân tộc thiểu số, 2 trình độ THPT"
                in wait_for_reply(server, 5)
            )
            server.add_message(USER, "1")  # 1. Xác nhận
            assert "Mã biên nhận" in wait_for_reply(server, 6)
        finally:
            second.send_signal(signal.SIGTERM)
            second.communicate(timeout=30)
    with database.session() as session:
        assert len(session.exec(select(Report)).all()) == 1
    database.dispose()


def test_tiendo_serve_registers_the_telegram_webhook_and_answers_through_it(tmp_path: Path) -> None:
    import socket

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The public address is https (a reverse proxy terminates TLS); the test posts to the port behind it.
    base, local, secret = (
        "https://tiendo.example.vn",
        f"http://127.0.0.1:{port}",
        "telegram-webhook-secret-0123",
    )
    with FakeBotAPI() as server:
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": "123456:SECRET-TOKEN",
            "TELEGRAM_API_BASE_URL": server.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path}/bot.db",
            "PUBLIC_BASE_URL": base,
            "TELEGRAM_WEBHOOK_SECRET": secret,
            "LOG_LEVEL": "INFO",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "setWebhook" not in [m for m, _ in server.calls]:
                time.sleep(0.05)
            [params] = [p for m, p in server.calls if m == "setWebhook"]
            assert params["url"] == f"{base}/telegram/webhook" and params["secret_token"] == secret
            update = {
                "update_id": 5,
                "message": {
                    "message_id": 1,
                    "date": 1698800000,
                    "chat": {"id": USER, "type": "private"},
                    "from": {"id": USER, "is_bot": False, "first_name": "Lan"},
                    "text": "/start",
                },
            }
            refused = httpx.post(f"{local}/telegram/webhook", json=update, timeout=10)
            assert refused.status_code == 401
            answer = httpx.post(
                f"{local}/telegram/webhook",
                json=update,
                timeout=10,
                headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            )
            assert answer.status_code == 200
            assert "/dangky" in wait_for_reply(server, 1)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
        assert "Application shutdown complete" in output
        assert "SECRET-TOKEN" not in output


def test_debug_logs_of_tiendo_serve_hold_no_token_secret_or_invite_code(tmp_path: Path) -> None:
    """At LOG_LEVEL=DEBUG python-telegram-bot logs request URLs (the token) and setWebhook's parameters
    (the webhook secret); the update it processes carries an invite code. None of them is printed."""
    import socket

    import httpx

    token = "7012345678:AAHk3-EXAMPLE_token_value_1234567890"
    webhook_secret = "webhook-secret-value-0123456789"
    secret_key = "file-link-signing-key-abcdef"
    database_url = f"sqlite:///{tmp_path}/bot.db"
    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        cell = units.create_unit(session, code="C1", name="Chi bộ thôn Đông", level="Chi bộ", parent=None)
        code = accounts.create_invite(session, unit=cell, role=Role.secretary)
    database.dispose()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with FakeBotAPI() as server:
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": token,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "TELEGRAM_WEBHOOK_SECRET": webhook_secret,
            "SECRET_KEY": secret_key,
            "PUBLIC_BASE_URL": "https://tiendo.example.vn",  # webhooks need https; the fake API takes any
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "DEBUG",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            update = {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 1698800000,
                    "chat": {"id": USER, "type": "private"},
                    "from": {"id": USER, "is_bot": False, "first_name": "Lan"},
                    "text": f"/dangky {code}",
                },
            }
            answer = httpx.post(
                f"http://127.0.0.1:{port}/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": webhook_secret},
            )
            assert answer.status_code == 200
            assert "Đã đăng ký" in wait_for_reply(server, 1)
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=30)
    assert "setWebhook" in output and "DEBUG" in output  # the request logging was on
    for secret in (token, token.split(":")[1], webhook_secret, secret_key, code, code.replace("-", "")):
        assert secret not in output, secret
