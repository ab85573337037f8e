"""Console routes: sign-in and sign-out, the overview, and the pages of each concern."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import audit
from app.auth import client_ip, find_key
from app.console import (
    metrics,
    pages_activity,
    pages_admin,
    pages_articles,
    pages_gaps,
    pages_index,
)
from app.console.render import page
from app.console.session import (
    COOKIE,
    SignedInChangeDep,
    ViewerDep,
    cookie_is_secure,
    end_session,
    find_user,
    form_fields,
    start_session,
)
from app.deps import SessionDep, SettingsDep
from app.scopes import ADMIN_SCOPES

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/admin", include_in_schema=False)
for _pages in (pages_gaps, pages_articles, pages_index, pages_activity, pages_admin):
    router.include_router(_pages.router)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, session: SessionDep) -> Response:
    if find_user(session, request.cookies.get(COOKIE)) is not None:
        return RedirectResponse("/admin", status_code=303)
    return page(request, "login.html", user=None)


def _same_origin(request: Request) -> bool:
    """A sign-in posted from another site is refused (there is no session to hold a token)."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Exchange an admin, editor or viewer key for a session cookie."""
    raw = (await form_fields(request)).get("key", "").strip()
    limiter = request.app.state.public.limiter
    bucket = f"admin-auth:{client_ip(request)}"
    limit, window = settings.admin.auth_failure_limit, settings.admin.auth_failure_window_s
    if not _same_origin(request):
        return page(request, "login.html", user=None, status_code=403,
                    error="Sign in from the console's own page.")
    if not limiter.peek(bucket, limit=limit, window_s=window).allowed:
        return page(request, "login.html", user=None, status_code=429,
                    error="Too many failed sign-ins from this address: wait a minute.")
    key = find_key(session, raw)
    if key is None or key.scope not in ADMIN_SCOPES:
        limiter.hit(bucket, limit=limit, window_s=window)
        return page(request, "login.html", user=None, status_code=401,
                    error="That key is not a valid admin, editor or viewer key.")
    token, row = start_session(session, key, hours=settings.admin.console_session_hours)
    audit.record(session, actor=key.id, action="console.sign_in", target_type="key",
                 target_id=key.id, detail={"name": key.name})
    session.commit()
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(settings.admin.console_session_hours * 3600),
                        path="/admin", httponly=True, samesite="strict",
                        secure=cookie_is_secure(request))
    return response


@router.post("/logout")
def logout(request: Request, user: SignedInChangeDep, session: SessionDep) -> Response:
    end_session(session, request.cookies.get(COOKIE, ""))
    audit.record(session, actor=user.key_id, action="console.sign_out", target_type="key",
                 target_id=user.key_id, detail={"name": user.name})
    session.commit()
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(COOKIE, path="/admin")
    return response


@router.get("", response_class=HTMLResponse)
def overview(request: Request, user: ViewerDep, session: SessionDep,
             days: Annotated[int, Query(ge=1, le=365)] = 7) -> Response:
    stats = metrics.cached_overview(session, days=days)
    return page(request, "overview.html", user=user, section="overview", stats=stats,
                days=days)
