"""Who may call the public routes: widget keys from their origins, admin keys from anywhere.

A widget key is publishable (it sits in a web page), so it only says which site is calling
and from which origins; its requests are rate limited per key and per client IP. An admin
key is a secret for servers and is not limited. The key travels in ``X-Widget-Key`` or in
``Authorization: Bearer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.auth import client_ip, find_key
from app.deps import SessionDep
from app.models import ApiKey, ConversationKey
from app.public.origins import origin_allowed, request_origin, try_origin
from app.public.ratelimit import RateLimiter
from app.settings import PublicSettings

logger = logging.getLogger(__name__)

WIDGET_KEY_HEADER = "X-Widget-Key"
PUBLIC_RESPONSES: dict[int | str, dict[str, object]] = {
    401: {"description": "Missing, unknown or revoked key"},
    403: {"description": "A widget key used from an origin it does not allow"},
    413: {"description": "Request body over the size limit"},
    429: {"description": "Rate limit exceeded; see Retry-After"},
}


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of a public route.

    Attributes:
        key_id: The API key's id.
        scope: ``widget`` or ``admin``.
        origin: The page origin of a widget request (None for admin keys).
    """

    key_id: str
    scope: str
    origin: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"


@dataclass
class PublicRuntime:
    """The public edge's long-lived parts: the rate limiter and the cached origin list."""

    settings: PublicSettings
    limiter: RateLimiter
    _origins: frozenset[str] = frozenset()
    _origins_at: float = field(default=-1e18)

    def check(self, bucket: str, *, limit: int, what: str) -> None:
        """Count one hit; raise 429 with ``Retry-After`` when over the limit."""
        decision = self.limiter.hit(bucket, limit=limit, window_s=self.settings.rate_window_s)
        if not decision.allowed:
            raise HTTPException(
                429, detail=f"too many requests {what}: try again in "
                            f"{decision.retry_after_s} s",
                headers={"Retry-After": str(decision.retry_after_s)})

    def known_origins(self, engine: Engine) -> frozenset[str]:
        """Every origin of a live widget key (for CORS preflights), cached briefly."""
        now = time.monotonic()
        if now - self._origins_at > self.settings.origins_cache_s:
            with Session(engine) as session:
                keys = session.exec(select(ApiKey).where(ApiKey.scope == "widget")
                                    .where(col(ApiKey.revoked_at).is_(None))).all()
                self._origins = frozenset(_normalised(o for k in keys
                                                      for o in k.allowed_origins))
            self._origins_at = now
        return self._origins


def _normalised(origins: Iterable[str]) -> list[str]:
    return [o for o in (try_origin(v) for v in origins) if o]


def get_runtime(request: Request) -> PublicRuntime:
    return request.app.state.public  # type: ignore[no-any-return]


def raw_key(request: Request) -> str | None:
    """The key from ``X-Widget-Key`` or ``Authorization: Bearer``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get(WIDGET_KEY_HEADER, "").strip() or None


def public_caller(request: Request, session: SessionDep) -> Caller:
    """Authenticate a public request, check its origin and count it against the limits.

    Raises:
        HTTPException: 401 without a valid key, 403 from an origin the key does not allow,
            429 over a rate limit.
    """
    runtime = get_runtime(request)
    raw = raw_key(request)
    key = find_key(session, raw) if raw else None
    if key is not None and key.scope == "admin":
        return Caller(key_id=key.id, scope="admin")
    origin = request_origin(request.headers)
    allowed = key is not None and origin_allowed(origin, key.allowed_origins)
    if allowed:
        request.state.cors_origin = origin  # the edge middleware adds the CORS headers
    # Before the key checks, so that guessing keys is limited too.
    runtime.check(f"ip:{client_ip(request)}", limit=runtime.settings.ip_limit,
                  what="from this address")
    if raw is None:
        raise HTTPException(401, detail=f"missing API key: send {WIDGET_KEY_HEADER} or "
                                        "Authorization: Bearer <key>",
                            headers={"WWW-Authenticate": "Bearer"})
    if key is None:
        raise HTTPException(401, detail="invalid or revoked API key",
                            headers={"WWW-Authenticate": "Bearer"})
    if not allowed:
        raise HTTPException(403, detail="this widget key may only be used from its allowed "
                                        "origins" if origin else
                                        "widget keys are used from a web page: the request "
                                        "has no Origin or Referer")
    runtime.check(f"key:{key.id}", limit=runtime.settings.key_limit, what="for this key")
    return Caller(key_id=key.id, scope="widget", origin=origin)


CallerDep = Annotated[Caller, Depends(public_caller)]


def claim_conversation(session: Session, conversation_id: str, caller: Caller) -> None:
    """Record the key that started a conversation (flushed; the turn's commit keeps it)."""
    session.add(ConversationKey(conversation_id=conversation_id, api_key_id=caller.key_id))
    session.flush()


def can_access(session: Session, conversation_id: str, caller: Caller) -> bool:
    """Admin keys see every conversation; a widget key only those it started."""
    if caller.is_admin:
        return True
    owner = session.get(ConversationKey, conversation_id)
    return owner is not None and owner.api_key_id == caller.key_id


# Widget keys search what the company published as policy; resolved tickets only as a
# supplement the answer policy weighs down. Restricting retrieval to tickets is for servers.
WIDGET_SOURCE_TYPES = frozenset({"article"})


def check_filters(caller: Caller, filters: Mapping[str, Sequence[str]]) -> None:
    """Refuse filters the caller's key may not use.

    Raises:
        HTTPException: 403 when a widget key asks for a ``source_type`` other than article.
    """
    wanted = set(filters.get("source_type", ()))
    if not caller.is_admin and wanted - WIDGET_SOURCE_TYPES:
        raise HTTPException(403, detail="widget keys may only search articles: the "
                                        "source_type filter 'ticket' needs an admin key")
