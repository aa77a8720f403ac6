"""The monthly campaign, by itself: composed once at the set day and time (or on start within the
grace period, if the bot was down), then sent by the outbox sender outside quiet hours."""

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.outbox_sender import DrainResult, OutboxSender, default_owner
from handlers import budget as campaign_budget
from handlers.budget import Budget
from handlers.campaign import plan_campaign
from storage import outbox
from storage.clock import month_start
from storage.db import Database

log = logging.getLogger(__name__)

LEASE = "campaign"


def in_quiet_hours(moment: time, window: tuple[time, time] | None) -> bool:
    if window is None:
        return False
    start, end = window
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end  # across midnight, e.g. 21:00-07:00


def compose(
    database: Database,
    campaign_month: date,
    *,
    now: datetime,
    threshold: float = 1.0,
    owner: str | None = None,
    budget: Callable[[Session], Budget] | None = None,
) -> int | None:
    """Compose and queue the campaign of a month, once. Returns how many messages were queued, or
    None when another process holds the lease. Idempotent: a second call queues nothing new.

    `budget` tells what each bot may still send this month: what does not fit is queued to wait for
    the next month's quota, the most useful messages first (handlers.budget)."""
    # Plan in a read-only transaction (tens of seconds for a nation), then write in a short one, so
    # that secretaries' reports are not held back meanwhile.
    with database.session(readonly=True) as session:
        plan = plan_campaign(session, campaign_month, threshold=threshold)
    with database.session() as session:
        # The lease row is locked for the transaction: a second process waits here, then finds the
        # campaign composed (and its messages, with the same keys, already queued).
        if not outbox.acquire_lease(
            session, LEASE, owner=owner or default_owner(), now=now, ttl=timedelta(minutes=10)
        ):
            return None
        if outbox.campaign_row(session, month_start(campaign_month)) is not None:
            return 0  # composed before: its messages are queued (and perhaps sent) already
        limits = budget(session) if budget is not None else None
        fitted = campaign_budget.fit(plan, limits)
        added = outbox.enqueue(session, fitted.now, now=now)
        if fitted.later and limits is not None:
            added += outbox.enqueue(session, fitted.later, now=now, held_until=limits.next_quota)
            log.warning(
                "campaign %s: %d messages wait for next month's quota (%s)",
                f"{campaign_month:%Y-%m}",
                len(fitted.later),
                dict(fitted.left_out),
            )
        # Messages of an earlier campaign still waiting would bring old figures: these replace them.
        superseded = outbox.supersede(session, f"{campaign_month:%Y-%m}", now=now)
        if superseded:
            log.info("%d messages of earlier campaigns replaced by this one", superseded)
        outbox.mark_composed(session, month_start(campaign_month), added, now=now)
        log.info("campaign %s composed: %d new messages", f"{campaign_month:%Y-%m}", added)
        return added


class CampaignScheduler:
    def __init__(
        self,
        database: Database,
        sender: OutboxSender,
        *,
        clock: Callable[[], datetime],
        zone: ZoneInfo,
        day: int = 1,
        at: time = time(8, 0),
        grace: timedelta = timedelta(hours=72),
        quiet: tuple[time, time] | None = (time(21, 0), time(7, 0)),
        threshold: float = 1.0,
        budget: Callable[[Session], Budget] | None = None,
    ) -> None:
        self.database, self.sender, self.clock, self.zone = database, sender, clock, zone
        self.day, self.at, self.grace, self.quiet, self.threshold = day, at, grace, quiet, threshold
        self.budget = budget

    def due_month(self, now: datetime) -> date | None:
        """This month's campaign when its time has come, within the grace period, and not yet composed."""
        local = now.astimezone(self.zone)
        scheduled = datetime.combine(date(local.year, local.month, self.day), self.at, tzinfo=self.zone)
        if not scheduled <= local <= scheduled + self.grace:
            return None
        with self.database.session() as session:
            if outbox.campaign_row(session, month_start(local.date())) is not None:
                return None
        return month_start(local.date())

    async def tick(self) -> DrainResult | None:
        """One round: compose if due, then send what is due unless in quiet hours."""
        now = self.clock()
        month = await asyncio.to_thread(self.due_month, now)
        if month is not None:
            await asyncio.to_thread(
                compose,
                self.database,
                month,
                now=now,
                threshold=self.threshold,
                owner=self.sender.owner,
                budget=self.budget,
            )
        if in_quiet_hours(now.astimezone(self.zone).time(), self.quiet):
            return None
        return await self.sender.drain()

    async def job(self, _context: object) -> None:
        """The JobQueue callback: a failure is logged and the next round tries again."""
        try:
            await self.tick()
        except Exception:
            log.exception("campaign round failed; the next round will retry")
