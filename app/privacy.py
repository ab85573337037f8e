"""Personal data that customers type: redacted before it is kept or shown, purged, erased.

What a customer writes (chat messages, the queries rewritten from them, feedback, the
customer lines of handoff summaries) goes through the redactor that cleans tickets
(:func:`app.content.redact.redact`) before it is stored, returned or sent to a webhook.
Retrieval and generation read the raw message in memory only. Conversations are purged
after ``public.retention_days`` and erased on request (``DELETE /v1/admin/conversations/...``).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.content.redact import redact
from app.db import session_scope
from app.models import Conversation, ConversationKey, Feedback, Handoff, Message, utcnow
from app.rag.trace import Trace

logger = logging.getLogger(__name__)

PURGE_INTERVAL_S = 3600.0


def redact_customer_text(text: str) -> str:
    """``text`` with emails, cards and security codes, phones, addresses and names replaced
    by placeholders such as ``[CARD]``; idempotent, so redacting twice is harmless."""
    return redact(text)


def redact_optional(text: str | None) -> str | None:
    return None if text is None else redact(text)


def redacted_trace(trace: Trace) -> dict[str, Any]:
    """The trace as stored: its query, the only customer text in it, redacted.

    Candidates, passages and sentences come from the knowledge base and are kept as they are.
    """
    out = trace.to_dict()
    out["query"] = redact(out["query"])
    return out


def erase_conversations(session: Session, ids: list[str]) -> dict[str, int]:
    """Delete the conversations ``ids`` with their messages (and traces), feedback, handoffs
    and key claims; counts of deleted rows per table. The caller commits."""
    if not ids:
        return {"conversations": 0, "messages": 0, "feedback": 0, "handoffs": 0}
    messages = select(Message.id).where(col(Message.conversation_id).in_(ids))
    counts = {}
    for name, stmt in (
        ("feedback", delete(Feedback).where(col(Feedback.message_id).in_(messages))),
        ("handoffs", delete(Handoff).where(col(Handoff.conversation_id).in_(ids))),
        ("messages", delete(Message).where(col(Message.conversation_id).in_(ids))),
        ("keys", delete(ConversationKey).where(col(ConversationKey.conversation_id).in_(ids))),
        ("conversations", delete(Conversation).where(col(Conversation.id).in_(ids))),
    ):
        counts[name] = session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]
    counts.pop("keys")
    return counts


def expired(session: Session, *, before: datetime) -> list[str]:
    """Conversations started before ``before`` with no message since then."""
    recent = select(Message.conversation_id).where(col(Message.created) >= before)
    query = select(Conversation.id).where(col(Conversation.created) < before,
                                          col(Conversation.id).not_in(recent))
    return list(session.exec(query).all())


def purge_expired(engine: Engine, *, retention_days: int) -> dict[str, int]:
    """Erase the conversations idle for over ``retention_days`` (0: keep forever)."""
    if retention_days <= 0:
        return {}
    with session_scope(engine) as session:
        ids = expired(session, before=utcnow() - timedelta(days=retention_days))
        counts = erase_conversations(session, ids)
    if ids:
        logger.info("retention: erased %d conversation(s) idle for over %d days",
                    len(ids), retention_days)
    return counts


class RetentionSweeper:
    """Purges expired conversations at start-up and then every ``interval_s`` seconds."""

    def __init__(self, engine: Engine, *, retention_days: int,
                 interval_s: float = PURGE_INTERVAL_S) -> None:
        self.engine = engine
        self.retention_days = retention_days
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Purge once now (so start-up fails loudly on a broken database), then in a thread."""
        if self.retention_days <= 0:
            return
        purge_expired(self.engine, retention_days=self.retention_days)
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                purge_expired(self.engine, retention_days=self.retention_days)
            except Exception:  # a database hiccup must not end the sweeper
                logger.exception("retention purge failed; retrying in %.0f s", self.interval_s)
