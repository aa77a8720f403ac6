"""Logging set-up, kept apart from the heavy modules so that every command can afford it.

Secrets never reach a log line, at any level and whichever handler writes it (ours, uvicorn's, a
test's): every record is redacted as it is created. python-telegram-bot at DEBUG logs request URLs
(the token is in the path) and the parameters of setWebhook (the webhook secret); httpx logs URLs.
"""

import json
import logging
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

MASK = "***"
# A Telegram bot token ("123456789:AA…", 35 characters after the colon), wherever it appears.
_BOT_TOKEN = re.compile(r"(?<![0-9])([0-9]{5,}):[A-Za-z0-9_-]{30,}")
# An invite code after /dangky (a log line may quote an update), and bare codes "ABCDE-23456".
_REGISTER = re.compile(r"(/dangky\S*\s+)[^\s'\"\\,}]+", re.IGNORECASE)
_BARE_CODE = re.compile(
    r"(?<![0-9A-Za-z])[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}(?![0-9A-Za-z])", re.IGNORECASE
)
MIN_SECRET = 6  # shorter values would mask ordinary words

_original_factory: Callable[..., logging.LogRecord] | None = None


def redactor(secrets: Iterable[str]) -> Callable[[str], str]:
    """A function masking the given secret values, bot tokens and invite codes in a text."""
    known = sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in known:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _BOT_TOKEN.sub(rf"\1:{MASK}", text)
        text = _REGISTER.sub(rf"\1{MASK}", text)
        return _BARE_CODE.sub(MASK, text)

    return redact


def install_redaction(secrets: Iterable[str]) -> None:
    """Redact every log record as it is created (the message, its arguments, its traceback)."""
    global _original_factory
    if _original_factory is None:
        _original_factory = logging.getLogRecordFactory()
    make = _original_factory
    redact = redactor(secrets)
    formatter = logging.Formatter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it when the record is emitted
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, process id, and the
    traceback if any. Every text field is redacted again here, whatever the record went through."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redact(record.getMessage()),
            "pid": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            entry["stack"] = self.redact(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, secrets: Iterable[str] = (), *, json_lines: bool = False) -> None:
    """Log to standard error (journald, docker logs) at `level`; `json_lines`: as JSON objects."""
    secrets = list(secrets)
    install_redaction(secrets)
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter(redactor(secrets)))
        logging.captureWarnings(True)  # a library's warning is a log line too, not free text
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # httpx logs every request URL, and Bot API URLs contain the token (masked anyway: less noise).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Alembic names each of its plugins at every start; its "Running upgrade" lines stay.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
