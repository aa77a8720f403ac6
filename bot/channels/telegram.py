"""Telegram: updates become Incoming, replies go out with inline buttons, through python-telegram-bot.

In a group the bot answers only what is meant for it: a command, a reply to one of its messages, a
message that mentions it (the mention is taken out before the text is read), or one of its buttons.
"""

import asyncio
import logging
import re
from collections.abc import Awaitable
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot import dispatch
from bot.channels.base import (
    ChatOrder,
    Outcome,
    Part,
    Verdict,
    leaving,
    send_parts,
    transport_failure,
)
from handlers.i18n import t
from handlers.types import Incoming, Kind, Reply, Services
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from bot.channels import Wiring

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
GROUP_TYPES = ("group", "supergroup")
# Telegram's own rule for secret_token: 1-256 characters, letters, digits, _ and -; ours asks 16 or more.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")

COMMANDS = (
    ("tiendo", "menu.tiendo"),
    ("thidua", "menu.thidua"),
    ("xuat", "menu.xuat"),
    ("nhacnho", "menu.nhacnho"),
    ("web", "menu.web"),
    ("baocao", "menu.baocao"),
    ("huy", "menu.huy"),
    ("dangky", "menu.dangky"),
    ("help", "menu.help"),
)


def message_kind(message: Message) -> Kind:
    if message.text is not None:
        return Kind.text
    if message.sticker is not None:
        return Kind.sticker
    if message.photo:
        return Kind.photo
    if message.voice is not None or message.audio is not None or message.video_note is not None:
        return Kind.voice
    if message.document is not None:
        return Kind.document
    return Kind.unsupported


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` without the given (offset, length) spans, counted in UTF-16 units as Telegram does."""
    units = text.encode("utf-16-le")
    for offset, length in sorted(spans, reverse=True):
        units = units[: offset * 2] + " ".encode("utf-16-le") + units[(offset + length) * 2 :]
    return units.decode("utf-16-le", errors="replace")


def addressed(message: Message, me: User | None) -> tuple[bool, str]:
    """Whether a group message is meant for the bot, and its text without the bot's mention.

    Meant for it: a reply to one of its messages, a mention of it (@username, or a mention of its
    account), or a command (not one addressed to another bot: /lenh@other_bot)."""
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    username = (me.username or "").lower() if me is not None else ""
    replied = message.reply_to_message
    meant = bool(
        me is not None
        and replied is not None
        and replied.from_user is not None
        and replied.from_user.id == me.id
    )
    spans: list[tuple[int, int]] = []
    for entity in entities:
        if entity.type == MessageEntity.MENTION:
            mentioned = message.parse_entity(entity) if message.text else message.parse_caption_entity(entity)
            if username and mentioned.lower() == f"@{username}":
                meant = True
                spans.append((entity.offset, entity.length))
        elif entity.type == MessageEntity.TEXT_MENTION:
            if me is not None and entity.user is not None and entity.user.id == me.id:
                meant = True
                spans.append((entity.offset, entity.length))
        elif entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            command = message.parse_entity(entity) if message.text else ""
            _, at, target = command.partition("@")
            meant = meant or not at or (bool(username) and target.lower() == username)
    if spans:
        text = _without(text, spans)
        text = re.sub(r"\s+", " ", text).strip().lstrip(",:;-").strip()
    return meant, text


def to_incoming(update: Update, me: User | None = None) -> Incoming | None:
    """The channel-neutral form of an update, or None for updates that need no answer.

    `me` is the bot's own account (it tells whether a group message is meant for the bot)."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot or chat.type == "channel":
        return None
    is_group = chat.type in GROUP_TYPES
    delivery_id = str(update.update_id)
    common: dict[str, Any] = {
        "channel": CHANNEL,
        "user_id": str(user.id),
        "chat_id": str(chat.id),
        "delivery_id": delivery_id,
        "display_name": user.full_name,
        "is_group": is_group,
    }
    if update.callback_query is not None:
        return Incoming(kind=Kind.choice, choice=update.callback_query.data or "", **common)
    message = update.message
    if message is None:
        if update.edited_message is not None and not is_group:
            return Incoming(kind=Kind.edited, **common)
        return None  # in a group, an edit is nobody's question to the bot
    text, meant = message.text or "", True
    if is_group:
        meant, stripped = addressed(message, me)
        text = stripped if message.text is not None else ""
    return Incoming(text=text, kind=message_kind(message), addressed=meant, **common)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.options:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(o.label, callback_data=o.data) for o in reply.options]]
    )


def retry_after_seconds(error: RetryAfter) -> float:
    import warnings

    with warnings.catch_warnings():
        # v22 warns that the type will become timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def classify(error: BaseException) -> Verdict:
    """What a failure of python-telegram-bot means for a message."""
    if isinstance(error, RetryAfter):
        return Verdict(Outcome.retry_after, delay=retry_after_seconds(error))
    if isinstance(error, Forbidden):
        return Verdict(Outcome.unreachable)  # "bot was blocked by the user", "user is deactivated"
    if isinstance(error, BadRequest):
        reason = str(error).lower()
        if "chat not found" in reason or "blocked" in reason or "deactivated" in reason:
            return Verdict(Outcome.unreachable)
        return Verdict(Outcome.failed)  # a malformed request is refused the same way next time
    transport = transport_failure(error)
    if transport is not None:
        return Verdict(transport)
    if isinstance(error, TimedOut):
        return Verdict(Outcome.uncertain)  # python-telegram-bot's read time-out: it may have arrived
    if isinstance(error, TelegramError):
        # An answer (5xx, "Bad Gateway"…) has no cause; "Unknown error in HTTP implementation" has
        # a non-httpx one: the request may have left.
        return Verdict(Outcome.retry if error.__cause__ is None else Outcome.uncertain)
    return Verdict(Outcome.uncertain)  # anything unexpected: assume the worst


class TelegramRequest(HTTPXRequest):
    """python-telegram-bot's HTTP layer, telling the outbox and the replies when a request leaves.

    `leaving()` runs right before each request goes out: it marks the outbox message `sending`, or
    the replies to an update as answering (bot.channels.base), and does nothing outside a send. The
    request object sits below AIORateLimiter, so this comes after the limiter's wait: a process that
    dies while a message waits there has sent nothing and marked nothing."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> None:
        # `transport`: where requests go instead of the network (a stand-in of the Bot API in tests).
        super().__init__(httpx_kwargs={"transport": transport} if transport is not None else None, **options)

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        await leaving()
        return await super().do_request(*args, **kwargs)


def chat_of(update: object) -> str:
    """The conversation an update belongs to (its chat), for keeping each chat's updates in order."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return f"chat:{update.effective_chat.id}"
        if update.effective_user is not None:
            return f"user:{update.effective_user.id}"
        return f"update:{update.update_id}"
    return f"object:{id(update)}"


class InOrderPerChat(BaseUpdateProcessor):
    """python-telegram-bot's update processor for polling: chats at once, each chat in order.

    `concurrent_updates(True)` alone would let a chat's second message overtake its first (a
    confirmation before the report it confirms); sequential processing would make every chat wait
    for one slow chart. The webhook worker orders chats the same way (bot/web.py)."""

    def __init__(self, concurrency: int = 32) -> None:
        # python-telegram-bot's bound counts updates waiting for their chat's earlier ones too:
        # `concurrency` bounds those being handled.
        super().__init__(max_concurrent_updates=concurrency * 32)
        self.order = ChatOrder(concurrency)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await self.order.run(chat_of(update), coroutine)

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


# Update ids are integers the Bot API says fit in 52 bits; past that no update of Telegram's.
MAX_UPDATE_ID = 2**52


class TelegramChannel:
    """The Telegram bot as a `Channel`. Built by `build_application` (a whole bot) or `for_bot`
    (only sending, e.g. the outbox of `tiendo nudge --send`)."""

    name = CHANNEL
    webhook_path = "/telegram/webhook"
    secret_header = "X-Telegram-Bot-Api-Secret-Token"
    # Messages are marked `sending` by TelegramRequest, after the rate limiter's wait.
    marks_its_start = True
    metered = False  # no monthly quota; ~30 messages a second, paced by the rate limiter

    def __init__(
        self,
        bot: Bot,
        services: Services | None = None,
        *,
        application: Application | None = None,
        webhook_secret: str = "",
    ) -> None:
        self.bot = bot
        self.services = services
        self.application = application
        self.webhook_secret = webhook_secret
        self.webhook_error: str | None = None
        if not isinstance(bot.request, TelegramRequest):
            # Without it nothing is marked before it leaves: a crash could send a message twice.
            raise TypeError("a Telegram channel's bot sends through TelegramRequest")

    @classmethod
    def for_bot(cls, bot: Bot) -> "TelegramChannel":
        return cls(bot)

    # --- receiving --------------------------------------------------------------------------------

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.services is not None
        incoming = to_incoming(update, context.bot.bot)
        if incoming is None or not incoming.addressed:
            return
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner at once; the answer itself comes as a message.
            await query.answer()

        async def remove_buttons() -> None:
            if query is not None and isinstance(query.message, Message):
                try:
                    await query.message.edit_reply_markup(reply_markup=None)
                except TelegramError as error:
                    log.info("could not remove the buttons of a handled message: %s", error)

        await dispatch.answer(self, incoming, self.services, before_send=remove_buttons)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(chat_id=update.effective_chat.id, text=t("error.generic"))
            except TelegramError:
                log.exception("could not tell the user about the error")

    async def process(self, update: dict[str, Any]) -> None:
        assert self.application is not None
        await self.application.process_update(Update.de_json(update, self.application.bot))

    def unwrap(self, body: Any) -> dict[str, Any] | None:
        """An update as the Bot API documents it: `update_id` a non-negative integer (it becomes the
        delivery id, so null, a string or an object is no update), at most one optional object per
        kind of update (a message that is a string is no update either)."""
        if not isinstance(body, dict):
            return None
        update_id = body.get("update_id")
        if type(update_id) is not int or not 0 <= update_id < MAX_UPDATE_ID:
            return None
        if any(not isinstance(value, dict) for key, value in body.items() if key != "update_id"):
            return None
        return body

    def delivery_id(self, update: dict[str, Any]) -> str:
        return str(update["update_id"])

    def conversation_of(self, update: dict[str, Any]) -> str:
        for key in ("message", "edited_message", "callback_query"):
            part = update.get(key)
            if isinstance(part, dict):
                inner = part.get("message")
                inner_chat = inner.get("chat") if isinstance(inner, dict) else None
                for chat in (part.get("chat"), inner_chat, part.get("from")):
                    if isinstance(chat, dict) and chat.get("id") is not None:
                        return str(chat["id"])
        return f"update:{update.get('update_id')}"

    # --- sending ----------------------------------------------------------------------------------

    async def render(self, chat_id: str, reply: Reply) -> list[Part]:
        """A text with its buttons; a file goes as a photo or a document with the text as its caption."""
        chat, markup = int(chat_id), keyboard(reply)
        if not reply.files:
            return [lambda: self.bot.send_message(chat_id=chat, text=reply.text, reply_markup=markup)]
        parts: list[Part] = []
        for file in reply.files:
            upload = InputFile(file.data, filename=file.filename)
            if file.kind == "photo":
                parts.append(
                    partial(
                        self.bot.send_photo,
                        chat_id=chat,
                        photo=upload,
                        caption=reply.text,
                        reply_markup=markup,
                    )
                )
            else:
                parts.append(
                    partial(
                        self.bot.send_document,
                        chat_id=chat,
                        document=upload,
                        caption=reply.text,
                        reply_markup=markup,
                    )
                )
        return parts

    async def deliver(self, message: OutboxMessage) -> None:
        """Through the bot's rate limiter; the message is marked `sending` as the HTTP request leaves,
        after the limiter's wait, which with 30 messages in flight is up to a second."""
        chat, text = int(message.chat_id), message.text
        await send_parts(self, [lambda: self.bot.send_message(chat_id=chat, text=text)])

    def classify(self, error: BaseException) -> Verdict:
        return classify(error)

    def cost(self, text: str) -> int:
        return 1  # no quota on Telegram

    # --- running ----------------------------------------------------------------------------------

    async def start(self, *, polling: bool) -> None:
        assert self.application is not None
        await self.application.initialize()
        await self.describe()
        if polling:
            await self.application.start()

    async def describe(self) -> None:
        """The command menu and the bot's description, in Vietnamese. Optional niceties: a failure
        only logs a warning, the bot still runs."""
        try:
            await self.bot.set_my_commands([BotCommand(name, t(key)) for name, key in COMMANDS])
            await self.bot.set_my_description(t("menu.description"))
        except TelegramError as error:
            log.warning("could not set the command menu or description: %s", error)

    async def poll(self, stop: asyncio.Event) -> None:
        assert self.application is not None and self.application.updater is not None
        # The updater removes a webhook first: Telegram refuses getUpdates while one is set.
        await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES)
        try:
            await stop.wait()
        finally:
            await self.application.updater.stop()

    async def close(self) -> None:
        if self.application is None:
            return
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    def webhook_problems(self) -> list[str]:
        if not _SECRET.match(self.webhook_secret):
            return ["TELEGRAM_WEBHOOK_SECRET (16 đến 256 ký tự: chữ cái không dấu, chữ số, _ và -)"]
        return []

    async def register_webhook(self, url: str) -> None:
        await self.bot.set_webhook(url=url, secret_token=self.webhook_secret, allowed_updates=ALLOWED_UPDATES)


def smooth_rate_limiter(*, max_retries: int, per_second: float = 28) -> AIORateLimiter:
    """Telegram's ~30 messages/s, as 2 at a time at 28/s: the default bucket lets 30 go at once and
    then 30 more within the same second after any pause, which draws 429s (bench_campaign: 23.7 msg/s
    with the default, 27.6 with this). per_second 0: no overall pacing, 429s still honoured."""
    if per_second <= 0:
        return AIORateLimiter(overall_max_rate=0, overall_time_period=0, max_retries=max_retries)
    return AIORateLimiter(overall_max_rate=2, overall_time_period=2 / per_second, max_retries=max_retries)


def build_channel(
    token: str,
    services: Services,
    *,
    base_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
    rate_limit: bool = True,
    max_rate: float = 28,
    max_retries: int = 2,
    webhook_secret: str = "",
) -> TelegramChannel:
    """A whole bot. `transport`: where its requests go instead of the network (tests)."""
    builder = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .request(TelegramRequest(transport=transport))
        # Polling: chats at once, each in order. Webhooks go through bot/web.py's worker instead.
        .concurrent_updates(InOrderPerChat())
        .job_queue(None)  # the campaign has its own loop (bot/serve.py), in both run modes
    )
    if transport is not None:
        builder = builder.get_updates_request(
            HTTPXRequest(connection_pool_size=1, httpx_kwargs={"transport": transport})
        )
    # The rate limiter changes the builder's bot type (ExtBot[dict] rather than ExtBot[None]): the
    # two branches build different Application types, both taken as a plain Application.
    application: Application
    if rate_limit:
        limiter = smooth_rate_limiter(max_retries=max_retries, per_second=max_rate)
        application = builder.rate_limiter(limiter).build()
    else:
        application = builder.build()
    channel = TelegramChannel(
        application.bot, services, application=application, webhook_secret=webhook_secret
    )
    application.add_handler(CallbackQueryHandler(channel.on_update))
    application.add_handler(MessageHandler(filters.ALL, channel.on_update))
    application.add_error_handler(channel.on_error)
    return channel


def build_application(token: str, services: Services, **options: Any) -> Application:
    """The python-telegram-bot Application of a Telegram channel (tests drive it update by update)."""
    application = build_channel(token, services, **options).application
    assert application is not None
    return application


def channels_from(wiring: "Wiring") -> list[TelegramChannel]:
    settings = wiring.settings
    if not settings.telegram_bot_token:
        return []
    return [
        build_channel(
            settings.telegram_bot_token.get_secret_value(),
            wiring.services,
            base_url=settings.telegram_api_base_url,
            max_rate=settings.telegram_max_rate,
            # Sending a campaign by hand: a 429 goes back to the outbox, which reschedules that one
            # message after retry_after while the others keep going.
            max_retries=0 if wiring.mode == "send" else 2,
            webhook_secret=settings.telegram_webhook_secret.get_secret_value(),
        )
    ]


def configured(settings: Any) -> bool:
    return bool(settings.telegram_bot_token)


def channel_names(settings: Any) -> list[str]:
    return [CHANNEL] if configured(settings) else []


METERED = False


HOW_TO = (
    "Telegram (nơi truy cập được): nhắn @BotFather lệnh /newbot, làm theo hướng dẫn, rồi ghi "
    "TELEGRAM_BOT_TOKEN=... vào tệp .env."
)
