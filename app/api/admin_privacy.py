"""Erasing one customer's data on request, under ``/v1/admin/conversations``."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.admin import audit
from app.admin.schemas import require_text
from app.auth import AdminKeyDep
from app.deps import SessionDep
from app.models import Conversation
from app.privacy import conversations_of, erase_conversations

router = APIRouter(prefix="/conversations")


class ErasedOut(BaseModel):
    conversation_id: str
    deleted: dict[str, int] = Field(description="Rows deleted per table: conversations, "
                                                "messages (with their traces), feedback, handoffs.")


class CustomerErasure(BaseModel):
    """Whose data to erase: the widget's ``customer.id``, or the contact given for a handoff."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"customer_id": "cust-000-example"}, {"contact": "someone@example.invalid"}]})

    customer_id: str | None = Field(default=None, min_length=1, max_length=128,
                                    description="As the widget sent it in customer.id.")
    contact: str | None = Field(default=None, min_length=3, max_length=200,
                                description="An email or phone number given for a handoff; "
                                "matched however it is written (case, spaces, punctuation).")

    @model_validator(mode="after")
    def _one_of(self) -> CustomerErasure:
        if (self.customer_id is None) == (self.contact is None):
            raise ValueError("send exactly one of customer_id and contact")
        return self


class CustomerErasedOut(BaseModel):
    conversations: int = Field(description="Conversations erased; 0 when none matched.")
    deleted: dict[str, int] = Field(description="Rows deleted per table: conversations, "
                                                "messages (with their traces), feedback, "
                                                "handoffs (with their webhook deliveries).")


@router.delete("/{conversation_id}", response_model=ErasedOut,
               summary="Erase a conversation: messages, traces, feedback and handoffs",
               responses={404: {"description": "Unknown conversation"}})
def erase_conversation(conversation_id: str, session: SessionDep,
                       admin: AdminKeyDep) -> ErasedOut:
    """Delete everything stored about one conversation, e.g. when a customer asks for their
    data to be erased. The audit log records who erased which id (and nothing else)."""
    if session.get(Conversation, conversation_id) is None:
        raise HTTPException(404, detail=f"unknown conversation_id {conversation_id!r}")
    deleted = erase_conversations(session, [conversation_id])
    audit.record(session, actor=admin.id, action="conversation.erase",
                 target_type="conversation", target_id=conversation_id, detail=deleted)
    session.commit()
    return ErasedOut(conversation_id=conversation_id, deleted=deleted)


@router.post("/erase", response_model=CustomerErasedOut,
             summary="Erase every conversation of one customer, by customer id or contact")
def erase_customer(body: CustomerErasure, session: SessionDep,
                   admin: AdminKeyDep) -> CustomerErasedOut:
    """Delete the conversations started with a ``customer.id``, or handed off with a contact,
    with their messages, traces, feedback and handoffs; a handoff still being delivered is
    not sent again. Repeating a request erases nothing more and answers 0. The audit log
    records a hash prefix of what was matched, never the id or contact itself."""
    require_text(body)
    ids = conversations_of(session, customer_id=body.customer_id, contact=body.contact)
    deleted = erase_conversations(session, ids)
    kind, value = (("customer_id", body.customer_id) if body.customer_id is not None
                   else ("contact", body.contact or ""))
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    audit.record(session, actor=admin.id, action="customer.erase", target_type="customer",
                 target_id=f"{kind}:{digest}", detail={**deleted, "conversations": len(ids)})
    session.commit()
    return CustomerErasedOut(conversations=len(ids), deleted=deleted)
