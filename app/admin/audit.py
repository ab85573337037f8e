"""The audit log: one row per admin change, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from app.models import AuditEntry

CLI_ACTOR = "cli"


def record(session: Session, *, actor: str, action: str, target_type: str, target_id: str,
           detail: dict[str, Any] | None = None) -> AuditEntry:
    """Add an audit row to ``session`` (committed with the change it describes)."""
    entry = AuditEntry(actor=actor, action=action, target_type=target_type,
                       target_id=target_id, detail=detail or {})
    session.add(entry)
    return entry


def entries(session: Session, *, actor: str | None = None, action: str | None = None,
            target_id: str | None = None, since: datetime | None = None,
            limit: int = 100, offset: int = 0) -> list[AuditEntry]:
    """Audit rows, newest first, optionally filtered."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if since:
        query = query.where(col(AuditEntry.at) >= since)
    query = query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all())
