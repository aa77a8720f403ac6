"""Webhook updates stored before they are acknowledged, then processed in the background."""

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from storage import accounts
from storage.models import InboxUpdate

MAX_ATTEMPTS = 5


def dump(payload: dict[str, Any]) -> str:
    """The update as kept until it is processed: invite codes sealed (never in clear on disk), and
    lone surrogates escaped (neither database stores them; the JSON escape keeps the update intact)."""
    text = json.dumps(accounts.seal_payload(payload), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(accounts.seal_payload(payload), ensure_ascii=True)
    return text


def store(
    session: Session, *, channel: str, delivery_id: str, payload: dict[str, Any], now: datetime
) -> int | None:
    """Keep an update and return its id; None when the same delivery was stored before (a redelivery)."""
    table = InboxUpdate.__table__  # type: ignore[attr-defined]  # set by SQLModel, not declared
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(table)
        .values(
            channel=channel,
            delivery_id=delivery_id,
            payload=dump(payload),
            received_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["channel", "delivery_id"])
        .returning(table.c.id)
    )
    row = session.execute(stmt).first()
    return None if row is None else int(row[0])


def pending(session: Session, *, limit: int = 100) -> list[InboxUpdate]:
    """Updates not yet processed, oldest first (those that keep failing are left for a person)."""
    return list(
        session.exec(
            select(InboxUpdate)
            .where(col(InboxUpdate.processed_at).is_(None), InboxUpdate.attempts < MAX_ATTEMPTS)
            .order_by(col(InboxUpdate.id))
            .limit(limit)
        ).all()
    )


def mark_processed(session: Session, update_id: int, *, now: datetime) -> None:
    """Processed: the body (names, message texts) is dropped; the row keeps the delivery id, so that a
    redelivery is still recognised, until `prune` removes it (storage.retention)."""
    # One UPDATE, no read first: this runs once for every update the bot receives.
    session.execute(
        update(InboxUpdate)
        .where(col(InboxUpdate.id) == update_id)
        .values(processed_at=now, attempts=InboxUpdate.attempts + 1, payload="")
    )


def mark_failed(session: Session, update_id: int, *, error: str) -> None:
    row = session.get(InboxUpdate, update_id)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:500]
        session.add(row)


def last_received(session: Session) -> dict[str, datetime]:
    """The newest update received per channel (for /healthz)."""
    rows = session.exec(
        select(InboxUpdate.channel, func.max(InboxUpdate.received_at)).group_by(InboxUpdate.channel)
    ).all()
    return {channel: when for channel, when in rows if when is not None}
