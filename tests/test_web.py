"""The web backend in-process: webhook secrets, store-then-answer, health, file links."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import func, select

from bot.files import FileLinks
from bot.telegram_channel import build_application
from bot.web import WebRuntime, create_app
from handlers.types import File, Services
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
    app = build_application("123:TEST", services, base_url="http://fake/bot", request=api, rate_limit=False)
    await app.initialize()
    links = FileLinks(database, base_url="http://tiendo.test", secret="k", ttl=timedelta(minutes=5))
    runtime = WebRuntime(database, services, telegram=app, telegram_secret=SECRET, links=links)
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


async def test_forged_or_missing_secret_is_refused_and_nothing_processed(web, database: Database) -> None:  # type: ignore[no-untyped-def]
    client, runtime, api = web
    missing = await client.post("/telegram/webhook", json=UPDATE)
    forged = await client.post(
        "/telegram/webhook", json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
    )
    assert (missing.status_code, forged.status_code) == (401, 403)
    await runtime.wait_idle()
    assert stored(database) == 0 and api.sent() == []


async def test_update_is_stored_then_answered_then_processed_once(web, database: Database) -> None:  # type: ignore[no-untyped-def]
    client, runtime, api = web
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for _ in range(3):  # the platform retries
        assert (await client.post("/telegram/webhook", json=UPDATE, headers=headers)).status_code == 200
    await runtime.wait_idle()
    assert stored(database) == 1
    assert len(api.sent()) == 1 and "/dangky" in api.texts()[0]
    bad = await client.post("/telegram/webhook", content=b"not json", headers=headers)
    assert bad.status_code == 400


async def test_database_down_answers_503_so_the_platform_retries(web, services: Services) -> None:  # type: ignore[no-untyped-def]
    client, runtime, _ = web

    def broken():  # type: ignore[no-untyped-def]
        raise RuntimeError("database down")

    runtime.database = type("Broken", (), {"session": staticmethod(broken)})()  # type: ignore[assignment]
    answer = await client.post(
        "/telegram/webhook", json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert answer.status_code == 503
    health = await client.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "error"


async def test_healthz_reports_database_and_channels(web) -> None:  # type: ignore[no-untyped-def]
    client, runtime, _ = web
    await client.post("/telegram/webhook", json=UPDATE, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    await runtime.wait_idle()
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert (
        health["channels"]["telegram"]["configured"] is True and health["channels"]["telegram"]["last_update"]
    )
    assert health["channels"]["zalo"] == {"configured": False, "last_update": None}


async def test_file_links_are_signed_and_expire(web, services: Services) -> None:  # type: ignore[no-untyped-def]
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
