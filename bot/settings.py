"""The one settings object: environment variables, or `.env` in the working directory."""

from datetime import timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = ""
    telegram_api_base_url: str = TELEGRAM_API
    database_url: str = "sqlite:///data/tiendo.db"
    timezone: str = "Asia/Ho_Chi_Minh"
    draft_ttl_hours: float = Field(default=24, gt=0)
    correction_window_days: int = Field(default=7, ge=0, le=366)
    lagging_threshold: float = Field(default=1.0, gt=0, le=2)
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"không biết múi giờ '{value}' (ví dụ đúng: Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("telegram_bot_token", "telegram_api_base_url", "database_url")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def draft_ttl(self) -> timedelta:
        return timedelta(hours=self.draft_ttl_hours)

    @property
    def correction_window(self) -> timedelta:
        return timedelta(days=self.correction_window_days)
