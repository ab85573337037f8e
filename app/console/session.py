"""Console sign-in: an admin key exchanged for a session cookie, CSRF tokens, scopes.

The cookie holds a random token; the database keeps only its SHA-256 with the key that
signed in, a CSRF token and the expiry. The cookie is HttpOnly and SameSite=Strict, and
Secure unless the console is served on loopback over plain HTTP (a developer's machine).
Every change (a POST) carries the session's CSRF token, in a form field or the
``X-CSRF-Token`` header that htmx sends.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from sqlmodel import Session, col, delete

from app.auth import hash_key
from app.deps import SessionDep, SettingsDep
from app.errors import RagError
from app.models import ApiKey, ConsoleSession, utcnow
from app.scopes import ADMIN_SCOPES, at_least

logger = logging.getLogger(__name__)

COOKIE = "gl_console"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class ConsoleAuthError(RagError):
    """A console request without a session (401), or one its session may not make (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """Who is signed in: the key's id (the audit actor), its name and scope."""

    key_id: str
    name: str
    scope: str
    csrf: str

    def can(self, needed: str) -> bool:
        return at_least(self.scope, needed)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def start_session(session: Session, key: ApiKey, *, hours: float) -> tuple[str, ConsoleSession]:
    """A new session for ``key``: the raw cookie value and the stored row (caller commits)."""
    raw = secrets.token_urlsafe(32)
    row = ConsoleSession(token_hash=hash_key(raw), key_id=key.id,
                         csrf_token=secrets.token_urlsafe(24),
                         expires_at=utcnow() + timedelta(hours=hours))
    session.add(row)
    # Sign-ins are rare: drop the expired sessions of everyone at the same time.
    session.exec(delete(ConsoleSession).where(  # type: ignore[call-overload]
        col(ConsoleSession.expires_at) < utcnow()))
    return raw, row


def end_session(session: Session, raw: str) -> None:
    """Forget the session of cookie value ``raw`` (sign-out); the caller commits."""
    row = session.get(ConsoleSession, hash_key(raw))
    if row is not None:
        session.delete(row)


def find_user(session: Session, raw: str | None) -> ConsoleUser | None:
    """The user of a live session: not expired, its key neither revoked nor a widget key."""
    if not raw:
        return None
    row = session.get(ConsoleSession, hash_key(raw))
    if row is None or _aware(row.expires_at) <= utcnow():
        return None
    key = session.get(ApiKey, row.key_id)
    if key is None or key.revoked_at is not None or key.scope not in ADMIN_SCOPES:
        return None
    return ConsoleUser(key_id=key.id, name=key.name, scope=key.scope, csrf=row.csrf_token)


def cookie_is_secure(request: Request) -> bool:
    """Secure, except for plain HTTP on a loopback address (the browser would drop it)."""
    if request.url.scheme == "https":
        return True
    server = request.scope.get("server")
    host = server[0] if server else (request.url.hostname or "")
    return not (host in LOOPBACK or host.startswith("127."))


async def form_fields(request: Request) -> dict[str, str]:
    """The URL-encoded form of a POST (parsed once per request and kept on its state)."""
    cached: dict[str, str] | None = getattr(request.state, "console_form", None)
    if cached is not None:
        return cached
    fields: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", errors="replace")
        fields = dict(parse_qsl(body, keep_blank_values=True))
    request.state.console_form = fields
    return fields


def _user(request: Request, session: Session) -> ConsoleUser:
    user = find_user(session, request.cookies.get(COOKIE))
    if user is None:
        raise ConsoleAuthError(401, "sign in to use the console")
    request.state.console_user = user
    return user


def viewer(request: Request, session: SessionDep) -> ConsoleUser:
    """Dependency of every console page: a signed-in user of any admin scope."""
    return _user(request, session)


def _change(needed: str):  # type: ignore[no-untyped-def]
    async def check(request: Request, session: SessionDep) -> ConsoleUser:
        user = _user(request, session)
        sent = request.headers.get(CSRF_HEADER) or (await form_fields(request)).get(CSRF_FIELD)
        if not sent or not hmac.compare_digest(sent, user.csrf):
            raise ConsoleAuthError(403, "the form is missing its CSRF token: reload the page")
        if not user.can(needed):
            raise ConsoleAuthError(403, f"a {user.scope} key may not do this: it needs an "
                                        f"{needed} key")
        return user
    return check


ViewerDep = Annotated[ConsoleUser, Depends(viewer)]
SignedInChangeDep = Annotated[ConsoleUser, Depends(_change("viewer"))]
EditorDep = Annotated[ConsoleUser, Depends(_change("editor"))]
AdminDep = Annotated[ConsoleUser, Depends(_change("admin"))]
__all__ = ["AdminDep", "ConsoleAuthError", "ConsoleUser", "EditorDep", "SettingsDep",
           "SignedInChangeDep", "ViewerDep", "cookie_is_secure", "end_session", "find_user",
           "form_fields", "start_session"]
