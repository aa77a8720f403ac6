"""Accounts (a channel plus a user id) and one-time invite codes."""

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from storage.audit import record
from storage.clock import utcnow
from storage.errors import InvalidInput, NotFound
from storage.models import Account, AuditEvent, Conversation, Invite, OutboxMessage, OutboxStatus, Role, Unit

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


# A code kept sealed in a stored update: "#" and the seal (see `seal_text`).
_SEALED = re.compile(r"#[0-9a-f]{64}")
# Codes as people copy them without the command: "ABCDE-23456", in any case.
_BARE_CODE = re.compile(
    rf"(?<![0-9A-Za-z])[{CODE_ALPHABET}]{{5}}-[{CODE_ALPHABET}]{{5}}(?![0-9A-Za-z])", re.I
)


def normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def seal(code: str) -> str:
    """What a stored update keeps instead of an invite code: sha256 of the normalised code."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def hash_code(code: str) -> str:
    """What the invite row keeps: the hash of the seal, so that neither the code nor a seal that could
    be sent as it stands (`/dangky #…`) is in the database."""
    return _hash_seal(seal(code))


def _hash_seal(sealed: str) -> str:
    return hashlib.sha256(sealed.encode()).hexdigest()


def _invisible(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Cs") and ch not in "\n\t"


def seal_text(text: str) -> str:
    """A message as it may be stored: `/dangky CODE` becomes `/dangky #<seal>`, and a bare code
    "ABCDE-23456" its seal, so that an update kept in the inbox holds no invite code in clear.

    Whatever the handlers would read as /dangky is sealed (they drop control and invisible
    characters and spaces around it first; this drops every such character, a wider set). The whole
    argument is sealed, even one that looks sealed already: a seal typed by someone who read a
    database is sealed again and matches nothing.
    """
    visible = "".join(ch for ch in text if not _invisible(ch)).strip()
    if visible.startswith("/"):
        command, _, argument = visible[1:].partition(" ")
        if command.split("@", 1)[0].lower() == "dangky" and argument.strip():
            return f"/dangky #{seal(argument)}"
    if _BARE_CODE.search(text):
        return _BARE_CODE.sub(lambda m: "#" + seal(m.group()), text)
    return text


def seal_payload(value: Any) -> Any:
    """Every string of a stored update (JSON) through `seal_text`."""
    if isinstance(value, str):
        return seal_text(value)
    if isinstance(value, dict):
        return {key: seal_payload(item) for key, item in value.items()}
    if isinstance(value, list):
        return [seal_payload(item) for item in value]
    return value


def format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


def create_invite(
    session: Session, *, unit: Unit, role: Role, days: int = 7, now: datetime | None = None
) -> str:
    """Store a new invite and return its code; only the hash is kept."""
    if days < 1 or days > 365:
        raise InvalidInput("storage.invite.days_out_of_range", low=1, high=365)
    now = now or utcnow()
    assert unit.id is not None  # a stored unit
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
    code: str | None = None,
    invite_id: int | None = None,
    channel: str,
    channel_user_id: str,
    chat_id: str | None,
    display_name: str | None,
    now: datetime | None = None,
) -> Account:
    """Bind the sender to the invite's unit and role; the code is then spent.

    The invite is named by its code (typed, or sealed in a stored update), or by its id once the
    sender has shown the code and confirmed replacing their current role.
    """
    now = now or utcnow()
    if invite_id is not None:
        invite = session.exec(select(Invite).where(Invite.id == invite_id).with_for_update()).first()
    else:
        invite = find_invite(session, code or "", lock=True)
    check_invite(invite, now)
    assert invite is not None
    account = find_account(session, channel, channel_user_id)
    if account is None:
        account = Account(
            channel=channel,
            channel_user_id=channel_user_id,
            role=invite.role,
            unit_id=invite.unit_id,
            created_at=now,
        )
    account.role, account.unit_id = invite.role, invite.unit_id
    account.revoked_at = None  # a new code given to someone whose role was taken away
    account.display_name = display_name
    if chat_id is not None:  # registering from a group keeps the private chat known before
        account.chat_id = chat_id
    session.add(account)
    session.flush()
    invite.used_at, invite.used_by_account_id = now, account.id
    session.add(invite)
    record(
        session, "account.register", account_id=account.id, unit_id=invite.unit_id, at=now, role=invite.role
    )
    session.flush()
    return account


def check_invite(invite: Invite | None, now: datetime) -> None:
    """Raise InviteRefused, saying why, unless the invite can still register someone."""
    if invite is None:
        raise InviteRefused("storage.invite.wrong")
    if invite.used_at is not None:
        raise InviteRefused("storage.invite.used")
    if invite.cancelled_at is not None:
        raise InviteRefused("storage.invite.cancelled")
    if invite.expires_at <= now:
        raise InviteRefused("storage.invite.expired")


def recent_refusals(session: Session, *, since: datetime) -> int:
    """Wrong or spent invite codes sent since then, from every chat (audit events `invite.refused`)."""
    return session.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "invite.refused", col(AuditEvent.at) >= since)
    ).one()


def find_invite(session: Session, code: str, *, lock: bool = False) -> Invite | None:
    """The invite a typed code, or a sealed one from a stored update (`#<seal>`), names."""
    code = code.strip()
    if _SEALED.fullmatch(code):
        digest = _hash_seal(code[1:])
    elif len(normalise_code(code)) == CODE_LENGTH:
        digest = hash_code(code)
    else:
        return None
    query = select(Invite).where(Invite.code_hash == digest)
    return session.exec(query.with_for_update() if lock else query).first()


def find_account(session: Session, channel: str, channel_user_id: str) -> Account | None:
    """The sender's account, revoked ones included (the conversation tells them their role was withdrawn)."""
    return session.exec(
        select(Account).where(Account.channel == channel, Account.channel_user_id == channel_user_id)
    ).first()


