"""A fake Bot API: python-telegram-bot talks to it through its request interface, no network.

It records every call and answers like Telegram would, so tests drive the real Application,
handlers and error handler and assert on what the user would see.
"""

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.error import TimedOut
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "Tiến độ",
    "username": "tiendo_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


class FakeBotAPI(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.accepted: list[Call] = []  # messages Telegram took (answered 200)
        self.fail_methods: dict[str, int] = {}  # method -> HTTP status to answer with, every time
        # method -> answers to give, in order, before answering normally: (HTTP status, error payload)
        self.script: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.blocked_chats: set[int] = set()  # answered 403, as for a user who blocked the bot
        self._message_ids = itertools.count(1000)

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params: dict[str, Any] = dict(request_data.parameters) if request_data is not None else {}
        self.calls.append(Call(name, params))
        if name in self.fail_methods:
            status = self.fail_methods[name]
            return status, json.dumps(
                {"ok": False, "error_code": status, "description": "Fake failure"}
            ).encode()
        if self.script.get(name):
            status, payload = self.script[name].pop(0)
            if status == 0:  # a time-out: the request never got an answer
                raise TimedOut("fake time-out")
            return status, json.dumps({"ok": False, "error_code": status, **payload}).encode()
        if name == "sendMessage" and int(params.get("chat_id", 0)) in self.blocked_chats:
            body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
            return 403, json.dumps(body).encode()
        if name == "sendMessage":
            self.accepted.append(Call(name, params))
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT
        if name in ("sendMessage", "editMessageReplyMarkup", "editMessageText"):
            return {
                "message_id": params.get("message_id") or next(self._message_ids),
                "date": 1698800000,
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT,
                "text": params.get("text", ""),
                **({"reply_markup": params["reply_markup"]} if params.get("reply_markup") else {}),
            }
        if name == "getUpdates":
            return []
        return True

    def sent(self, chat_id: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == "sendMessage" and (chat_id is None or int(c.params["chat_id"]) == chat_id)
        ]

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [c.params["text"] for c in self.sent(chat_id)]

    def buttons(self, call: Call) -> list[tuple[str, str]]:
        markup = call.params.get("reply_markup")
        if not markup:
            return []
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


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
