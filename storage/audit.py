"""Audit events: every change of a stored fact leaves one."""

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from storage.clock import utcnow
from storage.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    account_id: int | None = None,
    unit_id: int | None = None,
    report_id: int | None = None,
    at: datetime | None = None,
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            at=at or utcnow(),
            action=action,
            account_id=account_id,
            unit_id=unit_id,
            report_id=report_id,
            detail=json.dumps(detail, ensure_ascii=False, default=str),
        )
    )
