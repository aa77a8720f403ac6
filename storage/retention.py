"""Retention: what the bot keeps only for a while is deleted on a schedule (docs/deploy.md lists it).

- Webhook updates: the body is dropped as soon as the update is processed (storage.inbox); the row,
  with its delivery id, and the delivery ids of `processeddelivery` (with replies never sent) are kept
  `deliveries` long, so that a redelivery is still recognised (Telegram retries for up to a day).
  Updates that failed every attempt keep their body as long, for a person to look at.
- Dialogue state (drafts with their text, the last options offered): `conversations` after the last
  message of the chat.
- Campaign messages (their text names units and people): `outbox` after they were composed, once
  they are no longer waiting to be sent.
- Generated files behind links: when their link expires.
Reports, their raw text, accounts and the audit are the record and are not pruned here.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_
from sqlmodel import Session, col

from storage.inbox import MAX_ATTEMPTS
from storage.models import (
    Conversation,
    ExportFile,
    InboxUpdate,
    OutboxMessage,
    OutboxStatus,
    ProcessedDelivery,
)


@dataclass(frozen=True)
class Retention:
    deliveries: timedelta = timedelta(days=7)
    conversations: timedelta = timedelta(days=7)
    outbox: timedelta = timedelta(days=90)


FINISHED = (
    OutboxStatus.sent.value,
    OutboxStatus.failed.value,
    OutboxStatus.unreachable.value,
    OutboxStatus.uncertain.value,
)


def prune(session: Session, *, now: datetime, policy: Retention) -> dict[str, int]:
    """Delete what the policy no longer keeps; returns how many rows went, per table."""
    deliveries = now - policy.deliveries
    removed = {
        "inboxupdate": session.exec(
            delete(InboxUpdate).where(
                or_(
                    col(InboxUpdate.processed_at) < deliveries,
                    and_(
                        col(InboxUpdate.processed_at).is_(None),
                        col(InboxUpdate.attempts) >= MAX_ATTEMPTS,
                        col(InboxUpdate.received_at) < deliveries,
                    ),
                )
            )
        ).rowcount,
        "processeddelivery": session.exec(
            delete(ProcessedDelivery).where(col(ProcessedDelivery.at) < deliveries)
        ).rowcount,
        "conversation": session.exec(
            delete(Conversation).where(col(Conversation.updated_at) < now - policy.conversations)
        ).rowcount,
        "outboxmessage": session.exec(
            delete(OutboxMessage).where(
                col(OutboxMessage.created_at) < now - policy.outbox, col(OutboxMessage.status).in_(FINISHED)
            )
        ).rowcount,
        "exportfile": session.exec(delete(ExportFile).where(col(ExportFile.expires_at) < now)).rowcount,
    }
    return removed
