"""The outbox: messages the bot sends on its own, never twice, whatever crashes in between.

Composing writes rows with a unique idempotency key (a second composition adds nothing); senders
claim batches (row locks with SKIP LOCKED on PostgreSQL, so several processes share the work), mark
each message `sending` just before its request leaves and `sent` once the platform accepted it.
Telegram and Zalo have no idempotency keys, so a message whose request may have left without an
answer (the process died, or the answer timed out) is never sent again: it becomes `uncertain`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from storage.audit import record
from storage.models import Account, Campaign, Lease, OutboxMessage, OutboxStatus

MAX_ATTEMPTS = 8
# Accounts on these channels have nobody to write to (the terminal's user, the demo's authors).
NOT_MESSAGING = ("terminal", "demo")


@dataclass(frozen=True)
class NewMessage:
    key: str
    kind: str
    account: Account
    text: str
    campaign: str | None = None


def enqueue(
    session: Session, messages: Iterable[NewMessage], *, now: datetime, held_until: datetime | None = None
) -> int:
    """Add messages whose key is new; returns how many were added. `held_until`: they wait for a bot's
    quota until then (counted as held, not as failures)."""
    rows = [
        {
            "idempotency_key": m.key,
            "campaign": m.campaign,
            "kind": m.kind,
            "account_id": m.account.id,
            "channel": m.account.channel,
            "chat_id": m.account.chat_id or m.account.channel_user_id,
            "text": m.text,
            "status": OutboxStatus.pending.value,
            "attempts": 0,
            "next_attempt_at": held_until or now,
            "last_error": "quota" if held_until is not None else None,
            "created_at": now,
        }
        for m in messages
    ]
    if not rows:
        return 0
    table = OutboxMessage.__table__  # type: ignore[attr-defined]  # set by SQLModel, not declared
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # One statement over all rows: SQLAlchemy batches it ("insertmanyvalues"); RETURNING tells which
    # rows were really inserted (rowcount is not reliable with ON CONFLICT).
    stmt = insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"]).returning(table.c.id)
    added = len(session.execute(stmt, rows).all())
    return added


def claim(session: Session, *, owner: str, now: datetime, limit: int, hold: timedelta) -> list[OutboxMessage]:
    """Take up to `limit` due messages for this sender; another sender skips them until `hold` ends."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.pending.value,
            OutboxMessage.next_attempt_at <= now,
            or_(col(OutboxMessage.claimed_until).is_(None), col(OutboxMessage.claimed_until) < now),
        )
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    messages = list(session.exec(query).all())
    for message in messages:
        message.claimed_by, message.claimed_until = owner, now + hold
        session.add(message)
    session.flush()
    return messages


def mark_sending(session: Session, message_id: int, *, owner: str, now: datetime, hold: timedelta) -> bool:
    """Record, durably, that the message's request is about to leave; False if the claim was lost.

    Only the claim's owner can do it, and only once: a sender whose hold ran out and whose message
    another sender took finds nothing to update and must not send. The hold restarts here, so that
    the sweep (`settle_abandoned`) waits a whole hold from the moment the request left.
    """
    result = session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.status) == OutboxStatus.pending.value,
            col(OutboxMessage.claimed_by) == owner,
        )
        .values(status=OutboxStatus.sending.value, claimed_until=now + hold)
    )
    return result.rowcount == 1


def settle_abandoned(session: Session, *, now: datetime) -> int:
    """Messages left `sending` past their hold (their sender died mid-request) become `uncertain`.

    They may have reached the recipient, and the platforms cannot tell: not resending them is the
    only way never to send twice. Each leaves an audit event, so that staff can check by hand.
    """
    stale = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.sending.value,
            col(OutboxMessage.claimed_until) < now,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for message in stale:
        _uncertain(session, message, error="the sender stopped while the message was being sent")
    session.flush()
    return len(stale)


def mark_uncertain(session: Session, message_id: int, *, error: str) -> None:
    """The request left but no answer came (a time-out, a dropped connection): not resent."""
    message = session.get(OutboxMessage, message_id)
    if message is not None:
        message.attempts += 1
        _uncertain(session, message, error=error)


def _uncertain(session: Session, message: OutboxMessage, *, error: str) -> None:
    message.status, message.last_error = OutboxStatus.uncertain.value, error[:500]
    message.claimed_by, message.claimed_until = None, None
    session.add(message)
    record(
        session,
        "outbox.uncertain",
        account_id=message.account_id,
        message_id=message.id,
        campaign=message.campaign,
        error=error[:200],
    )


def mark_sent(session: Session, message_id: int, *, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(
            status=OutboxStatus.sent.value,
            sent_at=now,
            claimed_by=None,
            claimed_until=None,
            attempts=OutboxMessage.attempts + 1,
        )
    )


