"""The `Channel` protocol every chat platform implements, and the pieces channels share.

A channel turns its platform's updates into `Incoming`, renders a `Reply` as the requests that
send it, delivers outbox messages, and says what a platform error means for a message. Nothing
outside `bot/channels/` knows a platform's names, types or errors: the outbox sender, the web
routes, `tiendo run`, `tiendo serve` and the CLI hold a map of channels by name.
"""

import asyncio
import contextlib
import contextvars
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

import httpx

from handlers.types import Reply
from storage.models import OutboxMessage


class Outcome(StrEnum):
    """What a platform's answer (or its silence) means for a message."""

    retry_after = "retry_after"  # not delivered; the platform said when to try again
    retry = "retry"  # not delivered (5xx, refused connection, a server error): again, with backoff
    held = "held"  # not delivered: the bot's quota is spent until `until`; never failed for it
    unreachable = "unreachable"  # clear evidence the recipient cannot be reached (blocked the bot)
    failed = "failed"  # refused for good: sending it again cannot help (a malformed request)
    uncertain = "uncertain"  # the request may have arrived without an answer: never sent again


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    delay: float = 0.0  # seconds, for retry_after
    until: datetime | None = None  # for held


# One request of a rendered reply (a text part, a photo): sent by awaiting it (what it returns, the
# platform's sent message, is not used).
Part = Callable[[], Awaitable[object]]


@runtime_checkable
class Channel(Protocol):
    """A chat platform (one bot on it). Implemented by bot/channels/telegram.py, zalo.py, terminal.py."""

    name: str  # its accounts, dialogues, deliveries and outbox rows carry it: "telegram", "zalo:xa-a"

    @property
    def webhook_path(self) -> str | None:
        """Where `tiendo serve` receives its updates; None: no webhook (read-only, so a channel
        that always has one may declare it `str`)."""
        ...

    secret_header: str  # the header a webhook call carries the secret in
    webhook_secret: str
    webhook_error: str | None  # why registering the webhook failed (shown by /healthz), None when fine
    marks_its_start: bool  # calls `leaving()` itself, after its own rate limiter's wait
    metered: bool  # its platform counts its messages against a monthly quota

    def webhook_problems(self) -> list[str]:
        """What keeps `tiendo serve` from registering this channel's webhook (Vietnamese), if anything."""
        ...

    def unwrap(self, body: Any) -> dict[str, Any] | None:
        """The update a webhook body carries, or None when the body is not one."""
        ...

    def delivery_id(self, update: dict[str, Any]) -> str:
        """The update's delivery id: stored once, processed once."""
        ...

    def conversation_of(self, update: dict[str, Any]) -> str:
        """Which conversation an update belongs to: one conversation's updates are handled in order."""
        ...

    async def start(self, *, polling: bool) -> None: ...

    async def close(self) -> None: ...

    async def process(self, update: dict[str, Any]) -> None:
        """Handle one update end to end: read it, run the conversation, send the replies."""
        ...

    async def render(self, chat_id: str, reply: Reply) -> list[Part]:
        """A reply as the requests that send it, in order (a long text is several)."""
        ...

    async def deliver(self, message: OutboxMessage) -> None:
        """Send an outbox message; a split message resumes after `message.parts_sent` parts."""
        ...

    def classify(self, error: BaseException) -> Verdict:
        """What a failure while sending means for the message."""
        ...

    async def poll(self, stop: asyncio.Event) -> None:
        """Fetch and handle updates until `stop` is set."""
        ...

    async def register_webhook(self, url: str) -> None: ...

    def cost(self, text: str) -> int:
        """How many messages a text takes on this platform (what a quota counts)."""
        ...


class ChannelUnavailable(Exception):
    """The message's channel is not configured here: retried later (perhaps by another process)."""


