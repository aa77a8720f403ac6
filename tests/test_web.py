"""The web backend in-process: webhook secrets, store-then-answer, health, file links, limits."""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from bot.channels.base import Channel, Outcome, Part, Verdict
from bot.channels.telegram import build_channel
from bot.files import FileLinks
from bot.http_limits import Limits
from bot.web import WebRuntime, create_app
from handlers.conversation import handle
from handlers.types import File, Incoming, Reply, Services
from storage import inbox
from storage.db import Database
from storage.models import InboxUpdate, Role, Unit
from tests.utils import web_stack as web_stack_module
from tests.utils.builders import build_tree, invite
from tests.utils.fake_bot_api import FakeBotAPI
from tests.utils.web_stack import BASE, web_stack

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
        "123:TEST",
        services,
        base_url="http://fake/bot",
        transport=api.transport(),
        rate_limit=False,
        webhook_secret=SECRET,
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


async def test_an_update_a_sweep_reads_while_it_is_being_received_is_processed_once_and_in_order(
    services: Services, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep (the one at start, or after a dead process) reads rows as soon as they are committed,
    before the request that stored them has scheduled them: each is processed once, in chat order."""
    import threading

    stored_but_unscheduled = threading.Event()
    release = threading.Event()
    original_store = inbox.store

    def slow_store(session: Session, **fields: Any) -> int | None:
        row_id = original_store(session, **fields)
        session.commit()
        if fields["delivery_id"] == "2":  # committed; the request has not come back yet
            stored_but_unscheduled.set()
            release.wait(5)
        return row_id

    monkeypatch.setattr(inbox, "store", slow_store)
    telegram = RecordingChannel()
    gate = telegram.hold[1] = asyncio.Event()
    runtime = WebRuntime(database, services, channels={"telegram": telegram})
    runtime.start()
    try:
        await runtime.wait_idle()
        assert await runtime.receive("telegram", "1", message(1, 1, "một"))
        second = asyncio.create_task(runtime.receive("telegram", "2", message(2, 1, "hai")))
        await asyncio.to_thread(stored_but_unscheduled.wait, 5)
        await runtime._sweep(include_recent=True)  # reads "hai" before its request schedules it
        release.set()
        assert await second
        gate.set()
        await runtime.wait_idle()
        # Finished, then read again by a sweep that began before it was marked: still not repeated.
        assert await runtime.receive("telegram", "3", message(3, 1, "ba"))
        await runtime.wait_idle()
        await runtime._sweep(include_recent=True)
        await runtime.wait_idle()
    finally:
        release.set()
        await runtime.stop()
    assert telegram.done == [(1, "một"), (1, "hai"), (1, "ba")]


async def test_an_update_of_an_unexpected_shape_does_not_stop_the_worker(
    services: Services, database: Database
) -> None:
    """A stored update whose conversation cannot be found (kept by an older version, or a platform's
    new shape) is processed on its own; the updates after it are processed too (the worker stopped
    at it, at every start)."""
    telegram = RecordingChannel()
    with database.session() as session:
        for update_id, payload in (
            (20, {"update_id": 20, "message": {"chat": "zz"}}),
            (21, message(21, 3, "sau")),
        ):
            inbox.store(
                session, channel="telegram", delivery_id=str(update_id), payload=payload, now=services.now()
            )
    runtime = WebRuntime(database, services, channels={"telegram": telegram})
    runtime.start()
    try:
        await eventually(lambda: telegram.done == [(3, "sau")])
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://tiendo.test") as client:
            answer = await client.post(
                "/telegram/webhook",
                json=message(22, 3, "nữa"),
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            )
        assert answer.status_code == 200
        await eventually(lambda: telegram.done == [(3, "sau"), (3, "nữa")])
        assert runtime._worker is not None and not runtime._worker.done()
    finally:
        await runtime.stop()
    with database.session() as session:
        failed = session.exec(select(InboxUpdate).where(InboxUpdate.delivery_id == "20")).one()
    assert failed.last_error and failed.processed_at is None  # recorded as failed, for a person to see


async def test_a_body_that_stops_coming_is_answered_408_and_not_stored(
    services: Services, database: Database
) -> None:
    runtime = WebRuntime(database, services, channels={"telegram": RecordingChannel()})
    app = create_app(runtime, limits=Limits(body_seconds=0.3))
    body = json.dumps(message(30, 1, "một")).encode()

    async def stalled() -> AsyncIterator[bytes]:
        yield body[:10]
        await asyncio.sleep(5)
        yield body[10:]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tiendo.test"
    ) as client:
        started = asyncio.get_running_loop().time()
        answer = await client.post(
            "/telegram/webhook", content=stalled(), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert answer.status_code == 408 and answer.headers["connection"] == "close"
        assert asyncio.get_running_loop().time() - started < 2
    assert stored(database) == 0


async def test_content_length_is_honoured_before_anything_is_read(
    services: Services, database: Database
) -> None:
    """A length past the route's limit is refused before the body is read; a malformed one (not
    digits, or two different ones) is refused too (behind a proxy that let it through)."""
    runtime = WebRuntime(database, services, channels={"telegram": RecordingChannel()})
    app = create_app(runtime)
    body = json.dumps(message(31, 1, "một")).encode()
    cases = [
        (str(2 * 1024 * 1024).encode(), 413, "/telegram/webhook"),
        (b"17000", 413, "/healthz"),  # no body expected there
        (str(8 * 1024 * 1024).encode(), 413, "/web/admin/import/units"),
        (b"abc", 400, "/telegram/webhook"),
        (b"-1", 400, "/telegram/webhook"),
        (b"\xc2\xb2", 400, "/telegram/webhook"),  # "²"
    ]
    for length, status, path in cases:
        read: list[int] = []

        async def receive(read: list[int] = read) -> dict[str, object]:
            read.append(1)
            return {"type": "http.request", "body": body, "more_body": False}

        sent: list[dict[str, object]] = []

        async def send(message: dict[str, object], sent: list[dict[str, object]] = sent) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"content-length", length),
                (b"x-telegram-bot-api-secret-token", SECRET.encode()),
                (b"cookie", b"tiendo_web=x"),
            ],
            "client": ("127.0.0.1", 1),
            "server": ("tiendo.test", 80),
        }
        await app(scope, receive, send)  # type: ignore[arg-type]
        assert sent[0]["status"] == status, (length, path)
        assert read == []  # refused from the head alone
    assert stored(database) == 0


async def test_stopping_as_an_update_arrives_does_not_hang(services: Services, database: Database) -> None:
    """SIGTERM while webhooks come in: the stop ends at once, with an update in hand and another
    arriving; neither is processed after it, and both stay in the inbox for the next start."""
    telegram = RecordingChannel()
    telegram.hold[1] = asyncio.Event()  # never set: chat 1's update stays in hand
    runtime = WebRuntime(database, services, channels={"telegram": telegram})
    runtime.start()
    await runtime.wait_idle()
    assert await runtime.receive("telegram", "1", message(1, 1, "một"))
    arriving = asyncio.ensure_future(runtime.receive("telegram", "2", message(2, 1, "hai")))
    stopping = asyncio.ensure_future(runtime.stop())
    await asyncio.wait([stopping], timeout=3)  # (not wait_for: its own cancellation would end the worker)
    finished = stopping.done()
    assert await arriving
    await asyncio.sleep(0.05)
    assert finished and runtime._worker is not None and runtime._worker.done()
    assert telegram.done == []
    with database.session() as session:
        assert [row.delivery_id for row in inbox.pending(session)] == ["1", "2"]


# --- anything at all, at the real app: 2xx or 4xx, and nothing stored without the secret ------------

_SURROGATES = st.sampled_from(["\ud800", "\udfff", "\udbff\u0041"])
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["/start", "/tiendo", "/dangky ABCDE-23456", "kết nạp 2 đảng viên", "1", "²", "\x00"]),
    _SURROGATES,
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included
    _TEXT,
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.one_of(st.text(max_size=6), _SURROGATES), inner, max_size=3)
    ),
    max_leaves=10,
)


def _or_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The documented value most of the time, anything now and then."""
    return st.one_of(strategy, strategy, strategy, _JSON)


