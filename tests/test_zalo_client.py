"""The Zalo client against a platform stand-in on loopback, and `split_text` on its own."""

import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.zalo_client import MAX_TEXT, ZaloClient, ZaloError, split_text
from tests.utils.fake_zalo_server import FakeZaloServer

USER = "6a1b2c3d4e5f"


@pytest.fixture
def server() -> Iterator[FakeZaloServer]:
    """Without replays: each update is served once (tests of replays make their own)."""
    with FakeZaloServer(replay_seconds=0) as fake:
        yield fake


@pytest.fixture
async def client(server: FakeZaloServer) -> AsyncIterator[ZaloClient]:
    async with ZaloClient(server.token, server.base_url) as zalo:
        yield zalo


def words_up_to(length: int) -> str:
    """Distinct Vietnamese-looking words, as many as fit in `length` characters."""
    text, i = "tiến0độ", 1
    while len(text) + len(f" tiến{i}độ") <= length:
        text, i = f"{text} tiến{i}độ", i + 1
    return text


# --- split_text ----------------------------------------------------------------------------------


def test_split_short_text_is_one_part() -> None:
    assert split_text("Xin chào") == ["Xin chào"]
    assert split_text("x" * MAX_TEXT) == ["x" * MAX_TEXT]


def test_split_blank_text_is_nothing() -> None:
    assert split_text("") == []
    assert split_text(" \n ") == []


def test_split_prefers_line_ends_and_keeps_words_whole() -> None:
    lines = [f"{i}. chi bộ số {i} đã báo cáo" for i in range(12)]
    parts = split_text("\n".join(lines), limit=60)
    assert all(len(p) <= 60 for p in parts)
    # Every part is made of whole lines.
    assert [line for p in parts for line in p.split("\n")] == lines


def test_split_cuts_inside_a_word_only_when_it_is_longer_than_a_part() -> None:
    assert split_text("a " + "x" * 25, limit=10) == ["a", "x" * 10, "x" * 10, "x" * 5]


def test_split_counts_emoji_as_two_units() -> None:
    # JavaScript and Java count an emoji as 2; staying under their count is the safe side.
    parts = split_text("🎉" * 6, limit=5)
    assert parts == ["🎉🎉", "🎉🎉", "🎉🎉"]


def test_split_keeps_combining_marks_with_their_letter() -> None:
    decomposed = "e\u0302\u0301" * 4  # "ế" decomposed, three code points each
    parts = split_text(decomposed, limit=5)
    assert "".join(parts) == decomposed
    assert all(p[0] not in "\u0302\u0301" for p in parts)


