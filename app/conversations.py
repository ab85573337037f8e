"""Persisting conversations so that history renders later exactly as it was answered."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

from sqlmodel import Session, col, select

from app.models import Conversation, Message
from app.privacy import redact_customer_text, redacted_trace
from app.rag.answer import AnswerResult, Fallback
from app.rag.types import Turn

HISTORY_TURNS = 6

FALLBACK_MESSAGES = {
    "no_context": "I couldn't find anything about this in our help center, so I'd rather not "
                  "guess.",
    "off_topic": "Our help center doesn't cover this, so I'd rather not guess.",
    "low_confidence": "I'm not sure our help center answers this exactly, so I'd rather not "
                      "guess.",
    "low_score": "I couldn't find a confident answer to this in our help center, so I'd rather "
                 "not guess.",
    "unsupported": "I couldn't put together an answer that our help center fully supports, so "
                   "I'd rather not guess.",
    "model_declined": "Our help center doesn't seem to cover this, so I'd rather not guess.",
    "generator_error": "Something went wrong while writing the answer.",
}
HANDOFF_HINT = " These articles may help, or you can ask to talk to a person."


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def fallback_json(fallback: Fallback) -> dict[str, object]:
    message = FALLBACK_MESSAGES[fallback.reason]
    if fallback.suggestions:
        message += HANDOFF_HINT
    else:
        message += " You can ask to talk to a person."
    return {"reason": fallback.reason, "message": message,
            "suggestions": [asdict(s) for s in fallback.suggestions],
            "handoff_candidate": True}


def get_or_create(session: Session, conversation_id: str | None,
                  customer: dict[str, object], *,
                  customer_ref: str | None = None) -> Conversation | None:
    """The conversation, a new one when no id is given, or None for an unknown id.

    ``customer_ref`` (:func:`app.privacy.customer_ref`) is kept on a new conversation, and on
    an existing one that has none yet (the customer signed in during the conversation).
    """
    if conversation_id:
        conv = session.get(Conversation, conversation_id)
        if conv is not None and customer_ref and not conv.customer_ref:
            conv.customer_ref = customer_ref
            session.add(conv)
        return conv
    conv = Conversation(id=new_id("c"), customer=json.dumps(customer),
                        customer_ref=customer_ref)
    session.add(conv)
    session.flush()
    return conv


def history(session: Session, conversation_id: str) -> tuple[list[Turn], list[str]]:
    """The last turns, and the titles of the articles that grounded the last answer."""
    rows = session.exec(select(Message).where(Message.conversation_id == conversation_id)
                        .order_by(col(Message.created).desc()).limit(HISTORY_TURNS)).all()
    rows = list(reversed(rows))
    turns = [Turn(role=m.role, text=m.query or m.text if m.role == "user" else m.text)
             for m in rows]
    titles: list[str] = []
    for m in reversed(rows):
        if m.role == "assistant":
            titles = [c["title"] for c in json.loads(m.citations)]
            break
    return turns, titles


def save_turn(session: Session, *, conversation_id: str, message: str,
              result: AnswerResult, rendered: dict[str, object]) -> Message:
    """Store the user's message and the answer exactly as it was sent, with its trace.

    The customer's words (the message, the rewritten query and the trace's query) are stored
    redacted; the answer comes from the knowledge base and is stored as it was sent.
    """
    query = redact_customer_text(result.prepared.query)
    session.add(Message(id=new_id("m"), conversation_id=conversation_id, role="user",
                        text=redact_customer_text(message), query=query))
    session.flush()
    reply = Message(
        id=str(rendered["message_id"]), conversation_id=conversation_id, role="assistant",
        text=result.answer, query=query,
        citations=json.dumps(rendered["citations"]),
        fallback=json.dumps(rendered["fallback"]) if rendered["fallback"] else None,
        index_version=result.index_version, generator=result.generator,
        timings=json.dumps(result.timings_ms),
        trace=json.dumps(redacted_trace(result.trace)) if result.trace is not None else None,
    )
    session.add(reply)
    session.commit()
    return reply
