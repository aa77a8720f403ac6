"""The bots of a deployment: which part of the tree each serves, its limits, and what it spent."""

from datetime import date, datetime

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage.clock import utcnow
from storage.models import Account, ChannelBot, ChannelUsage, Unit


def get(session: Session, channel: str) -> ChannelBot | None:
    return session.get(ChannelBot, channel)


def all_bots(session: Session) -> list[ChannelBot]:
    return list(session.exec(select(ChannelBot).order_by(col(ChannelBot.channel))).all())


def save(
    session: Session,
    channel: str,
    *,
    title: str | None = None,
    unit: Unit | None = None,
    monthly_quota: int | None = None,
    user_limit: int | None = None,
    now: datetime | None = None,
) -> ChannelBot:
    """Create or change a bot's row; what is not given stays as it was."""
    row = session.get(ChannelBot, channel) or ChannelBot(channel=channel, updated_at=now or utcnow())
    if title is not None:
        row.title = title.strip() or None
    if unit is not None:
        row.unit_id = unit.id
    if monthly_quota is not None:
        row.monthly_quota = monthly_quota
    if user_limit is not None:
        row.user_limit = user_limit
    row.updated_at = now or utcnow()
    session.add(row)
    session.flush()
    return row


def family(channel: str) -> str:
    """The platform of a channel: "zalo" for "zalo" and "zalo:xa-a"."""
    return channel.partition(":")[0]


def serving(session: Session, unit: Unit, channels: list[str]) -> str | None:
    """Which of `channels` serves `unit`: the one assigned to the nearest unit at or above it."""
    ancestors = [int(p) for p in unit.path.strip("/").split("/") if p] or [unit.id or 0]
    rows = session.exec(
        select(ChannelBot).where(
            col(ChannelBot.unit_id).in_(ancestors), col(ChannelBot.channel).in_(channels)
        )
    ).all()
    depth = {unit_id: i for i, unit_id in enumerate(ancestors)}
    best = max(rows, key=lambda r: depth.get(r.unit_id or 0, -1), default=None)
    return best.channel if best is not None else None


def serving_in_family(session: Session, unit: Unit, channel: str) -> str | None:
    """The bot of `channel`'s platform assigned to serve `unit`, if an administrator assigned one."""
    names = [
        row.channel
        for row in session.exec(select(ChannelBot).where(col(ChannelBot.unit_id).is_not(None))).all()
        if family(row.channel) == family(channel)
    ]
    return serving(session, unit, names) if names else None


def title(session: Session, channel: str) -> str:
    """The bot's name as members see it, or its channel name when none was set."""
    row = session.get(ChannelBot, channel)
    return row.title if row is not None and row.title else channel


def users(session: Session, channel: str) -> int:
    """Accounts registered through a bot (the platform's plan limits the users of a bot)."""
    return session.exec(select(func.count()).select_from(Account).where(Account.channel == channel)).one()


# --- what a bot spent ---------------------------------------------------------------------------


def add_sent(session: Session, channel: str, month: date, n: int = 1) -> int:
    """Count `n` more messages sent in the month; returns the month's total."""
    table = ChannelUsage.__table__  # type: ignore[attr-defined]  # set by SQLModel, not declared
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(channel=channel, month=month, sent=n, warned=0)
        .on_conflict_do_update(index_elements=["channel", "month"], set_={"sent": table.c.sent + n})
        .returning(table.c.sent)
    )
    return int(session.execute(stmt).scalar_one())


def sent(session: Session, channel: str, month: date) -> int:
    row = session.get(ChannelUsage, (channel, month))
    return row.sent if row is not None else 0


def warn_once(session: Session, channel: str, month: date, share: int) -> bool:
    """True the first time administrators are to be warned of this share (percent) in the month."""
    add_sent(session, channel, month, 0)  # the row exists from here on
    result = session.exec(
        update(ChannelUsage)
        .where(
            col(ChannelUsage.channel) == channel,
            col(ChannelUsage.month) == month,
            col(ChannelUsage.warned) < share,
        )
        .values(warned=share)
    )
    return result.rowcount == 1


def set_exhausted(session: Session, channel: str, month: date, until: datetime) -> None:
    add_sent(session, channel, month, 0)
    session.execute(
        update(ChannelUsage)
        .where(col(ChannelUsage.channel) == channel, col(ChannelUsage.month) == month)
        .values(exhausted_until=until)
    )


def clear_exhausted(session: Session, channel: str) -> int:
    """Forget a "quota exceeded" (an administrator upgraded the plan): returns the rows changed."""
    result = session.exec(
        update(ChannelUsage)
        .where(col(ChannelUsage.channel) == channel, col(ChannelUsage.exhausted_until).is_not(None))
        .values(exhausted_until=None)
    )
    return int(result.rowcount)


def exhausted_until(session: Session, channel: str, now: datetime) -> datetime | None:
    """Until when the platform refuses this bot's messages, if it said so and that time has not come."""
    value = session.exec(
        select(func.max(ChannelUsage.exhausted_until)).where(ChannelUsage.channel == channel)
    ).one()
    return value if value is not None and value > now else None
