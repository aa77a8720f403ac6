"""A Zalo Bot platform stand-in on loopback (HTTP), for testing the Zalo client and channel.

It behaves as the platform is documented and was observed (docs/design.md), awkward parts included:
- getUpdates returns ONE update and has no offset: while it has updates it answers at once, and it
  serves updates it already delivered again (replays) for `replay_seconds` after they were first
  delivered. With nothing to give it waits, then answers "no update" as HTTP 408, or as HTTP 200
  with error_code 408 in the body (`empty`: "408", "200", or "alternate"). While a webhook is set,
  getUpdates is refused.
- setWebhook takes only an https:// URL and a secret_token of 8 to 256 characters; getWebhookInfo
  without a webhook is a 404.
- Group chats: the bot is given a group message only when it mentions the bot ("@<title> …") or
  replies to one of its messages.
- A quota of outgoing messages (`quota`): past it, sendMessage and sendPhoto answer 429.
- Image messages carry `photo_url`.
Webhook calls go to the registered https:// URL through `forward_to` (the http address a
TLS-terminating proxy would pass them to), wrapped as {ok, result} or bare.
"""

import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

TOKEN = "1234567890:fake-zalo-SECRET-token"
# What getMe answers (the documented fields: no display name).
BOT = {"id": "7000000001", "account_name": "bot.tiendo", "account_type": "BASIC", "can_join_groups": True}
TITLE = "Bot Tiến Độ Thanh Hà"  # the bot's name as members see it (a mention is "@" and this)
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
    def __init__(
        self,
        token: str = TOKEN,
        *,
        replay_seconds: float = 20.0,
        empty: str = "408",
        quota: int | None = None,
        title: str = TITLE,
        more_tokens: tuple[str, ...] = (),
    ) -> None:
        self.token = token
        # Several bots of one deployment talk to the same platform; their updates are not modelled,
        # only what they send (`sent_by`).
        self.tokens = {token, *more_tokens}
        self.senders: list[str] = []  # the token of each call in `calls`, in step
        self.replay_seconds = replay_seconds
        self.empty = empty
        self.quota = quota
        self.title = title
        self.updates: list[dict[str, Any]] = []  # waiting for getUpdates, oldest first
        self.delivered: list[tuple[dict[str, Any], float]] = []  # given out, with when (for replays)
        self.replays_served = 0
        self._empties = 0
        self._replay_turn = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []  # every call made with the right token
        self.call_times: list[tuple[str, float]] = []
        self.failures: dict[str, list[tuple[int, str] | None]] = {}  # None: answer that call normally
        self.accepted: list[tuple[str, dict[str, Any]]] = []  # messages (texts, photos) the platform took
        self.webhook_url = ""
        self.webhook_secret = ""
        self.forward_to = ""  # http://127.0.0.1:PORT: where the "proxy" sends the registered URL's calls
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
                if unquote(token) not in server.tokens:
                    self.reply(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                elif not isinstance(params, dict):
                    self.reply(400, {"ok": False, "error_code": 400, "description": "Body is not JSON"})
                else:
                    self.reply(*server.answer(method, params, unquote(token)))

            do_GET = do_POST

            def reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting (a stopping poller)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval makes shutdown quick (the default would add 0.5 s to every test).
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def new_id(self) -> str:
        """A fresh message id (unique hex strings, like the platform's)."""
        with self.lock:
            self.next_id += 1
            return f"{self.next_id:020x}"

    # --- the platform's side ---------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any], token: str = "") -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((method, params))
            self.senders.append(token or self.token)
            self.call_times.append((method, time.monotonic()))
            failures = self.failures.get(method)
            failure = failures.pop(0) if failures else None
            if failure is not None:
                status, description = failure
                return status, {"ok": False, "error_code": status, "description": description}
        if method == "getUpdates":
            return self.poll(float(params.get("timeout") or 0))
        if method == "getMe":
            return self.ok(BOT)
        if method == "sendMessage":
            text = params.get("text")
            if not params.get("chat_id") or not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
                return self.refuse(400, f"chat_id and text (1-{MAX_TEXT} characters) are required")
            return self.take(method, params)
        if method == "sendPhoto":
            caption = params.get("caption")
            if not params.get("chat_id") or not params.get("photo"):
                return self.refuse(400, "chat_id and photo are required")
            if caption is not None and not 1 <= len(caption) <= MAX_TEXT:
                return self.refuse(400, f"caption takes 1-{MAX_TEXT} characters")
            return self.take(method, params)
        if method == "sendChatAction":
            if not params.get("chat_id") or not params.get("action"):
                return self.refuse(400, "chat_id and action are required")
            return self.ok(True)
        if method == "setWebhook":
            url, secret = params.get("url"), params.get("secret_token")
            if not isinstance(url, str) or not url.startswith("https://"):
                return self.refuse(400, "url must be an HTTPS URL")
            if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
                return self.refuse(400, "secret_token must have 8-256 characters")
            with self.lock:
                self.webhook_url, self.webhook_secret = url, secret
            return self.ok({"url": url, "updated_at": _now_ms()})
        if method == "deleteWebhook":
            with self.lock:
                self.webhook_url, self.webhook_secret = "", ""
            return self.ok({"url": "", "updated_at": _now_ms()})
        if method == "getWebhookInfo":
            with self.lock:
                if not self.webhook_url:
                    return self.refuse(404, "Not Found")
                return self.ok({"url": self.webhook_url, "updated_at": _now_ms()})
        return self.refuse(404, "Not Found")

    def take(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A message accepted, unless the quota is spent."""
        with self.lock:
            if self.quota is not None and len(self.accepted) >= self.quota:
                return self.refuse(429, "Quota exceeded")
            self.accepted.append((method, params))
        return self.ok({"message_id": self.new_id(), "date": _now_ms()})

    def poll(self, timeout: float) -> tuple[int, dict[str, Any]]:
        """One update per call: a new one, else a fresh one again, else 408 after waiting."""
        with self.arrived:
            if self.webhook_url:
                return self.refuse(400, "Webhook is set: getUpdates is not available")
            if self.updates:
                return self.ok(self._give())
            fresh = [u for u, at in self.delivered if time.monotonic() - at < self.replay_seconds]
            if fresh:
                self.replays_served += 1
                self._replay_turn += 1
                return self.ok(fresh[self._replay_turn % len(fresh)])
            if self.arrived.wait_for(lambda: self.updates, timeout=min(timeout, LONGEST_WAIT)):
                return self.ok(self._give())
            self._empties += 1
            as_200 = self.empty == "200" or (self.empty == "alternate" and self._empties % 2 == 0)
        body = {"ok": False, "error_code": 408, "description": "Request timeout"}
        return (200 if as_200 else 408), body

    def _give(self) -> dict[str, Any]:
        update = self.updates.pop(0)
        self.delivered.append((update, time.monotonic()))
        return update

    @staticmethod
    def ok(result: Any) -> tuple[int, dict[str, Any]]:
        return 200, {"ok": True, "result": result}

    @staticmethod
    def refuse(status: int, description: str) -> tuple[int, dict[str, Any]]:
        return status, {"ok": False, "error_code": status, "description": description}

    # --- what tests do ---------------------------------------------------------------------------

    def make_update(
        self,
        event_name: str,
        user_id: str,
        text: str | None,
        display_name: str,
        message_id: str | None,
        *,
        group: str | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "from": {"id": str(user_id), "display_name": display_name, "is_bot": False},
            "chat": {"id": group or str(user_id), "chat_type": "GROUP" if group else "PRIVATE"},
            "message_id": message_id or self.new_id(),
            "date": _now_ms(),
        }
        if text is not None:
            message["text"] = text
        if event_name == "message.image.received":
            message["photo_url"] = f"https://photo.zalo.example/{message['message_id']}.jpg"
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

    def group_update(
        self,
        group: str,
        user_id: str,
        text: str,
        *,
        mention: bool = True,
        reply: bool = False,
        display_name: str = "Lan",
        message_id: str | None = None,
    ) -> dict[str, Any] | None:
        """A message in a group chat, as the bot gets it: only if it mentions the bot or replies to it
        (None otherwise: the platform does not pass it on)."""
        if not mention and not reply:
            return None
        body = f"@{self.title} {text}" if mention else text
        return self.make_update("message.text.received", user_id, body, display_name, message_id, group=group)

    def add_group_text(self, group: str, user_id: str, text: str, **options: Any) -> dict[str, Any] | None:
        update = self.group_update(group, user_id, text, **options)
        return self.queue(update) if update is not None else None

    def add_event(self, event_name: str, user_id: str, display_name: str = "Lan") -> dict[str, Any]:
        """Queues a non-text event: "image", "sticker", "unsupported" or the full event name."""
        if "." not in event_name:
            event_name = f"message.{event_name}.received"
        if event_name not in EVENTS:
            raise ValueError(f"unknown event {event_name!r}")
        return self.queue(self.make_update(event_name, user_id, None, display_name, None))

    def fail_next(
        self, method: str, status: int, description: str = "Injected failure", *, after: int = 0
    ) -> None:
        """Answers the next call to `method` (or the one after `after` normal ones) with HTTP `status`
        and that error; failures queue up."""
        with self.lock:
            self.failures.setdefault(method, []).extend([None] * after + [(status, description)])

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        """Texts of the sendMessage calls (accepted or not)."""
        with self.lock:
            return [
                p["text"]
                for m, p in self.calls
                if m == "sendMessage" and (chat_id is None or p.get("chat_id") == chat_id)
            ]

    def sent_by(self, token: str) -> list[tuple[str, str]]:
        """(chat, text) of the sendMessage calls a bot made."""
        with self.lock:
            return [
                (str(p.get("chat_id")), str(p.get("text")))
                for (m, p), who in zip(self.calls, self.senders, strict=True)
                if m == "sendMessage" and who == token
            ]

    def delivered_texts(self, chat_id: str | None = None) -> list[str]:
        """Texts the platform accepted (sendMessage only), in order."""
        with self.lock:
            return [
                p["text"]
                for m, p in self.accepted
                if m == "sendMessage" and (chat_id is None or p.get("chat_id") == chat_id)
            ]

    def polls_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(1 for m, at in self.call_times if m == "getUpdates" and start <= at < end)

    @property
    def photos(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for m, p in self.calls if m == "sendPhoto"]

    def local(self, url: str) -> str:
        """The http address behind the proxy of a public https URL (the registered webhook, a file link)."""
        if not self.forward_to:
            return url
        parts = urlsplit(url)
        return self.forward_to.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")

    def deliver_webhook(self, update: dict[str, Any], *, wrapped: bool = True) -> int:
        """POSTs `update` to the registered webhook, as the platform would; returns the HTTP status."""
        with self.lock:
            url, secret = self.webhook_url, self.webhook_secret
        if not url:
            raise RuntimeError("no webhook is set")
        return self.post_forged(update, secret, url, wrapped=wrapped)

    def post_forged(
        self, update: dict[str, Any], secret: str | None, url: str | None = None, *, wrapped: bool = True
    ) -> int:
        """POSTs `update` to the webhook (or `url`) with any secret (None: no header); returns the status."""
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook is set")
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(
            self.local(target), data=json.dumps(body).encode(), headers=headers, method="POST"
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
        with self.arrived:
            self.arrived.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()
