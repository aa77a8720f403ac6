"""Wiring: settings -> database -> the services handlers receive."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.settings import Settings
from handlers.types import Services
from storage.db import Database

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bot.channels.base import Channel
    from bot.scheduler import CampaignScheduler
    from bot.usage import Usage


def open_database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    database.migrate()
    return database


def make_services(
    settings: Settings,
    database: Database,
    clock: Callable[[], datetime] | None = None,
    *,
    web_base_url: str = "",
) -> Services:
    zone = settings.zone
    return Services(
        session=database.session,
        timezone=zone,
        clock=clock or (lambda: datetime.now(zone)),
        draft_ttl=settings.draft_ttl,
        correction_window=settings.correction_window,
        messages_per_minute=settings.messages_per_minute,
        invite_failures_per_hour=settings.invite_failures_per_hour,
        lagging_threshold=settings.lagging_threshold,
        web_base_url=web_base_url,
        web_login_minutes=settings.web_login_minutes,
        web_session_hours=settings.web_session_hours,
        bot_link=settings.bot_link,
        plausible_admissions=settings.plausible_admissions_per_month,
        plausible_class=settings.plausible_class_size,
        review_keep_days=settings.review_keep_days,
    )


def make_usage(settings: Settings, database: Database, services: Services) -> "Usage":
    """The bots' quotas: what each sent this month, against the plan's limits."""
    from bot.usage import Usage

    return Usage(
        database,
        clock=services.clock,
        zone=settings.zone,
        monthly_quota=settings.zalo_monthly_quota,
        user_limit=settings.zalo_user_limit,
        reply_reserve=settings.zalo_reply_reserve,
    )


def make_scheduler(
    settings: Settings,
    database: Database,
    services: Services,
    channels: "Mapping[str, Channel]",
    usage: "Usage | None" = None,
) -> "CampaignScheduler":
    """The campaign scheduler with its outbox sender, configured from the settings."""
    from bot.outbox_sender import OutboxSender
    from bot.scheduler import CampaignScheduler
    from bot.settings import parse_clock
    from bot.usage import budget_for

    sender = OutboxSender(database, channels, clock=services.clock)
    return CampaignScheduler(
        database,
        sender,
        clock=services.clock,
        zone=settings.zone,
        day=settings.campaign_day,
        at=parse_clock(settings.campaign_time),
        grace=timedelta(hours=settings.campaign_grace_hours),
        quiet=settings.quiet_window,
        threshold=settings.lagging_threshold,
        budget=budget_for(usage or make_usage(settings, database, services), channels),
        retention=settings.retention,
    )
