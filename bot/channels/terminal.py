"""The terminal chat: the same handlers as Zalo and Telegram, options shown as numbered choices.

It is opened by `tiendo chat` (one person, at the keyboard), never by `tiendo run` or `tiendo serve`.
"""

import asyncio
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.channels.base import Outcome, Part, Verdict
from handlers.conversation import handle
from handlers.i18n import t
from handlers.types import Incoming, Reply, Services, options_text
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from bot.channels import Wiring

CHANNEL = "terminal"
USER = "terminal"


def show(reply: Reply, folder: Path | None = None) -> str:
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


def incoming(text: str) -> Incoming:
    return Incoming(channel=CHANNEL, user_id=USER, chat_id=USER, text=text, display_name="Terminal")


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
        for reply in handle(incoming(text), services):
            out.write(show(reply) + "\n\n")
        for message in deliver_outbox(services):
            out.write(f"[{t('terminal.outbox')}]\n{message}\n\n")
        if prompt:
            out.write("> ")
        out.flush()
    return handled


def deliver_outbox(services: Services) -> list[str]:
    """Messages the bot sent on its own to the terminal's user (a return, a reopened month), shown at once."""
    from sqlmodel import col, select

    from storage import outbox
    from storage.models import OutboxStatus

    with services.session() as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.channel == CHANNEL, OutboxMessage.status == OutboxStatus.pending.value)
            .order_by(col(OutboxMessage.id))
        ).all()
        for row in rows:
            outbox.mark_sent(session, row.id or 0, now=services.now())
        return [row.text for row in rows]


class TerminalChannel:
    """The terminal as a `Channel`: a line in is an update, a reply is written out."""

    name = CHANNEL
    webhook_path = None
    secret_header = ""
    webhook_secret = ""
    webhook_error = None
    marks_its_start = False
    metered = False

    def __init__(
        self, services: Services, out: TextIO = sys.stdout, lines: Iterable[str] = sys.stdin
    ) -> None:
        self.services, self.out, self.lines = services, out, lines

    def webhook_problems(self) -> list[str]:
        return ["tiendo chat không nhận webhook"]

    def unwrap(self, body: Any) -> dict[str, Any] | None:
        return body if isinstance(body, dict) and isinstance(body.get("text"), str) else None

    def delivery_id(self, update: dict[str, Any]) -> str:
        return ""

    def conversation_of(self, update: dict[str, Any]) -> str:
        return USER

    async def start(self, *, polling: bool) -> None:
        pass

    async def close(self) -> None:
        self.out.flush()

    async def process(self, update: dict[str, Any]) -> None:
        for reply in await asyncio.to_thread(handle, incoming(update["text"]), self.services):
            for part in await self.render(USER, reply):
                await part()

    async def render(self, chat_id: str, reply: Reply) -> list[Part]:
        async def write() -> None:
            self.out.write(show(reply) + "\n\n")

        return [write]

    async def deliver(self, message: OutboxMessage) -> None:
        self.out.write(message.text + "\n\n")

    def classify(self, error: BaseException) -> Verdict:
        return Verdict(Outcome.failed)  # a terminal that cannot be written to will not get better

    async def poll(self, stop: asyncio.Event) -> None:
        for line in self.lines:
            if stop.is_set() or line.strip() in ("/quit", "/thoat", "/exit"):
                break
            if line.strip():
                await self.process({"text": line.rstrip("\n")})

    async def register_webhook(self, url: str) -> None:
        raise NotImplementedError("the terminal has no webhook")

    def cost(self, text: str) -> int:
        return 1


def channels_from(wiring: "Wiring") -> list[TerminalChannel]:
    return []  # interactive only: `tiendo chat` opens it


def configured(settings: Any) -> bool:
    return False


def channel_names(settings: Any) -> list[str]:
    return []


METERED = False
