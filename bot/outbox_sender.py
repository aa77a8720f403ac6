"""Drains the outbox within the platform's limits: each message sent at most once, failures retried
or recorded.

Just before a message's request leaves (after the rate limiter's wait, so that a crash while
waiting costs nothing), its row is marked `sending` in its own transaction. A row still `sending`
after its hold belonged to a process that died mid-request: it becomes `uncertain` and is not sent
again. Answers that say "not delivered" (429, 5xx, Forbidden, a refused connection) are retried; a
time-out or a connection dropped after the request left makes the message `uncertain` too.
"""

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlmodel import Session, col, select
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest
from telegram.warnings import PTBDeprecationWarning

from bot.zalo_client import ZaloError
from handlers.i18n import t
from storage import outbox, units
from storage.db import Database
from storage.models import Account, OutboxMessage, Role
from storage.outbox import NewMessage

log = logging.getLogger(__name__)

Deliver = Callable[[OutboxMessage], Awaitable[None]]


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    uncertain: int = 0  # perhaps delivered (a time-out, or found abandoned by a dead sender): not resent
    errors: list[str] = field(default_factory=list)


class _Attempt:
    """One message on its way: marks it `sending` once, right before its request leaves."""

    def __init__(self, mark: Callable[[], bool]) -> None:
        self._mark = mark
        self.started = False  # the mark is committed: the request may reach the platform
        self.lost = False  # another sender took the message: this one must not send it

    async def leaving(self) -> None:
        if self.lost:
            raise ClaimLost
        if self.started:
            return  # the rate limiter sending it again after a 429: still the same attempt
        if not await asyncio.to_thread(self._mark):
            self.lost = True
            raise ClaimLost
        self.started = True


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar("outbox_attempt", default=None)


@contextlib.contextmanager
def first_request_marked(mark: Callable[[], bool]) -> Iterator[_Attempt]:
    """Within this block, `mark` runs once, right before the first request leaves (replies to a user
    use it to record that their answer started; see handlers.conversation.handle)."""
    attempt = _Attempt(mark)
    token = _attempt.set(attempt)
    try:
        yield attempt
    finally:
        _attempt.reset(token)


async def leaving() -> None:
    """Deliver functions call this right before a message's request leaves (a no-op outside a send)."""
    attempt = _attempt.get()
    if attempt is not None:
        await attempt.leaving()


class ClaimLost(Exception):
    """The message is no longer this sender's (its hold ran out and another sender took it)."""


_MARKS_ITS_START = "_outbox_marks_its_start"


def marks_its_start(deliver: Deliver) -> Deliver:
    """Tag a deliver function that calls `leaving()` itself; others are marked before they are called."""
    setattr(deliver, _MARKS_ITS_START, True)
    return deliver


def _marks_its_start(deliver: Deliver) -> bool:
    return bool(getattr(deliver, _MARKS_ITS_START, False))


# Failures while connecting (or waiting for a pooled connection): the request never left.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _refused_by_recipient(error: Exception) -> bool:
    """The user blocked the bot, or the chat is gone: the account is marked unreachable."""
    if isinstance(error, Forbidden):
        return True
    if isinstance(error, BadRequest):
        return "chat not found" in str(error).lower() or "blocked" in str(error).lower()
    return isinstance(error, ZaloError) and error.error_code == 403


def may_have_arrived(error: BaseException) -> bool:
    """True when the request may have reached the platform although no answer said so.

    python-telegram-bot and the Zalo client raise transport failures "from" httpx's exception: a
    failure to connect means not sent; a read time-out, a reset or a closed connection after the
    request was written might have come after the platform acted on it. An error without an httpx
    cause is the platform's own answer (429, 5xx, 403 …): definite, so retrying is safe. A bare
    TimedOut (no cause) is treated as ambiguous, like python-telegram-bot's read time-outs.
    """
    cause = error.__cause__
    if isinstance(cause, httpx.HTTPError):
        return not isinstance(cause, _NOT_SENT)
    if isinstance(error, TimedOut):
        return True
    if isinstance(error, (TelegramError, ZaloError)):
        # An answer has no cause; "Unknown error in HTTP implementation" has a non-httpx one.
        return cause is not None
    return not isinstance(error, ChannelUnavailable)  # anything unexpected: assume the worst