class Held(Exception):
    """The bot's quota is spent: nothing was sent; the message waits until `until`."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"quota spent until {until.isoformat()}")
        self.until = until


# --- marking a message `sending` right before its request leaves ------------------------------


class ClaimLost(Exception):
    """The message is no longer this sender's (its hold ran out and another sender took it)."""


class Attempt:
    """One message on its way: marks it `sending` once, right before its first request leaves."""

    def __init__(self, mark: Callable[[], bool]) -> None:
        self._mark = mark
        self.started = False  # the mark is committed: the request may reach the platform
        self.lost = False  # another sender took the message: this one must not send it

    async def leaving(self) -> None:
        if self.lost:
            raise ClaimLost
        if self.started:
            return  # a later part, or the rate limiter sending it again after a 429
        if not await asyncio.to_thread(self._mark):
            self.lost = True
            raise ClaimLost
        self.started = True


_attempt: contextvars.ContextVar[Attempt | None] = contextvars.ContextVar("outbox_attempt", default=None)


@contextlib.contextmanager
def first_request_marked(mark: Callable[[], bool]) -> Iterator[Attempt]:
    """Within this block, `mark` runs once, right before the first request leaves (replies to a user
    use it to record that their answer started; see handlers.conversation.handle)."""
    attempt = Attempt(mark)
    token = _attempt.set(attempt)
    try:
        yield attempt
    finally:
        _attempt.reset(token)


async def leaving() -> None:
    """Channels call this right before a request leaves (a no-op outside a send)."""
    attempt = _attempt.get()
    if attempt is not None:
        await attempt.leaving()


async def send_parts(channel: Channel, parts: list[Part], on_sent: Callable[[], None] | None = None) -> None:
    """Send the parts in order; `on_sent` after each one the platform accepted."""
    for part in parts:
        if not channel.marks_its_start:
            await leaving()
        await part()
        if on_sent is not None:
            on_sent()


# Failures while connecting (or waiting for a pooled connection): the request never left.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def transport_failure(error: BaseException) -> Outcome | None:
    """For an error raised "from" an httpx exception: `retry` when the request never left (a failure
    to connect), `uncertain` when it may have reached the platform (a read time-out, a reset after
    the request was written). None for anything else: an answer of the platform, which its channel
    reads."""
    cause = error.__cause__
    if isinstance(cause, httpx.HTTPError):
        return Outcome.retry if isinstance(cause, _NOT_SENT) else Outcome.uncertain
    return None


class RecentIds:
    """The delivery ids handled lately, in memory: a replayed update is recognised without asking
    the database (whose claim stays the rule across processes and restarts)."""

    def __init__(self, size: int = 5000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, delivery_id: object) -> bool:
        return delivery_id in self._ids

    def add(self, delivery_id: str) -> None:
        self._ids[delivery_id] = None
        self._ids.move_to_end(delivery_id)
        while len(self._ids) > self._size:
            self._ids.popitem(last=False)

    def discard(self, delivery_id: str) -> None:
        self._ids.pop(delivery_id, None)


T = TypeVar("T")


class ChatOrder:
    """Work of different chats at once (at most `limit` running), each chat's in the order it was
    handed in: one slow answer (a chart, a workbook) holds back only its own chat."""

    def __init__(self, limit: int = 32) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}  # the last work handed in, per chat
        self._slots = asyncio.Semaphore(limit)

    def __len__(self) -> int:
        """How many chats have work in hand."""
        return len(self._tails)

    async def run(self, chat: str, work: Awaitable[T]) -> T:
        """`work`, once the chat's earlier work is done (whether it succeeded or not)."""
        previous = self._tails.get(chat)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[chat] = done  # before any wait: the next one handed in waits for this one
        try:
            if previous is not None:
                await asyncio.wait([previous])
            async with self._slots:
                return await work
        finally:
            done.set_result(None)
            if self._tails.get(chat) is done:
                del self._tails[chat]
            if isinstance(work, Coroutine):
                work.close()  # cancelled before it started: no "never awaited" warning
