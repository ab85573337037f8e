"""Handing a conversation to a person, and re-delivering handoffs the webhook missed."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query
from sqlmodel import col, select

from app.admin.schemas import require_text
from app.api.admin import AUTH_RESPONSES
from app.auth import require_admin
from app.deps import SessionDep, SettingsDep, StateDep
from app.models import Conversation, Handoff
from app.public.access import PUBLIC_RESPONSES, CallerDep, can_access
from app.public.handoff import (
    create_handoff,
    deliver_handoff,
    handoff_json,
    redeliver,
    webhook_target,
)
from app.public.schemas import HandoffOut, HandoffRequest, RedeliveryOut

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["handoff"], responses=PUBLIC_RESPONSES)
admin_router = APIRouter(prefix="/v1/admin/handoffs", tags=["admin"],
                         dependencies=[Depends(require_admin)], responses=AUTH_RESPONSES)


@router.post("/handoff", response_model=HandoffOut, status_code=201,
             summary="Ask for a person to take over the conversation",
             responses={404: {"description": "Unknown conversation"}})
def handoff(caller: CallerDep, body: HandoffRequest, session: SessionDep, state: StateDep,
            settings: SettingsDep, background: BackgroundTasks) -> HandoffOut:
    """Store the handoff with a summary of the conversation and the articles tried, then
    send it to the configured webhook (after the response; ``delivery_status`` is
    ``pending`` until then, or ``no_webhook`` when none is configured)."""
    require_text(body)
    conv = session.get(Conversation, body.conversation_id)
    if conv is None or not can_access(session, conv.id, caller):
        raise HTTPException(404, detail=f"unknown conversation_id {body.conversation_id!r}")
    target = webhook_target(settings.handoff)
    row = create_handoff(session, conversation_id=conv.id, reason=body.reason,
                         api_key_id=caller.key_id, turns=settings.handoff.summary_turns,
                         delivery_status="pending" if target else "no_webhook",
                         contact=body.contact.strip() if body.contact else None,
                         order_number=body.order_number)
    if target is not None:
        background.add_task(deliver_handoff, state.engine, row.id, target=target)
    return HandoffOut.model_validate(handoff_json(row))


@admin_router.get("", response_model=list[HandoffOut], summary="Handoffs, newest first")
def list_handoffs(session: SessionDep,
                  status: Annotated[Literal["pending", "delivered", "failed", "no_webhook"]
                                    | None, Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[HandoffOut]:
    query = select(Handoff).order_by(col(Handoff.created).desc()).limit(limit)
    if status:
        query = query.where(Handoff.delivery_status == status)
    return [HandoffOut.model_validate(handoff_json(r)) for r in session.exec(query).all()]


@admin_router.post("/redeliver", response_model=RedeliveryOut,
                   summary="Send undelivered handoffs to the webhook again")
def redeliver_handoffs(state: StateDep, settings: SettingsDep,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100) -> RedeliveryOut:
    """Failed deliveries, handoffs stored while no webhook was configured, and ones stuck
    pending for over ten minutes are sent again, oldest first."""
    counts = redeliver(state.engine, target=webhook_target(settings.handoff), limit=limit)
    return RedeliveryOut(counts=counts)
