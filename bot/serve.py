"""The two run modes: `tiendo run` polls every configured channel, `tiendo serve` serves their webhooks.

Both run the monthly campaign and stop gracefully on SIGTERM. Neither knows a platform: they hold
the channels `bot.channels` builds from the settings, by name.
"""

import asyncio
import contextlib
import logging
import secrets
import signal
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from bot import channels as channel_modules
from bot.channels.base import Channel
from bot.files import FileLinks
from bot.runtime import make_scheduler, make_services, make_usage, open_database
from bot.scheduler import CampaignScheduler
from bot.settings import Settings
from bot.usage import Usage
from handlers.types import Services
from storage import bots
from storage.db import Database

log = logging.getLogger(__name__)

CAMPAIGN_INTERVAL = 60.0  # seconds between campaign rounds (compose if due, then drain the outbox)
WEBHOOK_RETRY = 300.0  # seconds between attempts to register a webhook that could not be registered


class ConfigError(Exception):
    """The settings do not allow this run mode; the message says what to set."""


@dataclass
class Runtime:
    database: Database
    services: Services
    channels: dict[str, Channel]
    links: FileLinks | None
    usage: Usage


def make_links(settings: Settings, database: Database) -> FileLinks | None:
    if not settings.public_base_url:
        return None
    return FileLinks(
        database,
        base_url=settings.public_base_url,
        secret=settings.secret_key.get_secret_value() or secrets.token_hex(32),
        ttl=timedelta(minutes=settings.file_link_minutes),
    )


def make_runtime(settings: Settings, *, mode: Literal["poll", "webhook", "send"]) -> Runtime:
    if not channel_modules.any_configured(settings):
        raise ConfigError("Chưa đặt token của bot nào (trong môi trường hoặc tệp .env).")
    database = open_database(settings)
    # The web page is served with the webhooks (tiendo serve), at PUBLIC_BASE_URL/web/.
    web_base_url = settings.public_base_url if mode == "webhook" else ""
    services = make_services(settings, database, web_base_url=web_base_url)
    links = make_links(settings, database) if mode == "webhook" else None
    with database.session() as session:
        titles = {row.channel: row.title for row in bots.all_bots(session) if row.title}
    usage = make_usage(settings, database, services)
    wiring = channel_modules.Wiring(
        settings=settings, services=services, links=links, usage=usage, mode=mode, titles=titles
    )
    return Runtime(database, services, channel_modules.build(wiring), links, usage)


async def campaign_loop(scheduler: CampaignScheduler, stop: asyncio.Event) -> None:
    """The campaign rounds: compose when due, send what is due."""
    while not stop.is_set():
        await scheduler.round()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=CAMPAIGN_INTERVAL)


def run_polling(settings: Settings) -> None:
    """Long polling on every configured channel, in one process."""
    runtime = make_runtime(settings, mode="poll")
    scheduler = make_scheduler(settings, runtime.database, runtime.services, runtime.channels, runtime.usage)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        started: list[Channel] = []
        try:
            for channel in runtime.channels.values():
                await channel.start(polling=True)
                started.append(channel)
            log.info("bot starting: long polling on %s", ", ".join(runtime.channels))
            await asyncio.gather(
                *(channel.poll(stop) for channel in runtime.channels.values()), campaign_loop(scheduler, stop)
            )
        finally:
            for channel in reversed(started):
                try:
                    await channel.close()
                except Exception:
                    log.exception("could not close %s", channel.name)

    asyncio.run(main())


def check_serve_settings(settings: Settings, channels: dict[str, Channel]) -> None:
    """Refuse, before anything starts, what the platforms would refuse when the webhooks are set."""
    missing = []
    address = urlsplit(settings.public_base_url)
    if not settings.public_base_url:
        missing.append("PUBLIC_BASE_URL (địa chỉ https công khai của máy chủ)")
    elif address.scheme != "https" or not address.netloc:
        missing.append(
            f"PUBLIC_BASE_URL bắt đầu bằng https:// (hiện là «{settings.public_base_url}»: Zalo và Telegram "
            "chỉ gửi webhook tới địa chỉ https)"
        )
    for channel in channels.values():
        missing += channel.webhook_problems()
    if missing:
        raise ConfigError("tiendo serve cần đặt: " + "; ".join(missing) + ". Xem .env.example.")


async def register(channel: Channel, url: str, stop: asyncio.Event) -> None:
    """Register a channel's webhook; while the platform refuses, /healthz says so and it is tried again."""
    while not stop.is_set():
        try:
            await channel.register_webhook(url)
        except Exception as error:
            channel.webhook_error = f"{type(error).__name__}: {error}"[:300]
            log.error("could not register the %s webhook (%s): no update will arrive", channel.name, error)
        else:
            channel.webhook_error = None
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=WEBHOOK_RETRY)


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Webhooks of every configured channel, health and file links, plus the campaign."""
    import uvicorn

    from bot import metrics
    from bot.http_limits import Limits, server_options
    from bot.web import WebRuntime, create_app

    runtime = make_runtime(settings, mode="webhook")
    check_serve_settings(settings, runtime.channels)
    web = WebRuntime(
        runtime.database,
        runtime.services,
        channels=runtime.channels,
        links=runtime.links,
        metrics=metrics.for_serve(
            runtime.database,
            clock=runtime.services.now,
            zone=settings.zone,
            channels={name: channel.metered for name, channel in runtime.channels.items()},
            plan=metrics.Plan(settings.zalo_monthly_quota, settings.zalo_user_limit),
            token=settings.metrics_token.get_secret_value(),
        ),
    )
    scheduler = make_scheduler(settings, runtime.database, runtime.services, runtime.channels, runtime.usage)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    base = settings.public_base_url.rstrip("/")

    async def on_startup() -> None:
        for channel in runtime.channels.values():
            await channel.start(polling=False)
            if channel.webhook_path:
                # Registered in the background: a platform that refuses does not keep the server down.
                tasks.append(asyncio.create_task(register(channel, base + channel.webhook_path, stop)))
        tasks.append(asyncio.create_task(campaign_loop(scheduler, stop), name="campaign"))
        log.info("serving webhooks at %s", base)

    async def on_shutdown() -> None:
        stop.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in runtime.channels.values():
            try:
                await channel.close()
            except Exception:
                log.exception("could not close %s", channel.name)

    limits = Limits()
    app = create_app(web, limits=limits, on_startup=on_startup, on_shutdown=on_shutdown)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,  # uvicorn's lines go through our handler: redacted, and JSON with LOG_FORMAT=json
        **server_options(limits),  # deadlines for slow heads and bodies (slowloris)
    )