def backoff(attempt: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempt)))


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # v22 warns that the type will become timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class ChannelUnavailable(Exception):
    """The message's channel is not configured here: retried later (perhaps by another process)."""


def channel_deliver(deliverers: dict[str, Deliver]) -> Deliver:
    """One deliver function for every configured channel, chosen by the message's channel."""

    async def deliver(message: OutboxMessage) -> None:
        target = deliverers.get(message.channel)
        if target is None:
            raise ChannelUnavailable(f"channel {message.channel} is not configured in this process")
        if not _marks_its_start(target):
            await leaving()  # e.g. Zalo: no rate limiter, the request leaves at once
        await target(message)

    return marks_its_start(deliver)


def telegram_deliver(bot: Bot) -> Deliver:
    """Sends through the bot (and its rate limiter); the message is marked `sending` as the HTTP
    request leaves, after the limiter's wait, which with 30 messages in flight is up to a second."""
    mark_before_requests(bot.request)

    async def deliver(message: OutboxMessage) -> None:
        await bot.send_message(chat_id=int(message.chat_id), text=message.text)

    return marks_its_start(deliver)


def mark_before_requests(request: BaseRequest) -> None:
    """Hook the bot's HTTP layer, below AIORateLimiter: python-telegram-bot offers no other place
    that runs after the limiter's wait. Outside `first_request_marked` (or a send) it does nothing."""
    if getattr(request, _MARKS_ITS_START, False):
        return
    do_request = request.do_request

    async def marked_do_request(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
        await leaving()
        return await do_request(*args, **kwargs)

    request.do_request = marked_do_request  # type: ignore[method-assign]
    setattr(request, _MARKS_ITS_START, True)


class OutboxSender:
    """Claims batches of due messages and sends them; safe to run in several processes at once."""

    def __init__(
        self,
        database: Database,
        deliver: Deliver,
        *,
        clock: Callable[[], datetime],
        owner: str | None = None,
        batch: int = 50,
        concurrency: int = 30,
        hold: timedelta = timedelta(minutes=5),
    ) -> None:
        self.database = database
        self.deliver = deliver
        self.clock = clock
        self.owner = owner or default_owner()
        self.batch = batch
        self.concurrency = concurrency
        self.hold = hold

    async def drain(self, *, max_batches: int | None = None) -> DrainResult:
        """Send everything due now; returns what happened. Messages not yet due stay for later."""
        result = DrainResult()
        batches = 0
        while max_batches is None or batches < max_batches:
            claimed = await asyncio.to_thread(self._claim, result)
            if not claimed:
                break
            batches += 1
            # Several at a time: the bot's rate limiter paces them to the platform's limits.
            semaphore = asyncio.Semaphore(self.concurrency)

            async def one(message: OutboxMessage, semaphore: asyncio.Semaphore = semaphore) -> None:
                async with semaphore:
                    await self._send(message, result)

            await asyncio.gather(*(one(m) for m in claimed))
        return result

    def _claim(self, result: DrainResult) -> list[OutboxMessage]:
        with self.database.session() as session:
            now = self.clock()
            abandoned = outbox.settle_abandoned(session, now=now)
            if abandoned:
                log.warning("%d outbox messages were in flight when a sender stopped: not resent", abandoned)
                result.uncertain += abandoned
            return outbox.claim(session, owner=self.owner, now=now, limit=self.batch, hold=self.hold)

    def _mark_sending(self, message_id: int) -> bool:
        with self.database.session() as session:
            now = self.clock()
            return outbox.mark_sending(session, message_id, owner=self.owner, now=now, hold=self.hold)

    async def _send(self, message: OutboxMessage, result: DrainResult) -> None:
        assert message.id is not None
        message_id = message.id
        attempt = _Attempt(lambda: self._mark_sending(message_id))
        token = _attempt.set(attempt)
        try:
            if not _marks_its_start(self.deliver):
                await attempt.leaving()
            await self.deliver(message)
        except Exception as error:
            if attempt.lost:
                log.warning("outbox message %s was taken by another sender; not sent here", message_id)
            elif attempt.started and may_have_arrived(error):
                await asyncio.to_thread(self._uncertain, message, error, result)
            else:
                await self._failed(message, error, result)
        else:
            await asyncio.to_thread(self._sent, message_id)
            result.sent += 1
        finally:
            _attempt.reset(token)

    async def _failed(self, message: OutboxMessage, error: Exception, result: DrainResult) -> None:
        """The platform said no, or the request never left: retry, or mark the recipient unreachable."""
        if isinstance(error, RetryAfter):
            await self._retry(message, timedelta(seconds=retry_after_seconds(error) + 1), error, result)
        elif _refused_by_recipient(error):
            await asyncio.to_thread(self._unreachable, message, str(error), result)
        else:
            if not isinstance(error, (ZaloError, TelegramError, OSError, ChannelUnavailable)):
                log.error("outbox message %s: unexpected error", message.id, exc_info=error)
            # 5xx answers, refused connections, another channel's message: try again later.
            await self._retry(message, backoff(message.attempts), error, result)

    def _uncertain(self, message: OutboxMessage, error: Exception, result: DrainResult) -> None:
        text = f"{type(error).__name__}: {error}"
        log.warning("outbox message %s: no answer after its request left (%s); not resent", message.id, text)
        result.uncertain += 1
        with self.database.session() as session:
            outbox.mark_uncertain(session, message.id or 0, error=text)

    def _sent(self, message_id: int) -> None:
        with self.database.session() as session:
            outbox.mark_sent(session, message_id, now=self.clock())

    async def _retry(
        self, message: OutboxMessage, delay: timedelta, error: Exception, result: DrainResult
    ) -> None:
        text = f"{type(error).__name__}: {error}"
        log.warning("outbox message %s not sent (%s); retrying in %s", message.id, text, delay)

        def store() -> bool:
            with self.database.session() as session:
                return outbox.mark_retry(session, message.id or 0, now=self.clock(), delay=delay, error=text)

        if await asyncio.to_thread(store):
            result.retried += 1
        else:
            result.failed += 1
            result.errors.append(text)

    def _unreachable(self, message: OutboxMessage, error: str, result: DrainResult) -> None:
        """Mark the account, and tell the staff above it, through the outbox too."""
        result.unreachable += 1
        with self.database.session() as session:
            now = self.clock()
            account = outbox.mark_unreachable(session, message.id or 0, now=now, error=error)
            if account is None:
                return
            notices = [
                NewMessage(
                    key=f"unreachable:{account.id}:{now:%Y-%m-%d}:to:{staff.id}",
                    kind="unreachable_notice",
                    account=staff,
                    text=text,
                )
                for staff, text in _notices(session, account)
            ]
            outbox.enqueue(session, notices, now=now)


def _notices(session: Session, account: Account) -> list[tuple[Account, str]]:
    """The staff of the nearest units above the account's that have staff."""
    unit = units.get_by_id(session, account.unit_id)
    for ancestor_id in reversed(units.ancestor_ids(unit)):
        staff = session.exec(
            select(Account).where(
                Account.unit_id == ancestor_id,
                col(Account.role).in_((Role.staff, Role.admin)),
                col(Account.unreachable_at).is_(None),
                col(Account.revoked_at).is_(None),
                col(Account.channel).in_(("telegram", "zalo")),
            )
        ).all()
        if staff:
            text = t(
                "campaign.unreachable_notice",
                name=account.display_name or account.channel_user_id,
                unit=unit.name,
            )
            return [(s, text) for s in staff]
    return []
