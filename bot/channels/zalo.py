"""Zalo: the same conversation as Telegram; options become numbered text, files become links.

Several Zalo bots may serve one deployment (the free plan allows 50 users and 3,000 messages a month
per bot): each is a channel of its own, "zalo" for ZALO_BOT_TOKEN and "zalo:<name>" for each bot of
ZALO_BOTS, with its own accounts, dialogues, webhook path and monthly quota.

What the platform does that shapes this module (see docs/design.md):
- getUpdates has no offset and serves already-delivered updates again while they are fresh; when
  nothing is new it answers HTTP 408 (or HTTP 200 with error_code 408). The poll loop pauses between
  polls, backs off on errors and on replays, and recognises a replayed message_id in memory before
  the database's claim does.
- In a group the bot receives only messages that mention it or reply to it: every group update is
  meant for the bot; the mention is taken out of the text.
- 403 is documented as an internal server error (retried), 429 as "quota exceeded" (held until the
  next month's quota), and nothing documented says "the user blocked the bot".
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import dispatch
from bot.channels.base import (
    ChatOrder,
    Held,
    Outcome,
    Part,
    RecentIds,
    Verdict,
    send_parts,
    transport_failure,
)
from bot.channels.zalo_client import MAX_TEXT, ZaloClient, ZaloError, split_text
from bot.files import FileLinks
from handlers.i18n import t
from handlers.types import Incoming, Kind, Reply, Services, options_text
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from bot.channels import Wiring
    from bot.usage import Usage

log = logging.getLogger(__name__)

CHANNEL = "zalo"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
EVENT_KINDS = {
    "message.text.received": Kind.text,
    "message.image.received": Kind.photo,
    "message.sticker.received": Kind.sticker,
    "message.unsupported.received": Kind.unsupported,
}
BOT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,23}$")

POLL_WAIT = 30  # seconds the platform holds a getUpdates open when nothing is new
MIN_POLL_INTERVAL = 0.5  # between the starts of two polls, whatever the platform answers: ≤ 2 a second
REPLAY_PAUSE_MAX = 4.0  # replays in a row double the pause up to this
ERROR_PAUSE_MAX = 60.0


def strip_mention(text: str, names: Iterable[str] = ()) -> str:
    """A group message's text without its @mention of the bot.

    The platform does not document how a mention looks in the text; in the Zalo app it is "@" and
    the bot's name as members see it, which always starts with "Bot". Known names (the title set with
    `tiendo bots set`, or given by getMe) are taken out wherever they are; an unknown "@Bot …" at the
    start is taken out with the capitalised words after it ("@Bot Tiến Độ Thanh Hà kết nạp 2")."""
    text = unicodedata.normalize("NFC", text)
    for name in sorted(
        {unicodedata.normalize("NFC", n.strip()) for n in names if n and n.strip()}, key=len, reverse=True
    ):
        text = re.sub(r"@" + re.escape(name) + r"(?!\w)", " ", text, flags=re.IGNORECASE)
    match = re.match(r"\s*@Bot\b", text)
    if match:
        end = match.end()
        while (word := re.match(r"[ \t]+(\S+)", text[end:])) and word.group(1)[0].isupper():
            end += word.end()
        text = text[end:]
    return re.sub(r"[ \t]+", " ", text).strip().lstrip(",:;-").strip()


def to_incoming(update: dict[str, Any], channel: str = CHANNEL, names: Iterable[str] = ()) -> Incoming | None:
    """The channel-neutral form of a Zalo update; None for what needs no answer (the bot's own)."""
    message = update.get("message") or {}
    sender = message.get("from") or {}
    if not isinstance(message, dict) or not sender.get("id") or sender.get("is_bot"):
        return None
    chat = message.get("chat") or {}
    is_group = str(chat.get("chat_type") or "").upper() == "GROUP"
    kind = EVENT_KINDS.get(str(update.get("event_name")), Kind.unsupported)
    text = str(message.get("text") or "") if kind is Kind.text else ""
    if is_group:
        text = strip_mention(text, names)
    # No update_id on Zalo: the message id is the delivery id.
    message_id = message.get("message_id")
    return Incoming(
        channel=channel,
        user_id=str(sender["id"]),
        chat_id=str(chat.get("id") or sender["id"]),
        text=text,
        kind=kind,
        delivery_id=str(message_id) if message_id else None,
        display_name=sender.get("display_name"),
        is_group=is_group,
        # The platform delivers a group message only when it mentions the bot or replies to it.
        addressed=True,
    )


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


MAX_MESSAGE_ID = 64  # characters; Zalo's are 32 hex digits, and the inbox keeps 64


def well_formed(update: dict[str, Any]) -> bool:
    """An update of the documented shape: `event_name` a string, `message` an object whose `from` and
    `chat` are objects, and a `message_id` (the delivery id) a string or an integer of at most 64
    characters, or absent (the update's digest is then its delivery id)."""
    event_name, message = update.get("event_name"), update.get("message")
    if event_name is not None and not isinstance(event_name, str):
        return False
    if message is None:
        return True
    if not isinstance(message, dict):
        return False
    if any(message.get(key) is not None and not isinstance(message[key], dict) for key in ("from", "chat")):
        return False
    message_id = message.get("message_id")
    if message_id is None:
        return True
    if type(message_id) is int:
        return len(str(message_id)) <= MAX_MESSAGE_ID
    return isinstance(message_id, str) and len(message_id) <= MAX_MESSAGE_ID


class ZaloChannel:
    secret_header = SECRET_HEADER
    marks_its_start = False  # no rate limiter: the request leaves right after the mark
    metered = True  # the plan's messages a month: replies and outbox messages alike

    def __init__(
        self,
        client: ZaloClient,
        services: Services,
        *,
        name: str = CHANNEL,
        links: FileLinks | None = None,
        usage: "Usage | None" = None,
        webhook_secret: str = "",
        names: Iterable[str] = (),
    ) -> None:
        self.client = client
        self.services = services
        self.name = name
        self.links = links
        self.usage = usage
        self.webhook_secret = webhook_secret
        self.webhook_error: str | None = None
        self.names = set(names)
        suffix = name.partition(":")[2]
        self.webhook_path = f"/zalo/{suffix}/webhook" if suffix else "/zalo/webhook"
        self.recent = RecentIds()
        self.replays = 0  # updates recognised as replays in memory, since start
        self.last_update_at: datetime | None = None

    # --- receiving --------------------------------------------------------------------------------

    def unwrap(self, body: Any) -> dict[str, Any] | None:
        """The documentation shows webhook bodies wrapped as {ok, result}; integrations report bare
        updates. Both are taken, when of the documented shape (see `well_formed`)."""
        if not isinstance(body, dict):
            return None
        if "event_name" in body or "message" in body:
            return body if well_formed(body) else None
        result = body.get("result")
        if (
            body.get("ok") is not False
            and isinstance(result, dict)
            and ("event_name" in result or "message" in result)
        ):
            return result if well_formed(result) else None
        return None

    def delivery_id(self, update: dict[str, Any]) -> str:
        message_id = (update.get("message") or {}).get("message_id")
        if message_id:
            return str(message_id)
        return hashlib.sha256(json.dumps(update, sort_keys=True).encode()).hexdigest()[:32]

    def conversation_of(self, update: dict[str, Any]) -> str:
        message = update.get("message") or {}
        return str((message.get("chat") or {}).get("id") or (message.get("from") or {}).get("id"))

    async def process(self, update: dict[str, Any]) -> None:
        await self.handle(update)

    async def handle(self, update: dict[str, Any]) -> bool:
        """Answer one update; True when it was recognised as a replay (and not handled again)."""
        incoming, replay = self._admit(update)
        if incoming is not None:
            await self._answer(incoming)
        return replay

    def _admit(self, update: dict[str, Any]) -> tuple[Incoming | None, bool]:
        """The update to answer (None: nothing to answer), and whether it is a replay."""
        incoming = to_incoming(update, self.name, self.names)
        if incoming is None:
            return None, False
        key = incoming.delivery_id
        if key is not None:
            if key in self.recent:
                self.replays += 1
                return None, True
            self.recent.add(key)  # before handling: a replay meanwhile is not handled twice either
        self.last_update_at = self.services.now()
        return incoming, False

    async def _answer(self, incoming: Incoming) -> None:
        answered = await dispatch.answer(self, incoming, self.services)
        if answered is dispatch.Answered.kept and incoming.delivery_id is not None:
            self.recent.discard(incoming.delivery_id)  # its replies wait for its next delivery: let it in

    # --- sending ----------------------------------------------------------------------------------

    async def render(self, chat_id: str, reply: Reply) -> list[Part]:
        """Text parts of at most 2,000 characters; a chart as a photo whose caption is the text (so the
        text is not sent twice), a workbook as a link."""
        text, photos = reply.text, []
        for file in reply.files:
            if self.links is None:
                # No public address for the platform to fetch the file from: say so, keep the text.
                text += "\n" + t("zalo.file_unavailable")
                continue
            url = await asyncio.to_thread(self.links.publish, file, self.services.now())
            if file.kind == "photo":
                photos.append(url)
            else:
                text += "\n" + t("zalo.file_link", url=url)
        options = options_text(reply)
        full = f"{text}\n{options}" if options else text
        caption = full if photos and full.strip() and _units(full) <= MAX_TEXT else ""
        parts: list[Part] = [
            self._photo(chat_id, url, caption if i == 0 else "") for i, url in enumerate(photos)
        ]
        if not caption:
            parts += [self._text(chat_id, part) for part in split_text(full)]
        return parts

    def _text(self, chat_id: str, text: str) -> Part:
        async def send() -> None:
            await self._guarded(self.client.send_text(chat_id, text))

        return send

    def _photo(self, chat_id: str, url: str, caption: str) -> Part:
        async def send() -> None:
            await self._guarded(self.client.send_photo(chat_id, url, caption=caption))

        return send

    async def _guarded(self, request: Any) -> None:
        """One request, within the quota: counted once accepted; a 429 holds the bot's messages."""
        if self.usage is not None:
            until = await asyncio.to_thread(self.usage.held_until, self.name)
            if until is not None:
                request.close()  # never sent
                raise Held(until)
        try:
            await request
        except ZaloError as error:
            if error.error_code == 429 and self.usage is not None:
                raise Held(await asyncio.to_thread(self.usage.exhaust, self.name)) from error
            raise
        if self.usage is not None:
            try:
                await asyncio.to_thread(self.usage.record, self.name, 1)
            except Exception:
                log.exception("could not count a message sent by %s", self.name)

    async def deliver(self, message: OutboxMessage) -> None:
        """An outbox message; a split one resumes after the parts already sent."""
        parts = [self._text(message.chat_id, part) for part in split_text(message.text)]

        def advanced() -> None:
            message.parts_sent += 1

        await send_parts(self, parts[message.parts_sent :], on_sent=advanced)

    def classify(self, error: BaseException) -> Verdict:
        if isinstance(error, Held):
            return Verdict(Outcome.held, until=error.until)
        if not isinstance(error, ZaloError):
            return Verdict(Outcome.uncertain)  # anything unexpected: assume the worst
        transport = transport_failure(error)
        if transport is not None:
            return Verdict(transport)
        code = error.error_code
        if code == 429:  # quota exceeded, without a usage record to hold the bot: try much later
            return Verdict(Outcome.retry_after, delay=3600)
        if code == 408:  # the platform gave up while handling it: it may have been delivered
            return Verdict(Outcome.uncertain)
        if code in (400, 404) and _blocked(error.description):
            return Verdict(Outcome.unreachable)
        if code == 400:
            return Verdict(Outcome.failed)  # a malformed request is refused the same way next time
        # 403 is documented as "Internal server error"; 5xx, 401 (a token being replaced), a refused
        # connection and anything else undocumented: not delivered, try again later.
        return Verdict(Outcome.retry)

    def cost(self, text: str) -> int:
        return max(1, len(split_text(text)))

    # --- running ----------------------------------------------------------------------------------

    async def start(self, *, polling: bool) -> None:
        try:
            me = await self.client.get_me()
        except ZaloError as error:
            log.warning("%s: getMe failed (%s)", self.name, error.error_code)
        else:
            self.names |= {str(me[k]) for k in ("display_name", "name") if me.get(k)}
        if polling:
            # getUpdates is refused while a webhook is set.
            try:
                await self.client.delete_webhook()
            except ZaloError as error:
                log.warning(
                    "%s: could not remove the webhook before polling (%s)", self.name, error.error_code
                )

    async def close(self) -> None:
        await self.client.aclose()

    async def poll(self, stop: asyncio.Event, *, wait: int = POLL_WAIT) -> None:
        """Long polling until `stop` is set, at most one poll every MIN_POLL_INTERVAL: the platform
        answers at once while it has updates, old ones included."""
        loop = asyncio.get_running_loop()
        failures = replays = 0
        order = ChatOrder()
        answering: set[asyncio.Future[None]] = set()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                started = loop.time()
                pause = MIN_POLL_INTERVAL
                polling = asyncio.ensure_future(self.client.get_updates(timeout=wait))
                await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not polling.done():
                    polling.cancel()  # stopping: a fresh update comes again at the next start
                    with contextlib.suppress(asyncio.CancelledError, ZaloError):
                        await polling
                    break
                try:
                    update = polling.result()
                except ZaloError as error:
                    failures += 1
                    pause = min(ERROR_PAUSE_MAX, 2.0 ** min(failures, 6))
                    log.warning(
                        "%s: getUpdates failed (%s); again in %.0f s", self.name, error.error_code, pause
                    )
                else:
                    failures = 0
                    if update is not None:
                        incoming, replay = self._admit(update)
                        if incoming is not None:
                            # Answered beside the polling, each chat in order: a slow chart holds back
                            # only its own chat.
                            task = asyncio.ensure_future(order.run(incoming.chat_id, self._answer(incoming)))
                            answering.add(task)
                            task.add_done_callback(self._answered)
                            task.add_done_callback(answering.discard)
                        replays = replays + 1 if replay else 0
                        if replays:
                            pause = min(REPLAY_PAUSE_MAX, MIN_POLL_INTERVAL * 2**replays)
                rest = pause - (loop.time() - started)
                if rest > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stopping), timeout=rest)
        finally:
            stopping.cancel()
            # What was taken is answered before polling ends (as python-telegram-bot's stop does).
            await asyncio.gather(*answering, return_exceptions=True)

    def _answered(self, task: "asyncio.Future[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: an update could not be handled", self.name, exc_info=task.exception())

    def webhook_problems(self) -> list[str]:
        if not 8 <= len(self.webhook_secret) <= 256:
            size = len(self.webhook_secret)
            return [f"ZALO_WEBHOOK_SECRET (từ 8 đến 256 ký tự, theo quy định của Zalo; hiện có {size})"]
        return []

    async def register_webhook(self, url: str) -> None:
        await self.client.set_webhook(url, self.webhook_secret)


