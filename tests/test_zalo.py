"""Zalo end to end: a secretary registers, reports and confirms by number; staff ask /tiendo.

Against a stand-in of the Zalo Bot platform on loopback, with the real `tiendo run` (polling) and
`tiendo serve` (webhooks) processes.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from storage import accounts, targets, units
from storage.db import Database
from storage.models import ChannelUsage, InboxUpdate, Metric, Report, Role
from tests.utils.fake_zalo_server import TOKEN, FakeZaloServer

ROOT = Path(__file__).resolve().parent.parent
SECRETARY, STAFF = "zalo-user-111", "zalo-user-333"
WEBHOOK_SECRET = "zalo-webhook-secret-0123456789"


def prepare(database_url: str) -> tuple[str, str]:
    from datetime import date

    database = Database(database_url)
    database.migrate()
    with database.session() as session:
        commune = units.create_unit(
            session, code="X1", name="Đảng bộ xã Thanh Hà", level="Đảng bộ xã", parent=None
        )
        cell = units.create_unit(
            session, code="X1-A", name="Chi bộ thôn Đông", level="Chi bộ", parent=commune
        )
        for i in range(40):  # enough sub-units for a /tiendo longer than one Zalo message
            units.create_unit(
                session,
                code=f"X1-{i:02d}",
                name=f"Chi bộ tổ dân phố số {i:02d} thuộc Đảng bộ xã Thanh Hà, huyện Thanh Liêm",
                level="Chi bộ",
                parent=commune,
            )
        targets.set_target(
            session,
            unit=commune,
            metric=Metric.admissions,
            start=date(2026, 1, 1),
            end=date(2026, 12, 31),
            value=10,
            source="Kế hoạch năm 2026",
        )
        codes = (
            accounts.create_invite(session, unit=cell, role=Role.secretary),
            accounts.create_invite(session, unit=commune, role=Role.staff),
        )
    database.dispose()
    return codes


def env(server: FakeZaloServer, database_url: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "ZALO_BOT_TOKEN": TOKEN,
        "ZALO_API_BASE_URL": server.base_url,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "INFO",
        "QUIET_HOURS": "",
        **extra,
    }


def wait_for(server: FakeZaloServer, chat: str, count: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = server.sent_texts(chat)
        if len(texts) >= count:
            return texts
        time.sleep(0.05)
    raise AssertionError(f"expected {count} messages to {chat}, got {server.sent_texts(chat)}")


def conversation(server: FakeZaloServer, deliver, secretary_code: str, staff_code: str) -> None:
    """The same dialogue in both run modes; `deliver(update)` delivers an update as the platform does."""

    def send(user: str, text: str, message_id: str | None = None) -> None:
        deliver(server.make_update("message.text.received", user, text, "Lan", message_id))

    send(SECRETARY, f"/dangky {secretary_code}")
    assert "Đã đăng ký: đồng chí là bí thư chi bộ của Chi bộ thôn Đông" in wait_for(server, SECRETARY, 1)[0]
    send(SECRETARY, "ket nap 1 dang vien nu, doan vien, khong theo dao, nguoi Kinh, tot nghiep THPT")
    summary = wait_for(server, SECRETARY, 2)[1]
    assert "Kết nạp 1 đảng viên: 1 nữ, 1 đoàn viên" in summary
    assert summary.endswith("1. Xác nhận  2. Sửa  3. Hủy")
    send(SECRETARY, "1", message_id="confirm-1")
    assert "Mã biên nhận: BN-" in wait_for(server, SECRETARY, 3)[2]
    send(SECRETARY, "1", message_id="confirm-1")  # the platform delivers the same message again
    send(STAFF, f"/dangky {staff_code}")
    wait_for(server, STAFF, 1)
    send(STAFF, "/tiendo")
    progress = wait_for(server, STAFF, 3)
    full = "".join(progress[1:])
    assert "Đảng bộ xã Thanh Hà đã kết nạp 1 đảng viên" in full and "Chi bộ thôn Đông: 1" in full
    assert len(progress) >= 3 and all(len(text) <= 2000 for text in progress)  # a long reply is split
    assert len(server.sent_texts(SECRETARY)) == 3  # the redelivered "1" got no second answer
    # In a group the secretary mentions the bot: a word in the group, the answer in private.
    group = "g-0123456789"
    assert server.group_update(group, SECRETARY, "chào cả nhà", mention=False) is None  # not for the bot
    deliver(server.group_update(group, SECRETARY, "/baocao", display_name="Lan"))
    assert wait_for(server, group, 1) == ["Bot đã trả lời riêng đồng chí Lan."]
    assert "BN-" in wait_for(server, SECRETARY, 4)[3]


def reports_in(database_url: str) -> int:
    database = Database(database_url)
    with database.session() as session:
        n = session.exec(select(func.count()).select_from(Report)).one()
    database.dispose()
    return n


@pytest.fixture
def zalo() -> Iterator[FakeZaloServer]:
    # As the platform: delivered updates served again while fresh, both forms of "nothing new".
    with FakeZaloServer(replay_seconds=60, empty="alternate") as server:
        yield server


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    return output


def test_polling_conversation(zalo: FakeZaloServer, database_url: str, tmp_path: Path) -> None:
    secretary_code, staff_code = prepare(database_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=tmp_path,
        env=env(zalo, database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        conversation(
            zalo,
            zalo.queue,
            secretary_code,
            staff_code,
        )
        staff_answers = len(zalo.sent_texts(STAFF))
        zalo.add_event("sticker", SECRETARY)
        assert "tin nhắn chữ" in wait_for(zalo, SECRETARY, 5)[4]
        image = zalo.add_event("image", SECRETARY)
        assert image["message"]["photo_url"].startswith("https://")
        assert "ảnh" in wait_for(zalo, SECRETARY, 6)[5]
        # Idle, while the platform replays every message of the last minute at once when asked.
        idle_from = time.monotonic()
        time.sleep(4)
        polls = zalo.polls_between(idle_from, idle_from + 4)
        # The month's quota runs out: the reply is refused once (429), not tried again and again.
        zalo.quota = len(zalo.accepted)
        zalo.add_text(STAFF, "/start")
        wait_for(zalo, STAFF, staff_answers + 1)
        time.sleep(1.5)
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert zalo.replays_served > 0
    assert polls <= 4 * 2, f"{polls} getUpdates in 4 s while idle"
    # Every message answered exactly once, replays and all.
    assert len(zalo.sent_texts(SECRETARY)) == 6 and len(zalo.sent_texts(STAFF)) == staff_answers + 1
    assert len(zalo.sent_texts("g-0123456789")) == 1
    assert TOKEN not in output and "SECRET" not in output
    assert reports_in(database_url) == 1
    assert "quota exceeded" in output
    database = Database(database_url)
    with database.session() as session:
        usage = session.exec(select(ChannelUsage)).one()
    database.dispose()
    assert usage.exhausted_until is not None and usage.sent == len(zalo.accepted)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_webhook_conversation_and_forged_webhooks(
    zalo: FakeZaloServer, database_url: str, tmp_path: Path
) -> None:
    secretary_code, staff_code = prepare(database_url)
    port = free_port()
    # The public address is https (a reverse proxy terminates TLS); the proxy passes calls to the port.
    base = "https://tiendo.example.vn"
    zalo.forward_to = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env(zalo, database_url, PUBLIC_BASE_URL=base, ZALO_WEBHOOK_SECRET=WEBHOOK_SECRET),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not zalo.webhook_url:
            time.sleep(0.05)
        assert zalo.webhook_url == f"{base}/zalo/webhook" and zalo.webhook_secret == WEBHOOK_SECRET
        health = httpx.get(zalo.local(f"{base}/healthz"), timeout=10).json()
        assert health["status"] == "ok" and health["channels"]["zalo"]["webhook"] == "ok"

        bodies = iter(range(1000))

        def deliver(update: dict) -> None:
            # The documentation shows bodies wrapped as {ok, result}; integrations see bare updates.
            assert zalo.deliver_webhook(update, wrapped=next(bodies) % 2 == 0) == 200

        conversation(zalo, deliver, secretary_code, staff_code)
        # Forged and missing secrets: refused, nothing stored, no reply.
        before = len(zalo.sent_texts())
        forged = zalo.make_update("message.text.received", SECRETARY, "/tiendo", "Lan", None)
        assert zalo.post_forged(forged, "wrong-secret") == 403
        assert zalo.post_forged(forged, None) == 401
        time.sleep(0.5)
        assert len(zalo.sent_texts()) == before
        # Staff ask for the workbook: a short-lived link that works, and a tampered one that does not.
        already = len(zalo.sent_texts(STAFF))
        deliver(zalo.make_update("message.text.received", STAFF, "/xuat", "Minh", None))
        link_text = wait_for(zalo, STAFF, already + 1)[-1]
        url = link_text.split("Tải tệp (liên kết dùng được trong thời gian ngắn): ")[1].split()[0]
        assert url.startswith(f"{base}/files/")
        workbook = httpx.get(zalo.local(url), timeout=10)
        assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
        assert httpx.get(zalo.local(url[:-4] + "0000"), timeout=10).status_code == 404
        assert httpx.get(zalo.local(f"{base}/healthz"), timeout=10).json()["channels"]["zalo"]["last_update"]
    finally:
        output = stop(process)
    # uvicorn shuts down gracefully on SIGTERM, then exits by that signal (systemd counts it as clean).
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert TOKEN not in output
    assert reports_in(database_url) == 1
    database = Database(database_url)
    with database.session() as session:
        stored = session.exec(select(InboxUpdate.delivery_id)).all()
    database.dispose()
    assert len(stored) == len(set(stored))  # the redelivered message was stored once
    assert "wrong-secret" not in output


def start_serve(
    zalo: FakeZaloServer, database_url: str, tmp_path: Path, **extra: str
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    zalo.forward_to = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env(zalo, database_url, PUBLIC_BASE_URL="https://tiendo.example.vn", **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, f"http://127.0.0.1:{port}"


def health(local: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"{local}/healthz", timeout=5).json()
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "tiendo serve did not start"
            time.sleep(0.1)


def test_healthz_says_when_the_platform_refused_the_webhook(
    zalo: FakeZaloServer, database_url: str, tmp_path: Path
) -> None:
    zalo.fail_next("setWebhook", 500, "Internal error")
    process, local = start_serve(zalo, database_url, tmp_path, ZALO_WEBHOOK_SECRET=WEBHOOK_SECRET)
    try:
        deadline = time.monotonic() + 60
        while not [m for m, _ in zalo.calls if m == "setWebhook"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        state = health(local)
    finally:
        output = stop(process)
    assert state["status"] == "degraded" and state["database"] == "ok"
    assert state["channels"]["zalo"]["webhook"].startswith("not registered: ZaloError")
    assert "could not register the zalo webhook" in output and TOKEN not in output


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"PUBLIC_BASE_URL": "http://tiendo.example.vn", "ZALO_WEBHOOK_SECRET": WEBHOOK_SECRET}, "https://"),
        ({"PUBLIC_BASE_URL": "tiendo.example.vn", "ZALO_WEBHOOK_SECRET": WEBHOOK_SECRET}, "https://"),
        (
            {"PUBLIC_BASE_URL": "https://tiendo.example.vn", "ZALO_WEBHOOK_SECRET": "short"},
            "từ 8 đến 256 ký tự",
        ),
        (
            {"PUBLIC_BASE_URL": "https://tiendo.example.vn", "ZALO_WEBHOOK_SECRET": "x" * 257},
            "từ 8 đến 256 ký tự",
        ),
        ({"PUBLIC_BASE_URL": "https://tiendo.example.vn"}, "ZALO_WEBHOOK_SECRET"),
    ],
)
def test_serve_refuses_at_start_what_the_platform_would_refuse(
    zalo: FakeZaloServer,
    database_url: str,
    settings: dict[str, str],
    complaint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for key, value in env(zalo, database_url, **settings).items():
        monkeypatch.setenv(key, value)
    assert main(["serve", "--port", str(free_port())]) == 1
    err = capsys.readouterr().err
    assert "tiendo serve cần đặt" in err and complaint in err
    assert [m for m, _ in zalo.calls if m == "setWebhook"] == []
