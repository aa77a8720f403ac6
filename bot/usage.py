"""What each bot may still send: its month's count against its quota, and the platform's refusals.

Zalo's free plan allows a bot 3,000 outgoing messages a month; replies spend it as much as campaign
messages. Every message a quota counts is recorded here as it is accepted; administrators are warned
once at 80 % and once when the platform answers "quota exceeded", which holds the bot's messages
until the next month's quota.
"""

import logging
import time as clock_time
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from handlers.budget import Budget
from handlers.formatting import month as month_label
from handlers.formatting import number
from handlers.i18n import t
from storage import bots, outbox
from storage.clock import month_start, next_month
from storage.db import Database
from storage.models import Account, Role, Unit
from storage.outbox import NewMessage

log = logging.getLogger(__name__)


class Metered(Protocol):
    """What a campaign's budget needs of a channel (every `Channel` is one)."""

    @property
    def metered(self) -> bool: ...

    def cost(self, text: str) -> int: ...


# The platform does not say when a month's quota starts again. Local midnight on the 1st is 17:00 UTC
# the day before; UTC midnight is 07:00 local: held messages wait for the later of the two.
RESET_AT = time(7, 0)
REFRESH_SECONDS = 60.0  # how often a process looks at what another one learnt of a bot's quota


def quota_month(now: datetime, zone: ZoneInfo) -> date:
    return month_start(now.astimezone(zone).date())


def next_reset(now: datetime, zone: ZoneInfo) -> datetime:
    return datetime.combine(next_month(quota_month(now, zone)), RESET_AT, tzinfo=zone)


class Usage:
    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime],
        zone: ZoneInfo,
        monthly_quota: int = 3000,
        user_limit: int = 50,
        warn_share: int = 80,
        reply_reserve: int = 300,
    ) -> None:
        self.database, self.clock, self.zone = database, clock, zone
        self.monthly_quota, self.user_limit = monthly_quota, user_limit
        self.warn_share, self.reply_reserve = warn_share, reply_reserve
        self._held: dict[str, tuple[datetime | None, float]] = {}

    def limit(self, session: Session, channel: str) -> int:
        row = bots.get(session, channel)
        return row.monthly_quota if row is not None and row.monthly_quota is not None else self.monthly_quota

    def users_limit(self, session: Session, channel: str) -> int:
        row = bots.get(session, channel)
        return row.user_limit if row is not None and row.user_limit is not None else self.user_limit

    def remaining(self, session: Session, channel: str) -> int:
        """Messages left in this month's quota (0 while the platform says it is spent)."""
        now = self.clock()
        if bots.exhausted_until(session, channel, now) is not None:
            return 0
        return max(0, self.limit(session, channel) - bots.sent(session, channel, quota_month(now, self.zone)))

    def campaign_budget(self, session: Session, channel: str) -> int:
        """What a campaign may spend: the rest of the month's quota but a reserve for answering."""
        return max(0, self.remaining(session, channel) - self.reply_reserve)

    def record(self, channel: str, n: int = 1) -> None:
        """`n` messages accepted by the platform (blocking: run it in a thread)."""
        now = self.clock()
        month = quota_month(now, self.zone)
        with self.database.session() as session:
            total = bots.add_sent(session, channel, month, n)
            limit = self.limit(session, channel)
            if total * 100 >= self.warn_share * limit and bots.warn_once(
                session, channel, month, self.warn_share
            ):
                log.warning("bot %s has sent %d of its %d messages this month", channel, total, limit)
                text = t(
                    "quota.warning",
                    bot=bots.title(session, channel),
                    used=number(total),
                    limit=number(limit),
                    month=month_label(month),
                )
                _warn_administrators(session, channel, month, self.warn_share, text, now)

    def exhaust(self, channel: str) -> datetime:
        """The platform answered "quota exceeded": nothing goes through this bot until the next month."""
        now = self.clock()
        until = next_reset(now, self.zone)
        month = quota_month(now, self.zone)
        with self.database.session() as session:
            bots.set_exhausted(session, channel, month, until)
            if bots.warn_once(session, channel, month, 100):
                log.error("bot %s: quota exceeded; its messages wait until %s", channel, until.isoformat())
                text = t(
                    "quota.exhausted",
                    bot=bots.title(session, channel),
                    sent=number(bots.sent(session, channel, month)),
                    until=until.strftime("%H:%M %d/%m/%Y"),
                )
                _warn_administrators(session, channel, month, 100, text, now)
        self._held[channel] = (until, clock_time.monotonic())
        return until

    def held_until(self, channel: str) -> datetime | None:
        """Until when this bot's messages wait for the quota (looked up at most once a minute)."""
        now = self.clock()
        cached = self._held.get(channel)
        if cached is None or clock_time.monotonic() - cached[1] > REFRESH_SECONDS:
            with self.database.session() as session:
                cached = (bots.exhausted_until(session, channel, now), clock_time.monotonic())
            self._held[channel] = cached
        until = cached[0]
        return until if until is not None and until > now else None


def budget_for(usage: Usage, channels: Mapping[str, Metered]) -> Callable[[Session], Budget]:
    """What a campaign may spend on each metered channel, read when it is composed."""

    def cost(name: str, text: str) -> int:
        channel = channels.get(name)
        return channel.cost(text) if channel is not None else 1

    def budget(session: Session) -> Budget:
        return Budget(
            remaining={
                name: usage.campaign_budget(session, name) for name, c in channels.items() if c.metered
            },
            cost=cost,
            next_quota=next_reset(usage.clock(), usage.zone),
        )

    return budget


def administrators(session: Session) -> list[Account]:
    """Who hears of a bot's quota: the administrators; without any, the staff of the top units."""
    reachable = (
        col(Account.chat_id).is_not(None),
        col(Account.unreachable_at).is_(None),
        col(Account.channel).not_in(outbox.NOT_MESSAGING),
    )
    admins = session.exec(select(Account).where(Account.role == Role.admin.value, *reachable)).all()
    if admins:
        return list(admins)
    return list(
        session.exec(
            select(Account)
            .join(Unit, col(Unit.id) == Account.unit_id)
            .where(col(Unit.parent_id).is_(None), Account.role == Role.staff.value, *reachable)
        ).all()
    )


def _warn_administrators(
    session: Session, channel: str, month: date, share: int, text: str, now: datetime
) -> None:
    messages = [
        NewMessage(
            key=f"quota:{channel}:{month:%Y-%m}:{share}:to:{a.id}", kind="quota_warning", account=a, text=text
        )
        for a in administrators(session)
    ]
    outbox.enqueue(session, messages, now=now)
