"""Group chats the bot was addressed in, and the ones an administrator bound to a unit."""

from datetime import datetime

from sqlmodel import Session, col, select

from storage.errors import InvalidInput
from storage.models import ChatGroup, Unit


def seen(session: Session, channel: str, chat_id: str, *, now: datetime) -> ChatGroup:
    """Note that the bot was addressed in this group (an administrator finds its id with the CLI)."""
    row = session.get(ChatGroup, (channel, chat_id))
    if row is None:
        row = ChatGroup(channel=channel, chat_id=chat_id, first_seen=now, last_seen=now)
    row.last_seen = now
    session.add(row)
    return row


def bound_unit(session: Session, channel: str, chat_id: str) -> Unit | None:
    row = session.get(ChatGroup, (channel, chat_id))
    if row is None or row.unit_id is None:
        return None
    return session.get(Unit, row.unit_id)


def bind(session: Session, channel: str, chat_id: str, unit: Unit | None, *, now: datetime) -> ChatGroup:
    """Bind a group to a unit (None: unbind). Only a group the bot has seen can be bound: a mistyped
    id would otherwise bind nothing, silently."""
    row = session.get(ChatGroup, (channel, chat_id))
    if row is None:
        raise InvalidInput("storage.group.unseen", chat_id=chat_id, channel=channel)
    row.unit_id = unit.id if unit is not None else None
    row.last_seen = max(row.last_seen, now)
    session.add(row)
    session.flush()
    return row


def all_groups(session: Session) -> list[ChatGroup]:
    return list(
        session.exec(
            select(ChatGroup).order_by(col(ChatGroup.channel), col(ChatGroup.last_seen).desc())
        ).all()
    )
