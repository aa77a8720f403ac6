"""Messages kept for review: what the bot could not read, and reports corrected soon after confirmation.

Text and the local date only (no account, no chat), kept for a set number of days: enough for the
team to turn real messages into corpus entries (`tiendo parse --review`), no longer.
"""

from datetime import date, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.models import ReviewMessage

MAX_TEXT = 2000
KINDS = ("unread", "answer", "fixed", "corrected")


def keep(session: Session, *, kind: str, text: str, day: date, keep_days: int) -> None:
    """Keep one message (in the caller's transaction) and drop those older than `keep_days`."""
    if keep_days <= 0 or not text.strip():
        return
    session.add(ReviewMessage(kind=kind, text=text[:MAX_TEXT], day=day))
    prune(session, before=day - timedelta(days=keep_days))


def prune(session: Session, *, before: date) -> int:
    """Forget messages kept before `before`; returns how many."""
    result = session.execute(delete(ReviewMessage).where(col(ReviewMessage.day) < before))
    return int(getattr(result, "rowcount", 0) or 0)


def kept(session: Session, *, since: date | None = None, kind: str | None = None) -> list[ReviewMessage]:
    query = select(ReviewMessage)
    if since is not None:
        query = query.where(col(ReviewMessage.day) >= since)
    if kind is not None:
        query = query.where(ReviewMessage.kind == kind)
    return list(session.exec(query.order_by(col(ReviewMessage.day), col(ReviewMessage.id))).all())
