"""An OpenAI-compatible face of the support bot: ``/v1/chat/completions`` and ``/v1/models``.

Any OpenAI client or chat front end can talk to the bot with a Groundline key as its API key
and ``groundline`` as the model. The route is stateless, like OpenAI's: the client sends the
whole conversation each time and nothing is stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from app.admin.schemas import require_text
from app.conversations import fallback_json
from app.deps import AnswerServiceDep, IndexDep, SettingsDep
from app.ops.metrics import observed
from app.public.access import PUBLIC_RESPONSES, Caller, CallerDep, check_filters
from app.public.completions import (
    DONE,
    CompletionInputError,
    chunk,
    completion,
    completion_id,
    fallback_text,
    footnotes,
    split_messages,
    stream_error,
)
from app.public.schemas import MODEL_ID, CompletionRequest
from app.rag.answer import AnswerResult, AnswerService, Event
from app.rag.index import IndexVersion
from app.rag.retrieve import FilterError, normalise_filters
from app.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=PUBLIC_RESPONSES)
STARTED = int(time.time())


@router.get("/models", summary="The one model this server offers")
def models(caller: CallerDep) -> dict[str, Any]:
    return {"object": "list", "data": [
        {"id": MODEL_ID, "object": "model", "created": STARTED, "owned_by": "groundline"}]}


def _events(body: CompletionRequest, settings: Settings, service: AnswerService,
            index: IndexVersion, caller: Caller) -> Iterator[Event]:
    """Validate the request, then answer its last user message as events."""
    require_text(body)  # a lone surrogate is no text: 422 naming the field
    if body.model != MODEL_ID:
        raise HTTPException(404, detail=f"model {body.model!r} does not exist: use {MODEL_ID!r}")
    if len(body.messages) > settings.public.max_chat_messages:
        raise HTTPException(422, detail=f"too many messages: at most "
                                        f"{settings.public.max_chat_messages}")
    try:
        history, question, titles = split_messages(body.messages)
        filters = normalise_filters(body.filters.model_dump(exclude_none=True)
                                    if body.filters else {})
    except (CompletionInputError, FilterError) as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    check_filters(caller, filters)
    limit = settings.answer.max_message_chars
    if len(question) > limit:
        raise HTTPException(422, detail=f"the last message is longer than {limit} characters")
    return observed(service.stream(index, question, history=history, previous_titles=titles,
                                   filters=filters))


def _extras(result: AnswerResult) -> tuple[str, list[dict[str, Any]], dict[str, Any] | None]:
    """The text after the answer, the citations and the fallback of a finished answer."""
    citations = [asdict(c) for c in result.citations]
    fallback = fallback_json(result.fallback) if result.fallback else None
    return footnotes(citations), citations, fallback


@router.post("/chat/completions", summary="Chat completions, OpenAI-style",
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "JSON, or chunks as Server-Sent Events"},
                        404: {"description": "A model other than the one /v1/models lists"},
                        503: {"description": "Index or models not loaded"}})
def chat_completions(caller: CallerDep, body: CompletionRequest, settings: SettingsDep,
                     index: IndexDep, service: AnswerServiceDep):  # type: ignore[no-untyped-def]
    """Answer the last user message from the knowledge base.

    The text carries ``[n]`` markers and a ``Sources:`` list; ``citations`` holds the same
    sources as objects and ``fallback`` says why the bot did not answer (null when it did).
    With ``"stream": true`` the answer arrives as ``chat.completion.chunk`` events ending
    with ``data: [DONE]``; the last chunk carries ``citations`` and ``fallback``.
    """
    events = _events(body, settings, service, index, caller)
    cid = completion_id()
    if body.stream:
        return StreamingResponse(_stream(events, cid), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})
    result = next(e.data for e in events if e.kind == "done")
    assert isinstance(result, AnswerResult)
    notes, citations, fallback = _extras(result)
    content = fallback_text(fallback) if fallback else result.answer + notes
    return completion(cid=cid, content=content, citations=citations, fallback=fallback,
                      index_version=result.index_version)


def _stream(events: Iterator[Event], cid: str) -> Iterator[str]:
    created = int(time.time())
    yield chunk(cid, created, {"role": "assistant", "content": ""})
    try:
        for event in events:
            if event.kind == "delta":
                yield chunk(cid, created, {"content": event.data})
            elif event.kind == "done":
                result = event.data
                assert isinstance(result, AnswerResult)
                notes, citations, fallback = _extras(result)
                text = fallback_text(fallback) if fallback else notes
                if text:
                    yield chunk(cid, created, {"content": text})
                yield chunk(cid, created, {}, finish="stop", citations=citations,
                            fallback=fallback)
    except Exception:  # the stream has started: report in-band, never a stack trace
        logger.exception("completion stream failed")
        yield stream_error("the answer could not be completed")
    yield DONE
