"""A Bot API stand-in on loopback (HTTP), for running the real `tiendo run` process against."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs

BOT = {"id": 7000000001, "is_bot": True, "first_name": "Tiến độ", "username": "tiendo_test_bot"}


class FakeBotServer:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.confirmed = 0  # like Telegram: an offset confirms every update below it, for good
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(body or "{}")
                else:
                    params = {k: v[0] for k, v in parse_qs(body).items()}
                method = self.path.rsplit("/", 1)[-1]
                result = server.answer(method, params)
                payload = json.dumps({"ok": True, "result": result}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/bot"

    def answer(self, method: str, params: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append((method, params))
            if method == "getMe":
                return BOT
            if method == "getUpdates":
                self.confirmed = max(self.confirmed, int(params.get("offset") or 0))
                return [u for u in self.updates if u["update_id"] >= self.confirmed]
            if method == "sendMessage":
                return {
                    "message_id": len(self.calls),
                    "date": 1698800000,
                    "chat": {"id": int(params["chat_id"]), "type": "private"},
                    "from": BOT,
                    "text": params.get("text", ""),
                }
            return True

    def add_message(self, user_id: int, text: str) -> None:
        with self.lock:
            update_id = len(self.updates) + 1
            self.updates.append(
                {
                    "update_id": update_id,
                    "message": {
                        "message_id": update_id,
                        "date": 1698800000,
                        "chat": {"id": user_id, "type": "private"},
                        "from": {"id": user_id, "is_bot": False, "first_name": "Lan"},
                        "text": text,
                    },
                }
            )

    def sent_texts(self) -> list[str]:
        with self.lock:
            return [p["text"] for m, p in self.calls if m == "sendMessage"]

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
