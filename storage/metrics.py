"""Figures for monitoring, read from the database so that every worker reports the same ones.

Each query is cheap enough to run at every scrape (15 to 60 s): an indexed range of recent rows
(deliveries of the last day, reports since yesterday), the rows still in flight (the inbox's
backlog, the outbox's open messages: indexed by status), or small tables (bots, their months,
accounts, the last campaign).
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy
from sqlalchemy import ColumnElement, case, func
from sqlmodel import Session, col, select

from storage.inbox import MAX_ATTEMPTS
from storage.models import (
    Account,
    Campaign,
    ChannelBot,
    ChannelUsage,
    InboxUpdate,
    OutboxMessage,
    OutboxStatus,
    ProcessedDelivery,
    Report,
)

# Time windows of the delivery counts: the retention of delivery ids (at least two days) covers them.
WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
# Messages waiting for a bot's quota are `pending` with this mark (storage.outbox.enqueue, mark_held).
HELD = "held"
OUTBOX_STATES = (*(status.value for status in OutboxStatus), HELD)


@dataclass
class Deliveries:
    """Updates of one channel taken up (each delivery once: redeliveries are not counted again), and
    those whose reply left, per window."""

    received: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    answered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))


@dataclass
class Inbox:
    """Webhook updates of one channel stored and not processed yet."""

    backlog: int = 0  # still to be processed (or being processed)
    given_up: int = 0  # failed every attempt: kept for a person to look at
    oldest: datetime | None = None  # when the oldest of the backlog arrived


@dataclass
class CampaignFigures:
    month: date
    composed_at: datetime
    composed: int  # messages the composition queued
    by_status: dict[str, int]  # those messages now, by outbox status (HELD apart from pending)


@dataclass
class BotMonth:
    """A bot's quota month: what it sent against its plan."""

    sent: int = 0
    quota: int | None = None  # the bot's own limit; None: the setting's
    user_limit: int | None = None
    exhausted_until: datetime | None = None


@dataclass
class Snapshot:
    deliveries: dict[str, Deliveries]
    inbox: dict[str, Inbox]
    outbox: dict[str, int]  # by status, HELD apart from pending
    outbox_oldest_due: datetime | None  # the longest-waiting message due to be sent
    accounts: dict[tuple[str, str], int]  # active (not revoked) accounts by (channel, role)
    unreachable: dict[str, int]  # active accounts the platform refuses to deliver to, by channel
    reports_today: int
    reports_yesterday: int
    campaign: CampaignFigures | None
    bots: dict[str, BotMonth]


def snapshot(session: Session, *, now: datetime, today: date, quota_month: date) -> Snapshot:
    """Every figure at once. `now` in the clock the bot writes its timestamps with; `today` and
    `quota_month` in the configured time zone."""
    outbox_counts, oldest_due = _outbox(session, now)
    today_start = datetime.combine(today, time(0), tzinfo=now.tzinfo)
    reports_today, reports_yesterday = _reports(session, today_start)
    accounts, unreachable = _accounts(session)
    return Snapshot(
        deliveries=_deliveries(session, now),
        inbox=_inbox(session),
        outbox=outbox_counts,
        outbox_oldest_due=oldest_due,
        accounts=accounts,
        unreachable=unreachable,
        reports_today=reports_today,
        reports_yesterday=reports_yesterday,
        campaign=_campaign(session, now),
        bots=_bots(session, quota_month),
    )


def _deliveries(session: Session, now: datetime) -> dict[str, Deliveries]:
    at, answered = col(ProcessedDelivery.at), col(ProcessedDelivery.answering_at)
    columns = []
    for span in WINDOWS.values():
        recent = at >= now - span
        columns.append(func.sum(case((recent, 1), else_=0)))
        columns.append(func.sum(case((recent & answered.is_not(None), 1), else_=0)))
    longest = max(WINDOWS.values())
    rows = session.execute(
        # SQLAlchemy's select: sqlmodel's is typed for a fixed number of columns, not a list spread into it.
        sqlalchemy.select(col(ProcessedDelivery.channel), *columns)
        .where(at >= now - longest)
        .group_by(col(ProcessedDelivery.channel))
    ).all()
    result: dict[str, Deliveries] = {}
    for channel, *sums in rows:
        figures = Deliveries()
        for i, window in enumerate(WINDOWS):
            figures.received[window] = int(sums[2 * i] or 0)
            figures.answered[window] = int(sums[2 * i + 1] or 0)
        result[channel] = figures
    return result


