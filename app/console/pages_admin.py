"""Console pages for keys (create, show the secret once, revoke) and the audit log."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from app.admin import audit
from app.auth import (
    KeyConflictError,
    KeyNotFoundError,
    check_revocation,
    create_key,
    list_keys,
    revoke_key,
)
from app.console.render import page
from app.console.session import AdminDep, ViewerDep, form_fields
from app.deps import SessionDep
from app.models import ApiKey

logger = logging.getLogger(__name__)
router = APIRouter()


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, user: ViewerDep, session: SessionDep,
              error: str = "") -> Response:
    return page(request, "keys.html", user=user, section="keys", keys=list_keys(session),
                created=None, error=error)


@router.post("/keys", response_class=HTMLResponse)
async def create(request: Request, user: AdminDep, session: SessionDep) -> Response:
    """Create a key and show its secret, once."""
    fields = await form_fields(request)
    origins = [o for o in fields.get("origins", "").replace(",", " ").split() if o]
    try:
        row, raw = create_key(session, name=fields.get("name", ""),
                              scope=fields.get("scope", ""), allowed_origins=origins,
                              created_by=user.key_id)
    except ValueError as exc:
        return page(request, "keys.html", user=user, section="keys", keys=list_keys(session),
                    created=None, error=str(exc), status_code=422)
    audit.record(session, actor=user.key_id, action="key.create", target_type="key",
                 target_id=row.id, detail={"scope": row.scope, "name": row.name})
    session.commit()
    return page(request, "keys.html", user=user, section="keys", keys=list_keys(session),
                created={"row": row, "raw": raw}, error="")


@router.post("/keys/{key_id}/revoke")
def revoke(key_id: str, user: AdminDep, session: SessionDep) -> Response:
    try:
        check_revocation(session, key_id, acting_key_id=user.key_id)
        revoke_key(session, key_id)
    except (KeyNotFoundError, KeyConflictError) as exc:
        return RedirectResponse(f"/admin/keys?error={quote(str(exc))}", status_code=303)
    audit.record(session, actor=user.key_id, action="key.revoke", target_type="key",
                 target_id=key_id)
    session.commit()
    return RedirectResponse("/admin/keys", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: ViewerDep, session: SessionDep, actor: str = "",
               action: str = "", page_no: Annotated[int, Query(ge=1)] = 1) -> Response:
    """The audit log, each actor named by its key's name."""
    rows = audit.entries(session, actor=actor or None, action=action or None, limit=100,
                         offset=(page_no - 1) * 100)
    ids = {r.actor for r in rows}
    names = {k.id: (k.name, k.scope) for k in session.exec(select(ApiKey).where(
        ApiKey.id.in_(ids)))}  # type: ignore[attr-defined]
    return page(request, "audit.html", user=user, section="audit", rows=rows, names=names,
                filters={"actor": actor, "action": action}, page_no=page_no)
