"""Short-lived signed links to generated files, for channels that take a URL instead of an upload."""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import col, delete

from handlers.types import File
from storage.db import Database
from storage.models import ExportFile

CONTENT_TYPES = {
    "png": "image/png",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


# What `publish` writes: a token of 24 random bytes in URL-safe base64, a Unix time, 32 hex digits.
# Anything else is no link of ours, answered "not found" without a look at the database.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
_EXPIRES = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"[0-9a-f]{32}")


class FileLinks:
    def __init__(self, database: Database, *, base_url: str, secret: str, ttl: timedelta) -> None:
        self.database = database
        self.base_url = base_url.rstrip("/")
        self.secret = secret.encode()
        self.ttl = ttl

    def signature(self, token: str, expires: int) -> str:
        return hmac.new(self.secret, f"{token}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def publish(self, file: File, now: datetime) -> str:
        """Store the file and return a URL valid for the configured time."""
        token = secrets.token_urlsafe(24)
        expires_at = now + self.ttl
        extension = file.filename.rsplit(".", 1)[-1].lower()
        with self.database.session() as session:
            session.exec(delete(ExportFile).where(col(ExportFile.expires_at) < now))
            session.add(
                ExportFile(
                    token=token,
                    filename=file.filename,
                    data=file.data,
                    expires_at=expires_at,
                    content_type=CONTENT_TYPES.get(extension, "application/octet-stream"),
                )
            )
        expires = int(expires_at.timestamp())
        return f"{self.base_url}/files/{token}?e={expires}&s={self.signature(token, expires)}"

    def fetch(self, token: str, expires: str, signature: str, now: datetime) -> ExportFile | None:
        """The file behind a link, if the signature is right and the link has not expired."""
        if not (_TOKEN.fullmatch(token) and _EXPIRES.fullmatch(expires) and _SIGNATURE.fullmatch(signature)):
            return None
        if not hmac.compare_digest(self.signature(token, int(expires)), signature):
            return None
        if int(expires) < now.timestamp():
            return None
        with self.database.session() as session:
            row = session.get(ExportFile, token)
            if row is None or row.expires_at < now:
                return None
            return row
