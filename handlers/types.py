"""What a channel hands to the handlers, and what it gets back: no platform types here."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlmodel import Session

from handlers.i18n import t


class Kind(StrEnum):
    text = "text"
    choice = "choice"  # a button pressed (Telegram callback data) or a numbered option chosen
    sticker = "sticker"
    photo = "photo"
    voice = "voice"
    document = "document"
    edited = "edited"  # an edit of an earlier message: not read, the sender is told why
    unsupported = "unsupported"


@dataclass(frozen=True)
class Incoming:
    channel: str  # "telegram", "zalo", "terminal"
    user_id: str
    chat_id: str
    text: str = ""
    kind: Kind = Kind.text
    choice: str | None = None
    delivery_id: str | None = None  # Telegram update_id, Zalo message_id: processed once
    display_name: str | None = None
    # A group chat: several members share `chat_id`; each has a dialogue of their own.
    is_group: bool = False
    # Meant for the bot (in a group: a mention, a reply to the bot, a command, a button); the channel
    # has taken the mention out of `text`.
    addressed: bool = True


@dataclass(frozen=True)
class Option:
    label: str
    data: str


@dataclass(frozen=True)
class File:
    """A file to send with a reply: a chart as a photo, a workbook as a document."""

    kind: str  # "photo" | "document"
    filename: str
    data: bytes


@dataclass(frozen=True)
class Reply:
    text: str
    options: tuple[Option, ...] = ()
    # Quick replies ("0", "1", "Tất cả"): the label is the answer; channels without buttons list
    # them as "Trả lời: 0 · 1 · Tất cả" rather than numbering them.
    quick: bool = False
    files: tuple[File, ...] = ()
    # Where to send it: None for the chat the message came from; a member's private chat when a
    # message in a group gets an answer meant for that member alone.
    chat_id: str | None = None


SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass
class Services:
    """What handlers need from the runtime, passed in so tests can substitute any of it."""

    session: SessionFactory
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    clock: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())
    draft_ttl: timedelta = timedelta(hours=24)
    correction_window: timedelta = timedelta(days=7)  # how long a secretary may correct a report
    messages_per_minute: int = 30  # per chat; 0 = no limit
    invite_failures_per_hour: int = 100  # wrong invite codes from all chats before /dangky pauses
    lagging_threshold: float = 1.0
    web_base_url: str = ""  # where the web page is served ("": not served by this process)
    web_login_minutes: int = 10  # how long a /web link stays valid
    web_session_hours: float = 8  # how long a browser session opened by it lasts
    bot_link: str = ""  # the bot's address (https://zalo.me/…, https://t.me/…) for invite cards' QR codes
    # Figures asked back before the read-back: a cell admitting more than this in a month, a class
    # report of more than this many candidates.
    plausible_admissions: int = 10
    plausible_class: int = 50
    review_keep_days: int = 30  # messages kept for review (text and date only); 0: none kept

    @property
    def web_login_ttl(self) -> timedelta:
        return timedelta(minutes=self.web_login_minutes)

    @property
    def web_session_ttl(self) -> timedelta:
        return timedelta(hours=self.web_session_hours)

    def now(self) -> datetime:
        return self.clock().astimezone(self.timezone)

    def today(self) -> date:
        return self.now().date()


def small_int(text: str, limit: int = 2**31 - 1) -> int | None:
    """A non-negative integer from button data, or None: data can be forged, ids fit the database."""
    # ASCII digits only: str.isdigit() also accepts "²" and "①", which int() refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if value <= limit else None


def numbered(options: tuple[Option, ...]) -> Iterator[str]:
    """How channels without buttons show options: '1. Xác nhận'."""
    for index, option in enumerate(options, start=1):
        yield f"{index}. {option.label}"


def options_text(reply: Reply) -> str:
    """Options as plain text, for channels without buttons (terminal, Zalo)."""
    if not reply.options:
        return ""
    if reply.quick:
        return t("options.answer_prefix") + " " + " · ".join(o.label for o in reply.options)
    return "  ".join(numbered(reply.options))
