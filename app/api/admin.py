"""The admin API under ``/v1/admin``: every route requires an admin key.

The router-level dependency guarantees it for every route, including ones added later;
handlers that record who acted also take :data:`AdminKeyDep` (resolved once per request).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException

from app.admin import audit
from app.admin.schemas import AuditOut, KeyCreate, KeyCreated, KeyOut, Limit, Offset, require_text
from app.api import admin_articles, admin_held, admin_index, admin_privacy
from app.auth import (
    AdminKeyDep,
    KeyConflictError,
    KeyNotFoundError,
    check_revocation,
    create_key,
    list_keys,
    require_admin,
    revoke_key,
)
from app.deps import SessionDep
from app.models import Message
from app.schemas import TraceOut

logger = logging.getLogger(__name__)

AUTH_RESPONSES: dict[int | str, dict[str, str]] = {
    401: {"description": "No API key, or an unknown or revoked one"},
    403: {"description": "Not an admin key"},
    413: {"description": "Request body over GROUNDLINE_MAX_REQUEST_BYTES"},
    429: {"description": "Too many failed admin authentications from this address; see "
                         "Retry-After"},
}
router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)],
                   responses=AUTH_RESPONSES)


router.include_router(admin_articles.router)
router.include_router(admin_index.router)
router.include_router(admin_privacy.router)
router.include_router(admin_held.router)


@router.post("/keys", status_code=201, response_model=KeyCreated, summary="Create an API key")
def create_api_key(body: KeyCreate, session: SessionDep, admin: AdminKeyDep) -> KeyCreated:
    require_text(body)
    try:
        row, raw = create_key(session, name=body.name, scope=body.scope,
                              allowed_origins=body.allowed_origins, created_by=admin.id)
    except ValueError as exc:
        raise HTTPException(422, detail=str(exc)) from exc
    audit.record(session, actor=admin.id, action="key.create", target_type="key",
                 target_id=row.id, detail={"scope": row.scope, "name": row.name})
    out = KeyCreated(**row.model_dump(exclude={"key_hash"}), key=raw)
    session.commit()
    return out


@router.get("/keys", response_model=list[KeyOut], summary="List API keys (never the raw keys)")
def list_api_keys(session: SessionDep, include_revoked: bool = True) -> list[KeyOut]:
    rows = list_keys(session, include_revoked=include_revoked)
    return [KeyOut(**r.model_dump(exclude={"key_hash"})) for r in rows]


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke an API key",
               responses={404: {"description": "No key with that id"},
                          409: {"description": "The key of the request, or the last active "
                                                "admin key"}})
def revoke_api_key(key_id: str, session: SessionDep, admin: AdminKeyDep) -> KeyOut:
    """A key cannot revoke itself, and the last active admin key cannot be revoked: create
    another admin key first, so that admins always keep a way in."""
    try:
        check_revocation(session, key_id, acting_key_id=admin.id)
        row = revoke_key(session, key_id)
    except KeyNotFoundError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except KeyConflictError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    audit.record(session, actor=admin.id, action="key.revoke", target_type="key",
                 target_id=key_id)
    out = KeyOut(**row.model_dump(exclude={"key_hash"}))
    session.commit()
    return out


@router.get("/audit", response_model=list[AuditOut], summary="The audit log, newest first")
def read_audit(session: SessionDep, actor: str | None = None, action: str | None = None,
               target_id: str | None = None, since: datetime | None = None,
               limit: Limit = 100, offset: Offset = 0) -> list[AuditOut]:
    rows = audit.entries(session, actor=actor, action=action, target_id=target_id,
                         since=since, limit=limit, offset=offset)
    return [AuditOut(**r.model_dump()) for r in rows]


@router.get("/messages/{message_id}/trace", response_model=TraceOut,
            summary="How an answer was made: retrieval, decision, passages, sentences",
            responses={404: {"description": "Unknown message, or one without a trace"}})
def read_trace(message_id: str, session: SessionDep) -> TraceOut:
    """The trace stored with an assistant message: the candidates with each stage's score and
    rank, the decision and its signals, the passages sent and why each sentence is there.
    User messages, and answers stored before traces were kept, have none."""
    message = session.get(Message, message_id)
    if message is None:
        raise HTTPException(404, detail=f"no message with id {message_id!r}")
    if message.trace is None:
        what = "a user message" if message.role == "user" else "stored without a trace"
        raise HTTPException(404, detail=f"message {message_id!r} has no trace ({what})")
    return TraceOut.model_validate(json.loads(message.trace))
