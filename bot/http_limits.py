"""What a request may cost before the app believes it: its size, its time, the shape of its JSON.

Three guards, each where it can act first:
- `BodyGuard`, an ASGI middleware in front of every route: a body larger than its route allows is
  refused from its Content-Length before a byte of it is read, or as soon as the bytes read pass the
  limit (a body sent without a length); a body that does not arrive in time is refused too. Nothing
  is buffered beyond the limit, so nothing beyond it can be stored.
- `parse_object`: a webhook body as a JSON object, or the reason it is not one (nesting too deep, a
  lone surrogate, NaN): refused with 400 before an update is stored, never a server error (the
  platforms deliver again what is answered 5xx, for ever if it always fails).
- `http_protocol`: uvicorn's HTTP/1.1 protocol with deadlines for the request's head and for the whole
  request. uvicorn's `timeout_keep_alive` counts only idle time between requests, and every byte
  received restarts it: a client sending a header byte every few seconds would hold a connection for
  ever (slowloris).
"""

import asyncio
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers import imports

KIB = 1024
MIB = 1024 * KIB
JSON_MAX_DEPTH = 64  # a Telegram update nests about 8 deep (a reply's keyboard); Zalo's about 4


@dataclass(frozen=True)
class Limits:
    webhook_bytes: int = 1 * MIB  # a platform's update is a few kilobytes (4,096 characters of text at most)
    # The web page's import: the file (handlers.imports.MAX_BYTES), or on confirmation the same bytes
    # posted back in base64 (4/3 of them), with the form's other fields.
    upload_bytes: int = imports.MAX_BYTES * 4 // 3 + 64 * KIB
    form_bytes: int = 256 * KIB  # the web page's other forms (the campaign switches of a province)
    other_bytes: int = 16 * KIB  # health, file links: no body expected
    body_seconds: float = 20.0  # for the whole body, from the end of the head
    upload_seconds: float = 120.0  # 7 MB over a slow mobile link
    header_seconds: float = 10.0  # for a request's head, from the connection or the previous answer
    request_seconds: float = 150.0  # for a whole request; longer than the body's, which gets an answer
    keep_alive_seconds: int = 5  # idle between requests (uvicorn's timeout_keep_alive)
    header_bytes: int = 16 * KIB  # request line and headers (h11's incomplete event size)


@dataclass(frozen=True)
class BodyRule:
    max_bytes: int
    seconds: float


class BodyRefused(Exception):
    """A request body refused before it was read in full."""

    status = 400


class BadLength(BodyRefused):
    status = 400


class BodyTooLarge(BodyRefused):
    status = 413


