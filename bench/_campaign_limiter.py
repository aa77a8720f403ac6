"""A candidate rate limiter for the campaign sender, measured by bench_campaign (--limiter window).

AIORateLimiter paces with a leaky bucket (30 at once, then 30 a second: 60 in the first second after a
pause) and on every 429 holds all requests for retry_after + 0.1 s, while the requests queued behind
take their tokens and then go out together. Against a limit counted over a sliding second that costs
both ways: bursts draw 429s, and every 429 (even a random one) stops the whole bot for a second.

This one counts what Telegram counts: at most `per_second` sends in any one-second window (a slot
frees one second after its use, so jitter is not lost as it is with an evenly spaced bucket). A 429
with a short retry_after goes back to the caller (the outbox reschedules that one message, the others
keep going); a long one (a flood wait) pauses every send until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

JSONDict = dict[str, Any]


class SlidingWindowLimiter(BaseRateLimiter[int]):
    def __init__(self, per_second: int = 29, pause_from: float = 5.0) -> None:
        self.per_second = per_second
        self.pause_from = pause_from
        self._sent: deque[float] = deque()
        self._lock: asyncio.Lock | None = None
        self._paused_until = 0.0

    async def initialize(self) -> None:
        self._lock = asyncio.Lock()  # made in the bot's loop

    async def shutdown(self) -> None:
        pass

    async def _slot(self) -> None:
        """Wait for a free slot in the window (one waiter at a time: they go out in order)."""
        assert self._lock is not None
        loop = asyncio.get_running_loop()
        async with self._lock:
            while True:
                now = loop.time()
                if now < self._paused_until:
                    await asyncio.sleep(self._paused_until - now)
                    continue
                while self._sent and self._sent[0] <= now - 1.0:
                    self._sent.popleft()
                if len(self._sent) < self.per_second:
                    self._sent.append(now)
                    return
                await asyncio.sleep(self._sent[0] + 1.0 - now)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if data.get("chat_id") is None:  # getMe and the like are not messages
            return await callback(*args, **kwargs)
        await self._slot()
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as error:
            with contextlib.suppress(Exception):
                value = error._retry_after  # the timedelta behind the deprecated property
                seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
                if seconds >= self.pause_from:
                    loop = asyncio.get_running_loop()
                    self._paused_until = max(self._paused_until, loop.time() + seconds)
            raise