_TELEGRAM_UPDATES = st.fixed_dictionaries(
    {"update_id": _or_junk(st.integers(min_value=0, max_value=10**6))},
    optional={
        "message": _or_junk(
            st.fixed_dictionaries(
                {
                    "message_id": _or_junk(st.integers(min_value=1, max_value=10**6)),
                    "date": _or_junk(st.just(1698800000)),
                    "chat": _or_junk(
                        st.fixed_dictionaries(
                            {
                                "id": _or_junk(st.integers(min_value=1, max_value=40)),
                                "type": _or_junk(st.sampled_from(["private", "group"])),
                            }
                        )
                    ),
                    "from": _or_junk(
                        st.fixed_dictionaries(
                            {
                                "id": _or_junk(st.integers(min_value=1, max_value=40)),
                                "is_bot": _or_junk(st.booleans()),
                                "first_name": _or_junk(_TEXT),
                            }
                        )
                    ),
                    "text": _or_junk(_TEXT),
                }
            )
        ),
        "callback_query": _JSON,
        "edited_message": _JSON,
    },
)
_ZALO_UPDATES = st.fixed_dictionaries(
    {
        "event_name": _or_junk(st.sampled_from(["message.text.received", "message.image.received"])),
        "message": _or_junk(
            st.fixed_dictionaries(
                {
                    "from": _or_junk(
                        st.fixed_dictionaries(
                            {"id": _or_junk(st.sampled_from(["u1", "u2"])), "display_name": _or_junk(_TEXT)}
                        )
                    ),
                    "chat": _or_junk(
                        st.fixed_dictionaries(
                            {
                                "id": _or_junk(st.sampled_from(["u1", "g1"])),
                                "chat_type": _or_junk(st.sampled_from(["PRIVATE", "GROUP"])),
                            }
                        )
                    ),
                    "text": _or_junk(_TEXT),
                    "message_id": _or_junk(st.text(alphabet="0123456789abcdef", min_size=1, max_size=70)),
                }
            )
        ),
    }
)
_UPDATES = st.one_of(
    _TELEGRAM_UPDATES,
    _ZALO_UPDATES,
    st.builds(lambda update, ok: {"ok": ok, "result": update}, _ZALO_UPDATES, _or_junk(st.just(True))),
    _JSON,
)


