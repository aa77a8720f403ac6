"""bench_chaos's secretaries: bench/_e2e_load.py's, made to survive a server that dies under them.

- A POST that fails (connection refused or reset, time-out, any non-2xx) is sent again with the same
  update_id until it is answered 2xx, as Telegram re-delivers; in polling mode the update is pushed to
  the fake API's getUpdates queue instead (Telegram keeps it until an offset confirms it).
- Every sendMessage is attributed to the update it answers: the traced bot (bench/_chaos_traced.py)
  names it in the request; a reply it does not name (the apology of the error handler, if it ever
  lacked one) goes under the update its chat has in hand. So "the same text twice to the same chat
  for the same update" is a message sent twice, and a reply that came after the secretary stopped
  waiting is still counted under its own update.
- A confirmation remembers its draft (the id is in the Xác nhận button's data, `confirm:<draft>`; the
  report's idempotency key is `draft:<draft>`). When the bot answers with its apology ("sự cố … chưa
  ghi"), the secretary confirms again, as a person would; a reply that never comes ends the dialogue.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlmodel import select

from bench._e2e_load import SCENARIOS, USER_BASE, Load, Reply, expected
from storage.db import Database
from storage.models import InboxUpdate, Report, ReportStatus

APOLOGY = "sự cố"  # error.generic: nothing was recorded, send again
RECEIPT = "Mã biên nhận"
ALREADY = "đã được ghi nhận trước đó"
CONFIRM_TRIES = 3


@dataclass
class Draft:
    user: int
    acked: int = 0  # confirm updates answered 2xx (or pushed, when polling)
    apologies: int = 0
    outcome: str = "no reply"  # receipt | already | apology | no reply | other
    receipt: str = ""
    apology_after_store: bool = False  # an apology, and the next try was told "already recorded"/nothing


@dataclass
class Figures:
    """What the database and the fake API say after a run, against what the secretaries saw."""

    updates: int = 0  # distinct updates acknowledged
    posts: int = 0  # POST attempts, re-deliveries included
    not_2xx: Counter[str] = field(default_factory=Counter)
    confirmed: int = 0  # drafts with an acknowledged confirm
    reports: int = 0  # confirmed reports in the database
    lost: int = 0
    doubled: int = 0
    false_apology: int = 0  # drafts told "nothing recorded" at some try although the report is stored
    told_failure: int = 0  # drafts whose last answer was the apology: the secretary knows, not lost
    # Drafts whose confirmation was answered with another message and not stored: the secretary got no
    # receipt, so knows it is not recorded. After a restart or a storm a reply can come later than the
    # secretary waits; the next step then reads it as its own and goes on out of step with the bot
    # (a typed "1" confirms the bot's newer draft, a late summary is pressed after a newer report).
    answered_otherwise: int = 0
    unknown_reports: int = 0  # reports of drafts nobody confirmed (acknowledged)
    sent_twice: int = 0
    sent_twice_samples: list[str] = field(default_factory=list)
    # A second copy of a text counted for an update while an earlier update of the same chat and step
    # got no answer at all: most likely that update's answer, come after the secretary stopped waiting (two
    # /baocao or /tiendo in a row have the same text), so shown apart from "sent twice".
    late_same_text: int = 0
    replies_missing: int = 0  # acknowledged updates that never got an answer
    answered_twice: Counter[str] = field(default_factory=Counter)  # two different texts for one update
    inbox_unprocessed: int = 0
    inbox_failed: int = 0
    notes: list[str] = field(default_factory=list)


class Secretaries(Load):
    def __init__(
        self,
        *,
        url: str,
        secret: str,
        codes: list[str],
        per_secretary: int,
        time_limit: float,
        reply_timeout: float,
        push: Callable[[dict[str, Any]], None] | None = None,
        seed: int = 7,
    ) -> None:
        super().__init__(
            url=url, secret=secret, codes=codes, per_secretary=per_secretary, time_limit=time_limit,
            echo=False, seed=seed,
        )  # fmt: skip
        self.reply_timeout = reply_timeout
        self.push = push  # polling mode: hand the update to getUpdates instead of POSTing it
        self.current: dict[int, int] = {}  # chat -> the update it has in hand
        self.in_flight: dict[int, str] = {}  # chat -> kind of the step waiting for its answer
        self.texts: dict[int, Counter[str]] = defaultdict(Counter)  # update_id -> texts sent for it
        self.acked: dict[int, str] = {}  # update_id -> kind
        self.chat_of: dict[int, int] = {}  # update_id -> chat
        self.answered: set[int] = set()
        self.drafts: dict[str, Draft] = {}
        self.posts = 0
        self.not_2xx: Counter[str] = Counter()
        self.late = 0
        self.post_latency: list[float] = []
        self.traced = 0  # replies the bot named the update of (bench/_chaos_traced.py)
        self.untraced = 0  # replies counted under the update their chat had in hand
        self.moved_on = 0  # traced replies that came when their chat had another update in hand

    # --- the fake API's side ----------------------------------------------------------------------

    def on_call(self, method: str, params: dict[str, Any], at: float) -> None:
        if method == "sendMessage":
            chat = int(params.get("chat_id") or 0)
            traced = params.get("_update")
            update = traced if isinstance(traced, int) else self.current.get(chat)
            self.traced += isinstance(traced, int)
            self.untraced += not isinstance(traced, int)
            # What the old attribution (by the update the chat has in hand) would have got wrong.
            self.moved_on += isinstance(traced, int) and self.current.get(chat) != traced
            if update is not None:
                self.texts[update][str(params.get("text", ""))] += 1
        super().on_call(method, params, at)

    # --- delivering an update ----------------------------------------------------------------------

    async def _deliver(self, client: httpx.AsyncClient, update: dict[str, Any]) -> bool:
        """Until 2xx (or the harness's patience, 3 minutes, runs out)."""
        if self.push is not None:
            self.push(update)
            self.posts += 1
            return True
        body = json.dumps(update, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": self.secret}
        give_up = time.monotonic() + 180
        attempt = 0
        while True:
            self.posts += 1
            try:
                response = await client.post(self.url, content=body, headers=headers)
            except httpx.TransportError as error:
                self.not_2xx[type(error).__name__] += 1
            else:
                if 200 <= response.status_code < 300:
                    return True
                self.not_2xx[f"HTTP {response.status_code}"] += 1
            if time.monotonic() > give_up:
                return False
            attempt += 1
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))

    async def _step(
        self,
        client: httpx.AsyncClient,
        user: int,
        kind: str,
        update: dict[str, Any],
        *,
        confirm: bool = False,
    ) -> Reply | None:
        queue = self.queues[user]
        while not queue.empty():  # answers to an earlier update that came after its time-out
            queue.get_nowait()
            self.late += 1
        update_id = int(update["update_id"])
        self.current[user] = update_id
        self.chat_of[update_id] = user
        self.in_flight[user] = kind
        sent = time.monotonic()
        try:
            if not await self._deliver(client, update):
                self.result.errors[f"{kind} never accepted"] += 1
                return None
            accepted = time.monotonic()
            self.post_latency.append(accepted - sent)
            self.acked[update_id] = kind
            self.result.accepted.append(accepted)
            if confirm:
                self.result.confirms_sent[str(user)] += 1
            try:
                reply = await asyncio.wait_for(queue.get(), timeout=self.reply_timeout)
            except TimeoutError:
                self.result.errors[f"no reply to {kind} within {self.reply_timeout:.0f} s"] += 1
                return None
            self.answered.add(update_id)
            self.result.latency[kind].append(reply.at - sent)
            fine = (*expected(kind), APOLOGY) + ((ALREADY,) if kind.startswith("confirm") else ())
            if not any(word in reply.text for word in fine):
                self.result.errors[f"unexpected reply to {kind}"] += 1
                if len(self.result.samples) < 5:
                    self.result.samples.append(f"{kind}: {reply.text[:160]!r}")
            return reply
        finally:
            self.in_flight.pop(user, None)

    async def _confirm(self, client: httpx.AsyncClient, user: int, summary: Reply, rng: Any) -> int:
        """Press Xác nhận or type "1"; again after an apology, up to CONFIRM_TRIES times."""
        buttons = [b for row in (summary.markup or {}).get("inline_keyboard", []) for b in row]
        data = next(
            (
                str(b["callback_data"])
                for b in buttons
                if str(b.get("callback_data", "")).startswith("confirm:")
            ),
            "",
        )
        if not data:
            self.result.errors["summary without a Xác nhận button"] += 1
            return 0
        draft = self.drafts.setdefault(data.split(":", 2)[1], Draft(user))
        used = 0
        for _ in range(CONFIRM_TRIES):
            press = rng.random() < 0.5
            update = self._press(user, data, summary) if press else self._message(user, "1")
            reply = await self._step(
                client, user, "confirm-press" if press else "confirm-typed", update, confirm=True
            )
            used += 1
            if int(update["update_id"]) in self.acked:
                draft.acked += 1
            if reply is None:
                draft.outcome = "no reply"
                break
            if RECEIPT in reply.text:
                draft.outcome, draft.receipt = (
                    "receipt",
                    reply.text.split(f"{RECEIPT}:")[1].split(".")[0].strip(),
                )
                self.result.receipts.append(draft.receipt)
                break
            if ALREADY in reply.text:
                draft.apology_after_store = draft.outcome == "apology"
                draft.outcome = "already"
                break
            if APOLOGY in reply.text:
                draft.apologies += 1
                draft.outcome = "apology"
                continue
            # e.g. a typed "1" not understood: the draft was already confirmed when the apology came
            draft.apology_after_store = draft.outcome == "apology"
            draft.outcome = "other"
            break
        return used

    async def _secretary(self, client: httpx.AsyncClient, index: int) -> None:
        """As Load's, but an unanswered /dangky is sent again (a new message), then the day goes on."""
        user = USER_BASE + index
        rng = random.Random(self.seed * 100_003 + index)
        names, weights = [name for name, _ in SCENARIOS], [weight for _, weight in SCENARIOS]
        await asyncio.sleep(rng.random() * 0.5)
        for _ in range(3):
            register = self._message(user, f"/dangky {self.codes[index]}")
            if await self._step(client, user, "register", register) is not None:
                break
        used = 1
        while used < self.per_secretary and time.monotonic() < self._deadline:
            used += await self._scenario(client, user, rng.choices(names, weights)[0], rng)

    # --- figures ---------------------------------------------------------------------------------------

    def confirms_in_flight(self) -> int:
        return sum(1 for kind in self.in_flight.values() if kind.startswith("confirm"))

    def figures(self, database_url: str) -> Figures:
        f = Figures(updates=len(self.acked), posts=self.posts, not_2xx=self.not_2xx)
        database = Database(database_url)
        try:
            with database.session() as session:
                rows = session.exec(
                    select(Report.idempotency_key, Report.receipt_code).where(
                        Report.status == ReportStatus.confirmed
                    )
                ).all()
                inbox = session.exec(select(InboxUpdate.processed_at, InboxUpdate.last_error)).all()
        finally:
            database.dispose()
        f.reports = len(rows)
        by_key = Counter(str(key) for key, _ in rows)
        receipts = {str(code) for _, code in rows}
        f.doubled = sum(n - 1 for n in by_key.values() if n > 1)
        for draft_id, draft in self.drafts.items():
            if not draft.acked:
                continue
            f.confirmed += 1
            stored = by_key.get(f"draft:{draft_id}", 0)
            f.false_apology += bool(stored and draft.apology_after_store)
            if stored == 0:
                if draft.outcome == "apology":
                    f.told_failure += 1  # the last word was "nothing recorded, send again"
                elif draft.outcome == "other":
                    f.answered_otherwise += 1  # no receipt: not believed recorded, not lost
                else:
                    f.lost += 1
                    if len(f.notes) < 5:
                        f.notes.append(
                            f"draft {draft_id}: {draft.acked} confirms acknowledged, {draft.outcome}"
                        )
            elif draft.receipt and draft.receipt not in receipts:
                f.lost += 1  # a receipt the secretary holds that the database does not know
        known = {f"draft:{d}" for d, draft in self.drafts.items() if draft.acked}
        f.unknown_reports = sum(n for key, n in by_key.items() if key not in known)
        # (chat, kind) -> its updates without any answer: only the same step gives the same text
        unanswered: dict[tuple[int, str], list[int]] = defaultdict(list)
        for update_id, kind in sorted(self.acked.items()):
            if not self.texts.get(update_id):
                unanswered[self.chat_of.get(update_id, 0), kind].append(update_id)
        for update_id, texts in sorted(self.texts.items()):
            for text, n in texts.items():
                extra = n - 1
                earlier = unanswered[self.chat_of.get(update_id, 0), self.acked.get(update_id, "?")]
                while extra > 0 and earlier and earlier[0] < update_id:
                    earlier.pop(0)  # each unanswered update explains one copy at most
                    f.late_same_text += 1
                    extra -= 1
                if extra > 0:
                    f.sent_twice += extra
                    if len(f.sent_twice_samples) < 3:
                        kind = self.acked.get(update_id, "?")
                        f.sent_twice_samples.append(f"{n}× to one {kind} update: {text[:70]!r}")
        f.replies_missing = sum(1 for u in self.acked if not self.texts.get(u))
        # One update, two different messages (e.g. a receipt, then "already recorded" after a restart).
        f.answered_twice = Counter(
            " + ".join(sorted(t[:30] for t in texts)) for texts in self.texts.values() if len(texts) > 1
        )
        f.inbox_unprocessed = sum(1 for processed, _ in inbox if processed is None)
        f.inbox_failed = sum(1 for processed, error in inbox if processed is None and error)
        return f
