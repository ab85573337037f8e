"""Handoffs to a person: a summary of the stored conversation, kept until delivered.

A handoff is stored first and delivered to the configured webhook afterwards, so a receiver
that is down never loses one: failed deliveries stay in the table with their status and are
sent again by :func:`redeliver`. Receivers deduplicate on ``X-Groundline-Delivery`` (the
handoff id), because a re-delivery may repeat one that arrived but was not acknowledged.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.models import Handoff, Message, utcnow
from app.privacy import contact_key, redact_customer_text
from app.public.webhook import WebhookTarget, deliver
from app.settings import HandoffSettings

logger = logging.getLogger(__name__)

REASONS = ("customer_request", "missing_knowledge", "unsupported_request", "other")
EVENT = "handoff.created"
EXCERPT_CHARS = 200
STALE_PENDING = timedelta(minutes=10)


def webhook_target(settings: HandoffSettings) -> WebhookTarget | None:
    """The configured receiver, or None when handoffs are only stored."""
    if not settings.webhook_url:
        return None
    return WebhookTarget(url=settings.webhook_url,
                         secret=settings.webhook_secret.get_secret_value(),
                         attempts=settings.attempts, backoff_s=settings.backoff_s,
                         timeout_s=settings.timeout_s)


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 3] + "..."


def _bot_line(message: Message) -> str:
    if message.fallback:
        fallback = json.loads(message.fallback)
        offered = len(fallback.get("suggestions", []))
        return f"Bot: no answer ({fallback['reason']}); suggested {offered} article(s)."
    cited = len(json.loads(message.citations))
    return f"Bot (cited {cited} article(s)): {_excerpt(message.text)}"


def summarise(messages: Sequence[Message], *, turns: int) -> str:
    """A short plain-text summary of the last ``turns`` exchanges; no model involved."""
    asked = sum(1 for m in messages if m.role == "user")
    unanswered = sum(1 for m in messages if m.role == "assistant" and m.fallback)
    lines = [f"{asked} customer message(s), {unanswered} left unanswered by the bot."]
    if len(messages) > 2 * turns:
        lines.append("(earlier messages omitted)")
    for m in messages[-2 * turns:]:
        # Messages are stored redacted; redacting again covers rows stored before that.
        lines.append(f"Customer: {_excerpt(redact_customer_text(m.text))}" if m.role == "user"
                     else _bot_line(m))
    return "\n".join(lines)


def citations_tried(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Every article the bot cited or suggested in the conversation, first use first."""
    seen: dict[str, dict[str, str]] = {}
    for m in messages:
        if m.role != "assistant":
            continue
        items = json.loads(m.citations)
        if m.fallback:
            items = items + json.loads(m.fallback).get("suggestions", [])
        for item in items:
            seen.setdefault(item["article_id"], {"article_id": item["article_id"],
                                                 "title": item["title"], "url": item["url"]})
    return list(seen.values())


def create_handoff(session: Session, *, conversation_id: str, reason: str,
                   api_key_id: str | None, turns: int, delivery_status: str = "pending",
                   contact: str | None = None, order_number: str | None = None) -> Handoff:
    """Store a handoff for a conversation, with its summary and the citations tried, and the
    contact and order number the customer gave for it (kept as given, in their own fields)."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    messages = session.exec(select(Message).where(Message.conversation_id == conversation_id)
                            .order_by(col(Message.created))).all()
    row = Handoff(id=f"h_{uuid.uuid4().hex[:24]}", conversation_id=conversation_id,
                  reason=reason, summary=summarise(messages, turns=turns),
                  citations=json.dumps(citations_tried(messages)), api_key_id=api_key_id,
                  delivery_status=delivery_status, contact=contact,
                  contact_key=contact_key(contact) if contact else None,
                  order_number=order_number)
    session.add(row)
    session.commit()
    session.refresh(row)
    logger.info("handoff %s stored (reason %s)", row.id, reason)
    return row


def handoff_json(row: Handoff) -> dict[str, object]:
    """The handoff as the API returns it and the webhook receives it."""
    return {"id": row.id, "conversation_id": row.conversation_id, "reason": row.reason,
            "summary": row.summary, "citations": json.loads(row.citations),
            "contact": row.contact, "order_number": row.order_number,
            "created_at": _iso(row.created), "delivery_status": row.delivery_status,
            "attempts": row.attempts}


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def payload(row: Handoff) -> bytes:
    body = handoff_json(row)
    for volatile in ("delivery_status", "attempts"):
        body.pop(volatile)
    return json.dumps({"event": EVENT, "handoff": body}, ensure_ascii=False).encode()


def deliver_handoff(engine: Engine, handoff_id: str, *, target: WebhookTarget | None,
                    sleep: Callable[[float], None] = time.sleep) -> str:
    """Deliver one stored handoff and record the outcome; returns the new status.

    No database session stays open while the receiver is called (retries may take a while).
    """
    with Session(engine) as session:
        row = session.get(Handoff, handoff_id)
        if row is None or row.delivery_status == "delivered":
            return row.delivery_status if row else "missing"
        body = payload(row)
    result = None
    if target is not None:
        result = deliver(target, body, delivery_id=handoff_id, event=EVENT, sleep=sleep)
    with Session(engine) as session:
        row = session.get(Handoff, handoff_id)
        if row is None:  # erased while it was being delivered
            logger.info("handoff %s was erased during its delivery", handoff_id)
            return "erased"
        if result is None:
            row.delivery_status = "no_webhook"
        else:
            row.attempts += result.attempts
            row.last_error = result.error
            row.delivery_status = "delivered" if result.delivered else "failed"
            row.delivered_at = utcnow() if result.delivered else None
            if not result.delivered:
                logger.error("handoff %s not delivered after %d attempt(s): %s; kept for "
                             "re-delivery", handoff_id, result.attempts, result.error)
        session.add(row)
        session.commit()
        return row.delivery_status


def undelivered(session: Session, *, limit: int = 100) -> list[Handoff]:
    """Handoffs to send again: failed, stored without a webhook, or stuck pending."""
    stale = utcnow() - STALE_PENDING
    rows = session.exec(select(Handoff).where(col(Handoff.delivery_status) != "delivered")
                        .order_by(col(Handoff.created)).limit(limit)).all()
    return [r for r in rows if r.delivery_status != "pending"
            or r.created.replace(tzinfo=r.created.tzinfo or UTC) < stale]


def redeliver(engine: Engine, *, target: WebhookTarget | None, limit: int = 100,
              sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """Send every undelivered handoff again; counts per resulting status."""
    with Session(engine) as session:
        ids = [r.id for r in undelivered(session, limit=limit)]
    counts: dict[str, int] = {}
    for handoff_id in ids:
        status = deliver_handoff(engine, handoff_id, target=target, sleep=sleep)
        counts[status] = counts.get(status, 0) + 1
    return counts
