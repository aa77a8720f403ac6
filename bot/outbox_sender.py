"""Drains the outbox within the platform's limits: each message sent once, failures retried or recorded."""

import asyncio
import logging
import os
import socket
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
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
    errors: list[str] = field(default_factory=list)


def backoff(attempt: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at an hour."""
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempt)))


def retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # v22 warns that the type will become timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def channel_deliver(deliverers: dict[str, Deliver]) -> Deliver:
    """One deliver function for every configured channel, chosen by the message's channel."""

    async def deliver(message: OutboxMessage) -> None:
        target = deliverers.get(message.channel)
        if target is None:
            raise ChannelUnavailable(f"channel {message.channel} is not configured in this process")
        await target(message)

    return deliver


class ChannelUnavailable(Exception):
    """The message's channel is not configured here: retried later (perhaps by another process)."""


def telegram_deliver(bot: Bot) -> Deliver:
    async def deliver(message: OutboxMessage) -> None:
        await bot.send_message(chat_id=int(message.chat_id), text=message.text)

    return deliver


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
            claimed = await asyncio.to_thread(self._claim)
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

    def _claim(self) -> list[OutboxMessage]:
        with self.database.session() as session:
            return outbox.claim(session, owner=self.owner, now=self.clock(), limit=self.batch, hold=self.hold)

    async def _send(self, message: OutboxMessage, result: DrainResult) -> None:
        assert message.id is not None
        try:
            await self.deliver(message)
        except RetryAfter as error:
            await self._retry(message, timedelta(seconds=retry_after_seconds(error) + 1), error, result)
        except Forbidden as error:
            await asyncio.to_thread(self._unreachable, message, str(error), result)
        except BadRequest as error:
            if "chat not found" in str(error).lower() or "blocked" in str(error).lower():
                await asyncio.to_thread(self._unreachable, message, str(error), result)
            else:
                await self._retry(message, backoff(message.attempts), error, result)
        except ZaloError as error:
            if error.error_code == 403:
                await asyncio.to_thread(self._unreachable, message, str(error), result)
            else:  # 429, 5xx, time-outs: later
                await self._retry(message, backoff(message.attempts), error, result)
        except (TimedOut, NetworkError, TelegramError, OSError, ChannelUnavailable) as error:
            # 5xx answers, time-outs and dropped connections: try again later.
            await self._retry(message, backoff(message.attempts), error, result)
        else:
            await asyncio.to_thread(self._sent, message.id)
            result.sent += 1

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