def _blocked(description: str) -> bool:
    """The only evidence taken that a recipient is unreachable: the platform says they blocked the bot."""
    lowered = description.lower()
    return "block" in lowered or "chặn" in lowered


def bot_tokens(settings: Any) -> dict[str, str]:
    """Channel name -> token: ZALO_BOT_TOKEN as "zalo", each "name=token" of ZALO_BOTS as "zalo:name"."""
    tokens: dict[str, str] = {}
    if settings.zalo_bot_token:
        tokens[CHANNEL] = settings.zalo_bot_token.get_secret_value()
    for entry in re.split(r"[,\s]+", settings.zalo_bots.get_secret_value().strip()):
        if entry:
            name, _, token = entry.partition("=")
            tokens[f"{CHANNEL}:{name.strip()}"] = token.strip()
    return tokens


def channels_from(wiring: "Wiring") -> list[ZaloChannel]:
    settings = wiring.settings
    titles = wiring.titles
    return [
        ZaloChannel(
            ZaloClient(token, settings.zalo_api_base_url),
            wiring.services,
            name=name,
            links=wiring.links,
            usage=wiring.usage,
            webhook_secret=settings.zalo_webhook_secret.get_secret_value(),
            names=[titles[name]] if titles.get(name) else [],
        )
        for name, token in bot_tokens(settings).items()
    ]


def configured(settings: Any) -> bool:
    return bool(bot_tokens(settings))


def channel_names(settings: Any) -> list[str]:
    return list(bot_tokens(settings))


METERED = True


HOW_TO = (
    "Zalo: trong ứng dụng Zalo, tìm OA «Zalo Bot Manager», chọn «Tạo bot» (Zalo Bot Creator), đặt tên "
    "bắt đầu bằng «Bot», rồi ghi token Zalo gửi về vào ZALO_BOT_TOKEN=... trong tệp .env."
)
