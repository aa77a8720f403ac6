"""The simulated secretaries of bench_e2e: Telegram updates POSTed to a webhook, replies read at the fake API.

Each secretary is one private chat that waits for the bot's answer before typing the next message
(a closed loop, as people do), so with N secretaries there are at most N updates in flight and the
throughput measured is the one the bot sustains at that concurrency.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx


def full_report(n: int) -> str:
    """The n-th full report of a secretary: each for another past month, as real reports are (the
    same report twice would be pointed out as a likely duplicate)."""
    return f"kết nạp 2 đảng viên tháng {month_of(n)}, 1 nữ, 2 đoàn viên, 0 tôn giáo, 0 dân tộc, 2 THPT"


def short_report(n: int) -> str:
    return f"kết nạp 1 đảng viên tháng {month_of(n)}"


def month_of(n: int) -> str:
    return f"{12 - n % 12}/{2023 - n // 12}"


FULL_REPORT = full_report(0)
# The breakdowns of one new member, asked in one message, answered in one (or "Không rõ" pressed).
GUIDED_ANSWER = "nữ, không phải đoàn viên, không theo đạo, dân tộc không rõ, THPT"
OPEN_DRAFT = "còn một báo cáo chưa xác nhận"  # a newer report while one is open: keep, replace or both
# Scenario weights per pick; the update mix that results is printed with the figures.
SCENARIOS = (("full", 0.40), ("guided", 0.10), ("tiendo", 0.25), ("baocao", 0.25))
REPLY_TIMEOUT = 60.0
POST_ATTEMPTS = 4
USER_BASE = 500_000_000  # Telegram user ids (= private chat ids) of the secretaries

# What each kind of step must get back from Tiến độ (a substring); the echo bot sends back its input.
EXPECT = {
    "register": "Đã đăng ký",
    "report": ("Đúng thì đồng chí chọn Xác nhận", OPEN_DRAFT),
    "short": "?",
    "replace": ("Đúng thì đồng chí chọn Xác nhận", "?"),
    "answer": "?",
    "press-answer": "Đúng thì đồng chí chọn Xác nhận",
    "summary": "Đúng thì đồng chí chọn Xác nhận",
    "confirm-press": "Mã biên nhận",
    "confirm-typed": "Mã biên nhận",
    "tiendo": "TIẾN ĐỘ",
    "baocao": "báo cáo",
}


def expected(kind: str) -> tuple[str, ...]:
    """What a reply to this kind of step may contain (any one of them)."""
    value = EXPECT[kind]
    return value if isinstance(value, tuple) else (value,)


@dataclass
class Reply:
    at: float
    text: str
    markup: Any
    message_id: int


@dataclass
class LoadResult:
    started: float = 0.0
    finished: float = 0.0
    accepted: list[float] = field(default_factory=list)  # when each POST got its 200
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # kind -> seconds
    accept_latency: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # a few unexpected replies, for the report
    confirms_sent: Counter[str] = field(default_factory=Counter)  # user id -> confirm updates accepted
    retries: Counter[str] = field(default_factory=Counter)  # POSTs sent again, by why
    receipts: list[str] = field(default_factory=list)
    stopped_by_time: bool = False

    @property
    def updates(self) -> int:
        return len(self.accepted)

    def all_latencies(self) -> list[float]:
        return [x for values in self.latency.values() for x in values]


class Load:
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        codes: list[str],
        per_secretary: int,
        time_limit: float,
        echo: bool,
        seed: int = 7,
        more_urls: tuple[str, ...] = (),
    ) -> None:
        self.url, self.secret, self.codes = url, secret, codes
        # Several workers: each POST goes to one at random, as a load balancer would send it.
        self.urls = (url, *more_urls)
        self._pick = random.Random(seed + 1)
        self.per_secretary, self.time_limit, self.echo, self.seed = per_secretary, time_limit, echo, seed
        self.queues: dict[int, asyncio.Queue[Reply]] = {
            USER_BASE + i: asyncio.Queue() for i in range(len(codes))
        }
        self.unexpected_chats: Counter[int] = Counter()
        self.reports: Counter[int] = Counter()  # reports sent per secretary: each for its own month
        self.result = LoadResult()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._deadline = 0.0

    # --- the fake API's side ----------------------------------------------------------------------

    def on_call(self, method: str, params: dict[str, Any], at: float) -> None:
        if method != "sendMessage":
            return
        chat = int(params.get("chat_id") or 0)
        queue = self.queues.get(chat)
        if queue is None:
            self.unexpected_chats[chat] += 1
            return
        queue.put_nowait(
            Reply(at, str(params.get("text", "")), params.get("reply_markup"), int(params.get("_id", 0)))
        )

    # --- updates -----------------------------------------------------------------------------------

    @staticmethod
    def _user(user: int) -> dict[str, Any]:
        return {"id": user, "is_bot": False, "first_name": "Bí thư", "last_name": str(user - USER_BASE)}

    def _message(self, user: int, text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user, "type": "private"},
            "from": self._user(user),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {"update_id": next(self._update_ids), "message": message}

    def _press(self, user: int, data: str, on: Reply | None) -> dict[str, Any]:
        update_id = next(self._update_ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": str(update_id),
                "from": self._user(user),
                "chat_instance": f"ci{user}",
                "data": data,
                "message": {
                    "message_id": on.message_id if on is not None else 1,
                    "date": int(time.time()),
                    "chat": {"id": user, "type": "private"},
                    "from": {"id": 7000000001, "is_bot": True, "first_name": "Tiến độ"},
                    "text": on.text if on is not None else "",
                },
            },
        }

    async def _step(
        self,
        client: httpx.AsyncClient,
        user: int,
        kind: str,
        update: dict[str, Any],
        *,
        confirm: bool = False,
    ) -> Reply | None:
        """POST one update (again, as Telegram does, if it was not answered 200), then wait for this
        chat's next message at the fake API."""
        result = self.result
        body = json.dumps(update, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.secret}
        sent = time.monotonic()
        for attempt in range(POST_ATTEMPTS):
            try:
                url = self._pick.choice(self.urls) if len(self.urls) > 1 else self.url
                response = await client.post(url, content=body, headers=headers)
            except httpx.TransportError as error:
                # e.g. a keep-alive connection the server closed as it was reused: Telegram retries too
                result.retries[type(error).__name__] += 1
            else:
                if response.status_code == 200:
                    break
                result.retries[f"HTTP {response.status_code}"] += 1
            await asyncio.sleep(0.2 * 2**attempt)
        else:
            result.errors[f"{kind} not accepted after {POST_ATTEMPTS} attempts"] += 1
            return None
        accepted = time.monotonic()
        result.accepted.append(accepted)
        if confirm:
            result.confirms_sent[str(user)] += 1
        result.accept_latency.append(accepted - sent)
        try:
            reply = await asyncio.wait_for(self.queues[user].get(), timeout=REPLY_TIMEOUT)
        except TimeoutError:
            result.errors[f"no reply to {kind} within {REPLY_TIMEOUT:.0f} s"] += 1
            return None
        result.latency[kind].append(reply.at - sent)
        if not self.echo and not any(word in reply.text for word in expected(kind)):
            result.errors[f"unexpected reply to {kind}"] += 1
            if len(result.samples) < 5:
                result.samples.append(f"{kind}: {reply.text[:160]!r}")
        return reply

    # --- the secretaries ---------------------------------------------------------------------------

    async def _confirm(self, client: httpx.AsyncClient, user: int, summary: Reply, rng: random.Random) -> int:
        """Press Xác nhận on the summary (its callback data from the inline keyboard), or type "1"."""
        data = "confirm:echo"
        if not self.echo:
            buttons = [b for row in (summary.markup or {}).get("inline_keyboard", []) for b in row]
            found = [
                b["callback_data"] for b in buttons if str(b.get("callback_data", "")).startswith("confirm:")
            ]
            data = found[0] if found else ""
        if data and rng.random() < 0.5:
            reply = await self._step(
                client, user, "confirm-press", self._press(user, data, summary), confirm=True
            )
        else:
            reply = await self._step(client, user, "confirm-typed", self._message(user, "1"), confirm=True)
        if reply is not None and "Mã biên nhận" in reply.text:
            self.result.receipts.append(reply.text.split("Mã biên nhận:")[1].split(".")[0].strip())
        return 1

    async def _scenario(self, client: httpx.AsyncClient, user: int, name: str, rng: random.Random) -> int:
        """One piece of a secretary's day; returns how many updates it took."""
        if name == "tiendo":
            await self._step(client, user, "tiendo", self._message(user, "/tiendo"))
            return 1
        if name == "baocao":
            await self._step(client, user, "baocao", self._message(user, "/baocao"))
            return 1
        n = self.reports[user]
        self.reports[user] += 1
        if name == "full":
            summary = await self._step(client, user, "report", self._message(user, full_report(n)))
            summary, count = await self._past_open_draft(client, user, summary)
            if summary is None:
                return 1 + count
            return 1 + count + await self._confirm(client, user, summary, rng)
        # guided: a short report, its breakdowns asked in one message; answered typed or by button
        question = await self._step(client, user, "short", self._message(user, short_report(n)))
        question, count = await self._past_open_draft(client, user, question)
        count += 1
        if question is None:
            return count
        buttons = [b for row in (question.markup or {}).get("inline_keyboard", []) for b in row]
        unknown = [b["callback_data"] for b in buttons if b.get("text") == "Không rõ"]
        if (unknown or self.echo) and rng.random() < 0.5:
            data = unknown[0] if unknown else "ans:echo:unknown"
            reply = await self._step(client, user, "press-answer", self._press(user, data, question))
        else:
            reply = await self._step(client, user, "summary", self._message(user, GUIDED_ANSWER))
        count += 1
        if reply is None:
            return count
        return count + await self._confirm(client, user, reply, rng)

    async def _past_open_draft(
        self, client: httpx.AsyncClient, user: int, reply: Reply | None
    ) -> tuple[Reply | None, int]:
        """A report sent while an earlier one is still open (its confirmation lost, say) is asked
        about: the secretary replaces the old draft with the new report, as most would."""
        if reply is None or self.echo or OPEN_DRAFT not in reply.text:
            return reply, 0
        buttons = [b for row in (reply.markup or {}).get("inline_keyboard", []) for b in row]
        data = next(
            (str(b["callback_data"]) for b in buttons if str(b["callback_data"]).startswith("new:")), ""
        )
        update = self._press(user, data, reply) if data else self._message(user, "2")
        return await self._step(client, user, "replace", update), 1

    async def _secretary(self, client: httpx.AsyncClient, index: int) -> None:
        user = USER_BASE + index
        rng = random.Random(self.seed * 100_003 + index)
        names, weights = [name for name, _ in SCENARIOS], [weight for _, weight in SCENARIOS]
        await asyncio.sleep(rng.random() * 0.5)  # not all 200 at the same instant
        reply = await self._step(
            client, user, "register", self._message(user, f"/dangky {self.codes[index]}")
        )
        if reply is None:
            return
        used = 1
        while used < self.per_secretary:
            if time.monotonic() > self._deadline:
                self.result.stopped_by_time = True
                return
            used += await self._scenario(client, user, rng.choices(names, weights)[0], rng)

    async def run(self) -> LoadResult:
        limits = httpx.Limits(max_connections=len(self.codes), max_keepalive_connections=len(self.codes))
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0)) as client:
            self.result.started = time.monotonic()
            self._deadline = self.result.started + self.time_limit
            await asyncio.gather(*(self._secretary(client, i) for i in range(len(self.codes))))
            self.result.finished = time.monotonic()
        return self.result

    def leftover_replies(self) -> int:
        """Messages nobody waited for: a second answer to one update, or an error message."""
        return sum(q.qsize() for q in self.queues.values()) + sum(self.unexpected_chats.values())
