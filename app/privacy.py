"""Personal data that customers type: redacted before it is kept or shown, purged, erased.

What a customer writes (chat messages, the queries rewritten from them, feedback, the
customer lines of handoff summaries) goes through the redactor that cleans tickets
(:func:`app.content.redact.redact`) before it is stored, returned or sent to a webhook.
Retrieval and generation read the raw message in memory only. Conversations are purged
after ``public.retention_days`` and erased on request: one by its id
(``DELETE /v1/admin/conversations/{id}``), or every conversation of one customer, found by
the ``customer.id`` the widget sent or by the contact given for a handoff
(``POST /v1/admin/conversations/erase``). Neither is stored as given where it is searched:
conversations keep the SHA-256 of the customer id, handoffs the SHA-256 of the normalised
contact (beside the contact itself, which the person taking over needs).
"""

from __future__ import annotations

import hashlib
import logging
import re
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


def customer_ref(customer_id: str) -> str:
    """What a conversation stores of the widget's ``customer.id``: its SHA-256 (hex).

    Pseudonymous, not anonymous: whoever knows an id can recompute its hash.
    """
    return hashlib.sha256(b"customer-id:" + customer_id.strip().encode()).hexdigest()


def contact_key(contact: str) -> str:
    """The SHA-256 (hex) of a contact normalised so that the same address or number written
    differently matches: an email lower-cased without spaces, a phone number's digits."""
    value = "".join(contact.split()).lower()
    if "@" not in value and len(digits := re.sub(r"\D", "", value)) >= 5:
        value = digits
    return hashlib.sha256(b"contact:" + value.encode()).hexdigest()


def conversations_of(session: Session, *, customer_id: str | None = None,
                     contact: str | None = None) -> list[str]:
    """The ids of the conversations started with ``customer_id``, or handed off with
    ``contact``."""
    ids: set[str] = set()
    if customer_id is not None:
        ids.update(session.exec(select(Conversation.id).where(
            Conversation.customer_ref == customer_ref(customer_id))).all())
    if contact is not None:
        ids.update(session.exec(select(Handoff.conversation_id).where(
            Handoff.contact_key == contact_key(contact))).all())
    return sorted(ids)


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
