"""The chat API the support widget calls: answers, streaming, feedback, history.

Every route needs a key (see ``app.public.access``): a widget key from one of its origins,
or an admin key. A widget key reads and continues only the conversations it started.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session, col, select

from app.admin.schemas import require_text
from app.conversations import fallback_json, get_or_create, history, new_id, save_turn
from app.deps import AnswerServiceDep, IndexDep, SessionDep
from app.models import Conversation, Feedback, Message
from app.ops.metrics import observed
from app.privacy import customer_ref, redact_customer_text, redact_optional
from app.public.access import (
    PUBLIC_RESPONSES,
    Caller,
    CallerDep,
    can_access,
    check_filters,
    claim_conversation,
)
from app.rag.answer import AnswerResult, AnswerService
from app.rag.index import IndexVersion
from app.rag.retrieve import FilterError, normalise_filters
from app.schemas import (
    ChatRequest,
    ChatResponse,
    ConversationOut,
    FeedbackRequest,
    FeedbackResponse,
    MessageOut,
)

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["chat"], responses=PUBLIC_RESPONSES)


def render(result: AnswerResult, *, conversation_id: str, message_id: str) -> dict[str, object]:
    return {
        "answer": result.answer if result.fallback is None
        else fallback_json(result.fallback)["message"],
        "citations": [asdict(c) for c in result.citations],
        "fallback": fallback_json(result.fallback) if result.fallback else None,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "index_version": result.index_version,
        "timings_ms": result.timings_ms,
        "query": redact_customer_text(result.prepared.query),
        "rerank_depth": result.prepared.rerank_depth,
        "rerank_reduced": result.prepared.rerank_reduced,
        "generator": result.generator,
        "llm_failed": result.llm_failed,
    }


class _Turn:
    """Validated inputs of one chat turn."""

    def __init__(self, body: ChatRequest, session: Session, caller: Caller) -> None:
        require_text(body)  # a lone surrogate is no text: 422 naming the field
        try:
            raw = body.filters.model_dump(exclude_none=True) if body.filters else {}
            self.filters = normalise_filters(raw)
        except FilterError as exc:
            raise HTTPException(422, detail=str(exc)) from exc
        check_filters(caller, self.filters)
        if not body.message.strip():
            raise HTTPException(422, detail="message is empty")
        # The customer's id never reaches the wording or the answer: only its hash is kept.
        customer = (body.customer.model_dump(exclude_none=True, exclude={"id"})
                    if body.customer else {})
        ref = customer_ref(body.customer.id) if body.customer and body.customer.id else None
        conv = get_or_create(session, body.conversation_id, customer, customer_ref=ref)
        if conv is None or (body.conversation_id
                            and not can_access(session, conv.id, caller)):
            raise HTTPException(404, detail=f"unknown conversation_id {body.conversation_id!r}")
        if not body.conversation_id:
            claim_conversation(session, conv.id, caller)
        self.conversation_id = conv.id
        self.message = body.message.strip()
        self.history, self.titles = history(session, conv.id)
        # End the transaction before answering: on SQLite an open write transaction (the new
        # conversation) would hold the database lock through retrieval and generation and
        # serialise every concurrent chat request behind it.
        session.commit()
        self.style = "; ".join(f"customer {k}: {v}" for k, v in customer.items())
        self.message_id = new_id("m")

    def events(self, service: AnswerService, index: IndexVersion):  # type: ignore[no-untyped-def]
        return observed(service.stream(index, self.message, history=self.history,
                                       previous_titles=self.titles, filters=self.filters,
                                       style=self.style))


def _wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


@router.post("/chat", response_model=ChatResponse, summary="Answer a customer message",
             responses={404: {"description": "Unknown conversation"},
                        422: {"description": "Invalid message or filters"},
                        503: {"description": "Index or models not loaded"}})
def chat(caller: CallerDep, body: ChatRequest, request: Request, session: SessionDep,
         index: IndexDep, service: AnswerServiceDep):  # type: ignore[no-untyped-def]
    """Answer from the knowledge base with citations, or fall back with suggestions.

    Send ``Accept: text/event-stream`` to receive Server-Sent Events instead (as
    ``POST /v1/chat/stream``).
    """
    turn = _Turn(body, session, caller)
    if _wants_stream(request):
        return _sse(turn, service, index, session)
    result = None
    for event in turn.events(service, index):
        if event.kind == "done":
            result = event.data
    assert isinstance(result, AnswerResult)
    rendered = render(result, conversation_id=turn.conversation_id, message_id=turn.message_id)
    save_turn(session, conversation_id=turn.conversation_id, message=turn.message,
              result=result, rendered=rendered)
    return rendered


@router.post("/chat/stream", summary="Answer as Server-Sent Events",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "Events: delta, citations, done, error"},
                        404: {"description": "Unknown conversation"},
                        422: {"description": "Invalid message or filters"},
                        503: {"description": "Index or models not loaded"}})
def chat_stream(caller: CallerDep, body: ChatRequest, session: SessionDep, index: IndexDep,
                service: AnswerServiceDep) -> StreamingResponse:
    """Typed events: ``delta`` ({"text"}), ``citations`` (list), ``done`` (the full
    response, as ``POST /v1/chat`` returns it), ``error`` ({"message"})."""
    return _sse(_Turn(body, session, caller), service, index, session)


def _sse(turn: _Turn, service: AnswerService, index: IndexVersion,
         session: Session) -> StreamingResponse:
    def events() -> Iterator[str]:
        try:
            for event in turn.events(service, index):
                if event.kind == "delta":
                    yield _event("delta", {"text": event.data})
                elif event.kind == "citations":
                    yield _event("citations", [asdict(c) for c in event.data])  # type: ignore[attr-defined]
                elif event.kind == "done":
                    result = event.data
                    assert isinstance(result, AnswerResult)
                    rendered = render(result, conversation_id=turn.conversation_id,
                                      message_id=turn.message_id)
                    save_turn(session, conversation_id=turn.conversation_id,
                              message=turn.message, result=result, rendered=rendered)
                    yield _event("done", rendered)
        except Exception:  # the stream has started: report in-band, never a stack trace
            logger.exception("chat stream failed")
            yield _event("error", {"message": "the answer could not be completed"})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _event(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/feedback", response_model=FeedbackResponse, status_code=201,
             summary="Thumbs up or down on an answer",
             responses={404: {"description": "Unknown message, or not an answer"}})
def feedback(caller: CallerDep, body: FeedbackRequest, session: SessionDep
             ) -> FeedbackResponse:
    require_text(body)
    message = session.get(Message, body.message_id)
    if (message is None or message.role != "assistant"
            or not can_access(session, message.conversation_id, caller)):
        raise HTTPException(404, detail=f"unknown message_id {body.message_id!r}")
    row = Feedback(message_id=body.message_id, rating=body.rating,
                   reason=redact_optional(body.reason), comment=redact_optional(body.comment))
    session.add(row)
    session.commit()
    session.refresh(row)
    return FeedbackResponse(id=row.id or 0, message_id=row.message_id, rating=row.rating)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut,
            summary="A conversation as it was answered",
            responses={404: {"description": "Unknown conversation"}})
def get_conversation(caller: CallerDep, conversation_id: str, session: SessionDep
                     ) -> ConversationOut:
    conv = session.get(Conversation, conversation_id)
    if conv is None or not can_access(session, conversation_id, caller):
        raise HTTPException(404, detail=f"unknown conversation_id {conversation_id!r}")
    rows = session.exec(select(Message).where(Message.conversation_id == conversation_id)
                        .order_by(col(Message.created))).all()
    return ConversationOut(id=conv.id, created=conv.created.isoformat(), messages=[
        MessageOut(id=m.id, role=m.role,
                   text=m.text if not m.fallback else json.loads(m.fallback)["message"],
                   citations=json.loads(m.citations),
                   fallback=json.loads(m.fallback) if m.fallback else None,
                   index_version=m.index_version, created=m.created.isoformat())
        for m in rows])
