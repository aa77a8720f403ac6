"""A Zalo Bot platform stand-in on loopback (HTTP), for testing the Zalo client and channel."""

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

TOKEN = "1234567890:fake-zalo-SECRET-token"
BOT = {"id": "7000000001", "account_name": "bot.tiendo", "account_type": "BASIC", "can_join_groups": False}
EVENTS = (
    "message.text.received",
    "message.image.received",
    "message.sticker.received",
    "message.unsupported.received",
)
MAX_TEXT = 2000
LONGEST_WAIT = 1.0  # getUpdates waits at most this long before its 408, to keep tests fast


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeZaloServer:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []  # waiting for getUpdates, oldest first
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every call made with the right token
        self.failures: dict[str, list[tuple[int, str]]] = {}
        self.webhook_url = ""
        self.webhook_secret = ""
        self.next_id = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)  # wakes a waiting getUpdates
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                try:
                    params = json.loads(body or "{}")
                except ValueError:
                    params = None
                # The path is /bot<TOKEN>/<method>.
                _, _, rest = self.path.partition("/bot")
                token, _, method = rest.partition("/")
                if unquote(token) != server.token:
                    self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                elif not isinstance(params, dict):
                    self.reply(400, {"ok": False, "error_code": 400, "description": "Body is not JSON"})
                else:
                    self.reply(*server.answer(method, params))

            do_GET = do_POST

            def reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval makes shutdown quick (the default would add 0.5 s to every test).
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def new_id(self) -> str:
        """A fresh message id (unique strings, like the platform's)."""
        with self.lock:
            self.next_id += 1
            return f"{self.next_id:032x}"

    # --- the platform's side ---------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((method, params))
            failures = self.failures.get(method)
            if failures:
                status, description = failures.pop(0)
                return status, {"ok": False, "error_code": status, "description": description}
        if method == "getUpdates":
            return self.poll(float(params.get("timeout") or 0))
        if method == "getMe":
            return self.ok(BOT)
        if method == "sendMessage":
            text = params.get("text")
            if not params.get("chat_id") or not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
                return self.refuse(400, f"chat_id and text (1-{MAX_TEXT} characters) are required")
            return self.ok({"message_id": self.new_id(), "date": _now_ms()})
        if method == "sendPhoto":
            if not params.get("chat_id") or not params.get("photo"):
                return self.refuse(400, "chat_id and photo are required")
            return self.ok({"message_id": self.new_id(), "date": _now_ms()})
        if method == "sendChatAction":
            if not params.get("chat_id") or not params.get("action"):
                return self.refuse(400, "chat_id and action are required")
            return self.ok(True)
        if method == "setWebhook":
            url, secret = params.get("url"), params.get("secret_token")
            if not url or not isinstance(secret, str) or not 8 <= len(secret) <= 256:
                return self.refuse(400, "url and secret_token (8-256 characters) are required")
            with self.lock:
                self.webhook_url, self.webhook_secret = url, secret
            return self.ok({"url": url, "updated_at": _now_ms()})
        if method == "deleteWebhook":
            with self.lock:
                self.webhook_url, self.webhook_secret = "", ""
            return self.ok({"url": "", "updated_at": _now_ms()})
        if method == "getWebhookInfo":
            with self.lock:
                return self.ok({"url": self.webhook_url, "updated_at": _now_ms()})
        return self.refuse(404, "Not Found")

    def poll(self, timeout: float) -> tuple[int, dict[str, Any]]:
        """One update per call, or 408 when none arrived in time (waits at most LONGEST_WAIT)."""
        with self.arrived:
            if self.arrived.wait_for(lambda: self.updates, timeout=min(timeout, LONGEST_WAIT)):
                return self.ok(self.updates.pop(0))
        return self.refuse(408, "Request timeout")

    @staticmethod
    def ok(result: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def refuse(status: int, description: str) -> tuple[int, dict[str, Any]]:
        return status, {"ok": False, "error_code": status, "description": description}

    # --- what tests do ---------------------------------------------------------------------------

    def make_update(
        self, event_name: str, user_id: str, text: str | None, display_name: str, message_id: str | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "from": {"id": str(user_id), "display_name": display_name, "is_bot": False},
            "chat": {"id": str(user_id), "chat_type": "PRIVATE"},
            "message_id": message_id or self.new_id(),
            "date": _now_ms(),
        }
        if text is not None:
            message["text"] = text
        return {"event_name": event_name, "message": message}

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.arrived:
            self.updates.append(update)
            self.arrived.notify_all()
        return update

    def add_text(
        self, user_id: str, text: str, display_name: str = "Lan", message_id: str | None = None
    ) -> dict[str, Any]:
        """Queues a text message from `user_id` (pass `message_id` again to imitate a redelivery)."""
        return self.queue(self.make_update("message.text.received", user_id, text, display_name, message_id))

    def add_event(self, event_name: str, user_id: str, display_name: str = "Lan") -> dict[str, Any]:
        """Queues a non-text event: "image", "sticker", "unsupported" or the full event name."""
        if "." not in event_name:
            event_name = f"message.{event_name}.received"
        if event_name not in EVENTS:
            raise ValueError(f"unknown event {event_name!r}")
        return self.queue(self.make_update(event_name, user_id, None, display_name, None))

    def fail_next(self, method: str, status: int, description: str = "Injected failure") -> None:
        """Answers the next call to `method` with HTTP `status` and that error (calls queue up)."""
        with self.lock:
            self.failures.setdefault(method, []).append((status, description))

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        with self.lock:
            return [
                p["text"]
                for m, p in self.calls
                if m == "sendMessage" and (chat_id is None or p.get("chat_id") == chat_id)
            ]

    @property
    def photos(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for m, p in self.calls if m == "sendPhoto"]

    def deliver_webhook(self, update: dict[str, Any]) -> int:
        """POSTs `update` to the registered webhook, as the platform would; returns the HTTP status."""
        with self.lock:
            url, secret = self.webhook_url, self.webhook_secret
        if not url:
            raise RuntimeError("no webhook is set")
        return self.post_forged(update, secret, url)

    def post_forged(self, update: dict[str, Any], secret: str, url: str | None = None) -> int:
        """POSTs `update` to the webhook (or `url`) with any secret; returns the HTTP status."""
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook is set")
        request = urllib.request.Request(
            target,
            data=json.dumps({"ok": True, "result": update}).encode(),
            headers={"Content-Type": "application/json", "X-Bot-Api-Secret-Token": secret},
            method="POST",
        )
        # No proxy from the environment: the webhook is on loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def __enter__(self) -> "FakeZaloServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
