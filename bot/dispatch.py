"""Running the channel-neutral handlers from an event loop, for every channel."""

import asyncio
import logging

from sqlalchemy.exc import OperationalError

from handlers.conversation import handle
from handlers.types import Incoming, Reply, Services

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
