"""Zalo: the same conversation as Telegram; options become numbered text, files become links."""

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from bot.dispatch import answering, run_handler
from bot.files import FileLinks
from bot.zalo_client import ZaloClient, ZaloError
from handlers.i18n import t
from handlers.types import Incoming, Kind, Reply, Services, options_text
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "zalo"
EVENT_KINDS = {
    "message.text.received": Kind.text,
    "message.image.received": Kind.photo,
    "message.sticker.received": Kind.sticker,
    "message.unsupported.received": Kind.unsupported,
}


def to_incoming(update: dict[str, Any]) -> Incoming | None:
    """The channel-neutral form of a Zalo update; None for what needs no answer (the bot's own)."""
    message = update.get("message") or {}
    sender = message.get("from") or {}
    if not sender.get("id") or sender.get("is_bot"):
        return None
    chat = message.get("chat") or {}
    kind = EVENT_KINDS.get(str(update.get("event_name")), Kind.unsupported)
    # No update_id on Zalo: the message id is the delivery id.
    message_id = message.get("message_id")
    return Incoming(
        channel=CHANNEL,
        user_id=str(sender["id"]),
        chat_id=str(chat.get("id") or sender["id"]),
        text=str(message.get("text") or "") if kind is Kind.text else "",
        kind=kind,
        delivery_id=str(message_id) if message_id else None,
        display_name=sender.get("display_name"),
    )


def delivery_id(update: dict[str, Any]) -> str | None:
    message_id = (update.get("message") or {}).get("message_id")
    return str(message_id) if message_id else None


class ZaloChannel:
    def __init__(self, client: ZaloClient, services: Services, *, links: FileLinks | None = None) -> None:
        self.client = client
        self.services = services
        self.links = links
        self.last_update_at: datetime | None = None

    async def process(self, update: dict[str, Any]) -> None:
        incoming = to_incoming(update)
        if incoming is None:
            return
        self.last_update_at = self.services.now()
        replies = await run_handler(incoming, self.services)
        # No rate limiter here: the first reply leaves right after this.
        if replies and not await asyncio.to_thread(answering(incoming, self.services)):
            log.error("replies to %s kept for its next delivery", incoming.delivery_id)
            return
        for reply in replies:
            await self.send(incoming.chat_id, reply)

    async def send(self, chat_id: str, reply: Reply) -> None:
        text = reply.text
        for file in reply.files:
            if self.links is None:
                # No public address for the platform to fetch the file from: say so, keep the text.
                text += "\n" + t("zalo.file_unavailable")
                continue
            url = await asyncio.to_thread(self.links.publish, file, self.services.now())
            if file.kind == "photo":
                await self.client.send_photo(chat_id, url, caption=reply.text[:200])
            else:
                text += "\n" + t("zalo.file_link", url=url)
        options = options_text(reply)
        await self.client.send_message(chat_id, f"{text}\n{options}" if options else text)

    async def deliver(self, message: OutboxMessage) -> None:
        """For the outbox sender: a campaign message to a Zalo chat."""
        await self.client.send_message(message.chat_id, message.text)

    async def poll(self, stop: asyncio.Event, *, wait: int = 30) -> None:
        """Long polling until `stop` is set; the platform's 408 (nothing new) is normal."""
        failures = 0
        while not stop.is_set():
            try:
                update = await self.client.get_updates(timeout=wait)
            except ZaloError as error:
                failures += 1
                delay = min(60.0, 2.0 ** min(failures, 6))
                log.warning("Zalo getUpdates failed (%s); retrying in %.0f s", error.error_code, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                continue
            failures = 0
            if update is None:
                continue
            try:
                await self.process(update)
            except Exception:
                log.exception("Zalo update could not be handled")
                incoming = to_incoming(update)
                if incoming is not None:
                    try:
                        await self.client.send_message(incoming.chat_id, t("error.generic"))
                    except ZaloError:
                        log.warning("could not tell the Zalo user about the error")
