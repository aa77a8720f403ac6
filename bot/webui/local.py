"""The web page on loopback, in the background of `tiendo chat`: /web there prints a link that works."""

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable

from handlers.types import Services
from storage.db import Database

log = logging.getLogger(__name__)

PREFERRED_PORT = 8080


def free_port(preferred: int = PREFERRED_PORT) -> int:
    """The preferred port if nothing listens there, else one the system picks."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def serve_in_background(
    database: Database, services: Services, *, port: int = 0
) -> tuple[str, Callable[[], None]]:
    """Start the app of bot/web.py (page included) on 127.0.0.1; returns its address and a stop."""
    import uvicorn

    from bot.web import WebRuntime, create_app

    chosen = port or free_port()
    app = create_app(WebRuntime(database, services))
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=chosen, log_level="warning", access_log=False, lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="tiendo-web", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise OSError(f"the web page could not start on 127.0.0.1:{chosen}")

    def stop() -> None:
        server.should_exit = True
        with contextlib.suppress(RuntimeError):
            thread.join(timeout=5)

    return f"http://127.0.0.1:{chosen}", stop
