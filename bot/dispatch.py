"""Running the channel-neutral handlers from an event loop, for every channel."""

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from handlers.conversation import handle
from handlers.types import Incoming, Reply, Services
from storage import conversations

log = logging.getLogger(__name__)

DB_ATTEMPTS = 3


async def run_handler(incoming: Incoming, services: Services) -> list[Reply]:
    """The handler in a worker thread (the database calls block), retried if the database is briefly away."""
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            return await asyncio.to_thread(handle, incoming, services)
        except OperationalError:
            if attempt == DB_ATTEMPTS:
                raise
            log.warning("database unavailable (attempt %d of %d); retrying", attempt, DB_ATTEMPTS)
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def answering(incoming: Incoming, services: Services) -> Callable[[], bool]:
    """What to run as the first reply to `incoming` leaves: the replies kept with its delivery are
    then not sent again by a later process (a crash after this point costs at most these replies).
    False when it cannot be recorded (the database away): the replies then stay kept, unsent, for
    when the update comes again, rather than risk reaching the user twice."""

    def mark() -> bool:
        if not incoming.delivery_id:
            return True
        for attempt in range(1, DB_ATTEMPTS + 1):
            try:
                with services.session() as session:
                    conversations.mark_answering(
                        session, incoming.channel, incoming.delivery_id, now=services.now()
                    )
                return True
            except OperationalError:
                log.warning("could not record that replies to %s are leaving", incoming.delivery_id)
                time.sleep(0.5 * 2**attempt)
        return False

    return mark
