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
from handlers import workflow_nudges
from handlers.budget import Budget
from handlers.campaign import CampaignPlan, plan_campaign
from storage import outbox, retention
from storage.clock import month_start
from storage.db import Database
from storage.retention import Retention

log = logging.getLogger(__name__)

LEASE = "campaign"
PRUNE_EVERY = timedelta(hours=1)


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
    """Compose and queue the campaign of a month, once, with the figures as of `now` (local time).

    Returns how many messages were queued: 0 when the campaign was composed before, None when another
    process is composing it at this moment (it holds the lease). The lease is released as soon as the
    messages are queued, so that a second `tiendo nudge --send` gets a plain answer at once.

    `budget` tells what each bot may still send this month: what does not fit is queued to wait for
    the next month's quota, the most useful messages first (handlers.budget)."""
    month = month_start(campaign_month)
    # Plan in a read-only transaction (tens of seconds for a nation), then write in a short one, so
    # that secretaries' reports are not held back meanwhile.
    with database.session(readonly=True) as session:
        if outbox.campaign_row(session, month) is not None:
            return 0
        plan = plan_campaign(session, campaign_month, threshold=threshold, as_of=now.date())
    owner = owner or default_owner()
    with database.session() as session:
        # The lease row is locked for the transaction: a second process waits here, then finds the
        # campaign composed and queues nothing.
        if not outbox.acquire_lease(session, LEASE, owner=owner, now=now, ttl=timedelta(minutes=10)):
            return None
        added = 0
        if outbox.campaign_row(session, month) is None:
            added = _enqueue(session, plan, campaign_month, now=now, budget=budget)
        outbox.release_lease(session, LEASE, owner=owner, now=now)
        return added


def _enqueue(
    session: Session,
    plan: CampaignPlan,
    campaign_month: date,
    *,
    now: datetime,
    budget: Callable[[Session], Budget] | None,
) -> int:
    """Queue a composed plan within the bots' budgets and mark the month composed."""
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
        budget: Callable[[Session], Budget] | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.database, self.sender, self.clock, self.zone = database, sender, clock, zone
        self.day, self.at, self.grace, self.quiet, self.threshold = day, at, grace, quiet, threshold
        self.budget = budget
        self.retention = retention
        self._pruned_at: datetime | None = None
        self._workflow_day: date | None = None  # the day deadline reminders were last queued

    def prune(self, now: datetime) -> dict[str, int] | None:
        """Delete what the retention policy no longer keeps, at most once every PRUNE_EVERY."""
        if self.retention is None or (self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY):
            return None
        with self.database.session() as session:
            removed = retention.prune(session, now=now, policy=self.retention)
        self._pruned_at = now
        if any(removed.values()):
            log.info("retention: removed %s", ", ".join(f"{n} {table}" for table, n in removed.items() if n))
        return removed

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
        try:
            await asyncio.to_thread(self.prune, now)
        except Exception:  # the campaign goes on; the next hour tries again
            log.exception("retention: pruning failed")
            self._pruned_at = now
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
        local = now.astimezone(self.zone)
        if local.time() >= self.at and self._workflow_day != local.date():
            # Deadline reminders and probation nudges, once a day (their keys keep them single).
            await asyncio.to_thread(compose_workflow, self.database, now=now, zone=self.zone)
            self._workflow_day = local.date()
        if in_quiet_hours(now.astimezone(self.zone).time(), self.quiet):
            return None
        return await self.sender.drain()

    async def round(self) -> None:
        """One round of the campaign loop (bot/serve.py): a failure is logged and the next round tries
        again."""
        try:
            await self.tick()
        except Exception:
            log.exception("campaign round failed; the next round will retry")