# --- revocation -------------------------------------------------------------------------------


def revoke_account(
    session: Session, account: Account, *, by_account_id: int | None, via: str, now: datetime | None = None
) -> bool:
    """Take the account's role away: it no longer reports, sees figures or gets campaign messages.

    The row stays (its reports and the audit name it); its pending campaign messages are dropped and
    its open dialogue in its private chat is closed. False when it was revoked already (perhaps a
    moment ago, by someone else: the conditional UPDATE lets one of two revocations through).
    """
    now = now or utcnow()
    changed = session.exec(
        update(Account)
        .where(col(Account.id) == account.id, col(Account.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    if changed.rowcount != 1:
        return False
    set_committed_value(account, "revoked_at", now)
    from storage import web_sessions  # the web page's tables; imported here to keep this module small

    web_sessions.end_sessions(session, account.id or 0)  # signed in on the web page: signed out
    session.execute(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.account_id) == account.id,
            col(OutboxMessage.status) == OutboxStatus.pending.value,
        )
        .values(
            status=OutboxStatus.failed.value,
            last_error="account revoked",
            claimed_by=None,
            claimed_until=None,
        )
    )
    session.execute(
        delete(Conversation).where(
            col(Conversation.channel) == account.channel, col(Conversation.chat_id) == account.channel_user_id
        )
    )
    record(
        session,
        "account.revoke",
        account_id=by_account_id,
        unit_id=account.unit_id,
        at=now,
        revoked_account=account.id,
        role=account.role,
        via=via,
    )
    session.flush()
    return True


def list_accounts(
    session: Session, *, within: Unit | None = None, role: Role | None = None, active_only: bool = False
) -> list[tuple[Account, Unit]]:
    """Accounts with their units, by unit path then id; `within` a unit's subtree."""
    query = select(Account, Unit).join(Unit, col(Unit.id) == Account.unit_id)
    if within is not None:
        query = query.where(col(Unit.path).startswith(within.path))
    if role is not None:
        query = query.where(Account.role == role.value)
    if active_only:
        query = query.where(col(Account.revoked_at).is_(None))
    rows = session.exec(query.order_by(col(Unit.path), col(Account.id))).all()
    return [(account, unit) for account, unit in rows]


def invite_status(invite: Invite, now: datetime) -> str:
    if invite.used_at is not None:
        return "used"
    if invite.cancelled_at is not None:
        return "cancelled"
    if invite.expires_at <= now:
        return "expired"
    return "open"


def list_invites(session: Session, *, within: Unit | None = None) -> list[tuple[Invite, Unit]]:
    query = select(Invite, Unit).join(Unit, col(Unit.id) == Invite.unit_id)
    if within is not None:
        query = query.where(col(Unit.path).startswith(within.path))
    rows = session.exec(query.order_by(col(Invite.id))).all()
    return [(invite, unit) for invite, unit in rows]


def cancel_invite(session: Session, invite_id: int, *, now: datetime | None = None) -> Invite:
    """Cancel an unused invite: its code no longer registers anyone."""
    now = now or utcnow()
    invite = session.exec(select(Invite).where(Invite.id == invite_id).with_for_update()).first()
    if invite is None:
        raise NotFound("storage.invite.not_found", invite_id=str(invite_id))
    status = invite_status(invite, now)
    if status != "open":
        raise InvalidInput(f"storage.invite.cancel_{status}", invite_id=str(invite_id))
    invite.cancelled_at = now
    session.add(invite)
    record(session, "invite.cancel", unit_id=invite.unit_id, at=now, invite=invite.id, role=invite.role)
    session.flush()
    return invite
