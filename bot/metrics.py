"""`/metrics` for Prometheus: the bot's figures read from the database at each scrape, so that every
worker answers the same (a counter kept in one process would see only that process's updates), plus
the answering process's own figures (CPU, memory, open files).

Not public: by default only a client on this machine's loopback that did not come through a proxy
(no X-Forwarded-For, X-Real-IP or Forwarded header) may read it; with METRICS_TOKEN set, any client
that sends `Authorization: Bearer <METRICS_TOKEN>`, and no other.
"""

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy.engine import make_url
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from storage import metrics as figures
from storage.db import Database

log = logging.getLogger(__name__)

PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")


@dataclass(frozen=True)
class Plan:
    """A metered channel's limits as the settings give them (a bot's own row may override them)."""

    monthly_quota: int
    user_limit: int


class DatabaseCollector:
    """The bot's figures, read from the database at each scrape (prometheus_client's custom collector)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], datetime],
        zone: ZoneInfo,
        channels: Iterable[str] = (),
        metered: Mapping[str, Plan] | None = None,
        default_plan: Plan | None = None,
    ) -> None:
        self.database, self.clock, self.zone = database, clock, zone
        self.channels = list(channels)  # configured here: always reported, zeros included
        self.metered = dict(metered or {})
        self.default_plan = default_plan

    def collect(self) -> Iterable[Metric]:
        started = time.monotonic()
        now = self.clock()
        local = now.astimezone(self.zone)
        up = GaugeMetricFamily("tiendo_database_up", "1 if the database answered this scrape's queries")
        try:
            with self.database.session(readonly=True) as session:
                snapshot = figures.snapshot(
                    session, now=now, today=local.date(), quota_month=local.date().replace(day=1)
                )
        except Exception as error:
            log.warning("metrics: the database did not answer (%s: %s)", type(error).__name__, error)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._deliveries(snapshot)
        yield from self._inbox(snapshot, now)
        yield from self._outbox(snapshot, now)
        yield from self._accounts(snapshot)
        yield from self._reports(snapshot)
        yield from self._campaign(snapshot)
        yield from self._bots(snapshot, now)
        took = GaugeMetricFamily(
            "tiendo_metrics_query_seconds", "Time this scrape spent reading the figures from the database"
        )
        took.add_metric([], time.monotonic() - started)
        yield took

    def _deliveries(self, snapshot: figures.Snapshot) -> Iterable[Metric]:
        received = GaugeMetricFamily(
            "tiendo_updates_received",
            "Updates taken up in the last hour or day (each delivery once; redeliveries not counted again; "
            "webhook updates not processed yet are in tiendo_inbox_backlog)",
            labels=["channel", "window"],
        )
        answered = GaugeMetricFamily(
            "tiendo_updates_answered",
            "Updates of the last hour or day whose reply left (a redelivery, a message in a group not "
            "meant for the bot and a sender over the rate limit get none)",
            labels=["channel", "window"],
        )
        for channel in sorted({*self.channels, *snapshot.deliveries}):
            counts = snapshot.deliveries.get(channel, figures.Deliveries())
            for window in figures.WINDOWS:
                received.add_metric([channel, window], counts.received[window])
                answered.add_metric([channel, window], counts.answered[window])
        yield received
        yield answered

    def _inbox(self, snapshot: figures.Snapshot, now: datetime) -> Iterable[Metric]:
        backlog = GaugeMetricFamily(
            "tiendo_inbox_backlog", "Webhook updates stored and not processed yet", labels=["channel"]
        )
        given_up = GaugeMetricFamily(
            "tiendo_inbox_given_up",
            "Webhook updates that failed every attempt, kept for a person to look at",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "tiendo_inbox_oldest_age_seconds", "How long the backlog's oldest update has waited (0: none)"
        )
        ages = [0.0]
        for channel in sorted({*self.channels, *snapshot.inbox}):
            inbox = snapshot.inbox.get(channel, figures.Inbox())
            backlog.add_metric([channel], inbox.backlog)
            given_up.add_metric([channel], inbox.given_up)
            if inbox.oldest is not None:
                ages.append((now - inbox.oldest).total_seconds())
        oldest.add_metric([], max(ages))
        yield backlog
        yield given_up
        yield oldest

    def _outbox(self, snapshot: figures.Snapshot, now: datetime) -> Iterable[Metric]:
        by_status = GaugeMetricFamily(
            "tiendo_outbox_messages",
            "Messages the bot sends on its own (campaign, reminders, warnings) in the outbox, by status: "
            "pending (due or waiting to retry), held (waiting for a bot's monthly quota), sending, sent, "
            "uncertain (perhaps delivered: never resent), failed, unreachable, superseded",
            labels=["status"],
        )
        for status, n in snapshot.outbox.items():
            by_status.add_metric([status], n)
        yield by_status
        due = GaugeMetricFamily(
            "tiendo_outbox_oldest_due_age_seconds",
            "How long the longest-waiting message due to be sent has been due (0: none)",
        )
        waited = snapshot.outbox_oldest_due
        due.add_metric([], max(0.0, (now - waited).total_seconds()) if waited is not None else 0.0)
        yield due

    def _accounts(self, snapshot: figures.Snapshot) -> Iterable[Metric]:
        accounts = GaugeMetricFamily(
            "tiendo_accounts", "Accounts registered and not revoked", labels=["channel", "role"]
        )
        for (channel, role), n in sorted(snapshot.accounts.items()):
            accounts.add_metric([channel, role], n)
        yield accounts
        unreachable = GaugeMetricFamily(
            "tiendo_accounts_unreachable",
            "Accounts the platform refuses to deliver to (blocked the bot, left), until they write again",
            labels=["channel"],
        )
        channels = {channel for channel, _ in snapshot.accounts} | set(self.channels)
        for channel in sorted(channels):
            unreachable.add_metric([channel], snapshot.unreachable.get(channel, 0))
        yield unreachable

    def _reports(self, snapshot: figures.Snapshot) -> Iterable[Metric]:
        reports = GaugeMetricFamily(
            "tiendo_reports_stored",
            f"Reports stored on the local day ({self.zone.key}), corrections included",
            labels=["day"],
        )
        reports.add_metric(["today"], snapshot.reports_today)
        reports.add_metric(["yesterday"], snapshot.reports_yesterday)
        yield reports

    def _campaign(self, snapshot: figures.Snapshot) -> Iterable[Metric]:
        composed_at = GaugeMetricFamily(
            "tiendo_campaign_composed_timestamp_seconds",
            "When the latest monthly campaign was composed (Unix time)",
            labels=["month"],
        )
        composed = GaugeMetricFamily(
            "tiendo_campaign_composed_messages",
            "Messages the latest monthly campaign queued when it was composed",
            labels=["month"],
        )
        messages = GaugeMetricFamily(
            "tiendo_campaign_messages",
            "The latest monthly campaign's messages now, by outbox status (sent: accepted by the platform)",
            labels=["month", "status"],
        )
        campaign = snapshot.campaign
        if campaign is not None:
            month = f"{campaign.month:%Y-%m}"
            composed_at.add_metric([month], campaign.composed_at.timestamp())
            composed.add_metric([month], campaign.composed)
            for status, n in campaign.by_status.items():
                messages.add_metric([month, status], n)
        yield composed_at
        yield composed
        yield messages

    def _bots(self, snapshot: figures.Snapshot, now: datetime) -> Iterable[Metric]:
        sent = GaugeMetricFamily(
            "tiendo_bot_messages_sent", "Messages a metered bot sent this (local) month", labels=["channel"]
        )
        quota = GaugeMetricFamily(
            "tiendo_bot_monthly_quota", "A metered bot's monthly quota of messages", labels=["channel"]
        )
        used = GaugeMetricFamily(
            "tiendo_bot_quota_used_ratio", "Share of the monthly quota a metered bot used", labels=["channel"]
        )
        exhausted = GaugeMetricFamily(
            "tiendo_bot_quota_exhausted",
            "1 while the platform refuses a bot's messages for its quota (they wait, held), else 0",
            labels=["channel"],
        )
        users = GaugeMetricFamily(
            "tiendo_bot_users", "Accounts registered through a metered bot", labels=["channel"]
        )
        user_limit = GaugeMetricFamily(
            "tiendo_bot_user_limit", "Users a metered bot's plan allows", labels=["channel"]
        )
        per_channel: dict[str, int] = {}
        for (channel, _), n in snapshot.accounts.items():
            per_channel[channel] = per_channel.get(channel, 0) + n
        names = set(self.metered) | {name for name, month in snapshot.bots.items() if month.sent}
        for channel in sorted(names):
            month = snapshot.bots.get(channel, figures.BotMonth())
            plan = self.metered.get(channel, self.default_plan)
            limit = month.quota or (plan.monthly_quota if plan is not None else None)
            sent.add_metric([channel], month.sent)
            if limit:
                quota.add_metric([channel], limit)
                used.add_metric([channel], month.sent / limit)
            until = month.exhausted_until
            exhausted.add_metric([channel], 1 if until is not None and until > now else 0)
            users.add_metric([channel], per_channel.get(channel, 0))
            allowed = month.user_limit or (plan.user_limit if plan is not None else None)
            if allowed:
                user_limit.add_metric([channel], allowed)
        yield from (sent, quota, used, exhausted, users, user_limit)


class InfoCollector:
    def __init__(self, version: str, database: str) -> None:
        self.version, self.database = version, database

    def collect(self) -> Iterable[Metric]:
        info = InfoMetricFamily("tiendo", "The running version and its kind of database")
        info.add_metric([], {"version": self.version, "database": self.database})
        yield info


def make_registry(collector: DatabaseCollector) -> CollectorRegistry:
    """The database's figures, plus this process's (CPU, memory, open files, Python's GC)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        running = version("tiendo")
    except PackageNotFoundError:  # run from a checkout that was not installed
        running = "unknown"
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    backend = make_url(collector.database.url).get_backend_name()
    registry.register(InfoCollector(running, backend))
    registry.register(collector)
    return registry


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a unix socket, a name: not an address of this machine's loopback
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def refusal(request: Request, token: str) -> Response | None:
    """None if this request may read the metrics, else the answer that refuses it."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return PlainTextResponse(
            "metrics: Authorization: Bearer <METRICS_TOKEN> required\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    host = request.client.host if request.client is not None else ""
    # A reverse proxy on this machine connects from loopback too: what it forwards is someone else's.
    if _loopback(host) and not any(name in request.headers for name in PROXY_HEADERS):
        return None
    return PlainTextResponse(
        "metrics: loopback only (set METRICS_TOKEN to scrape from elsewhere)\n", status_code=403
    )


@dataclass
class Metrics:
    """What `/metrics` serves, and who may read it."""

    registry: CollectorRegistry
    token: str = ""

    def endpoint(self) -> Callable[[Request], Awaitable[Response]]:
        async def metrics(request: Request) -> Response:
            refused = refusal(request, self.token)
            if refused is not None:
                return refused
            body = await asyncio.to_thread(generate_latest, self.registry)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        return metrics


def for_serve(
    database: Database,
    *,
    clock: Callable[[], datetime],
    zone: ZoneInfo,
    channels: Mapping[str, bool],
    plan: Plan,
    token: str,
) -> Metrics:
    """The metrics of `tiendo serve`: `channels` maps each configured channel to whether it is metered."""
    collector = DatabaseCollector(
        database,
        clock=clock,
        zone=zone,
        channels=channels,
        metered={name: plan for name, metered in channels.items() if metered},
        default_plan=plan,
    )
    return Metrics(make_registry(collector), token=token)
