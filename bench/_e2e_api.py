"""A fake Telegram Bot API for bench_e2e: a bare asyncio HTTP/1.1 server on 127.0.0.1.

A ThreadingHTTPServer costs a thread and a few hundred microseconds per call; at 300+ calls a second on
two cores shared with the bot under test that would be the bottleneck. This one parses just enough
HTTP (Content-Length bodies, keep-alive) and answers like Telegram does, from the harness's event
loop, handing every call to a callback with its arrival time (time.monotonic, the harness's clock).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

BOT = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Tiến độ",
    "username": "tiendo_bench_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
MAX_HEADER = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
STATUS_TEXT = {200: "OK", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway"}

# (method, params, arrival time)
OnCall = Callable[[str, dict[str, Any], float], None]


class FakeBotAPI:
    def __init__(self, on_call: OnCall | None = None) -> None:
        self.on_call = on_call
        self.counts: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        self._message_id = 1000
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0, backlog=1024)

    async def stop(self) -> None:
        if self._server is not None:
            # Not wait_closed(): keep-alive connections of the killed bot could keep it waiting.
            self._server.close()
            for writer in list(self._writers):
                writer.close()  # the handlers see EOF and end, rather than being cancelled at loop exit
            for _ in range(50):
                if not self._writers:
                    break
                await asyncio.sleep(0.02)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                if len(head) > MAX_HEADER:
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                parts = request_line.split(" ")
                if len(parts) < 2:
                    return
                path = parts[1]
                headers = {}
                for line in header_lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length > MAX_BODY:
                    return
                body = await reader.readexactly(length) if length else b""
                arrived = time.monotonic()
                method, _, query = path.rsplit("/", 1)[-1].partition("?")
                params = _params(headers.get("content-type", ""), body)
                # bench_chaos's traced bot names the update a request answers (bench/_chaos_traced.py)
                traced = dict(parse_qsl(query)).get("bench_update", "")
                if traced.isascii() and traced.isdigit():
                    params["_update"] = int(traced)
                status, answer = await self._answer(method, params)
                payload = json.dumps(answer).encode()
                self.counts[method] += 1
                if self.on_call is not None and status == 200:
                    self.on_call(method, params, arrived)
                writer.write(
                    f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Error')}\r\n".encode()
                    + b"Content-Type: application/json\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and body for a call (bench_chaos's API adds faults and getUpdates)."""
        return 200, {"ok": True, "result": self._result(method, params)}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method in (
            "sendMessage",
            "editMessageReplyMarkup",
            "editMessageText",
            "sendPhoto",
            "sendDocument",
        ):
            self._message_id += 1
            params.setdefault("_id", self._message_id)  # for the harness: a button press names its message
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or self._message_id),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id") or 0), "type": "private"},
                "from": BOT,
            }
            if "text" in params:
                message["text"] = params["text"]
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "getUpdates":
            return []
        return True


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """python-telegram-bot posts form fields, each one JSON-encoded (strings as they are)."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        loaded = json.loads(body)
        return loaded if isinstance(loaded, dict) else {}
    if content_type.startswith("multipart/"):
        return {}  # files: not part of this benchmark's mix; counted by method only
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        if key == "reply_markup":
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        else:
            params[key] = value
    return params