class BodyTooSlow(BodyRefused):
    status = 408


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The Content-Length a request declares; None without one. Raises BadLength for a malformed one
    (not ASCII digits, or several different values)."""
    values = {value.strip() for name, value in headers if name.lower() == b"content-length"}
    if not values:
        return None
    if len(values) > 1 or not all(v.isdigit() and len(v) <= 18 for v in values):  # bytes: ASCII only
        raise BadLength
    return int(values.pop())


class BodyGuard:
    """Every request's body within its route's size and time, refused otherwise (413, 408, 400).

    The refusal is raised from `receive()` inside the route and answered here, by `refusal(path,
    status)` (JSON for a webhook, a page in Vietnamese for the web page), unless the route already
    answered. Once the body is complete, `receive()` is passed through untouched (a route may wait
    on it for a disconnect)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rule_for: Callable[[str], BodyRule],
        refusal: Callable[[str, int], Response],
    ) -> None:
        self.app = app
        self.rule_for = rule_for
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        rule = self.rule_for(path)
        try:
            length = declared_length(scope.get("headers", []))
        except BodyRefused as refused:
            await self.refusal(path, refused.status)(scope, receive, send)
            return
        if length is not None and length > rule.max_bytes:
            await self.refusal(path, BodyTooLarge.status)(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + rule.seconds
        received = 0
        complete = length == 0
        answered = False

        async def guarded_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise BodyTooSlow from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > rule.max_bytes:
                    raise BodyTooLarge
                complete = not message.get("more_body", False)
            else:
                complete = True  # disconnected
            return message

        async def watched_send(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, watched_send)
        except BodyRefused as refused:
            if answered:
                raise
            await self.refusal(path, refused.status)(scope, receive, send)
        except ClientDisconnect:
            pass  # gone before its body arrived: nobody to answer


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request's body, read chunk by chunk and never past `max_bytes` (BodyTooLarge then)."""
    length = declared_length(request.scope.get("headers", []))
    if length is not None and length > max_bytes:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise BodyTooLarge
    return bytes(body)


class BadJson(ValueError):
    """Why a body is not a JSON object the bot accepts (said in the 400 answer)."""


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson("number out of range")
    return value


def _has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shape_problem(value: Any, max_depth: int) -> str | None:
    """Too deep, or a string (a key included) with a lone surrogate: walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                return "nested too deep"
            for key, child in item.items():
                if _has_lone_surrogate(key):
                    return "lone surrogate"
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                return "nested too deep"
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and _has_lone_surrogate(item):
            return "lone surrogate"
    return None


def parse_object(raw: bytes, *, max_depth: int = JSON_MAX_DEPTH) -> dict[str, Any]:
    """A body as a JSON object (UTF-8, as RFC 8259 requires), or BadJson saying why it is not one.

    Refused: what is not JSON (NaN and Infinity included), a number too large for a float, a
    scalar or a list, nesting deeper than `max_depth`, and lone surrogates (`\\ud800`: no database
    stores them, and no platform sends them, as their servers write UTF-8)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadJson("not UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except BadJson:
        raise
    except RecursionError:
        # Far deeper than max_depth: the C parser stops at the interpreter's recursion limit.
        raise BadJson("nested too deep") from None
    except ValueError:  # a syntax error, or an integer of more than 4,300 digits
        raise BadJson("not JSON") from None
    if not isinstance(value, dict):
        raise BadJson("not a JSON object")
    problem = _shape_problem(value, max_depth)
    if problem is not None:
        raise BadJson(problem)
    return value


def http_protocol(*, header_seconds: float, request_seconds: float) -> type:
    """uvicorn's h11 protocol, closing a connection whose request head has not arrived
    `header_seconds` after the connection opened (or after the previous answer on a kept-alive
    connection), or whose request has not arrived in full after `request_seconds`. A request whose
    body is complete is never cut, however long its answer takes."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self._deadlines: list[asyncio.TimerHandle] = []
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            # Armed before uvicorn reads a pipelined request, whose head then counts as arrived.
            self._arm()
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            waiting_since = self.cycle  # a new cycle is made when the next request's head is read
            self._deadlines = [
                self.loop.call_later(header_seconds, self._expired, waiting_since, False),
                self.loop.call_later(request_seconds, self._expired, waiting_since, True),
            ]

        def _disarm(self) -> None:
            for handle in self._deadlines:
                handle.cancel()
            self._deadlines = []

        def _expired(self, waiting_since: Any, whole_request: bool) -> None:
            if self.transport.is_closing():
                return
            no_head = self.cycle is waiting_since
            body_missing = whole_request and self.cycle is not None and self.cycle.more_body
            if no_head or body_missing:
                self.logger.info("closing a connection whose request did not arrive in time")
                self.transport.close()

    return GuardedH11Protocol


def server_options(limits: Limits) -> dict[str, Any]:
    """uvicorn.run's arguments for these limits."""
    return {
        "http": http_protocol(header_seconds=limits.header_seconds, request_seconds=limits.request_seconds),
        "timeout_keep_alive": limits.keep_alive_seconds,
        "h11_max_incomplete_event_size": limits.header_bytes,
    }