def mark_retry(
    session: Session,
    message_id: int,
    *,
    now: datetime,
    delay: timedelta,
    error: str,
    parts_sent: int | None = None,
) -> bool:
    """Schedule another attempt; after MAX_ATTEMPTS the message is marked failed. True if it will retry.

    `parts_sent`: the parts of a split message that did arrive; the next attempt starts after them."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return False
    if parts_sent is not None:
        message.parts_sent = parts_sent
    message.attempts += 1
    message.last_error = error[:500]
    message.claimed_by, message.claimed_until = None, None
    # A definite refusal (429, 5xx, no connection): the message was not delivered, so it can go again.
    message.status = OutboxStatus.pending.value
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.failed.value
        record(
            session, "outbox.failed", account_id=message.account_id, message_id=message.id, error=error[:200]
        )
    else:
        message.next_attempt_at = now + delay
    session.add(message)
    return message.status == OutboxStatus.pending.value


def mark_held(session: Session, message_id: int, *, until: datetime, parts_sent: int | None = None) -> None:
    """Not sent: the bot's quota is spent. The message waits, pending, until `until`; the wait is no
    attempt (a quota is no failure of the message)."""
    values: dict[str, object] = {
        "status": OutboxStatus.pending.value,
        "next_attempt_at": until,
        "claimed_by": None,
        "claimed_until": None,
        "last_error": "quota",
    }
    if parts_sent is not None:
        values["parts_sent"] = parts_sent
    session.execute(update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**values))


def mark_failed(session: Session, message_id: int, *, error: str) -> None:
    """Refused for good (sending it again would be refused the same way): kept for the record."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return
    message.attempts += 1
    message.status, message.last_error = OutboxStatus.failed.value, error[:500]
    message.claimed_by, message.claimed_until = None, None
    session.add(message)
    record(session, "outbox.failed", account_id=message.account_id, message_id=message.id, error=error[:200])


def supersede(session: Session, before: str, *, now: datetime) -> int:
    """Messages of campaigns before `before` (YYYY-MM) still waiting: a new campaign, with fresh
    figures, replaces them. Returns how many."""
    result = session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.status) == OutboxStatus.pending.value,
            col(OutboxMessage.campaign).is_not(None),
            col(OutboxMessage.campaign) < before,
        )
        .values(status=OutboxStatus.superseded.value, claimed_by=None, claimed_until=None)
    )
    return int(result.rowcount)


def held(session: Session, *, now: datetime, campaign: str | None = None) -> int:
    """Pending messages waiting for a bot's quota (of one campaign, or all)."""
    query = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.status == OutboxStatus.pending.value,
            OutboxMessage.last_error == "quota",
            OutboxMessage.next_attempt_at > now,
        )
    )
    if campaign is not None:
        query = query.where(OutboxMessage.campaign == campaign)
    return int(session.exec(query).one())


def release_held(session: Session, channel: str, *, now: datetime) -> int:
    """A bot's messages held for its quota become due now (after an administrator upgraded the plan)."""
    result = session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.channel) == channel,
            col(OutboxMessage.status) == OutboxStatus.pending.value,
            col(OutboxMessage.last_error) == "quota",
        )
        .values(next_attempt_at=now, last_error=None)
    )
    return int(result.rowcount)


def mark_unreachable(session: Session, message_id: int, *, now: datetime, error: str) -> Account | None:
    """The recipient cannot be reached (blocked the bot): the message and the account are marked."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return None
    message.status, message.last_error = OutboxStatus.unreachable.value, error[:500]
    message.claimed_by, message.claimed_until = None, None
    message.attempts += 1
    session.add(message)
    account = session.get(Account, message.account_id)
    if account is not None and account.unreachable_at is None:
        account.unreachable_at = now
        session.add(account)
        record(
            session, "account.unreachable", account_id=account.id, unit_id=account.unit_id, error=error[:200]
        )
        return account
    return None


def counts(session: Session, campaign: str | None = None) -> dict[str, int]:
    query = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    if campaign is not None:
        query = query.where(OutboxMessage.campaign == campaign)
    return {status: n for status, n in session.exec(query).all()}


def campaign_row(session: Session, month: date) -> Campaign | None:
    return session.get(Campaign, month)


def mark_composed(session: Session, month: date, messages: int, *, now: datetime) -> None:
    if session.get(Campaign, month) is None:
        session.add(Campaign(month=month, composed_at=now, messages=messages))
        session.flush()


def acquire_lease(session: Session, name: str, *, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Hold the named lease until now + ttl, unless another owner holds an unexpired one."""
    lease = session.exec(select(Lease).where(Lease.name == name).with_for_update()).first()
    if lease is None:
        try:
            with session.begin_nested():
                session.add(Lease(name=name, owner=owner, until=now + ttl))
                session.flush()
        except IntegrityError:
            return False
        return True
    if lease.owner != owner and lease.until > now:
        return False
    lease.owner, lease.until = owner, now + ttl
    session.add(lease)
    session.flush()
    return True


def release_lease(session: Session, name: str, *, owner: str, now: datetime) -> None:
    """End this owner's hold on the lease (it expires at once), so the next taker need not wait.

    Set well in the past: another machine's clock, a little behind this one, must see it expired too.
    """
    session.execute(
        update(Lease)
        .where(col(Lease.name) == name, col(Lease.owner) == owner)
        .values(until=now - timedelta(days=1))
    )
