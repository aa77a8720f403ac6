"""Drains the outbox within the platforms' limits: each message sent at most once, failures retried,
held or recorded.

Just before a message's request leaves (after a rate limiter's wait, so that a crash while waiting
costs nothing), its row is marked `sending` in its own transaction. A row still `sending` after its
hold belonged to a process that died mid-request: it becomes `uncertain` and is not sent again.
What a failure means is the message's channel's to say (`Channel.classify`): retried (429, 5xx, a
refused connection), held until the bot's quota allows it, the recipient unreachable (only on clear
evidence), failed for good, or `uncertain` (a time-out or a connection dropped after the request left).
"""

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from bot.channels.base import Attempt, ChannelUnavailable, ClaimLost, Outcome, Verdict, _attempt
from handlers.i18n import t
from storage import outbox, units
from storage.db import Database
from storage.models import Account, OutboxMessage, Role
from storage.outbox import NewMessage

if TYPE_CHECKING:
    from bot.channels.base import Channel

log = logging.getLogger(__name__)


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: int = 0
    uncertain: int = 0  # perhaps delivered (a time-out, or found abandoned by a dead sender): not resent
    held: int = 0  # waiting for the bot's quota (next month)
    errors: list[str] = field(default_factory=list)


def backoff(attempt: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempt)))


class OutboxSender:
    """Claims batches of due messages and sends them; safe to run in several processes at once."""

    def __init__(
        self,
        database: Database,
        channels: "Mapping[str, Channel]",
        *,
        clock: Callable[[], datetime],
        owner: str | None = None,
        batch: int = 50,
        concurrency: int = 30,
        hold: timedelta = timedelta(minutes=5),
    ) -> None:
        self.database = database
        self.channels = channels
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
        attempt = Attempt(lambda: self._mark_sending(message_id))
        token = _attempt.set(attempt)
        channel = self.channels.get(message.channel)
        try:
            if channel is None:
                raise ChannelUnavailable(f"channel {message.channel} is not configured in this process")
            await channel.deliver(message)
        except Exception as error:
            verdict = channel.classify(error) if channel is not None else Verdict(Outcome.retry)
            if attempt.lost or isinstance(error, ClaimLost):
                log.warning("outbox message %s was taken by another sender; not sent here", message_id)
            elif verdict.outcome is Outcome.uncertain and attempt.started:
                await asyncio.to_thread(self._uncertain, message, error, result)
            else:
                await self._failed(message, error, verdict, result)
        else:
            await asyncio.to_thread(self._sent, message_id)
            result.sent += 1
        finally:
            _attempt.reset(token)

    async def _failed(
        self, message: OutboxMessage, error: Exception, verdict: Verdict, result: DrainResult
    ) -> None:
        """The platform said no, or the request never left: retry, hold, give up, or mark the
        recipient unreachable, as the channel reads the failure."""
        if verdict.outcome is Outcome.held and verdict.until is not None:
            await asyncio.to_thread(self._held, message, verdict.until, result)
        elif verdict.outcome is Outcome.retry_after:
            await self._retry(message, timedelta(seconds=verdict.delay + 1), error, result)
        elif verdict.outcome is Outcome.unreachable:
            await asyncio.to_thread(self._unreachable, message, str(error), result)
        elif verdict.outcome is Outcome.failed:
            await asyncio.to_thread(self._give_up, message, error, result)
        else:
            if verdict.outcome is Outcome.uncertain:  # unexpected, and the request never left
                log.error("outbox message %s: unexpected error", message.id, exc_info=error)
            await self._retry(message, backoff(message.attempts), error, result)

    def _held(self, message: OutboxMessage, until: datetime, result: DrainResult) -> None:
        log.warning("outbox message %s waits for %s's quota until %s", message.id, message.channel, until)
        result.held += 1
        with self.database.session() as session:
            outbox.mark_held(session, message.id or 0, until=until, parts_sent=message.parts_sent)

    def _give_up(self, message: OutboxMessage, error: Exception, result: DrainResult) -> None:
        text = f"{type(error).__name__}: {error}"
        log.error("outbox message %s refused for good: %s", message.id, text)
        result.failed += 1
        result.errors.append(text)
        with self.database.session() as session:
            outbox.mark_failed(session, message.id or 0, error=text)

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
                return outbox.mark_retry(
                    session,
                    message.id or 0,
                    now=self.clock(),
                    delay=delay,
                    error=text,
                    parts_sent=message.parts_sent,
                )

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
                col(Account.chat_id).is_not(None),
                col(Account.revoked_at).is_(None),
                col(Account.channel).not_in(outbox.NOT_MESSAGING),
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
