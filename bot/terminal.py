"""The terminal chat: the same handlers as Telegram, options shown as numbered choices."""

import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from handlers.conversation import handle
from handlers.i18n import t
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
        for text in deliver_outbox(services):
            out.write(f"[{t('terminal.outbox')}]\n{text}\n\n")
        if prompt:
            out.write("> ")
        out.flush()
    return handled


def deliver_outbox(services: Services) -> list[str]:
    """Messages the bot sent on its own to the terminal's user (a return, a reopened month), shown at once."""
    from sqlmodel import select

    from storage import outbox
    from storage.models import OutboxMessage, OutboxStatus

    with services.session() as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.channel == CHANNEL, OutboxMessage.status == OutboxStatus.pending.value)
            .order_by(OutboxMessage.id)
        ).all()
        for row in rows:
            outbox.mark_sent(session, row.id or 0, now=services.now())
        return [row.text for row in rows]
