"""/web: a one-time link to the web page, for the sender's account, in the sender's private chat."""

from typing import TYPE_CHECKING

from handlers.formatting import number
from handlers.i18n import t
from handlers.types import Incoming, Reply
from storage import web_sessions

if TYPE_CHECKING:
    from handlers.conversation import Context

LOGIN_PATH = "/web/login/"


def is_private(incoming: Incoming) -> bool:
    """A private chat: on Telegram and Zalo its id is the sender's own; a group has an id of its own."""
    return incoming.chat_id == incoming.user_id


def web_link(ctx: "Context") -> list[Reply]:
    assert ctx.account is not None
    if not is_private(ctx.incoming):
        # A login link in a group would let any member in as this person: never there.
        return [Reply(t("web.private_only"))]
    base = ctx.services.web_base_url.rstrip("/")
    if not base:
        return [Reply(t("web.not_served"))]
    minutes = ctx.services.web_login_minutes
    token = web_sessions.create_login(ctx.session, ctx.account, now=ctx.now, ttl=ctx.services.web_login_ttl)
    return [Reply(t("web.link", url=f"{base}{LOGIN_PATH}{token}", minutes=number(minutes)))]
