"""The web backend: a webhook per channel, health, and signed links to generated files.

A webhook update is stored first and answered at once (Zalo wants an answer within about two
seconds); a background worker then processes stored updates, chat by chat, in order. A process
that dies after answering loses nothing: its stored updates are picked up by the next sweep.
Nothing here knows a platform: each channel names its path and secret header, unwraps its bodies
and processes its updates.
"""

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import webui
from bot.files import FileLinks
from bot.http_limits import BadJson, BodyGuard, BodyRefused, BodyRule, Limits, parse_object, read_body
from handlers.types import Services
from storage import inbox, outbox
from storage.db import Database

if TYPE_CHECKING:
    from bot.channels.base import Channel
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 5.0  # seconds between looks for stored updates nobody processed (another process died)
ORPHAN_AGE = timedelta(seconds=30)


@dataclass(frozen=True)
class StoredUpdate:
    """An update kept in the inbox, with its payload decoded."""

    id: int
    channel: str
    delivery_id: str
    payload: dict[str, Any]


@dataclass
class WebRuntime:
    database: Database
    services: Services
    channels: "dict[str, Channel]" = field(default_factory=dict)
    links: FileLinks | None = None
    metrics: "Metrics | None" = None  # /metrics (tiendo serve)
    concurrency: int = 32
    _worker: asyncio.Task[None] | None = None
    _inflight: set[int] = field(default_factory=set)  # stored ids scheduled or being processed here
    # Ids finished since the current sweep began: a sweep may have read them as pending just before.
    _finished: set[int] = field(default_factory=set)
    _tails: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # last task of each chat
    _slots: asyncio.Semaphore = field(init=False)
    _stopping: bool = False  # stored from then on, not processed: the next start's sweep takes them

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)  # bound to no loop until first used

    # --- receiving --------------------------------------------------------------------------------

    async def receive(self, channel: str, delivery: str, payload: dict[str, Any]) -> bool:
        """Store an update; True if new. Raises when the database is away (the platform retries)."""

        def store() -> int | None:
            with self.database.session() as session:
                return inbox.store(
                    session, channel=channel, delivery_id=delivery, payload=payload, now=self.services.now()
                )

        stored = await asyncio.to_thread(store)
        if stored is None:
            return False
        # A sweep running meanwhile may have read the new row and scheduled it already: once only.
        if not self._stopping and stored not in self._inflight and stored not in self._finished:
            # The payload is in hand: no need to read the row back before processing it. Scheduled
            # at once (not queued behind a sweep) so that each chat's chain keeps arrival order.
            self._inflight.add(stored)
            self._schedule(StoredUpdate(stored, channel, delivery, payload))
        return True

    # --- processing -------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="inbox-sweeper")

    async def stop(self) -> None:
        self._stopping = True
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for task in list(self._tails.values()):
            task.cancel()
        # Cancelled updates stay unprocessed in the inbox: the next start picks them up.
        await asyncio.gather(*self._tails.values(), return_exceptions=True)

    async def _run(self) -> None:
        await self._sweep(include_recent=True)  # what a previous process stored and did not finish
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            await self._sweep(include_recent=False)

    def _schedule(self, row: StoredUpdate) -> None:
        """Start processing at once, unless the same chat has an update in hand: then right after it.

        Each update goes as soon as it arrives (one slow /tiendo holds back only its own chat), and a
        chain of tasks per chat keeps each conversation in order.
        """
        try:
            key = self.chat_key(row)
        except Exception:
            # A shape its channel cannot place (kept by an older version): processed on its own,
            # where its failure is recorded, rather than stopping the worker at it on every start.
            log.exception("stored %s update %s: no conversation found", row.channel, row.delivery_id)
            key = f"{row.channel}:delivery:{row.delivery_id}"
        previous = self._tails.get(key)
        task = asyncio.create_task(self._after(previous, row))
        self._tails[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tails.get(key) is done:
                del self._tails[key]

        task.add_done_callback(forget)

    async def _after(self, previous: asyncio.Task[None] | None, row: StoredUpdate) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            async with self._slots:
                await self._process(row)
        finally:
            self._inflight.discard(row.id)
            self._finished.add(row.id)

    async def _sweep(self, *, include_recent: bool) -> None:
        def load() -> list[StoredUpdate]:
            with self.database.session() as session:
                cutoff = self.services.now() - (timedelta(0) if include_recent else ORPHAN_AGE)
                return [
                    StoredUpdate(row.id, row.channel, row.delivery_id, json.loads(row.payload))
                    for row in inbox.pending(session, limit=500)
                    if row.id is not None and row.received_at <= cutoff
                ]

        # Updates finished before this load began are marked in the database, so the load cannot
        # return them: they need not be remembered after it.
        finished_before = set(self._finished)
        try:
            rows = await asyncio.to_thread(load)
        except Exception:
            log.exception("could not look for unprocessed updates")
            return
        finally:
            self._finished -= finished_before
        for row in rows:  # oldest first, so each chat's chain keeps their order
            if row.id not in self._inflight and row.id not in self._finished:
                self._inflight.add(row.id)
                self._schedule(row)

    def chat_key(self, row: StoredUpdate) -> str:
        """Which conversation an update belongs to, so that one chat's updates stay in order."""
        channel = self.channels.get(row.channel)
        where = channel.conversation_of(row.payload) if channel is not None else row.delivery_id
        return f"{row.channel}:{where}"

    async def _process(self, row: StoredUpdate) -> None:
        channel = self.channels.get(row.channel)
        if channel is None:
            # Stored by a process that serves a channel this one does not: left for that one.
            log.warning("stored %s update %s: channel not configured here", row.channel, row.delivery_id)
            return
        try:
            await channel.process(row.payload)
        except Exception as error:
            log.exception("stored %s update %s failed", row.channel, row.delivery_id)
            await self._mark(row.id, f"{type(error).__name__}: {error}")
            return
        await self._mark(row.id, None)

    async def _mark(self, row_id: int, error: str | None) -> None:
        def store() -> None:
            with self.database.session() as session:
                if error is None:
                    inbox.mark_processed(session, row_id, now=self.services.now())
                else:
                    inbox.mark_failed(session, row_id, error=error)

        try:
            await asyncio.to_thread(store)
        except Exception:
            # The update stays unprocessed and a later sweep takes it again; its report, if any, is
            # already stored once (confirmation is idempotent).
            log.exception("could not mark stored update %s", row_id)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """For tests: until everything received has been processed."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._inflight:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("updates still being processed")
            await asyncio.sleep(0.01)


def _refused(request: Request, channel: "Channel") -> Response | None:
    """The answer to a webhook call that is not the platform's."""
    given = request.headers.get(channel.secret_header)
    if given is None:
        return JSONResponse({"ok": False}, status_code=401)
    secret = channel.webhook_secret
    if not secret or not hmac.compare_digest(secret.encode(), given.encode()):
        return JSONResponse({"ok": False}, status_code=403)
    return None


async def read_update(
    request: Request, channel: "Channel", max_bytes: int = Limits.webhook_bytes
) -> dict[str, Any] | Response:
    """The update a webhook call carries, or the answer that refuses the call: every request body
    is read here, and only here, never past `max_bytes`. Whatever is not a JSON object of the
    platform's shape is answered 400 (a 5xx would be delivered again, for ever)."""
    refused = _refused(request, channel)
    if refused is not None:
        return refused
    try:
        body = parse_object(await read_body(request, max_bytes))
    except BodyRefused as too_large:
        return webhook_refusal(too_large.status)
    except BadJson as bad:
        return JSONResponse({"ok": False, "error": f"bad update: {bad}"}, status_code=400)
    update = channel.unwrap(body)
    if update is None:
        return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
    return update


def webhook_refusal(status: int) -> Response:
    """A webhook call refused for its body's size (413), time (408) or length header (400). A 408
    closes the connection: the rest of that body may still come."""
    headers = {"Connection": "close"} if status == 408 else None
    return JSONResponse({"ok": False, "error": _BODY_ERRORS[status]}, status_code=status, headers=headers)


_BODY_ERRORS = {400: "bad content length", 408: "body too slow", 413: "body too large"}
_PAGE_ERRORS = {
    400: "Yêu cầu không hợp lệ.",
    408: "Yêu cầu gửi quá chậm; đồng chí thử lại.",
    413: "Tệp hoặc biểu mẫu quá lớn.",
}


def webhook(
    runtime: WebRuntime, channel: "Channel", max_bytes: int = Limits.webhook_bytes
) -> Callable[[Request], Awaitable[Response]]:
    async def receive(request: Request) -> Response:
        update = await read_update(request, channel, max_bytes)
        if isinstance(update, Response):
            return update
        return await _accept(runtime, channel.name, channel.delivery_id(update), update)

    return receive


def create_app(
    runtime: WebRuntime, *, limits: Limits | None = None, on_startup: Any = None, on_shutdown: Any = None
) -> Starlette:
    limits = limits or Limits()

    async def healthz(_: Request) -> Response:
        def check() -> dict[str, Any]:
            with runtime.database.session() as session:
                session.exec(text("SELECT 1"))  # type: ignore[call-overload]
                seen = inbox.last_received(session)
                pending = outbox.counts(session).get("pending", 0)
            return {"seen": seen, "pending": pending}

        try:
            state = await asyncio.to_thread(check)
        except Exception as error:
            return JSONResponse({"status": "error", "database": f"{type(error).__name__}"}, status_code=503)
        channels, degraded = {}, False
        for name, channel in runtime.channels.items():
            last: datetime | None = state["seen"].get(name)
            registered = channel.webhook_error is None
            degraded = degraded or not registered
            channels[name] = {
                "configured": True,
                "webhook": "ok" if registered else f"not registered: {channel.webhook_error}",
                "last_update": last.isoformat() if last else None,
            }
        # A channel whose webhook could not be registered receives nothing: say so (the database and
        # the other channels still work, so the answer stays 200 for a load balancer).
        return JSONResponse(
            {
                "status": "degraded" if degraded else "ok",
                "database": "ok",
                "channels": channels,
                "outbox_pending": state["pending"],
            }
        )

    async def files(request: Request) -> Response:
        if runtime.links is None:
            return Response(status_code=404)
        row = await asyncio.to_thread(
            runtime.links.fetch,
            request.path_params["token"],
            request.query_params.get("e", ""),
            request.query_params.get("s", ""),
            runtime.services.now(),
        )
        if row is None:
            return Response("Liên kết không đúng hoặc đã hết hạn.", status_code=404, media_type="text/plain")
        return Response(
            row.data,
            media_type=row.content_type,
            headers={"Content-Disposition": f'attachment; filename="{row.filename}"'},
        )

    async def lifespan(app: Starlette):
        if on_startup is not None:
            await on_startup()
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            if on_shutdown is not None:
                await on_shutdown()

    webhook_paths = {channel.webhook_path for channel in runtime.channels.values() if channel.webhook_path}
    routes = [
        Route(channel.webhook_path, webhook(runtime, channel, limits.webhook_bytes), methods=["POST"])
        for channel in runtime.channels.values()
        if channel.webhook_path
    ]
    if runtime.metrics is not None:
        routes.append(Route("/metrics", runtime.metrics.endpoint(), methods=["GET"]))

    def rule_for(path: str) -> BodyRule:
        if path in webhook_paths:
            return BodyRule(limits.webhook_bytes, limits.body_seconds)
        if path.startswith(f"{webui.PREFIX}/admin/import/"):
            return BodyRule(limits.upload_bytes, limits.upload_seconds)
        if path.startswith(webui.PREFIX):
            return BodyRule(limits.form_bytes, limits.body_seconds)
        return BodyRule(limits.other_bytes, limits.body_seconds)

    def refusal(path: str, status: int) -> Response:
        if path in webhook_paths:
            return webhook_refusal(status)
        headers = {"Connection": "close"} if status == 408 else None
        return Response(_PAGE_ERRORS[status], status_code=status, media_type="text/plain", headers=headers)

    app = Starlette(
        routes=[
            *routes,
            Route("/healthz", healthz, methods=["GET"]),
            Route("/files/{token}", files, methods=["GET"]),
            webui.mount(runtime.database, runtime.services),  # the organisation department's page, /web
        ],
        lifespan=asynccontextmanager(lifespan),
    )
    # Outermost: a body is measured and timed before any route (or Starlette's form parser) reads it.
    app.add_middleware(BodyGuard, rule_for=rule_for, refusal=refusal)
    return app


async def _accept(runtime: WebRuntime, channel: str, delivery: str, payload: dict[str, Any]) -> Response:
    try:
        await runtime.receive(channel, delivery, payload)
    except Exception:
        # Not stored: answer an error so that the platform delivers the update again later.
        log.exception("could not store a %s update", channel)
        return JSONResponse({"ok": False, "error": "temporarily unavailable"}, status_code=503)
    return JSONResponse({"ok": True})