@st.composite
def _encoded(draw: st.DrawFn) -> bytes:
    value = draw(_UPDATES)
    how = draw(st.sampled_from(["ascii", "utf-8", "surrogatepass"]))
    text = json.dumps(value, ensure_ascii=how == "ascii")
    return text.encode("utf-8", errors="surrogatepass" if how != "ascii" else "strict")


_TOO_LARGE = b'{"update_id": 1, "x": "' + b"x" * (1024 * 1024) + b'"}'
_BODIES = st.one_of(
    _encoded(),
    _encoded(),
    _encoded(),
    st.binary(max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=60, max_value=70).map(
        lambda depth: b'{"update_id": 5, "m": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    ),
    st.just(None).map(lambda _: _TOO_LARGE),  # (a lambda: the strategy's repr stays short)
)
_HEADER_VALUES = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
_HEADERS = st.dictionaries(
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
        lambda name: (
            name.lower()
            not in {
                "content-length",
                "transfer-encoding",
                "host",
                "connection",
                "expect",
                "upgrade",
                "cookie",
            }
        )
    ),
    _HEADER_VALUES,
    max_size=3,
)
_CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "x",
    ]
)
_PARAM_VALUES = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12).map(lambda t: quote(t, safe="")),
    st.sampled_from(
        ["%C2%B2", "%ED%A0%80", "%FF%FE", "%00", "", "1", "0", "-1", "99999999999999999999", "1e9"]
    ),
)
_QUERIES = st.lists(
    st.tuples(
        st.sampled_from(["e", "s", "ky", "sort", "trang", "don_vi", "da_thu_hoi", "da_luu", "x"]),
        _PARAM_VALUES,
    ),
    max_size=4,
).map(lambda pairs: "&".join(f"{name}={value}" for name, value in pairs))


