"""Wiring: settings -> database -> the services handlers receive."""

from collections.abc import Callable
from datetime import datetime

from bot.settings import Settings
from handlers.types import Services
from storage.db import Database


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
        lagging_threshold=settings.lagging_threshold,
    )
