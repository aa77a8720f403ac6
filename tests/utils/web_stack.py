"""The real web app (`bot.web.create_app`) serving a Telegram and a Zalo channel against their
stand-ins (tests/utils/fake_telegram.py, tests/utils/fake_zalo_server.py), with signed file links and
the web page: what `tiendo serve` runs, without the platforms."""

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import func, select
from starlette.applications import Starlette

from bot.channels.telegram import TelegramChannel, build_channel
from bot.channels.zalo import SECRET_HEADER as ZALO_HEADER
from bot.channels.zalo import ZaloChannel
from bot.channels.zalo_client import ZaloClient
from bot.files import FileLinks
from bot.http_limits import Limits
from bot.web import WebRuntime, create_app
from handlers.types import Services
from storage.db import Database
from storage.models import InboxUpdate
from tests.utils.fake_bot_api import FakeBotAPI
from tests.utils.fake_zalo_server import FakeZaloServer

BASE = "http://tiendo.test"
TELEGRAM_SECRET = "telegram-webhook-secret-0123456789"
ZALO_SECRET = "zalo-webhook-secret-0123456789"
TELEGRAM_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TELEGRAM_PATH, ZALO_PATH = "/telegram/webhook", "/zalo/webhook"


@dataclass
class Stack:
    database: Database
    runtime: WebRuntime
    telegram: TelegramChannel
    zalo: ZaloChannel
    api: FakeBotAPI
    zalo_server: FakeZaloServer

    def app(self, *, lifespan: bool = False, limits: Limits | None = None) -> Starlette:
        """The app; with `lifespan`, its start-up starts the channels (for Starlette's TestClient,
        which runs it), else `started()` does (httpx's ASGITransport runs no lifespan)."""
        if lifespan:
            return create_app(
                self.runtime, limits=limits, on_startup=self.start_channels, on_shutdown=self.close_channels
            )
        return create_app(self.runtime, limits=limits)

    async def start_channels(self) -> None:
        for channel in (self.telegram, self.zalo):
            await channel.start(polling=False)

    async def close_channels(self) -> None:
        for channel in (self.telegram, self.zalo):
            await channel.close()

    @contextlib.asynccontextmanager
    async def started(self) -> AsyncIterator[None]:
        await self.start_channels()
        self.runtime.start()
        try:
            yield
        finally:
            await self.runtime.stop()
            await self.close_channels()

    def stored(self) -> int:
        """Updates in the inbox (every one a webhook call stored)."""
        with self.database.session() as session:
            return session.exec(select(func.count()).select_from(InboxUpdate)).one()

    def secrets(self) -> dict[str, tuple[str, str]]:
        """Each webhook path with its secret header and secret."""
        return {TELEGRAM_PATH: (TELEGRAM_HEADER, TELEGRAM_SECRET), ZALO_PATH: (ZALO_HEADER, ZALO_SECRET)}


@contextlib.contextmanager
def web_stack(database: Database, services: Services) -> Iterator[Stack]:
    services.web_base_url = BASE
    with FakeZaloServer(replay_seconds=0) as zalo_server:
        api = FakeBotAPI()
        telegram = build_channel(
            "123:TEST",
            services,
            base_url="http://fake/bot",
            transport=api.transport(),
            rate_limit=False,
            webhook_secret=TELEGRAM_SECRET,
        )
        zalo = ZaloChannel(
            ZaloClient(zalo_server.token, zalo_server.base_url, timeout=5),
            services,
            webhook_secret=ZALO_SECRET,
        )
        links = FileLinks(database, base_url=BASE, secret="file-link-key", ttl=timedelta(minutes=5))
        runtime = WebRuntime(database, services, channels={"telegram": telegram, "zalo": zalo}, links=links)
        yield Stack(database, runtime, telegram, zalo, api, zalo_server)