@dataclass(frozen=True)
class Attempt:
    method: str
    path: str
    body: bytes
    secret: str  # "right", "wrong" or "none"
    wrong: str
    headers: dict[str, str]
    query: str  # as sent, percent-encoded (the bytes of a lone surrogate included)


_WEBHOOK_ATTEMPTS = st.builds(
    Attempt,
    method=st.just("POST"),
    path=st.sampled_from(["/telegram/webhook", "/zalo/webhook"]),
    body=_BODIES,
    secret=st.sampled_from(["right", "right", "wrong", "none"]),
    wrong=_HEADER_VALUES,
    headers=st.builds(lambda extra, kind: {**extra, "Content-Type": kind}, _HEADERS, _CONTENT_TYPES),
    query=st.just(""),
)
_PAGE_ATTEMPTS = st.builds(
    Attempt,
    method=st.sampled_from(["GET", "POST", "PUT"]),
    path=st.one_of(
        st.sampled_from(
            [
                "/healthz",
                "/web/",
                "/web/unit/1",
                "/web/unit/2/chart.png",
                "/web/unit/99999999999/tien-do.xlsx",
                "/web/reports",
                "/web/admin/accounts",
                "/web/admin/campaign",
                "/web/admin/import/units",
                "/web/admin/invites",
                "/web/login/x",
                "/web/logout",
            ]
        ),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789_-%²", max_size=40).map(
            lambda t: "/files/" + t
        ),
        st.text(max_size=20).map(lambda t: "/web/" + quote(t, safe="/")),
    ),
    body=st.one_of(st.just(b""), st.binary(max_size=100), st.just(b"csrf=x&unit=%C2%B2&don_vi=0")),
    secret=st.just("none"),
    wrong=st.just(""),
    headers=st.builds(lambda extra, kind: {**extra, "Content-Type": kind}, _HEADERS, _CONTENT_TYPES),
    query=_QUERIES,
)


def test_arbitrary_requests_are_answered_2xx_or_4xx_and_nothing_is_stored_without_the_secret(
    database: Database, services: Services
) -> None:
    """Arbitrary JSON, bytes, headers, paths and query parameters at the app `tiendo serve` runs, with
    Telegram and Zalo behind it (their stand-ins) and an administrator logged in to the web page:
    never a 5xx (the platforms deliver again what is answered 5xx, for ever if it always fails), never
    an update stored without the right secret, and what is stored has a delivery id the inbox holds.
    The app keeps working afterwards."""
    tree = build_tree(database)
    code = invite(database, tree.root, Role.admin)
    handle(Incoming("telegram", "admin", "admin", f"/dangky {code}"), services)
    with (
        web_stack(database, services) as stack,
        start_blocking_portal() as portal,  # the app's event loop, in a thread: Hypothesis calls in
        portal.wrap_async_context_manager(stack.started()),
    ):
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app()), base_url=BASE)

        def request(method: str, path: str, **options: Any) -> httpx.Response:
            return portal.call(partial(client.request, method, path, **options))

        link = handle(Incoming("telegram", "admin", "admin", "/web"), services)[0].text
        login = re.search(r"/web/login/\S+", link)
        assert login and request("POST", login.group(0)).status_code == 303  # the cookie is kept
        secrets = stack.secrets()

        @settings(max_examples=300, deadline=None, database=None)
        @given(attempt=st.one_of(_WEBHOOK_ATTEMPTS, _WEBHOOK_ATTEMPTS, _PAGE_ATTEMPTS))
        def throw(attempt: Attempt) -> None:
            headers = dict(attempt.headers)
            if attempt.path in secrets and attempt.secret != "none":
                header, secret = secrets[attempt.path]
                headers[header] = secret if attempt.secret == "right" else attempt.wrong
            before = stack.stored()
            target = f"{attempt.path}?{attempt.query}" if attempt.query else attempt.path
            answer = request(attempt.method, target, content=attempt.body, headers=headers)
            assert answer.status_code < 500, (answer.status_code, answer.text[:300])
            if attempt.secret != "right" or attempt.path not in secrets or answer.status_code != 200:
                assert stack.stored() == before
            else:
                assert stack.stored() in (before, before + 1)  # new, or a redelivery stored before
            with database.session() as session:
                ids = session.exec(select(InboxUpdate.delivery_id)).all()
            assert all(0 < len(delivery) <= 64 for delivery in ids)

        throw()
        # The worker survived whatever was stored: a real update is still answered.
        before = len(stack.api.sent())
        answer = request(
            "POST",
            "/telegram/webhook",
            json={**UPDATE, "update_id": 10**7},
            headers={"X-Telegram-Bot-Api-Secret-Token": web_stack_module.TELEGRAM_SECRET},
        )
        assert answer.status_code == 200
        for _ in range(500):
            if len(stack.api.sent()) > before:
                break
            time.sleep(0.01)
        assert len(stack.api.sent()) > before
        assert stack.runtime._worker is not None and not stack.runtime._worker.done()
        portal.call(client.aclose)


