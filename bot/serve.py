"""The two run modes: `tiendo run` polls every configured channel, `tiendo serve` serves their webhooks.

Both run the monthly campaign and stop gracefully on SIGTERM.
"""

import asyncio
import contextlib
import logging
import secrets
import signal
from dataclasses import dataclass
from datetime import timedelta

from bot.files import FileLinks
from bot.outbox_sender import Deliver, channel_deliver, telegram_deliver
from bot.runtime import make_scheduler, make_services, open_database
from bot.scheduler import CampaignScheduler
from bot.settings import Settings
from bot.telegram_channel import CAMPAIGN_INTERVAL, attach_campaign, build_application, post_init
from bot.zalo_channel import ZaloChannel
from bot.zalo_client import ZaloClient, ZaloError
from handlers.types import Services
from storage.db import Database

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


class ConfigError(Exception):
    """The settings do not allow this run mode; the message says what to set."""


@dataclass
class Channels:
    database: Database
    services: Services
    telegram: object | None  # a python-telegram-bot Application
    zalo: ZaloChannel | None
    links: FileLinks | None

    def deliver(self) -> Deliver:
        deliverers: dict[str, Deliver] = {}
        if self.telegram is not None:
            deliverers["telegram"] = telegram_deliver(self.telegram.bot)  # type: ignore[attr-defined]
        if self.zalo is not None:
            deliverers["zalo"] = self.zalo.deliver
        return channel_deliver(deliverers)


def make_links(settings: Settings, database: Database) -> FileLinks | None:
    if not settings.public_base_url:
        return None
    return FileLinks(
        database,
        base_url=settings.public_base_url,
        secret=settings.secret_key or secrets.token_hex(32),
        ttl=timedelta(minutes=settings.file_link_minutes),
    )


def make_channels(settings: Settings, *, with_links: bool) -> Channels:
    if not settings.telegram_bot_token and not settings.zalo_bot_token:
        raise ConfigError("Chưa đặt TELEGRAM_BOT_TOKEN hay ZALO_BOT_TOKEN (trong môi trường hoặc tệp .env).")
    database = open_database(settings)
    # The web page is served with the webhooks (tiendo serve), at PUBLIC_BASE_URL/web/.
    services = make_services(settings, database, web_base_url=settings.public_base_url if with_links else "")
    links = make_links(settings, database) if with_links else None
    telegram = None
    if settings.telegram_bot_token:
        telegram = build_application(
            settings.telegram_bot_token,
            services,
            base_url=settings.telegram_api_base_url,
            max_rate=settings.telegram_max_rate,
        )
    zalo = None
    if settings.zalo_bot_token:
        zalo = ZaloChannel(
            ZaloClient(settings.zalo_bot_token, settings.zalo_api_base_url), services, links=links
        )
    return Channels(database, services, telegram, zalo, links)


async def campaign_loop(scheduler: CampaignScheduler, stop: asyncio.Event) -> None:
    """The campaign rounds where there is no Telegram JobQueue to run them."""
    while not stop.is_set():
        await scheduler.job(None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=CAMPAIGN_INTERVAL)


def run_polling(settings: Settings) -> None:
    """Long polling on every configured channel, in one process."""
    channels = make_channels(settings, with_links=False)
    scheduler = make_scheduler(settings, channels.database, channels.services, channels.deliver())
    stop = asyncio.Event()
    zalo = channels.zalo
    if channels.telegram is not None:
        application = channels.telegram
        attach_campaign(application, scheduler)  # type: ignore[arg-type]

        async def start_zalo(app: object) -> None:
            await post_init(app)  # type: ignore[arg-type]
            if zalo is not None:
                await _delete_zalo_webhook(zalo)
                app.create_task(zalo.poll(stop), name="zalo-poll")  # type: ignore[attr-defined]

        async def stop_zalo(_: object) -> None:
            stop.set()
            if zalo is not None:
                await zalo.client.aclose()

        application.post_init = start_zalo  # type: ignore[attr-defined]
        application.post_stop = stop_zalo  # type: ignore[attr-defined]
        log.info("bot starting: long polling on Telegram%s", " and Zalo" if zalo else "")
        application.run_polling(allowed_updates=ALLOWED_UPDATES)  # type: ignore[attr-defined]
        return
    assert zalo is not None

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await _delete_zalo_webhook(zalo)
        log.info("bot starting: long polling on Zalo")
        try:
            await asyncio.gather(zalo.poll(stop), campaign_loop(scheduler, stop))
        finally:
            await zalo.client.aclose()

    asyncio.run(main())


async def _delete_zalo_webhook(zalo: ZaloChannel) -> None:
    try:
        await zalo.client.delete_webhook()
    except ZaloError as error:
        log.warning("could not remove the Zalo webhook before polling: %s", error.error_code)


def check_serve_settings(settings: Settings) -> None:
    missing = []
    if not settings.public_base_url:
        missing.append("PUBLIC_BASE_URL")
    if settings.telegram_bot_token and len(settings.telegram_webhook_secret) < 16:
        missing.append("TELEGRAM_WEBHOOK_SECRET (16 ký tự trở lên)")
    if settings.zalo_bot_token and len(settings.zalo_webhook_secret) < 16:
        missing.append("ZALO_WEBHOOK_SECRET (16 ký tự trở lên)")
    if missing:
        raise ConfigError("tiendo serve cần đặt: " + ", ".join(missing) + ". Xem .env.example.")


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Webhooks of every configured channel, health and file links, plus the campaign."""
    import uvicorn

    from bot.web import WebRuntime, create_app

    check_serve_settings(settings)
    channels = make_channels(settings, with_links=True)
    runtime = WebRuntime(
        channels.database,
        channels.services,
        telegram=channels.telegram,
        zalo=channels.zalo,
        links=channels.links,
        telegram_secret=settings.telegram_webhook_secret,
        zalo_secret=settings.zalo_webhook_secret,
    )
    scheduler = make_scheduler(settings, channels.database, channels.services, channels.deliver())
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    base = settings.public_base_url.rstrip("/")

    async def on_startup() -> None:
        telegram = channels.telegram
        if telegram is not None:
            await telegram.initialize()  # type: ignore[attr-defined]
            await post_init(telegram)  # type: ignore[arg-type]
            await telegram.bot.set_webhook(  # type: ignore[attr-defined]
                url=f"{base}/telegram/webhook",
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        if channels.zalo is not None:
            try:
                await channels.zalo.client.set_webhook(f"{base}/zalo/webhook", settings.zalo_webhook_secret)
            except ZaloError as error:
                log.error(
                    "could not register the Zalo webhook (%s): no Zalo update will arrive", error.error_code
                )
        tasks.append(asyncio.create_task(campaign_loop(scheduler, stop), name="campaign"))
        log.info("serving webhooks at %s", base)

    async def on_shutdown() -> None:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if channels.telegram is not None:
            await channels.telegram.shutdown()  # type: ignore[attr-defined]
        if channels.zalo is not None:
            await channels.zalo.client.aclose()

    app = create_app(runtime, on_startup=on_startup, on_shutdown=on_shutdown)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)
