"""Wiring: settings -> database -> the services handlers receive."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.settings import Settings
from handlers.types import Services
from storage.db import Database

if TYPE_CHECKING:
    from bot.outbox_sender import Deliver
    from bot.scheduler import CampaignScheduler


def open_database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    database.migrate()
    return database


def make_services(
    settings: Settings, database: Database, clock: Callable[[], datetime] | None = None
) -> Services:
    zone = settings.zone
    return Services(
        session=database.session,
        timezone=zone,
        clock=clock or (lambda: datetime.now(zone)),
        draft_ttl=settings.draft_ttl,
        correction_window=settings.correction_window,
        messages_per_minute=settings.messages_per_minute,
        lagging_threshold=settings.lagging_threshold,
        plausible_admissions=settings.plausible_admissions_per_month,
        plausible_class=settings.plausible_class_size,
        month_question_days=settings.month_question_days,
        review_keep_days=settings.review_keep_days,
    )


def make_scheduler(
    settings: Settings, database: Database, services: Services, deliver: "Deliver"
) -> "CampaignScheduler":
    """The campaign scheduler with its outbox sender, configured from the settings."""
    from bot.outbox_sender import OutboxSender
    from bot.scheduler import CampaignScheduler
    from bot.settings import parse_clock

    sender = OutboxSender(database, deliver, clock=services.clock)
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
    )