@given(st.text(alphabet=st.sampled_from("ab ếđ\n🎉"), max_size=400), st.integers(min_value=2, max_value=50))
def test_split_properties(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(p.strip() and len(p.encode("utf-16-le")) // 2 <= limit for p in parts)
    # Nothing is lost or reordered except the whitespace at the cuts.
    assert "".join("".join(parts).split()) == "".join(text.split())


# --- the client ----------------------------------------------------------------------------------


async def test_get_me(client: ZaloClient, server: FakeZaloServer) -> None:
    me = await client.get_me()
    assert me["account_name"] == "bot.tiendo"
    assert server.calls == [("getMe", {})]


async def test_get_updates_returns_one_update_then_none_on_408(
    client: ZaloClient, server: FakeZaloServer
) -> None:
    sent = server.add_text(USER, "Báo cáo", display_name="Lan")
    server.add_event("image", USER)

    first = await client.get_updates(timeout=1)
    assert first == sent
    assert first["event_name"] == "message.text.received"
    assert first["message"]["from"]["id"] == USER
    assert first["message"]["text"] == "Báo cáo"
    second = await client.get_updates(timeout=1)
    assert second is not None and second["event_name"] == "message.image.received"

    started = time.monotonic()
    assert await client.get_updates(timeout=1) is None
    assert time.monotonic() - started < 3
    assert server.calls[0] == ("getUpdates", {"timeout": "1"})


@pytest.mark.parametrize("empty", ["408", "200", "alternate"])
async def test_both_forms_of_an_empty_poll_mean_no_update(empty: str) -> None:
    """HTTP 408, and HTTP 200 with error_code 408 in the body: both seen from the live platform."""
    with FakeZaloServer(replay_seconds=0, empty=empty) as fake:
        async with ZaloClient(fake.token, fake.base_url) as zalo:
            assert [await zalo.get_updates(timeout=0) for _ in range(3)] == [None, None, None]


async def test_an_ok_false_time_out_without_a_code_is_no_update_either() -> None:
    class TimeoutBody(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.dumps({"ok": False, "description": "Request timeout"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), TimeoutBody)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        async with ZaloClient("1:tok", f"http://127.0.0.1:{httpd.server_address[1]}") as zalo:
            assert await zalo.get_updates(timeout=0) is None
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_the_platform_serves_delivered_updates_again_at_once_while_they_are_fresh() -> None:
    with FakeZaloServer(replay_seconds=0.5) as fake:
        async with ZaloClient(fake.token, fake.base_url) as zalo:
            sent = fake.add_text(USER, "một lần")
            started = time.monotonic()
            again = [await zalo.get_updates(timeout=1) for _ in range(5)]
            assert again == [sent] * 5 and time.monotonic() - started < 0.5  # no wait: at once
            assert fake.replays_served == 4
            time.sleep(0.5)
            assert await zalo.get_updates(timeout=0) is None  # no longer fresh


async def test_get_updates_is_refused_while_a_webhook_is_set(client: ZaloClient) -> None:
    await client.set_webhook("https://tiendo.example.vn/zalo/webhook", "s3cret-s3cret")
    with pytest.raises(ZaloError) as refused:
        await client.get_updates(timeout=0)
    assert refused.value.error_code == 400
    await client.delete_webhook()
    assert await client.get_updates(timeout=0) is None


async def test_get_updates_wakes_when_an_update_arrives(client: ZaloClient, server: FakeZaloServer) -> None:
    threading.Timer(0.2, server.add_text, (USER, "muộn")).start()
    update = await client.get_updates(timeout=1)
    assert update is not None and update["message"]["text"] == "muộn"


async def test_message_ids_are_unique(server: FakeZaloServer) -> None:
    ids = {server.add_text(USER, "x")["message"]["message_id"] for _ in range(50)}
    assert len(ids) == 50 and all(isinstance(i, str) for i in ids)
    assert server.add_text(USER, "again", message_id="m-1")["message"]["message_id"] == "m-1"


async def test_send_message_splits_long_text_in_order(client: ZaloClient, server: FakeZaloServer) -> None:
    text = words_up_to(4500)
    assert 4490 < len(text) <= 4500

    results = await client.send_message(USER, text)

    parts = server.sent_texts(USER)
    assert len(results) == len(parts) == 3
    assert all(1 <= len(p) <= MAX_TEXT for p in parts)
    assert " ".join(parts).split() == text.split()  # no word cut, nothing lost, in order
    assert len({r["message_id"] for r in results}) == 3
    assert server.sent_texts("someone else") == []


async def test_send_message_short_and_blank(client: ZaloClient, server: FakeZaloServer) -> None:
    assert len(await client.send_message(USER, "Đã ghi nhận.")) == 1
    assert await client.send_message(USER, "   ") == []
    assert server.sent_texts() == ["Đã ghi nhận."]


async def test_send_photo_and_chat_action(client: ZaloClient, server: FakeZaloServer) -> None:
    result = await client.send_photo(USER, "https://example.org/chart.png", caption="Biểu đồ")
    assert result["message_id"]
    await client.send_photo(USER, "https://example.org/other.png")
    assert server.photos == [
        {"chat_id": USER, "photo": "https://example.org/chart.png", "caption": "Biểu đồ"},
        {"chat_id": USER, "photo": "https://example.org/other.png"},
    ]
    assert await client.send_chat_action(USER) == {}
    assert server.calls[-1] == ("sendChatAction", {"chat_id": USER, "action": "typing"})


async def test_webhook_set_info_delete(client: ZaloClient, server: FakeZaloServer) -> None:
    assert await client.get_webhook_info() is None  # the platform answers 404: no webhook
    assert ("getWebhookInfo", {}) in server.calls
    await client.set_webhook("https://tiendo.example.vn/zalo", "s3cret-s3cret")
    assert (server.webhook_url, server.webhook_secret) == ("https://tiendo.example.vn/zalo", "s3cret-s3cret")
    info = await client.get_webhook_info()
    assert info is not None and info["url"] == "https://tiendo.example.vn/zalo"
    await client.delete_webhook()
    assert await client.get_webhook_info() is None
    assert server.webhook_url == ""


@pytest.mark.parametrize(
    ("url", "secret", "complaint"),
    [
        ("https://tiendo.example.vn/zalo", "short", "secret_token"),
        ("https://tiendo.example.vn/zalo", "x" * 257, "secret_token"),
        ("http://tiendo.example.vn/zalo", "s3cret-s3cret", "HTTPS"),
    ],
)
async def test_platform_refuses_a_webhook_without_https_or_with_a_bad_secret(
    client: ZaloClient, server: FakeZaloServer, url: str, secret: str, complaint: str
) -> None:
    with pytest.raises(ZaloError) as caught:
        await client.set_webhook(url, secret)
    assert caught.value.error_code == 400
    assert complaint in caught.value.description
    assert server.webhook_url == ""


@pytest.mark.parametrize(("status", "description"), [(500, "Internal error"), (429, "Too many requests")])
async def test_http_errors_raise_with_status(
    client: ZaloClient, server: FakeZaloServer, status: int, description: str
) -> None:
    server.fail_next("sendMessage", status, description)
    with pytest.raises(ZaloError) as caught:
        await client.send_message(USER, "Xin chào")
    assert caught.value.error_code == status
    assert caught.value.description == description
    assert caught.value.method == "sendMessage"
    # Only the next call failed, and the client did not retry by itself.
    await client.send_message(USER, "Xin chào")
    assert [m for m, _ in server.calls] == ["sendMessage", "sendMessage"]


async def test_5xx_without_json_raises_with_status() -> None:
    class Broken(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(502)
            self.send_header("Content-Length", "11")
            self.end_headers()
            self.wfile.write(b"Bad Gateway")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        async with ZaloClient("1:tok", f"http://127.0.0.1:{httpd.server_address[1]}") as zalo:
            with pytest.raises(ZaloError) as caught:
                await zalo.get_me()
        assert caught.value.error_code == 502
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_wrong_token_raises_401(server: FakeZaloServer) -> None:
    async with ZaloClient("999:wrong-token", server.base_url) as zalo:
        with pytest.raises(ZaloError) as caught:
            await zalo.get_me()
    assert caught.value.error_code == 401
    assert caught.value.description == "Unauthorized"
    assert server.calls == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_network_failure_raises_code_0(server: FakeZaloServer) -> None:
    async with ZaloClient(server.token, f"http://127.0.0.1:{closed_port()}") as zalo:
        with pytest.raises(ZaloError) as caught:
            await zalo.get_me()
    assert caught.value.error_code == 0
    assert server.token not in str(caught.value)


async def test_token_never_shown(
    client: ZaloClient, server: FakeZaloServer, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "httpx", "httpcore", "bot.zalo_client"):
        caplog.set_level(logging.DEBUG, logger=name)
    token = server.token
    server.add_text(USER, "hi")

    await client.get_me()
    await client.get_updates(timeout=1)
    await client.send_message(USER, "Xin chào")
    server.fail_next("getMe", 500, f"echoing {token}")  # even a platform that echoes it back
    with pytest.raises(ZaloError) as refused:
        await client.get_me()
    async with ZaloClient(token, f"http://127.0.0.1:{closed_port()}") as offline:
        with pytest.raises(ZaloError) as unreachable:
            await offline.get_me()
        assert token not in repr(offline)

    assert token not in repr(client)
    for error in (refused.value, unreachable.value):
        assert token not in str(error) and token not in repr(error) and token not in error.description
    # The httpx request lines are there (so this test can see them), with the token masked.
    assert any("HTTP Request" in r.getMessage() and "/bot***/getMe" in r.getMessage() for r in caplog.records)
    assert all(token not in r.getMessage() for r in caplog.records)
    assert token not in caplog.text
    assert logging.getLogger("httpx").level == logging.DEBUG  # caplog's, restored after the test


async def test_requests_carry_the_real_token(server: FakeZaloServer) -> None:
    # The masking is only in what httpx sees: the platform gets the real token in the path.
    async with ZaloClient(server.token, server.base_url + "/") as zalo:
        assert (await zalo.get_me())["id"]


async def test_fake_delivers_webhooks_with_the_secret(server: FakeZaloServer) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            secret = self.headers.get("X-Bot-Api-Secret-Token")
            received.append((secret, body))
            self.send_response(200 if secret == "s3cret-s3cret" else 403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        async with ZaloClient(server.token, server.base_url) as zalo:
            await zalo.set_webhook("https://tiendo.example.vn/zalo", "s3cret-s3cret")
        server.forward_to = f"http://127.0.0.1:{httpd.server_address[1]}"  # the TLS-terminating proxy
        update = server.make_update("message.text.received", USER, "qua webhook", "Lan", None)
        assert server.deliver_webhook(update) == 200
        assert server.deliver_webhook(update, wrapped=False) == 200
        assert server.post_forged(update, "guessed") == 403
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert received[0] == ("s3cret-s3cret", {"ok": True, "result": update})
    assert received[1] == ("s3cret-s3cret", update)
    assert received[2][0] == "guessed"
