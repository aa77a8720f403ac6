"""The terminal chat: the same handlers as Telegram, options shown as numbered choices."""

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from handlers.conversation import handle
from handlers.types import Incoming, Reply, Services, options_text

CHANNEL = "terminal"
USER = "terminal"


def render(reply: Reply, folder: Path | None = None) -> str:
    lines = [reply.text]
    for file in reply.files:
        # A terminal cannot show a photo or a workbook: save it and say where.
        target = (folder or Path(tempfile.gettempdir())) / file.filename
        target.write_bytes(file.data)
        lines.append(f"[{file.filename}: {target}]")
    options = options_text(reply)
    if options:
        lines.append(options)
    return "\n".join(lines)


def chat(services: Services, lines: Iterable[str], out: TextIO, *, prompt: bool = False) -> int:
    """Answer each input line; returns how many messages were handled."""
    handled = 0
    if prompt:
        out.write("> ")
        out.flush()
    for line in lines:
        text = line.rstrip("\n")
        if not text.strip():
            if prompt:
                out.write("> ")
                out.flush()
            continue
        if text.strip() in ("/quit", "/thoat", "/exit"):
            break
        handled += 1
        incoming = Incoming(channel=CHANNEL, user_id=USER, chat_id=USER, text=text, display_name="Terminal")
        for reply in handle(incoming, services):
            out.write(render(reply) + "\n\n")
        if prompt:
            out.write("> ")
        out.flush()
    return handled
