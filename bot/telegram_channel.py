"""Telegram: turns updates into Incoming, runs the handlers off the event loop, sends the replies."""

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.error import NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.dispatch import answering, run_handler
from bot.outbox_sender import (
    ClaimLost,
    first_request_marked,
    mark_before_requests,
    may_have_arrived,
    retry_after_seconds,
)
from handlers.i18n import t
from handlers.types import Incoming, Kind, Reply, Services

if TYPE_CHECKING:
    from bot.scheduler import CampaignScheduler

log = logging.getLogger(__name__)

CHANNEL = "telegram"

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


def to_incoming(update: Update) -> Incoming | None:
    """The channel-neutral form of an update, or None for updates that need no answer."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    delivery_id = str(update.update_id)
    if update.callback_query is not None:
        return Incoming(
            channel=CHANNEL,
            user_id=str(user.id),
            chat_id=str(chat.id),
            kind=Kind.choice,
            choice=update.callback_query.data or "",
            delivery_id=delivery_id,
            display_name=user.full_name,
        )
    message = update.message
    if message is None:
        if update.edited_message is not None:
            return Incoming(
                channel=CHANNEL,
                user_id=str(user.id),
                chat_id=str(chat.id),
                kind=Kind.edited,
                delivery_id=delivery_id,
                display_name=user.full_name,
            )
        return None
    return Incoming(
        channel=CHANNEL,
        user_id=str(user.id),
        chat_id=str(chat.id),
        text=message.text or "",
        kind=message_kind(message),
        delivery_id=delivery_id,
        display_name=user.full_name,
    )


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.options:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(o.label, callback_data=o.data) for o in reply.options]]
    )


async def send_reply(bot: Bot, chat_id: int, reply: Reply) -> None:
    """A text with its buttons; a file goes as a photo or a document with the text as its caption."""
    markup = keyboard(reply)
    if not reply.files:
        await bot.send_message(chat_id=chat_id, text=reply.text, reply_markup=markup)
        return
    for file in reply.files:
        upload = InputFile(file.data, filename=file.filename)
        if file.kind == "photo":
            await bot.send_photo(chat_id=chat_id, photo=upload, caption=reply.text, reply_markup=markup)
        else:
            await bot.send_document(chat_id=chat_id, document=upload, caption=reply.text, reply_markup=markup)


SEND_ATTEMPTS = 3
SEND_RETRY_SECONDS = 2.0  # then 4 s


async def send_with_retries(bot: Bot, chat_id: int, reply: Reply) -> None:
    """A reply again after a 429 past the limiter's retries or a definite 5xx; not after a time-out
    or a dropped connection (it may have arrived: a second copy would confuse the secretary)."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await send_reply(bot, chat_id, reply)
            return
        except RetryAfter as error:
            delay = retry_after_seconds(error)
            if attempt == SEND_ATTEMPTS:
                raise
        except NetworkError as error:
            if attempt == SEND_ATTEMPTS or may_have_arrived(error):
                raise
            delay = SEND_RETRY_SECONDS * 2 ** (attempt - 1)
        log.warning("reply to chat %s not sent (attempt %d); again in %.0f s", chat_id, attempt, delay)
        await asyncio.sleep(delay)


class TelegramChannel:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        incoming = to_incoming(update)
        if incoming is None:
            return
        query = update.callback_query
        if query is not None:
            # Stop the button's spinner at once; the answer itself comes as a message.
            await query.answer()
        replies = await run_handler(incoming, self.services)
        if query is not None and query.message is not None and isinstance(query.message, Message):
            try:
                await query.message.edit_reply_markup(reply_markup=None)
            except TelegramError as error:
                log.info("could not remove the buttons of a handled message: %s", error)
        if not replies:
            return
        chat_id = int(incoming.chat_id)
        with first_request_marked(answering(incoming, self.services)) as attempt:
            try:
                for reply in replies:
                    await send_with_retries(context.bot, chat_id, reply)
            except TelegramError as error:
                # The update was handled and stored: the "nothing was recorded" apology of on_error
                # would be false. A platform this broken would not carry an apology either.
                log.error("could not send the replies to update %s: %s", incoming.delivery_id, error)
            except ClaimLost:
                log.error("replies to update %s kept for its next delivery", incoming.delivery_id)
                return
            if not attempt.started:  # a bot without the request hook: record it now
                with contextlib.suppress(ClaimLost):
                    await attempt.leaving()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(chat_id=update.effective_chat.id, text=t("error.generic"))
            except TelegramError:
                log.exception("could not tell the user about the error")


async def post_init(application: Application) -> None:
    """Optional niceties: a failure here only logs a warning, the bot still runs."""
    try:
        await application.bot.set_my_commands([BotCommand(name, t(key)) for name, key in COMMANDS])
        await application.bot.set_my_description(t("menu.description"))
    except TelegramError as error:
        log.warning("could not set the command menu or description: %s", error)


def smooth_rate_limiter(*, max_retries: int, per_second: float = 28) -> AIORateLimiter:
    """Telegram's ~30 messages/s, as 2 at a time at 28/s: the default bucket lets 30 go at once and
    then 30 more within the same second after any pause, which draws 429s (bench_campaign: 23.7 msg/s
    with the default, 27.6 with this). per_second 0: no overall pacing, 429s still honoured."""
    if per_second <= 0:
        return AIORateLimiter(overall_max_rate=0, overall_time_period=0, max_retries=max_retries)
    return AIORateLimiter(overall_max_rate=2, overall_time_period=2 / per_second, max_retries=max_retries)


def build_application(
    token: str,
    services: Services,
    *,
    base_url: str,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
    max_rate: float = 28,
) -> Application:
    builder: ApplicationBuilder = Application.builder().token(token).base_url(base_url).post_init(post_init)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limit:
        builder = builder.rate_limiter(smooth_rate_limiter(max_retries=2, per_second=max_rate))
    application = builder.build()
    # Replies record, as their first request leaves after the limiter's wait, that they started.
    mark_before_requests(application.bot.request)
    channel = TelegramChannel(services)
    application.add_handler(CallbackQueryHandler(channel.on_update))
    application.add_handler(MessageHandler(filters.ALL, channel.on_update))
    application.add_error_handler(channel.on_error)
    return application


CAMPAIGN_INTERVAL = 60.0  # seconds between campaign rounds (compose if due, then drain the outbox)


def attach_campaign(application: Application, scheduler: "CampaignScheduler") -> None:
    """Run the campaign rounds in the application's JobQueue; the first one right after start-up."""
    assert application.job_queue is not None, "python-telegram-bot[job-queue] is required"
    application.job_queue.run_repeating(scheduler.job, interval=CAMPAIGN_INTERVAL, first=1.0, name="campaign")
