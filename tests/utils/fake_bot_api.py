"""A stand-in of Telegram's Bot API, the one the tests and the benchmarks share.

It answers like Telegram: getMe, sendMessage and the other sends (a message back), getUpdates (long
polling; an offset confirms every update below it, for good), the rest `true`; errors as
`{ok: false, error_code, description, parameters}`. Its awkward parts on demand: a method refused
with a status (`fail_methods`), answers scripted in order (`script`; status 0: no answer at all, a
time-out), chats that blocked the bot (403), random 429/500/502 in a bad minute (`storm`), and
Telegram's flood limit (`flood_limit`: over N messages in a second, 429 "retry after").

One state, three ways in:
- in the test's process: `api.transport()`, an httpx transport, so that python-telegram-bot's own
  HTTP layer (bot.channels.telegram.TelegramRequest, with its mark before each request) talks to it
  without a socket;
- on loopback, in the caller's event loop: `await api.start()` (the benchmarks: a bare asyncio
  HTTP/1.1 server with keep-alive; a ThreadingHTTPServer would be the bottleneck at 300+ calls a
  second on two cores shared with the bot under test);
- on loopback from a thread of its own: `with api:` (tests that run the bot as a process), or as a
  process: `python -m tests.utils.fake_bot_api [--flood-limit 30] [--inject 0.01]` (bench_campaign:
  the first line printed is "port N"; GET /stats returns what was delivered).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import itertools
import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qsl, urlsplit

import httpx

BOT = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Tiến độ",
    "username": "tiendo_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
SENDS = ("sendMessage", "sendPhoto", "sendDocument", "editMessageReplyMarkup", "editMessageText")
# Fields python-telegram-bot sends JSON-encoded inside a form (the others are plain strings).
JSON_FIELDS = {
    "reply_markup",
    "allowed_updates",
    "commands",
    "entities",
    "caption_entities",
    "media",
    "link_preview_options",
    "reply_parameters",
}
FAULTS = (
    (429, "Too Many Requests: retry after 1", {"retry_after": 1}),
    (500, "Internal Server Error", None),
    (502, "Bad Gateway", None),
)
STATUS_TEXT = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests"}
MAX_HEADER = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
LONG_POLL_MAX = 5.0  # seconds a getUpdates waits at most for an update (Telegram: its `timeout`)

Answer = tuple[int, dict[str, Any]] | None  # (HTTP status, body), or None: no answer (a time-out)
OnCall = Callable[[str, dict[str, Any], float], None]  # (method, params, arrival time.monotonic())


class Call(NamedTuple):
    method: str
    params: dict[str, Any]


def digest(text: str) -> str:
    """A text's fingerprint (bench_campaign compares it with the outbox row's text)."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def error(
    status: int, description: str, parameters: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


