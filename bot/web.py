"""The web backend: webhooks for Telegram and Zalo, health, and signed links to generated files.

A webhook update is stored first and answered at once (Zalo wants an answer within about two
seconds); a background worker then processes stored updates, chat by chat, in order. A process
that dies after answering loses nothing: its stored updates are picked up by the next sweep.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update

from bot import webui
from bot.files import FileLinks
from bot.zalo_channel import ZaloChannel
from bot.zalo_channel import delivery_id as zalo_delivery_id
from handlers.types import Services
from storage import inbox, outbox
from storage.db import Database

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
    telegram: Any | None = None  # a python-telegram-bot Application, initialised
    zalo: ZaloChannel | None = None
    links: FileLinks | None = None
    telegram_secret: str = ""
    zalo_secret: str = ""
    concurrency: int = 32
    _queue: asyncio.Queue[StoredUpdate] = field(default_factory=asyncio.Queue)
    _worker: asyncio.Task[None] | None = None
    _inflight: set[int] = field(default_factory=set)  # stored ids queued or being processed here
    _tails: dict[str, asyncio.Task[None]] = field(default_factory=dict)  # last task of each chat
    _slots: asyncio.Semaphore | None = None

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
        # The payload is in hand: no need to read the row back before processing it.
        self._inflight.add(stored)
        self._queue.put_nowait(StoredUpdate(stored, channel, delivery, payload))
        return True

    # --- processing -------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker = asyncio.create_task(self._run(), name="inbox-worker")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for task in list(self._tails.values()):
            task.cancel()
        # Cancelled updates stay unprocessed in the inbox: the next start picks them up.
        await asyncio.gather(*self._tails.values(), return_exceptions=True)

    async def _run(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)
        await self._sweep(include_recent=True)  # what a previous process stored and did not finish
        while True:
            try:
                row = await asyncio.wait_for(self._queue.get(), timeout=SWEEP_INTERVAL)
            except TimeoutError:
                await self._sweep(include_recent=False)
                continue
            self._schedule(row)

    def _schedule(self, row: StoredUpdate) -> None:
        """Start processing at once, unless the same chat has an update in hand: then right after it.

        Each update goes as soon as it arrives (one slow /tiendo holds back only its own chat), and a
        chain of tasks per chat keeps each conversation in order.
        """
        key = chat_key(row.channel, row.payload)
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
            assert self._slots is not None
            async with self._slots:
                await self._process(row)
        finally:
            self._inflight.discard(row.id)

    async def _sweep(self, *, include_recent: bool) -> None:
        def load() -> list[StoredUpdate]:
            with self.database.session() as session:
                cutoff = self.services.now() - (timedelta(0) if include_recent else ORPHAN_AGE)
                return [
                    StoredUpdate(row.id, row.channel, row.delivery_id, json.loads(row.payload))
                    for row in inbox.pending(session, limit=500)
                    if row.id is not None and row.received_at <= cutoff
                ]

        try:
            rows = await asyncio.to_thread(load)
        except Exception:
            log.exception("could not look for unprocessed updates")
            return
        for row in rows:  # oldest first, so each chat's chain keeps their order
            if row.id not in self._inflight:
                self._inflight.add(row.id)
                self._schedule(row)

    async def _process(self, row: StoredUpdate) -> None:
        payload = row.payload
        try:
            if row.channel == "telegram" and self.telegram is not None:
                await self.telegram.process_update(Update.de_json(payload, self.telegram.bot))
            elif row.channel == "zalo" and self.zalo is not None:
                await self.zalo.process(payload)
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


def chat_key(channel: str, payload: dict[str, Any]) -> str:
    """Which conversation an update belongs to, so that one chat's updates stay in order."""
    if channel == "zalo":
        message = payload.get("message") or {}
        return f"zalo:{(message.get('chat') or {}).get('id') or (message.get('from') or {}).get('id')}"
    for key in ("message", "edited_message", "callback_query"):
        part = payload.get(key)
        if isinstance(part, dict):
            chat = part.get("chat") or (part.get("message") or {}).get("chat") or part.get("from") or {}
            return f"telegram:{chat.get('id')}"
    return f"telegram:{payload.get('update_id')}"


def _refused(
    request: Request, *, channel: str, configured: bool, header: str, secret: str
) -> Response | None:
    """The answer to a webhook call that is not the platform's (or for a channel not configured)."""
    if not configured:
        return JSONResponse({"ok": False, "error": f"{channel} not configured"}, status_code=404)
    given = request.headers.get(header)
    if given is None:
        return JSONResponse({"ok": False}, status_code=401)
    if not secret or not hmac.compare_digest(secret.encode(), given.encode()):
        return JSONResponse({"ok": False}, status_code=403)
    return None


def create_app(runtime: WebRuntime, *, on_startup: Any = None, on_shutdown: Any = None) -> Starlette:
    async def telegram_webhook(request: Request) -> Response:
        refused = _refused(
            request,
            channel="telegram",
            configured=runtime.telegram is not None,
            header="X-Telegram-Bot-Api-Secret-Token",
            secret=runtime.telegram_secret,
        )
        if refused is not None:
            return refused
        payload = await _json(request)
        if payload is None or "update_id" not in payload:
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        return await _accept(runtime, "telegram", str(payload["update_id"]), payload)

    async def zalo_webhook(request: Request) -> Response:
        refused = _refused(
            request,
            channel="zalo",
            configured=runtime.zalo is not None,
            header="X-Bot-Api-Secret-Token",
            secret=runtime.zalo_secret,
        )
        if refused is not None:
            return refused
        body = await _json(request)
        update = body.get("result") if isinstance(body, dict) and "result" in body else body
        if not isinstance(update, dict):
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        delivery = zalo_delivery_id(update) or _digest(update)
        return await _accept(runtime, "zalo", delivery, update)

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
        channels = {}
        for name, configured in (
            ("telegram", runtime.telegram is not None),
            ("zalo", runtime.zalo is not None),
        ):
            last: datetime | None = state["seen"].get(name)
            channels[name] = {"configured": configured, "last_update": last.isoformat() if last else None}
        return JSONResponse(
            {"status": "ok", "database": "ok", "channels": channels, "outbox_pending": state["pending"]}
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

    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        if on_startup is not None:
            await on_startup()
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            if on_shutdown is not None:
                await on_shutdown()

    return Starlette(
        routes=[
            Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
            Route("/zalo/webhook", zalo_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/files/{token}", files, methods=["GET"]),
            webui.mount(runtime.database, runtime.services),  # the organisation department's page, /web
        ],
        lifespan=asynccontextmanager(lifespan),
    )


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        return None


async def _accept(runtime: WebRuntime, channel: str, delivery: str, payload: dict[str, Any]) -> Response:
    try:
        await runtime.receive(channel, delivery, payload)
    except Exception:
        # Not stored: answer an error so that the platform delivers the update again later.
        log.exception("could not store a %s update", channel)
        return JSONResponse({"ok": False, "error": "temporarily unavailable"}, status_code=503)
    return JSONResponse({"ok": True})


def _digest(update: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()[:32]
