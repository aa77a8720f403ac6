"""The monthly campaign, by itself: composed once at the set day and time (or on start within the
grace period, if the bot was down), then sent by the outbox sender outside quiet hours."""

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.outbox_sender import DrainResult, OutboxSender, default_owner
from handlers import workflow_nudges
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
) -> int | None:
    """Compose and queue the campaign of a month, once. Returns how many messages were queued, or
    None when another process holds the lease. Idempotent: a second call queues nothing new."""
    # Plan in a read-only transaction (tens of seconds for a nation), then write in a short one, so
    # that secretaries' reports are not held back meanwhile.
    with database.session(readonly=True) as session:
        messages = plan_campaign(session, campaign_month, threshold=threshold).messages()
    with database.session() as session:
        # The lease row is locked for the transaction: a second process waits here, then finds the
        # campaign composed (and its messages, with the same keys, already queued).
        if not outbox.acquire_lease(
            session, LEASE, owner=owner or default_owner(), now=now, ttl=timedelta(minutes=10)
        ):
            return None
        added = outbox.enqueue(session, messages, now=now)
        outbox.mark_composed(session, month_start(campaign_month), added, now=now)
        log.info("campaign %s composed: %d new messages", f"{campaign_month:%Y-%m}", added)
        return added


def compose_workflow(database: Database, *, now: datetime, zone: ZoneInfo) -> int:
    """Queue today's deadline reminders and probation nudges; returns how many were new."""
    with database.session() as session:
        added = outbox.enqueue(session, workflow_nudges.plan(session, now.astimezone(zone).date()), now=now)
    if added:
        log.info("workflow reminders: %d new messages", added)
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
    ) -> None:
        self.database, self.sender, self.clock, self.zone = database, sender, clock, zone
        self.day, self.at, self.grace, self.quiet, self.threshold = day, at, grace, quiet, threshold

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
                compose, self.database, month, now=now, threshold=self.threshold, owner=self.sender.owner
            )
        local = now.astimezone(self.zone)
        if local.time() >= self.at and getattr(self, "_workflow_day", None) != local.date():
            # Deadline reminders and probation nudges, once a day (their keys keep them single).
            await asyncio.to_thread(compose_workflow, self.database, now=now, zone=self.zone)
            self._workflow_day = local.date()
        if in_quiet_hours(now.astimezone(self.zone).time(), self.quiet):
            return None
        return await self.sender.drain()

    async def job(self, _context: object) -> None:
        """The JobQueue callback: a failure is logged and the next round tries again."""
        try:
            await self.tick()
        except Exception:
            log.exception("campaign round failed; the next round will retry")