class FakeBotAPI:
    def __init__(self, *, on_call: OnCall | None = None, seed: int = 11) -> None:
        self.on_call = on_call  # told of every call answered 200, with its arrival time
        self.calls: list[Call] = []  # every call, in order
        self.accepted: list[Call] = []  # the sendMessage calls Telegram took (answered 200)
        self.counts: Counter[str] = Counter()  # calls by method
        # sendMessage taken: (chat_id, text, time.time(), the update it answers if the traced bot said)
        self.delivered: list[tuple[int, str, float, int | None]] = []
        self.fail_methods: dict[str, int] = {}  # method -> HTTP status to answer with, every time
        # method -> answers to give, in order, before answering normally: (status, error payload);
        # status 0: no answer (the request times out)
        self.script: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.blocked_chats: set[int] = set()  # answered 403, as for a user who blocked the bot
        self.rng = random.Random(seed)
        self.fault_rate = 0.0  # storm(): that share of sendMessage answered 429, 500 or 502
        self.faults: Counter[int] = Counter()  # status -> sendMessage calls answered with it in a storm
        self.flood_rate = 0  # flood_limit(): at most that many sendMessage delivered per second
        self.flood_window = "sliding"
        self.inject = 0.0  # with the flood limit: that share of sendMessage answered 429 at random
        self.inject_retry_after = 1
        self.limited = self.injected = 0
        self._recent: deque[float] = deque()  # delivery times in the flood limit's window
        self._second = 0
        self.updates: list[dict[str, Any]] = []  # for getUpdates
        self.offset = 0  # getUpdates: every update below it is confirmed, for good
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop that answers, once it has
        self._new_update = asyncio.Event()  # wakes a waiting getUpdates
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # --- behaviours ---------------------------------------------------------------------------------

    def storm(self, rate: float) -> None:
        """A bad minute: that share of sendMessage calls refused (429, 500 or 502) at random; 0 ends it."""
        self.fault_rate = rate

    def flood_limit(
        self, rate: int, *, window: str = "sliding", inject: float = 0.0, retry_after: int = 1
    ) -> None:
        """Telegram's flood control: over `rate` sendMessage delivered in any second (`window` "fixed":
        per wall-clock second) is answered 429 "retry after N", N the whole seconds until one leaves the
        window; `inject`: that share answered 429 `retry_after` at random, whatever the load."""
        self.flood_rate, self.flood_window = rate, window
        self.inject, self.inject_retry_after = inject, retry_after

    def push_update(self, update: dict[str, Any]) -> None:
        """An update for getUpdates (from any thread)."""
        self.updates.append(update)
        if self._loop is None:
            self._new_update.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop has ended: nobody waits
                self._loop.call_soon_threadsafe(self._new_update.set)

    def add_message(self, user_id: int, text: str) -> None:
        """A private text message from `user_id`, for getUpdates."""
        update_id = next(self._update_ids)
        self.push_update(
            {
                "update_id": update_id,
                "message": {
                    "message_id": update_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": {"id": user_id, "is_bot": False, "first_name": "Lan"},
                    "text": text,
                },
            }
        )

    # --- what was sent ------------------------------------------------------------------------------

    def sent(self, chat_id: int | None = None) -> list[Call]:
        """Every sendMessage call (refused ones included), to one chat or all."""
        return [
            c
            for c in list(self.calls)
            if c.method == "sendMessage" and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.params["text"] for c in self.sent(chat_id)]

    @staticmethod
    def buttons(call: Call) -> list[tuple[str, str]]:
        markup = call.params.get("reply_markup")
        if not markup:
            return []
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]

    def stats(self) -> dict[str, Any]:
        """What the flood-limited API delivered (bench_campaign)."""
        return {
            "delivered": [(chat, digest(text), at) for chat, text, at, _ in self.delivered],
            "limited": self.limited,
            "injected": self.injected,
            "requests": self.counts["sendMessage"],
            "cpu_s": time.process_time(),
        }

    # --- answering ----------------------------------------------------------------------------------

    async def handle(self, method: str, params: dict[str, Any], arrived: float) -> Answer:
        self.calls.append(Call(method, params))
        self.counts[method] += 1
        answer = await self.answer(method, params)
        if answer is not None and answer[0] == 200:
            if method == "sendMessage":
                self.accepted.append(Call(method, params))
                self.delivered.append(
                    (
                        int(params.get("chat_id") or 0),
                        str(params.get("text", "")),
                        time.time(),
                        params.get("_update"),
                    )
                )
            if self.on_call is not None:
                self.on_call(method, params, arrived)
        await self.answered(method, params)
        return answer

    async def answered(self, method: str, params: dict[str, Any]) -> None:
        """Between taking a call and its answer reaching the bot (a subclass makes it slow, or never)."""

    async def answer(self, method: str, params: dict[str, Any]) -> Answer:
        """The answer to one call; a subclass changes it for its own case."""
        if method in self.fail_methods:
            return error(self.fail_methods[method], "Fake failure")
        if self.script.get(method):
            status, payload = self.script[method].pop(0)
            if status == 0:
                return None
            return status, {"ok": False, "error_code": status, **payload}
        if method == "getUpdates":
            return 200, {"ok": True, "result": await self._get_updates(params)}
        if method == "sendMessage":
            refused = self._refused(params)
            if refused is not None:
                return refused
        return 200, {"ok": True, "result": self.result(method, params)}

    def _refused(self, params: dict[str, Any]) -> Answer:
        if int(params.get("chat_id") or 0) in self.blocked_chats:
            return error(403, "Forbidden: bot was blocked by the user")
        if self.fault_rate and self.rng.random() < self.fault_rate:
            status, description, parameters = self.rng.choice(FAULTS)
            self.faults[status] += 1
            return error(status, description, parameters)
        if not self.flood_rate:
            return None
        if self.inject and self.rng.random() < self.inject:
            self.injected += 1
            return self._too_many(self.inject_retry_after)
        now = time.monotonic()
        if self.flood_window == "fixed":
            second = int(time.time())
            if second != self._second:
                self._second = second
                self._recent.clear()
            if len(self._recent) >= self.flood_rate:
                self.limited += 1
                return self._too_many(1)
        else:
            while self._recent and self._recent[0] <= now - 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.flood_rate:
                self.limited += 1
                # Telegram gives whole seconds: the time until the oldest delivery leaves the window.
                return self._too_many(max(1, math.ceil(self._recent[0] + 1.0 - now)))
        self._recent.append(now)
        return None

    @staticmethod
    def _too_many(seconds: int) -> tuple[int, dict[str, Any]]:
        return error(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})

    def result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method in SENDS:
            message_id = next(self._message_ids)
            params.setdefault("_id", message_id)  # for a harness: a button press names its message
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or message_id),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id") or 0), "type": "private"},
                "from": BOT,
            }
            if "text" in params:
                message["text"] = params["text"]
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        return True

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.offset = max(self.offset, int(params.get("offset") or 0))
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), LONG_POLL_MAX)
        while True:
            self.updates = [u for u in self.updates if u["update_id"] >= self.offset]
            if self.updates or time.monotonic() >= deadline or self._stopping:
                return self.updates[:100]
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=deadline - time.monotonic())

    async def _handle_http(self, path: str, content_type: str, body: bytes) -> Answer:
        arrived = time.monotonic()
        self._loop = asyncio.get_running_loop()
        if path == "/stats":
            return 200, self.stats()
        method, _, query = path.rsplit("/", 1)[-1].partition("?")
        params = parse_params(content_type, body)
        # bench_chaos's traced bot names the update a request answers (bench/_chaos_traced.py)
        traced = dict(parse_qsl(query)).get("bench_update", "")
        if traced.isascii() and traced.isdigit():
            params["_update"] = int(traced)
        return await self.handle(method, params, arrived)

    # --- in process: an httpx transport -------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport:
        """For `httpx.AsyncClient(transport=…)`: the requests reach this object without a socket."""

        async def handler(request: httpx.Request) -> httpx.Response:
            url = urlsplit(str(request.url))
            path = url.path + (f"?{url.query}" if url.query else "")
            answer = await self._handle_http(path, request.headers.get("content-type", ""), request.content)
            if answer is None:
                raise httpx.ReadTimeout("the fake Bot API did not answer", request=request)
            status, payload = answer
            return httpx.Response(status, json=payload)

        return httpx.MockTransport(handler)

    # --- on loopback ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self, port: int = 0) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port, backlog=1024)

    async def stop(self) -> None:
        self._stopping = True
        self._new_update.set()  # long polls answer now
        if self._server is not None:
            # Not wait_closed(): keep-alive connections of a killed bot could keep it waiting.
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
                headers = {}
                for line in header_lines:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length > MAX_BODY:
                    return
                # A request cut short (its sender killed) is not read whole, and so not acted on.
                body = await reader.readexactly(length) if length else b""
                answer = await self._handle_http(parts[1], headers.get("content-type", ""), body)
                if answer is None:
                    return  # no answer: the connection closes, as a time-out would end it
                status, payload = answer
                data = json.dumps(payload).encode()
                writer.write(
                    f"HTTP/1.1 {status} {STATUS_TEXT.get(status, 'Error')}\r\n".encode()
                    + b"Content-Type: application/json\r\nContent-Length: "
                    + str(len(data)).encode()
                    + b"\r\n\r\n"
                    + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    # --- on loopback, from a thread of its own --------------------------------------------------------

    def __enter__(self) -> Self:
        started = threading.Event()

        def serve() -> None:
            async def main() -> None:
                await self.start()
                started.set()
                while not self._stopping:
                    await asyncio.sleep(0.05)
                await self.stop()

            asyncio.run(main())

        self._thread = threading.Thread(target=serve, name="fake-bot-api", daemon=True)
        self._thread.start()
        if not started.wait(timeout=10):
            raise RuntimeError("the fake Bot API did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def parse_params(content_type: str, body: bytes) -> dict[str, Any]:
    """A call's parameters: python-telegram-bot posts a form (JSON-typed fields JSON-encoded), or
    multipart with files; other clients JSON."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        loaded = json.loads(body)
        return loaded if isinstance(loaded, dict) else {}
    if content_type.startswith("multipart/"):
        fields = _multipart(content_type, body)
    else:
        fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
    params: dict[str, Any] = {}
    for key, value in fields.items():
        if key in JSON_FIELDS and isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                params[key] = value
        else:
            params[key] = value
    return params


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Text fields as strings, files as their name and size."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        assert isinstance(payload, bytes)  # a form field is no multipart of its own: its body, decoded
        filename = part.get_filename()
        fields[str(name)] = (
            payload.decode() if filename is None else {"filename": filename, "size": len(payload)}
        )
    return fields


def main() -> None:
    """The flood-limited API as a process of its own (bench_campaign): "port N" first on stdout."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--flood-limit", type=int, default=30, help="sendMessage delivered per second")
    parser.add_argument("--window", choices=("sliding", "fixed"), default="sliding")
    parser.add_argument(
        "--inject", type=float, default=0.0, help="share of sendMessage answered 429 at random"
    )
    parser.add_argument("--retry-after", type=int, default=1, help="of the injected 429s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    api = FakeBotAPI(seed=args.seed)
    api.flood_limit(args.flood_limit, window=args.window, inject=args.inject, retry_after=args.retry_after)

    async def serve() -> None:
        await api.start()
        print(f"port {api.port}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):  # stopped by the bench with SIGTERM, or by hand
        asyncio.run(serve())


if __name__ == "__main__":
    main()
