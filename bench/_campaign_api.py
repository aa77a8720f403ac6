"""A Telegram Bot API stand-in for bench_campaign, run as its own process on loopback.

It answers getMe and sendMessage like Telegram and enforces a global flood limit: at most `--rate`
sendMessage calls delivered in any one-second window (sliding by default, or per wall-clock second
with `--window fixed`). A call over the limit is answered 429 "Too Many Requests: retry after N" and
not delivered; `--inject` answers that share of calls 429 at random, whatever the load. Every
delivered (chat_id, text) is recorded, to find duplicates.

    python bench/_campaign_api.py [--rate 30] [--window sliding|fixed] [--inject 0.01] [--retry-after 1]

The first line on stdout is "port N". GET /stats returns the record as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import random
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT = {"id": 7000000001, "is_bot": True, "first_name": "Tiến độ", "username": "tiendo_bench_bot"}


def digest(text: str) -> str:
    """The text's fingerprint: the bench compares it with the outbox row's text."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class FloodLimitedAPI:
    def __init__(self, *, rate: int, window: str, inject: float, retry_after: int, seed: int) -> None:
        self.rate, self.window, self.inject, self.retry_after = rate, window, inject, retry_after
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.accepted: deque[float] = deque()  # monotonic times of deliveries in the current window
        self.second = 0  # the wall-clock second counted (fixed window)
        self.delivered: list[tuple[int, str, float]] = []  # (chat_id, digest, wall-clock time)
        self.limited = self.injected = self.requests = 0

    def send_message(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id, text = int(params["chat_id"]), str(params.get("text", ""))
        with self.lock:
            self.requests += 1
            if self.rng.random() < self.inject:
                self.injected += 1
                return self._too_many(self.retry_after)
            now = time.monotonic()
            if self.window == "fixed":
                second = int(time.time())
                if second != self.second:
                    self.second = second
                    self.accepted.clear()
                if len(self.accepted) >= self.rate:
                    self.limited += 1
                    return self._too_many(1)
            else:
                while self.accepted and self.accepted[0] <= now - 1.0:
                    self.accepted.popleft()
                if len(self.accepted) >= self.rate:
                    self.limited += 1
                    # Telegram gives whole seconds: the time until the oldest delivery leaves the window.
                    return self._too_many(max(1, math.ceil(self.accepted[0] + 1.0 - now)))
            self.accepted.append(now)
            self.delivered.append((chat_id, digest(text), time.time()))
            message_id = len(self.delivered)
        return 200, {
            "ok": True,
            "result": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": BOT,
                "text": text,
            },
        }

    @staticmethod
    def _too_many(seconds: int) -> tuple[int, dict[str, Any]]:
        return 429, {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        }

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "delivered": self.delivered,
                "limited": self.limited,
                "injected": self.injected,
                "requests": self.requests,
                "cpu_s": time.process_time(),
            }


def serve(api: FloodLimitedAPI) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the real API: no reconnect per message

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            if self.headers.get("Content-Type", "").startswith("application/json"):
                params = json.loads(body or "{}")
            else:
                params = {k: v[0] for k, v in parse_qs(body).items()}
            method = self.path.rsplit("/", 1)[-1]
            if method == "sendMessage":
                status, payload = api.send_message(params)
            elif method == "getMe":
                status, payload = 200, {"ok": True, "result": BOT}
            else:
                status, payload = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            self._reply(status, payload)

        def do_GET(self) -> None:
            if self.path == "/stats":
                self._reply(200, api.stats())
            else:
                self.do_POST()

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=30)
    ap.add_argument("--window", choices=("sliding", "fixed"), default="sliding")
    ap.add_argument("--inject", type=float, default=0.01)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    api = FloodLimitedAPI(
        rate=args.rate, window=args.window, inject=args.inject, retry_after=args.retry_after, seed=args.seed
    )
    httpd = serve(api)
    print(f"port {httpd.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # stopped by the bench with SIGTERM, or by hand
        httpd.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
