"""Accounts (a channel plus a user id) and one-time invite codes."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from storage.audit import record
from storage.clock import utcnow
from storage.errors import InvalidInput
from storage.models import Account, Invite, Role, Unit

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def create_invite(
    session: Session, *, unit: Unit, role: Role, days: int = 7, now: datetime | None = None
) -> str:
    """Store a new invite and return its code; only the hash is kept."""
    if days < 1 or days > 365:
        raise InvalidInput("Số ngày hiệu lực phải từ 1 đến 365.")
    now = now or utcnow()
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        digest = hash_code(code)
        if session.exec(select(Invite).where(Invite.code_hash == digest)).first() is None:
            break
    session.add(
        Invite(
            code_hash=digest,
            unit_id=unit.id,
            role=role.value,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    record(session, "invite.create", unit_id=unit.id, at=now, role=role.value, days=days)
    session.flush()
    return format_code(code)


class InviteRefused(InvalidInput):
    pass


def redeem_invite(
    session: Session,
    *,
    code: str,
    channel: str,
    channel_user_id: str,
    chat_id: str | None,
    display_name: str | None,
    now: datetime | None = None,
) -> Account:
    """Bind the sender to the invite's unit and role; the code is then spent."""
    now = now or utcnow()
    if len(normalise_code(code)) != CODE_LENGTH:
        raise InviteRefused("Mã đăng ký không đúng.")
    invite = session.exec(select(Invite).where(Invite.code_hash == hash_code(code)).with_for_update()).first()
    if invite is None:
        raise InviteRefused("Mã đăng ký không đúng.")
    if invite.used_at is not None:
        raise InviteRefused("Mã đăng ký này đã được sử dụng.")
    if invite.expires_at <= now:
        raise InviteRefused("Mã đăng ký đã hết hạn.")
    account = session.exec(
        select(Account).where(Account.channel == channel, Account.channel_user_id == channel_user_id)
    ).first()  # a revoked account registers again with a new invite: same row, revocation lifted
    if account is None:
        account = Account(
            channel=channel,
            channel_user_id=channel_user_id,
            role=invite.role,
            unit_id=invite.unit_id,
            created_at=now,
        )
    account.role, account.unit_id, account.revoked_at = invite.role, invite.unit_id, None
    account.chat_id, account.display_name = chat_id, display_name
    session.add(account)
    session.flush()
    invite.used_at, invite.used_by_account_id = now, account.id
    session.add(invite)
    record(
        session, "account.register", account_id=account.id, unit_id=invite.unit_id, at=now, role=invite.role
    )
    session.flush()
    return account


def find_account(session: Session, channel: str, channel_user_id: str) -> Account | None:
    """The sender's account, unless it was revoked (then the sender is a stranger again)."""
    return session.exec(
        select(Account).where(
            Account.channel == channel,
            Account.channel_user_id == channel_user_id,
            col(Account.revoked_at).is_(None),
        )
    ).first()


def revoke_account(session: Session, account: Account, *, by_account_id: int | None, now: datetime) -> None:
    """Take an account's access away: the bot no longer knows the sender, web sessions end.

    The row stays (reports and audit events point at it); a new invite can register the person again.
    """
    from storage import web_sessions  # the web's tables; imported here to keep this module small

    if account.revoked_at is not None:
        raise InvalidInput("Tài khoản này đã bị thu hồi trước đó.")
    account.revoked_at = now
    session.add(account)
    web_sessions.end_sessions(session, account.id or 0)
    record(
        session,
        "account.revoke",
        account_id=by_account_id,
        unit_id=account.unit_id,
        at=now,
        revoked_account=account.id,
        role=account.role,
    )
    session.flush()
