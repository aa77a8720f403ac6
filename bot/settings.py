"""The one settings object: environment variables, or `.env` in the working directory."""

import re
from datetime import time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from storage.retention import Retention

TELEGRAM_API = "https://api.telegram.org/bot"


def _password(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password or ""
    except Exception:  # not a URL SQLAlchemy reads: the connection will say so
        return ""


def _without_password(url: object) -> object:
    password = _password(url) if isinstance(url, str) else ""
    return url.replace(password, "***") if isinstance(url, str) and password else url


def parse_clock(value: str) -> time:
    try:
        hours, minutes = (int(part) for part in value.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        raise ValueError(f"giờ không hợp lệ '{value}': cần dạng HH:MM, ví dụ 08:00") from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Secrets are SecretStr: printed as '**********' (repr, logs, tracebacks); .get_secret_value() at use.
    telegram_bot_token: SecretStr = SecretStr("")
    telegram_api_base_url: str = TELEGRAM_API
    # messages per second the bot sends at most (Telegram allows about 30); 0: no pacing, 429s honoured
    telegram_max_rate: float = Field(default=28, ge=0)
    zalo_bot_token: SecretStr = SecretStr("")
    # more Zalo bots, "name=token" separated by commas: one per commune, say (the free plan allows
    # 50 users and 3,000 messages a month per bot); each serves the units `tiendo bots set` gives it
    zalo_bots: SecretStr = SecretStr("")
    zalo_api_base_url: str = "https://bot-api.zaloplatforms.com"
    # a Zalo bot's plan (the free Basic plan: 3,000 outgoing messages a month, 50 users)
    zalo_monthly_quota: int = Field(default=3000, ge=1)
    zalo_user_limit: int = Field(default=50, ge=1)
    # messages of each bot's month a campaign leaves for answering members
    zalo_reply_reserve: int = Field(default=300, ge=0)
    # the address the platforms reach this server at (webhooks, file links), e.g. https://tiendo.example.vn
    public_base_url: str = ""
    telegram_webhook_secret: SecretStr = SecretStr("")
    zalo_webhook_secret: SecretStr = SecretStr("")
    # signs the short-lived file links; empty: a random key per start (links die with the process)
    secret_key: SecretStr = SecretStr("")
    file_link_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    database_url: str = "sqlite:///data/tiendo.db"
    timezone: str = "Asia/Ho_Chi_Minh"
    draft_ttl_hours: float = Field(default=24, gt=0)
    messages_per_minute: int = Field(default=30, ge=0)
    # wrong invite codes per hour from all chats together before /dangky pauses (per chat: 5)
    invite_failures_per_hour: int = Field(default=100, ge=1)
    correction_window_days: int = Field(default=7, ge=0, le=366)
    lagging_threshold: float = Field(default=1.0, gt=0, le=2)
    # a report above these is asked back before its read-back ("kết nạp 100 đảng viên")
    plausible_admissions_per_month: int = Field(default=10, ge=1)
    plausible_class_size: int = Field(default=50, ge=1)
    # unread messages and soon-corrected reports kept for review, text and date only (0: keep none)
    review_keep_days: int = Field(default=30, ge=0, le=366)
    log_level: str = "INFO"
    # "text": one line per event; "json": one JSON object per line, for a log collector
    log_format: Literal["text", "json"] = "text"
    # /metrics of `tiendo serve`: empty, readable from this machine's loopback only; set, readable by any
    # client that sends "Authorization: Bearer <token>" (and by no other)
    metrics_token: SecretStr = SecretStr("")
    campaign_day: int = Field(default=1, ge=1, le=28)
    campaign_time: str = "08:00"
    campaign_grace_hours: float = Field(default=72, ge=0)
    quiet_hours: str = "21:00-07:00"
    # Retention (docs/deploy.md): delivery ids and processed webhook updates (Telegram redelivers for
    # up to a day), idle dialogue state, campaign messages once sent.
    delivery_retention_days: int = Field(default=7, ge=2, le=366)
    conversation_retention_days: int = Field(default=7, ge=1, le=366)
    outbox_retention_days: int = Field(default=90, ge=31, le=3660)
    # the web page: a /web link works this many minutes; the session it opens lasts this many hours
    web_login_minutes: int = Field(default=10, ge=1, le=60)
    web_session_hours: float = Field(default=8, gt=0, le=24 * 7)
    # the bot's address for the QR code of printed invite cards (empty: the QR holds "/dangky CODE")
    bot_link: str = ""

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
        "zalo_bots",
        "zalo_api_base_url",
        "public_base_url",
        "telegram_webhook_secret",
        "zalo_webhook_secret",
        "metrics_token",
        mode="before",
    )
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    def __repr_args__(self):
        # The database URL may carry a password: shown without it.
        for name, value in super().__repr_args__():
            yield name, (_without_password(value) if name == "database_url" else value)

    def secrets(self) -> list[str]:
        """Every secret value set, including the database password: what the log filter masks."""
        values = [
            field.get_secret_value()
            for field in (
                self.telegram_bot_token,
                self.zalo_bot_token,
                self.telegram_webhook_secret,
                self.zalo_webhook_secret,
                self.secret_key,
                self.metrics_token,
            )
        ]
        bots = [
            entry.partition("=")[2].strip()
            for entry in re.split(r"[,\s]+", self.zalo_bots.get_secret_value())
        ]
        password = _password(self.database_url)
        return [v for v in (*values, *bots, password) if v]

    @field_validator("zalo_bots")
    @classmethod
    def _zalo_bots(cls, value: SecretStr) -> SecretStr:
        names = set()
        for entry in re.split(r"[,\s]+", value.get_secret_value().strip()):
            if not entry:
                continue
            name, sep, token = entry.partition("=")
            if not sep or not token.strip():
                # The entry may be a bare token: never repeat it in the message.
                raise ValueError("mỗi bot cần dạng tên=token, ví dụ xa-thanh-ha=1234567890:abc-xyz")
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,23}", name):
                raise ValueError(f"tên bot '{name}': chữ thường không dấu, chữ số và dấu -, tối đa 24 ký tự")
            if name in names:
                raise ValueError(f"tên bot '{name}' bị lặp")
            names.add(name)
        return value

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

    @property
    def retention(self) -> "Retention":
        from storage.retention import Retention

        return Retention(
            deliveries=timedelta(days=self.delivery_retention_days),
            conversations=timedelta(days=self.conversation_retention_days),
            outbox=timedelta(days=self.outbox_retention_days),
        )
