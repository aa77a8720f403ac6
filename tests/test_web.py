"""The web backend in-process: webhook secrets, store-then-answer, health, file links."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import httpx
import pytest
from sqlmodel import func, select

from bot.channels.base import Channel, Outcome, Part, Verdict
from bot.channels.telegram import build_channel
from bot.files import FileLinks
from bot.web import WebRuntime, create_app
from handlers.types import File, Reply, Services
from storage import inbox
from storage.db import Database
from storage.models import InboxUpdate
from tests.utils.fake_telegram import FakeBotAPI

SECRET = "telegram-webhook-secret-0123456789"
UPDATE = {
    "update_id": 77,
    "message": {
        "message_id": 1,
        "date": 1698800000,
        "chat": {"id": 5, "type": "private"},
        "from": {"id": 5, "is_bot": False, "first_name": "Lan"},
        "text": "/start",
    },
}


@pytest.fixture
async def web(
    services: Services, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, WebRuntime, FakeBotAPI]]:
    api = FakeBotAPI()
    channel = build_channel(
        "123:TEST", services, base_url="http://fake/bot", request=api, rate_limit=False, webhook_secret=SECRET
    )
    app = channel.application
    assert app is not None
    await app.initialize()
    links = FileLinks(database, base_url="http://tiendo.test", secret="k", ttl=timedelta(minutes=5))
    runtime = WebRuntime(database, services, channels={"telegram": channel}, links=links)
    runtime.start()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://tiendo.test"
    ) as client:
        yield client, runtime, api
    await runtime.stop()
    await app.shutdown()


def stored(database: Database) -> int:
    with database.session() as session:
        return session.exec(select(func.count()).select_from(InboxUpdate)).one()


async def test_forged_or_missing_secret_is_refused_and_nothing_processed(web, database: Database) -> None:
    client, runtime, api = web
    missing = await client.post("/telegram/webhook", json=UPDATE)
    forged = await client.post(
        "/telegram/webhook", json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
    )
    assert (missing.status_code, forged.status_code) == (401, 403)
    await runtime.wait_idle()
    assert stored(database) == 0 and api.sent() == []


async def test_update_is_stored_then_answered_then_processed_once(web, database: Database) -> None:
    client, runtime, api = web
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for _ in range(3):  # the platform retries
        assert (await client.post("/telegram/webhook", json=UPDATE, headers=headers)).status_code == 200
    await runtime.wait_idle()
    assert stored(database) == 1
    assert len(api.sent()) == 1 and "/dangky" in api.texts()[0]
    bad = await client.post("/telegram/webhook", content=b"not json", headers=headers)
    assert bad.status_code == 400


async def test_database_down_answers_503_so_the_platform_retries(web, services: Services) -> None:
    client, runtime, _ = web

    def broken():
        raise RuntimeError("database down")

    runtime.database = type("Broken", (), {"session": staticmethod(broken)})()
    answer = await client.post(
        "/telegram/webhook", json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert answer.status_code == 503
    health = await client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "error"


async def test_healthz_reports_database_and_channels(web) -> None:
    client, runtime, _ = web
    await client.post("/telegram/webhook", json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    await runtime.wait_idle()
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["database"] == "ok"
    telegram = health["channels"]["telegram"]
    assert telegram["configured"] is True and telegram["last_update"] and telegram["webhook"] == "ok"
    assert list(health["channels"]) == ["telegram"]  # only the channels this server runs
    # A webhook the platform refused to register: nothing arrives on that channel, and /healthz says so.
    runtime.channels["telegram"].webhook_error = "TelegramError: Bad webhook: HTTPS url must be provided"
    health = (await client.get("/healthz")).json()
    assert health["status"] == "degraded"
    assert health["channels"]["telegram"]["webhook"].startswith("not registered: TelegramError: Bad webhook")


async def test_file_links_are_signed_and_expire(web, services: Services) -> None:
    client, runtime, _ = web
    now = services.now()
    url = runtime.links.publish(File("document", "tien-do.xlsx", b"PK-data"), now)
    path = url.removeprefix("http://tiendo.test")
    ok = await client.get(path)
    assert (
        ok.status_code == 200
        and ok.content == b"PK-data"
        and "tien-do.xlsx" in ok.headers["content-disposition"]
    )
    assert (await client.get(path[:-1] + ("0" if path[-1] != "0" else "1"))).status_code == 404
    later = runtime.links.fetch(
        path.split("/")[2].split("?")[0],
        path.split("e=")[1].split("&")[0],
        path.split("s=")[1],
        now + timedelta(minutes=6),
    )
    assert later is None


class RecordingChannel:
    """A stand-in channel (the `Channel` protocol, as a test double): records what it processed, and
    can hold a chat. It takes Telegram-shaped updates."""

    name = "telegram"
    webhook_path = "/telegram/webhook"
    secret_header = "X-Telegram-Bot-Api-Secret-Token"
    webhook_secret = SECRET
    webhook_error: str | None = None
    marks_its_start = False
    metered = False

    def __init__(self) -> None:
        self.done: list[tuple[int, str]] = []
        self.hold: dict[int, asyncio.Event] = {}

    async def process(self, update: dict) -> None:
        chat, text = update["message"]["chat"]["id"], update["message"]["text"]
        if chat in self.hold:
            await self.hold.pop(chat).wait()
        self.done.append((chat, text))

    def unwrap(self, body: object) -> dict | None:
        return body if isinstance(body, dict) and "update_id" in body else None

    def delivery_id(self, update: dict) -> str:
        return str(update["update_id"])

    def conversation_of(self, update: dict) -> str:
        return str(update["message"]["chat"]["id"])

    def webhook_problems(self) -> list[str]:
        return []

    async def start(self, *, polling: bool) -> None: ...

    async def close(self) -> None: ...

    async def render(self, chat_id: str, reply: Reply) -> list[Part]:
        return []

    async def deliver(self, message: object) -> None: ...

    def classify(self, error: BaseException) -> Verdict:
        return Verdict(Outcome.retry)

    async def poll(self, stop: asyncio.Event) -> None: ...

    async def register_webhook(self, url: str) -> None: ...

    def cost(self, text: str) -> int:
        return 1


def test_the_stand_in_is_a_channel() -> None:
    assert isinstance(RecordingChannel(), Channel)


def message(update_id: int, chat: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1698800000,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Lan"},
            "text": text,
        },
    }


async def eventually(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_a_slow_chat_holds_back_only_itself_and_each_chat_keeps_its_order(
    services: Services, database: Database
) -> None:
    telegram = RecordingChannel()
    gate = telegram.hold[1] = asyncio.Event()
    runtime = WebRuntime(database, services, channels={"telegram": telegram})
    runtime.start()
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://tiendo.test") as client:
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            for update_id, chat, text in ((1, 1, "một"), (2, 1, "hai"), (3, 2, "ba"), (4, 2, "bốn")):
                answer = await client.post(
                    "/telegram/webhook", json=message(update_id, chat, text), headers=headers
                )
                assert answer.status_code == 200
            # Chat 2 is answered while chat 1's first update is still in hand; chat 1's second waits.
            await eventually(lambda: len(telegram.done) == 2)
            assert telegram.done == [(2, "ba"), (2, "bốn")]
            # A sweep meanwhile (as after ORPHAN_AGE) must not take the updates still in hand again.
            await runtime._sweep(include_recent=True)
            gate.set()
            await runtime.wait_idle()
        assert telegram.done == [(2, "ba"), (2, "bốn"), (1, "một"), (1, "hai")]
        with database.session() as session:
            rows = session.exec(select(InboxUpdate)).all()
        assert sorted((r.delivery_id, r.attempts, r.processed_at is not None) for r in rows) == [
            (str(i), 1, True) for i in range(1, 5)
        ]
    finally:
        await runtime.stop()


async def test_updates_left_by_a_dead_process_are_taken_in_order_at_start(
    services: Services, database: Database
) -> None:
    with database.session() as session:
        for update_id, chat, text in ((10, 7, "đầu"), (11, 8, "khác"), (12, 7, "sau")):
            inbox.store(
                session,
                channel="telegram",
                delivery_id=str(update_id),
                payload=message(update_id, chat, text),
                now=services.now(),
            )
    telegram = RecordingChannel()
    runtime = WebRuntime(database, services, channels={"telegram": telegram})
    runtime.start()
    try:
        await eventually(lambda: len(telegram.done) == 3)
        await runtime.wait_idle()
    finally:
        await runtime.stop()
    assert [text for chat, text in telegram.done if chat == 7] == ["đầu", "sau"]
    with database.session() as session:
        assert inbox.pending(session) == []