def _inbox(session: Session) -> dict[str, Inbox]:
    waiting = col(InboxUpdate.attempts) < MAX_ATTEMPTS
    rows = session.exec(
        select(
            col(InboxUpdate.channel),
            func.sum(case((waiting, 1), else_=0)),
            func.sum(case((waiting, 0), else_=1)),
            func.min(case((waiting, col(InboxUpdate.received_at)), else_=None)),
        )
        .where(col(InboxUpdate.processed_at).is_(None))
        .group_by(col(InboxUpdate.channel))
    ).all()
    return {
        channel: Inbox(backlog=int(backlog or 0), given_up=int(given_up or 0), oldest=oldest)
        for channel, backlog, given_up, oldest in rows
    }


def _held(now: datetime) -> ColumnElement[bool]:
    """A pending message waiting for its bot's quota (storage.outbox marks them so)."""
    return (col(OutboxMessage.last_error) == "quota") & (col(OutboxMessage.next_attempt_at) > now)


def _outbox(session: Session, now: datetime) -> tuple[dict[str, int], datetime | None]:
    counts = dict.fromkeys(OUTBOX_STATES, 0)
    for status, n in session.exec(
        select(OutboxMessage.status, func.count()).group_by(col(OutboxMessage.status))
    ).all():
        counts[status] = counts.get(status, 0) + int(n)
    pending = col(OutboxMessage.status) == OutboxStatus.pending.value
    held, oldest_due = session.exec(
        select(
            func.sum(case((_held(now), 1), else_=0)),
            func.min(case((col(OutboxMessage.next_attempt_at) <= now, col(OutboxMessage.next_attempt_at)))),
        ).where(pending)
    ).one()
    counts[HELD] = int(held or 0)
    counts[OutboxStatus.pending.value] -= counts[HELD]
    return counts, oldest_due


def _accounts(session: Session) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    rows = session.exec(
        select(
            col(Account.channel),
            col(Account.role),
            func.count(),
            func.sum(case((col(Account.unreachable_at).is_not(None), 1), else_=0)),
        )
        .where(col(Account.revoked_at).is_(None))
        .group_by(col(Account.channel), col(Account.role))
    ).all()
    accounts: dict[tuple[str, str], int] = {}
    unreachable: Counter[str] = Counter()
    for channel, role, n, blocked in rows:
        accounts[(channel, role)] = int(n)
        unreachable[channel] += int(blocked or 0)
    return accounts, dict(unreachable)


def _reports(session: Session, today_start: datetime) -> tuple[int, int]:
    """Reports stored today and yesterday (local days; corrections count as reports)."""
    created = col(Report.created_at)
    today, yesterday = session.exec(
        select(
            func.sum(case((created >= today_start, 1), else_=0)),
            func.sum(case((created < today_start, 1), else_=0)),
        ).where(created >= today_start - timedelta(days=1))
    ).one()
    return int(today or 0), int(yesterday or 0)


def _campaign(session: Session, now: datetime) -> CampaignFigures | None:
    row = session.exec(select(Campaign).order_by(col(Campaign.month).desc()).limit(1)).first()
    if row is None:
        return None
    key = f"{row.month:%Y-%m}"
    by_status = dict.fromkeys(OUTBOX_STATES, 0)
    status = case(
        ((col(OutboxMessage.status) == OutboxStatus.pending.value) & _held(now), HELD),
        else_=col(OutboxMessage.status),
    )
    for name, n in session.exec(
        select(status, func.count()).where(col(OutboxMessage.campaign) == key).group_by(status)
    ).all():
        by_status[name] = by_status.get(name, 0) + int(n)
    return CampaignFigures(row.month, row.composed_at, row.messages, by_status)


def _bots(session: Session, quota_month: date) -> dict[str, BotMonth]:
    """Bots with a plan of their own or messages this month."""
    bots: dict[str, BotMonth] = {}
    for row in session.exec(select(ChannelBot)).all():
        bots[row.channel] = BotMonth(quota=row.monthly_quota, user_limit=row.user_limit)
    for usage in session.exec(select(ChannelUsage).where(col(ChannelUsage.month) == quota_month)).all():
        bots.setdefault(usage.channel, BotMonth()).sent = usage.sent
    # A "quota exceeded" lasts until the next month's reset, a few hours into the next quota month.
    for channel, until in session.exec(
        select(col(ChannelUsage.channel), func.max(ChannelUsage.exhausted_until))
        .where(col(ChannelUsage.exhausted_until).is_not(None))
        .group_by(col(ChannelUsage.channel))
    ).all():
        bots.setdefault(channel, BotMonth()).exhausted_until = until
    return bots
