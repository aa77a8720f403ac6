"""The one settings object: environment variables, or `.env` in the working directory."""

from datetime import time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

TELEGRAM_API = "https://api.telegram.org/bot"


def parse_clock(value: str) -> time:
    try:
        hours, minutes = (int(part) for part in value.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"giờ không hợp lệ '{value}': cần dạng HH:MM, ví dụ 08:00") from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = ""
    telegram_api_base_url: str = TELEGRAM_API
    # messages per second the bot sends at most (Telegram allows about 30); 0: no pacing, 429s honoured
    telegram_max_rate: float = Field(default=28, ge=0)
    zalo_bot_token: str = ""
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com"
    # the address the platforms reach this server at (webhooks, file links), e.g. https://tiendo.example.vn
    public_base_url: str = ""
    telegram_webhook_secret: str = ""
    zalo_webhook_secret: str = ""
    # signs the short-lived file links; empty: a random key per start (links die with the process)
    secret_key: str = ""
    file_link_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    database_url: str = "sqlite:///data/tiendo.db"
    timezone: str = "Asia/Ho_Chi_Minh"
    draft_ttl_hours: float = Field(default=24, gt=0)
    messages_per_minute: int = Field(default=30, ge=0)
    correction_window_days: int = Field(default=7, ge=0, le=366)
    lagging_threshold: float = Field(default=1.0, gt=0, le=2)
    # a report above these is asked back before its read-back ("kết nạp 100 đảng viên")
    plausible_admissions_per_month: int = Field(default=10, ge=1)
    plausible_class_size: int = Field(default=50, ge=1)
    # up to this day of the month /ketnap and /lop ask which month, and a report naming no month goes
    # to the month just ended (0: never)
    month_question_days: int = Field(default=5, ge=0, le=28)
    # unread messages and soon-corrected reports kept for review, text and date only (0: keep none)
    review_keep_days: int = Field(default=30, ge=0, le=366)
    log_level: str = "INFO"
    campaign_day: int = Field(default=1, ge=1, le=28)
    campaign_time: str = "08:00"
    campaign_grace_hours: float = Field(default=72, ge=0)
    quiet_hours: str = "21:00-07:00"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"không biết múi giờ '{value}' (ví dụ đúng: Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator(
        "telegram_bot_token",
        "telegram_api_base_url",
        "database_url",
        "zalo_bot_token",
        "zalo_api_base_url",
        "public_base_url",
        "telegram_webhook_secret",
        "zalo_webhook_secret",
    )
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("campaign_time")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        parse_clock(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        if value.strip():
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError("cần dạng HH:MM-HH:MM, ví dụ 21:00-07:00 (để trống: không có giờ yên lặng)")
            parse_clock(start), parse_clock(end)
        return value.strip()

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        if not self.quiet_hours:
            return None
        start, _, end = self.quiet_hours.partition("-")
        return parse_clock(start), parse_clock(end)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def draft_ttl(self) -> timedelta:
        return timedelta(hours=self.draft_ttl_hours)

    @property
    def correction_window(self) -> timedelta:
        return timedelta(days=self.correction_window_days)
