"""The fake Bot API of bench_chaos: bench/_e2e_api.py's, plus faults, a record of deliveries and getUpdates.

- `storm(rate)`: that share of sendMessage calls is answered 429 (retry_after 1), 500 or 502 at random
  and not delivered, as Telegram does in a bad minute; `storm(0)` ends it.
- every sendMessage delivered is kept as (chat_id, text, time, update it answers), to find messages
  sent twice or never (the update comes from the traced bot, bench/_chaos_traced.py);
- getUpdates serves updates pushed by the harness (long polling, offset confirms as Telegram's does),
  so that `tiendo run` can be driven like `tiendo serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from typing import Any

from _e2e_api import FakeBotAPI, OnCall

FAULTS = (
    (429, "Too Many Requests: retry after 1", {"retry_after": 1}),
    (500, "Internal Server Error", None),
    (502, "Bad Gateway", None),
)


class ChaosAPI(FakeBotAPI):
    def __init__(self, on_call: OnCall | None = None, *, seed: int = 11) -> None:
        super().__init__(on_call)
        self.rng = random.Random(seed)
        self.fault_rate = 0.0
        self.faults: Counter[int] = Counter()  # status -> sendMessage calls answered with it
        # (chat_id, text, time.monotonic(), the update it answers when the bot said so, else None)
        self.delivered: list[tuple[int, str, float, int | None]] = []
        self.updates: list[dict[str, Any]] = []
        self.offset = 0  # getUpdates: every update below it is confirmed, for good
        self._new_update = asyncio.Event()

    def storm(self, rate: float) -> None:
        self.fault_rate = rate

    def push_update(self, update: dict[str, Any]) -> None:
        self.updates.append(update)
        self._new_update.set()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.offset = max(self.offset, int(params.get("offset") or 0))
        timeout = min(float(params.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + timeout
        while True:
            self.updates = [u for u in self.updates if u["update_id"] >= self.offset]
            if self.updates or time.monotonic() >= deadline:
                return self.updates[:100]
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=deadline - time.monotonic())

    async def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getUpdates":
            return 200, {"ok": True, "result": await self._get_updates(params)}
        if method == "sendMessage" and self.fault_rate and self.rng.random() < self.fault_rate:
            status, description, parameters = self.rng.choice(FAULTS)
            self.faults[status] += 1
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
            if parameters:
                body["parameters"] = parameters
            return status, body
        result = self._result(method, params)
        if method == "sendMessage":
            self.delivered.append(
                (
                    int(params.get("chat_id") or 0),
                    str(params.get("text", "")),
                    time.monotonic(),
                    params.get("_update"),
                )
            )
        return 200, {"ok": True, "result": result}
