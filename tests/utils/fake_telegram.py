"""Driving the real Application as a Telegram user would, against the fake Bot API.

The Harness sends updates (messages, button presses, group messages) straight into the Application, or
through the web backend's webhook, and reads back what the bot sent through tests/utils/fake_bot_api.py.
"""

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.channels.telegram import build_application
from handlers.types import Services
from storage.db import Database
from storage.models import Role
from tests.utils.builders import invite
from tests.utils.fake_bot_api import BOT, FakeBotAPI

GROUP = {"id": -1001234567890, "type": "supergroup", "title": "Chi ủy xã Kiện Khê"}


@dataclass
class TelegramUser:
    id: int
    first_name: str = "Nguyễn Văn"
    last_name: str = "Bí Thư"


@dataclass
class Harness:
    """Sends updates as a Telegram user would; reads back what the bot sent."""

    app: Application
    api: FakeBotAPI
    update_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    # When set, updates go through POST /telegram/webhook of the web backend instead of straight in.
    web: Any = None  # (httpx.AsyncClient, WebRuntime, secret)

    def _user(self, user: TelegramUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "is_bot": False,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "language_code": "vi",
        }

    async def feed(self, payload: dict[str, Any]) -> None:
        if self.web is None:
            await self.app.process_update(Update.de_json(payload, self.app.bot))
            return
        client, runtime, secret = self.web
        response = await client.post(
            "/telegram/webhook", json=payload, headers={"X-Telegram-Bot-Api-Secret-Token": secret}
        )
        assert response.status_code == 200, response.text
        await runtime.wait_idle()

    def message_update(
        self, user: TelegramUser, text: str | None = None, update_id: int | None = None, **extra: Any
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self.update_ids) + 500,
            "date": 1698800000,
            "chat": {"id": user.id, "type": "private"},
            "from": self._user(user),
            **extra,
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return {
            "update_id": update_id if update_id is not None else next(self.update_ids),
            "message": message,
        }

    async def send(self, user: TelegramUser, text: str | None = None, **extra: Any) -> list[str]:
        """Send a message; returns the texts the bot sent in answer."""
        before = len(self.api.sent())
        await self.feed(self.message_update(user, text, **extra))
        return [c.params["text"] for c in self.api.sent()[before:]]

    def group_update(
        self,
        user: TelegramUser,
        text: str,
        *,
        mention: bool = False,
        reply_to_bot: bool = False,
        chat: dict[str, Any] = GROUP,
    ) -> dict[str, Any]:
        """A message in a group; `mention` puts "@<bot> " before the text, as the Telegram app does."""
        entities = []
        if mention:
            handle = f"@{BOT['username']}"
            entities.append({"type": "mention", "offset": 0, "length": len(handle)})
            text = f"{handle} {text}"
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        message: dict[str, Any] = {
            "message_id": next(self.update_ids) + 500,
            "date": 1698800000,
            "chat": chat,
            "from": self._user(user),
            "text": text,
            "entities": entities,
        }
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 7,
                "date": 1698800000,
                "chat": chat,
                "from": BOT,
                "text": "Trong 2 đảng viên mới, có bao nhiêu đồng chí là nữ?",
            }
        return {"update_id": next(self.update_ids), "message": message}

    async def collect(self, payload: dict[str, Any]) -> list[tuple[int, str]]:
        """Feed an update; returns (chat, text) of what the bot sent in answer."""
        before = len(self.api.sent())
        await self.feed(payload)
        return [(int(c.params["chat_id"]), c.params["text"]) for c in self.api.sent()[before:]]

    def press_update(
        self, user: TelegramUser, data: str, update_id: int | None = None, chat: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "update_id": update_id if update_id is not None else next(self.update_ids),
            "callback_query": {
                "id": str(next(self.update_ids)),
                "from": self._user(user),
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": 1,
                    "date": 1698800000,
                    "chat": chat or {"id": user.id, "type": "private"},
                    "from": BOT,
                    "text": "…",
                },
            },
        }

    async def press(self, user: TelegramUser, data: str) -> list[str]:
        before = len(self.api.sent())
        await self.feed(self.press_update(user, data))
        return [c.params["text"] for c in self.api.sent()[before:]]

    def last_buttons(self, user: TelegramUser | int) -> dict[str, str]:
        """label -> callback data of the newest message to this user (or chat) that had buttons."""
        for call in reversed(self.api.sent(user if isinstance(user, int) else user.id)):
            buttons = self.api.buttons(call)
            if buttons:
                return dict(buttons)
        return {}


@contextlib.asynccontextmanager
async def running_bot(services: Services) -> AsyncIterator[Harness]:
    """The whole Telegram application against a fresh fake Bot API, without the rate limiter."""
    api = FakeBotAPI()
    app = build_application(
        "123:TEST", services, base_url="http://fake/bot", transport=api.transport(), rate_limit=False
    )
    await app.initialize()
    try:
        yield Harness(app=app, api=api)
    finally:
        await app.shutdown()


async def register(
    bot: Harness, database: Database, user: TelegramUser, unit: str, role: Role = Role.secretary
) -> None:
    """`user` registers for `unit` in `role` with a fresh invite, as a new user would."""
    assert "Đã đăng ký" in (await bot.send(user, f"/dangky {invite(database, unit, role)}"))[0]