@pytest.mark.parametrize(
    "path",
    [
        "/web/reports?trang=²",
        "/web/reports?trang=①",
        "/web/reports?trang=99999999999999999999",
        "/web/reports?trang=-1&don_vi=%ED%A0%80",
        "/web/admin/accounts?don_vi=²",
        "/web/admin/accounts?don_vi=%00&da_thu_hoi=%FF%FE",
        "/web/admin/campaign?don_vi=³",
        "/web/admin/campaign?don_vi=1e9&da_luu=%C2%B2",
        "/web/unit/ROOT?ky=²&sort=²",
        "/web/unit/ROOT?ky=%ED%A0%80&sort=%00",
        "/web/unit/ROOT?ky=nam%20%C2%B2%C2%B2%C2%B2%C2%B2&sort=99",
    ],
)
async def test_query_parameters_of_the_web_page_are_validated(
    database: Database, services: Services, path: str
) -> None:
    """Every query parameter of the page, given what int() refuses although str.isdigit() takes it
    ("²", "①"), bytes of no character, or numbers out of range: the page as without it, never a 500."""
    tree = build_tree(database)
    code = invite(database, tree.root, Role.admin)
    handle(Incoming("telegram", "admin", "admin", f"/dangky {code}"), services)
    with web_stack(database, services) as stack:  # (gives the page its address)
        link = handle(Incoming("telegram", "admin", "admin", "/web"), services)[0].text
        login = re.search(r"/web/login/\S+", link)
        assert login
        transport = httpx.ASGITransport(app=stack.app())
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            assert (await client.post(login.group(0))).status_code == 303
            with database.session() as session:
                root = session.exec(select(Unit).where(Unit.code == tree.root)).one()
            answer = await client.get(path.replace("ROOT", str(root.id)))
    assert answer.status_code == 200, answer.text[:300]


@pytest.mark.parametrize("suffix", ["", "/chart.png", "/tien-do.xlsx"])
async def test_a_unit_number_past_the_ids_range_is_no_unit(
    database: Database, services: Services, suffix: str
) -> None:
    """/web/unit/99999999999 (past a 32-bit id, which PostgreSQL refuses to compare) is answered
    like any unit that does not exist, never a 500."""
    tree = build_tree(database)
    code = invite(database, tree.root, Role.admin)
    handle(Incoming("telegram", "admin", "admin", f"/dangky {code}"), services)
    with web_stack(database, services) as stack:
        link = handle(Incoming("telegram", "admin", "admin", "/web"), services)[0].text
        login = re.search(r"/web/login/\S+", link)
        assert login
        transport = httpx.ASGITransport(app=stack.app())
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            assert (await client.post(login.group(0))).status_code == 303
            missing = await client.get(f"/web/unit/999999{suffix}")
            past = await client.get(f"/web/unit/99999999999{suffix}")
    assert missing.status_code < 500
    assert (past.status_code, past.text) == (missing.status_code, missing.text)
