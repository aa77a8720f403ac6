"""/thuhoi: staff take the role away from a secretary of their own subtree, after confirming.

"/thuhoi" lists the registered secretaries below the sender (or asks for a name when there are many),
"/thuhoi thôn An" those of the matching cells or with a matching name; picking one asks
"Thu hồi / Giữ lại"; "Thu hồi" revokes the account (storage.accounts.revoke_account, audited).
Every step checks again that the account is a secretary within the sender's subtree.
"""

from typing import TYPE_CHECKING

from handlers.formatting import number
from handlers.i18n import t
from handlers.text import fold
from handlers.types import Option, Reply, small_int
from handlers.unit_match import match_units
from storage import accounts, units
from storage.models import Account, Role, Unit

if TYPE_CHECKING:
    from handlers.conversation import Context

ACTIONS = ("revoke", "revoke_yes", "revoke_no")
MAX_CHOICES = 8


def _name(account: Account) -> str:
    return account.display_name or t("revoke.unnamed", id=account.channel_user_id)


def _scope(ctx: "Context") -> Unit | None:
    """Where the sender may revoke secretaries: their subtree; everywhere for an admin."""
    assert ctx.account is not None
    return None if ctx.account.role == Role.admin else ctx.unit()


def _secretaries(ctx: "Context") -> list[tuple[Account, Unit]]:
    return accounts.list_accounts(ctx.session, within=_scope(ctx), role=Role.secretary, active_only=True)


def ask(ctx: "Context", query: str) -> list[Reply]:
    assert ctx.account is not None
    if ctx.account.role == Role.secretary:
        return [Reply(t("revoke.staff_only"))]
    scope_name = ctx.unit().name if _scope(ctx) is not None else t("revoke.everywhere")
    found = _secretaries(ctx)
    if query:
        wanted = fold(query)
        matched = {u.id for u in match_units([u for _, u in found], query)}
        found = [(a, u) for a, u in found if u.id in matched or wanted in fold(a.display_name or "")]
        if not found:
            return [Reply(t("revoke.none_matching", query=query, scope=scope_name))]
    elif not found:
        return [Reply(t("revoke.none", scope=scope_name))]
    if len(found) > MAX_CHOICES:
        return [Reply(t("revoke.narrow", scope=scope_name, n=number(len(found))))]
    ctx.reset()
    options = tuple(
        Option(t("revoke.option", name=_name(a), unit=u.name), f"revoke:{a.id}") for a, u in found
    )
    ctx.offer(options)
    return [Reply(t("revoke.which"), options)]


def _target(ctx: "Context", rest: str) -> tuple[Account, Unit] | Reply:
    """The secretary a button names, if the sender may still revoke them; else the answer why not."""
    key = small_int(rest)
    account = ctx.session.get(Account, key) if key is not None else None
    if account is None or account.revoked_at is not None:
        return Reply(t("revoke.gone"))
    unit = ctx.session.get(Unit, account.unit_id)
    scope = _scope(ctx)
    if (
        unit is None
        or account.role != Role.secretary
        or (scope is not None and not units.is_within(unit, scope))
    ):
        return Reply(t("revoke.not_allowed", scope=ctx.unit().name))
    return account, unit


def on_choice(ctx: "Context", action: str, rest: str) -> list[Reply]:
    assert ctx.account is not None
    ctx.reset()
    if ctx.account.role == Role.secretary:
        return [Reply(t("revoke.staff_only"))]
    found = _target(ctx, rest)
    if isinstance(found, Reply):
        return [found]
    account, unit = found
    if action == "revoke":
        options = (
            Option(t("option.revoke"), f"revoke_yes:{account.id}"),
            Option(t("option.keep_account"), f"revoke_no:{account.id}"),
        )
        ctx.offer(options)
        return [Reply(t("revoke.confirm", name=_name(account), unit=unit.name), options)]
    if action == "revoke_no":
        return [Reply(t("revoke.kept", name=_name(account)))]
    if not accounts.revoke_account(
        ctx.session, account, by_account_id=ctx.account.id, via="chat", now=ctx.now
    ):
        return [Reply(t("revoke.gone"))]
    return [Reply(t("revoke.done", name=_name(account), unit=unit.name))]
