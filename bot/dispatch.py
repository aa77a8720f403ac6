"""Answering a message on any channel: the handlers off the event loop, then the replies, once.

A channel turns its update into an `Incoming` and calls `answer`; everything after that is the same
on every platform: the conversation's transaction, the mark that the replies started to leave, the
retries of a refused reply, and one apology when the message could not be handled.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.exc import OperationalError

from bot.channels.base import ClaimLost, Outcome, Part, first_request_marked, leaving
from handlers.conversation import handle
from handlers.i18n import t
from handlers.types import Incoming, Reply, Services
from storage import conversations

if TYPE_CHECKING:
    from bot.channels.base import Channel

log = logging.getLogger(__name__)

DB_ATTEMPTS = 3
SEND_ATTEMPTS = 3
SEND_RETRY_SECONDS = 2.0  # then 4 s


class Answered(StrEnum):
    sent = "sent"  # the replies went out (or could not, after the report was stored: logged)
    silent = "silent"  # nothing to say (a redelivery, a sender over the rate limit)
    kept = "kept"  # the replies stay kept with the delivery, unsent, for its next delivery
    apologised = "apologised"  # the message could not be handled: the sender was told, once


async def run_handler(incoming: Incoming, services: Services) -> list[Reply]:
    """The handler in a worker thread (the database calls block), retried if the database is briefly away."""
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            return await asyncio.to_thread(handle, incoming, services)
        except OperationalError:
            if attempt == DB_ATTEMPTS:
                raise
            log.warning("database unavailable (attempt %d of %d); retrying", attempt, DB_ATTEMPTS)
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def answer(
    channel: "Channel",
    incoming: Incoming,
    services: Services,
    *,
    before_send: Callable[[], Awaitable[None]] | None = None,
) -> Answered:
    """Handle `incoming` and send its replies through `channel`."""
    try:
        replies = await run_handler(incoming, services)
    except Exception:
        log.exception("%s update %s could not be handled", incoming.channel, incoming.delivery_id)
        await apologise(channel, incoming, services)
        return Answered.apologised
    if before_send is not None:
        await before_send()
    return await send_replies(channel, incoming, replies, services)


async def send_replies(
    channel: "Channel", incoming: Incoming, replies: list[Reply], services: Services
) -> Answered:
    if not replies:
        return Answered.silent
    with first_request_marked(answering(incoming, services)) as attempt:
        try:
            for reply in replies:
                await send_reply(channel, reply.chat_id or incoming.chat_id, reply)
        except ClaimLost:
            log.error("replies to %s kept for its next delivery", incoming.delivery_id)
            return Answered.kept
        except Exception as error:
            # The update was handled and stored: the "nothing was recorded" apology would be false.
            # A platform this broken would not carry an apology either.
            log.error("could not send the replies to %s: %s", incoming.delivery_id, error)
        if not attempt.started:  # nothing left (every part refused before it left): record it now
            with contextlib.suppress(ClaimLost):
                await attempt.leaving()
    return Answered.sent


async def send_reply(channel: "Channel", chat_id: str, reply: Reply) -> None:
    """A reply, request by request; a refused request is sent again, not the ones before it."""
    for part in await channel.render(chat_id, reply):
        await _send_part(channel, chat_id, part)


async def _send_part(channel: "Channel", chat_id: str, part: Part) -> None:
    """Again after a 429 or a definite refusal that may pass (5xx); not after a time-out or a dropped
    connection (it may have arrived: a second copy would confuse the secretary)."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            if not channel.marks_its_start:
                await leaving()
            await part()
            return
        except ClaimLost:
            raise
        except Exception as error:
            verdict = channel.classify(error)
            if attempt == SEND_ATTEMPTS or verdict.outcome not in (Outcome.retry_after, Outcome.retry):
                raise
            delay = (
                verdict.delay
                if verdict.outcome is Outcome.retry_after
                else SEND_RETRY_SECONDS * 2 ** (attempt - 1)
            )
        log.warning("reply to chat %s not sent (attempt %d); again in %.0f s", chat_id, attempt, delay)
        await asyncio.sleep(delay)


async def apologise(channel: "Channel", incoming: Incoming, services: Services) -> None:
    """Tell the sender the message was not handled, once: the delivery is recorded as answered first,
    so that the same message delivered again is neither handled after the apology (which said
    nothing was recorded) nor apologised for a second time."""
    if incoming.delivery_id:
        try:
            await asyncio.to_thread(_record_apology, incoming, services)
        except Exception as error:  # the database is what failed, most likely
            log.warning("could not record the apology for %s: %s", incoming.delivery_id, error)
    try:
        await send_reply(channel, incoming.chat_id, Reply(t("error.generic")))
    except Exception as error:
        log.warning("could not tell the %s user about the error: %s", incoming.channel, error)


def _record_apology(incoming: Incoming, services: Services) -> None:
    with services.session() as session:
        conversations.mark_apologised(
            session, incoming.channel, incoming.delivery_id or "", now=services.now()
        )


def answering(incoming: Incoming, services: Services) -> Callable[[], bool]:
    """What to run as the first reply to `incoming` leaves: the replies kept with its delivery are
    then not sent again by a later process (a crash after this point costs at most these replies).
    False when it cannot be recorded (the database away): the replies then stay kept, unsent, for
    when the update comes again, rather than risk reaching the user twice."""

    def mark() -> bool:
        if not incoming.delivery_id:
            return True
        for attempt in range(1, DB_ATTEMPTS + 1):
            try:
                with services.session() as session:
                    conversations.mark_answering(
                        session, incoming.channel, incoming.delivery_id, now=services.now()
                    )
                return True
            except OperationalError:
                log.warning("could not record that replies to %s are leaving", incoming.delivery_id)
                time.sleep(0.5 * 2**attempt)
        return False

    return mark
