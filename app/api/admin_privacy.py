"""Erasing one customer's data on request, under ``/v1/admin/conversations``."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from app.admin import audit
from app.auth import AdminKeyDep
from app.deps import SessionDep
from app.models import Conversation
from app.privacy import erase_conversations

router = APIRouter(prefix="/conversations")


class ErasedOut(BaseModel):
    conversation_id: str
    deleted: dict[str, int] = Field(description="Rows deleted per table: conversations, "
                                                "messages (with their traces), feedback, handoffs.")


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
