"""`tiendo serve` with candidate product changes applied by monkeypatching, for bench_e2e --patch.

    python bench/_e2e_serve.py --patch NAME[,NAME…] serve --port PORT

The bench never edits product code: each patch here is the exact change it measures, applied in the
serve process before bot.cli.main runs. Without --patch bench_e2e runs `python -m bot serve` itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def no_overall_limit() -> None:
    """bot/telegram_channel: the AIORateLimiter of build_application without an overall rate.

    The overall cap (about 30 requests a second that carry a chat_id: Telegram's bulk-broadcast
    figure) also throttles interactive replies; without it a 429 from Telegram is still honoured
    (retry_after, max_retries kept) and the per-group limit stays.
    """
    from telegram.ext import AIORateLimiter

    import bot.telegram_channel as channel

    def limiter(*args: Any, **kwargs: Any) -> AIORateLimiter:
        # Whatever overall rate the product picks (the default bucket, smooth_rate_limiter), none here.
        kwargs.update(overall_max_rate=0, overall_time_period=0)
        return AIORateLimiter(*args, **kwargs)

    channel.AIORateLimiter = limiter  # type: ignore[assignment,misc]


def stream() -> None:
    """bot/web.WebRuntime: process each stored update as soon as it is stored, chat by chat in order.

    The shipped worker takes whatever is queued as one batch and gathers it to the end before it looks
    at the queue again, so one slow update (a /tiendo, a throttled send) holds back every update that
    arrived meanwhile; and it reads each row back (_load) although receive() has just had its payload.
    Here the queue carries (id, channel, payload) and a chain of tasks per chat keeps the order.
    """
    import bot.web as web
    from storage.models import InboxUpdate

    async def receive(self: Any, channel: str, delivery: str, payload: dict[str, Any]) -> bool:
        def store() -> int | None:
            with self.database.session() as session:
                return web.inbox.store(
                    session, channel=channel, delivery_id=delivery, payload=payload, now=self.services.now()
                )

        stored = await asyncio.to_thread(store)
        if stored is None:
            return False
        self._queue.put_nowait((stored, channel, payload))
        return True

    async def run(self: Any) -> None:
        await self._sweep(include_recent=True)
        semaphore = asyncio.Semaphore(self.concurrency)
        tails: dict[str, asyncio.Task[None]] = {}

        async def after(previous: asyncio.Task[None] | None, row: InboxUpdate) -> None:
            if previous is not None:
                await asyncio.wait([previous])
            async with semaphore:
                await self._process(row)

        while True:
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout=web.SWEEP_INTERVAL)
            except TimeoutError:
                await self._sweep(include_recent=False)
                continue
            if isinstance(item, int):  # from the sweep path of an unpatched caller
                await self._process_ids([item])
                continue
            row_id, channel, payload = item
            row = InboxUpdate(
                id=row_id, channel=channel, delivery_id="", payload=json.dumps(payload), received_at=None
            )
            key = web.chat_key(channel, payload)
            task = asyncio.create_task(after(tails.get(key), row))
            tails[key] = task

            def forget(done: asyncio.Task[None], key: str = key) -> None:
                if tails.get(key) is done:
                    del tails[key]

            task.add_done_callback(forget)

    web.WebRuntime.receive = receive  # type: ignore[method-assign]
    web.WebRuntime._run = run  # type: ignore[method-assign]


PATCHES: dict[str, Callable[[], None]] = {
    "no-overall-limit": no_overall_limit,
    "stream": stream,
}


def main(argv: list[str]) -> int:
    names: list[str] = []
    if argv[:1] == ["--patch"]:
        names = [n for n in argv[1].split(",") if n]
        argv = argv[2:]
    for name in names:
        PATCHES[name]()
    from bot.cli import main as tiendo

    return tiendo(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
