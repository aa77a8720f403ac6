"""Logins to the web page: a one-time link asked for in the chat opens a browser session.

Only hashes are stored: a copy of the database opens no session. A link is spent on first use and
lives a few minutes; a session lives some hours, ends at logout, and with its account's revocation.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from storage.audit import record
from storage.models import Account, WebLogin, WebSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_login(session: Session, account: Account, *, now: datetime, ttl: timedelta) -> str:
    """A new one-time login token for the account (the caller puts it in a link)."""
    token = secrets.token_urlsafe(32)
    session.exec(delete(WebLogin).where(col(WebLogin.expires_at) < now))
    session.add(
        WebLogin(token_hash=_hash(token), account_id=account.id or 0, created_at=now, expires_at=now + ttl)
    )
    session.flush()
    return token


def login_valid(session: Session, token: str, *, now: datetime) -> bool:
    """Whether a link can still open a session (checked before showing its button; nothing spent)."""
    row = session.get(WebLogin, _hash(token))
    return row is not None and row.used_at is None and row.expires_at > now


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie
    csrf: str
    account_id: int
    expires_at: datetime


def redeem_login(session: Session, token: str, *, now: datetime, ttl: timedelta) -> NewSession | None:
    """Spend a login token and open a session; None if the link is unknown, used, expired or revoked."""
    row = session.exec(select(WebLogin).where(WebLogin.token_hash == _hash(token)).with_for_update()).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    account = session.get(Account, row.account_id)
    if account is None or account.revoked_at is not None:
        return None
    row.used_at = now
    session.add(row)
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.exec(delete(WebSession).where(col(WebSession.expires_at) < now))
    session.add(
        WebSession(
            token_hash=_hash(cookie),
            account_id=row.account_id,
            csrf=csrf,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    record(session, "web.login", account_id=row.account_id, at=now)
    session.flush()
    return NewSession(cookie, csrf, row.account_id, now + ttl)


def find_session(session: Session, token: str, *, now: datetime) -> tuple[WebSession, Account] | None:
    """The live session behind a cookie, with its account (None when expired, ended or revoked)."""
    if not token:
        return None
    row = session.get(WebSession, _hash(token))
    if row is None or row.expires_at <= now:
        return None
    account = session.get(Account, row.account_id)
    if account is None or account.revoked_at is not None:
        return None
    return row, account


def end_session(session: Session, token: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))


def end_sessions(session: Session, account_id: int) -> None:
    session.exec(delete(WebSession).where(col(WebSession.account_id) == account_id))
