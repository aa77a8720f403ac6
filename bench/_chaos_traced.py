"""`python -m bot …` for bench_chaos, with every Bot API request tagged with the update it answers.

The harness's fake Bot API cannot tell from a sendMessage which update it answers (Telegram's API has
no such field), so a reply that comes late, after the secretary moved on, used to be counted under
the next update of the chat. Here python-telegram-bot's `Application.process_update` puts the update
id in a context variable, and the HTTP layer appends it to the request URL (`?bench_update=ID`),
which the fake API reads. Nothing else changes: the bot under test is the shipped one.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any

from telegram.ext import Application
from telegram.request import HTTPXRequest

ANSWERING: contextvars.ContextVar[int | None] = contextvars.ContextVar("bench_update", default=None)

_process_update = Application.process_update
_do_request = HTTPXRequest.do_request


async def process_update(self: Application, update: object) -> None:
    token = ANSWERING.set(getattr(update, "update_id", None))
    try:
        await _process_update(self, update)
    finally:
        ANSWERING.reset(token)


async def do_request(
    self: HTTPXRequest, url: str, method: str, *args: Any, **kwargs: Any
) -> tuple[int, bytes]:
    update = ANSWERING.get()
    if update is not None:
        url += ("&" if "?" in url else "?") + f"bench_update={update}"
    return await _do_request(self, url, method, *args, **kwargs)


Application.process_update = process_update  # type: ignore[method-assign]
HTTPXRequest.do_request = do_request  # type: ignore[method-assign]

if __name__ == "__main__":
    from bot.cli import main

    sys.exit(main(sys.argv[1:]))
