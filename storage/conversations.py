"""Dialogue state per (channel, chat) and the delivery ids already processed."""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from storage.clock import utcnow
from storage.models import Conversation, ProcessedDelivery


def claim_delivery(session: Session, channel: str, delivery_id: str, *, now: datetime | None = None) -> bool:
    """True the first time a delivery id is seen; False for a redelivery.

    The claim belongs to the caller's transaction: if processing fails, it is rolled back with
    everything else and the platform's redelivery is processed afresh.
    """
    table = ProcessedDelivery.__table__  # type: ignore[attr-defined]
    # One statement where a look-up, a savepoint, an insert and its release were four: this runs for
    # every update. A concurrent claim of the same id waits for the first to end (both databases).
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(channel=channel, delivery_id=delivery_id, at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["channel", "delivery_id"])
        .returning(table.c.delivery_id)  # the row inserted, none for a redelivery (rowcount is -1 on psycopg)
    )
    return session.execute(stmt).first() is not None


def keep_replies(session: Session, channel: str, delivery_id: str, replies: str) -> None:
    """Keep the replies of a delivery claimed in this transaction, until the first of them leaves."""
    session.execute(
        update(ProcessedDelivery)
        .where(col(ProcessedDelivery.channel) == channel, col(ProcessedDelivery.delivery_id) == delivery_id)
        .values(replies=replies)
    )


def unsent_replies(session: Session, channel: str, delivery_id: str) -> str | None:
    """The kept replies of a delivery none of whose replies left (its process died first), else None."""
    row = session.get(ProcessedDelivery, (channel, delivery_id))
    if row is None or row.answering_at is not None:
        return None
    return row.replies


def mark_answering(session: Session, channel: str, delivery_id: str, *, now: datetime) -> None:
    """The first reply is leaving: from now on a crash must not send the replies again."""
    session.execute(
        update(ProcessedDelivery)
        .where(
            col(ProcessedDelivery.channel) == channel,
            col(ProcessedDelivery.delivery_id) == delivery_id,
            col(ProcessedDelivery.answering_at).is_(None),
        )
        .values(answering_at=now, replies=None)
    )


def mark_apologised(session: Session, channel: str, delivery_id: str, *, now: datetime) -> None:
    """A delivery that could not be handled and whose sender was told so: claimed as answered, so
    that the same update delivered again is neither handled nor apologised for a second time."""
    if claim_delivery(session, channel, delivery_id, now=now):
        mark_answering(session, channel, delivery_id, now=now)


def load_state(session: Session, channel: str, chat_id: str) -> dict[str, Any]:
    row = session.get(Conversation, (channel, chat_id), with_for_update=True)
    if row is None:
        return {}
    try:
        state = json.loads(row.state)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def save_state(
    session: Session, channel: str, chat_id: str, state: dict[str, Any], *, now: datetime | None = None
) -> None:
    row = session.get(Conversation, (channel, chat_id))
    text = json.dumps(state, ensure_ascii=False)
    if row is None:
        if not state:
            return
        row = Conversation(channel=channel, chat_id=chat_id, state=text, updated_at=now or utcnow())
    else:
        row.state, row.updated_at = text, now or utcnow()
    session.add(row)
