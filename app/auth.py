"""API keys: created and revoked by the CLI or the admin API, stored only as SHA-256 hashes.

Admin keys (``gla_``, ``gle_``, ``glv_`` + 32 URL-safe characters) open the ``/v1/admin/``
routes and the console as far as their scope allows (:mod:`app.scopes`): ``admin``
everything, ``editor`` articles, gaps and re-index jobs, ``viewer`` reading. ``widget`` keys
(``glw_`` + 24 characters) are publishable: they sit in a web page, so they only identify a
site and carry the origins it may call from. A raw key is returned once, when it is created;
afterwards only its hash and its first characters exist.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, col, select

from app.deps import SessionDep, SettingsDep
from app.errors import ConfigurationError, RagError
from app.models import ApiKey, utcnow
from app.public.clientip import resolve_client
from app.public.ratelimit import RateLimiter
from app.scopes import ADMIN_SCOPES, api_scope_needed, at_least

logger = logging.getLogger(__name__)

SCOPES = ("admin", "editor", "viewer", "widget")
_RAW_PREFIX = {"admin": "gla_", "editor": "gle_", "viewer": "glv_", "widget": "glw_"}
_RANDOM_BYTES = {"admin": 24, "editor": 24, "viewer": 24, "widget": 18}  # 32 or 24 characters
PREFIX_CHARS = 10
ENV_KEY_NAME = "ADMIN_API_KEY (environment)"
MIN_ENV_KEY_CHARS = 16


class KeyNotFoundError(RagError, LookupError):
    """No key with that id."""


class KeyConflictError(RagError, ValueError):
    """A revocation that would lock admins out: of the key in use, or of the last admin key."""


def hash_key(raw: str) -> str:
    """SHA-256 hex of a raw key: keys are random and long, so no salt or slow hash is needed."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def new_key_id() -> str:
    return "key_" + secrets.token_hex(6)


def generate_raw_key(scope: str) -> str:
    """A new random key of ``scope``, e.g. ``gla_...`` for an admin key."""
    _check_scope(scope)
    return _RAW_PREFIX[scope] + secrets.token_urlsafe(_RANDOM_BYTES[scope])


def _check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")


def create_key(session: Session, *, name: str, scope: str, allowed_origins: Iterable[str] = (),
               created_by: str | None = None) -> tuple[ApiKey, str]:
    """Create a key and store its hash.

    Args:
        session: The database session; the key is flushed, the caller commits.
        name: What the key is for, shown in lists.
        scope: ``admin``, ``editor``, ``viewer`` or ``widget``.
        allowed_origins: For widget keys, the origins (``https://example.com``) it may be
            used from.
        created_by: The id of the key that created this one, if any.

    Returns:
        The stored row and the raw key, which is not kept anywhere and cannot be shown again.

    Raises:
        ValueError: On an unknown scope or an empty name.
    """
    _check_scope(scope)
    if not name.strip():
        raise ValueError("a key needs a name that says what it is for")
    raw = generate_raw_key(scope)
    origins = [o.strip().rstrip("/") for o in allowed_origins if o.strip()]
    row = ApiKey(id=new_key_id(), name=name.strip(), scope=scope, key_hash=hash_key(raw),
                 prefix=raw[:PREFIX_CHARS], allowed_origins=origins, created_by=created_by)
    session.add(row)
    session.flush()
    logger.info("created %s key %s", scope, row.id)
    return row, raw


def revoke_key(session: Session, key_id: str) -> ApiKey:
    """Revoke a key (idempotent: revoking a revoked key keeps its first revocation time).

    Raises:
        KeyNotFoundError: If no key has this id.
    """
    row = session.get(ApiKey, key_id)
    if row is None:
        raise KeyNotFoundError(f"no API key with id {key_id!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        logger.info("revoked key %s", key_id)
    return row


def check_revocation(session: Session, key_id: str, *, acting_key_id: str | None) -> None:
    """Refuse a revocation that would leave admins without a way in.

    The active admin keys are read ``FOR UPDATE`` (on PostgreSQL), so two admins revoking
    each other's keys at once cannot both succeed and leave none.

    Args:
        session: The session the revocation will be made in.
        key_id: The key to revoke (unknown ids pass: :func:`revoke_key` reports them).
        acting_key_id: The key of the request, or None from the command line.

    Raises:
        KeyConflictError: If ``key_id`` is the acting key, or the last active admin key.
    """
    if key_id == acting_key_id:
        raise KeyConflictError("a key cannot revoke itself: revoke it with another admin key "
                               "or `python -m app.keys revoke`")
    active = session.exec(select(ApiKey.id).where(ApiKey.scope == "admin")
                          .where(col(ApiKey.revoked_at).is_(None)).with_for_update()).all()
    if list(active) == [key_id]:
        raise KeyConflictError(f"{key_id} is the last active admin key: create another admin "
                               "key first, then revoke this one")


def list_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKey]:
    query = select(ApiKey).order_by(col(ApiKey.created_at))
    if not include_revoked:
        query = query.where(col(ApiKey.revoked_at).is_(None))
    return list(session.exec(query).all())


def find_key(session: Session, raw: str) -> ApiKey | None:
    """The live key whose hash matches ``raw``, or None (unknown or revoked)."""
    if not raw:
        return None
    digest = hash_key(raw)
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    # The lookup is by hash, so timing reveals nothing about the raw key; the explicit
    # constant-time comparison keeps it that way if the lookup ever changes.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at:
        return None
    return row


def ensure_env_admin_key(session: Session, raw: str) -> ApiKey:
    """Register the admin key from ``ADMIN_API_KEY`` once (idempotent across restarts).

    A key that was revoked through the API stays revoked: the environment cannot undo a
    revocation, so rotate the variable instead.

    Raises:
        ConfigurationError: If the key is too short to be a secret.
    """
    raw = raw.strip()
    if len(raw) < MIN_ENV_KEY_CHARS:
        raise ConfigurationError(
            f"ADMIN_API_KEY is shorter than {MIN_ENV_KEY_CHARS} characters: use a long random "
            "value, e.g. one printed by `python -m app.keys create --scope admin --name ops`"
        )
    digest = hash_key(raw)
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == digest)).first()
    if row is not None:
        if row.revoked_at is not None:
            logger.warning("the ADMIN_API_KEY key %s is revoked; set a new one", row.id)
        return row
    row = ApiKey(id=new_key_id(), name=ENV_KEY_NAME, scope="admin", key_hash=digest,
                 prefix=raw[:PREFIX_CHARS])
    session.add(row)
    session.flush()
    logger.info("registered the ADMIN_API_KEY key as %s", row.id)
    return row


_bearer = HTTPBearer(auto_error=False, description="An admin API key: `Bearer gla_...`")


def client_ip(request: Request) -> str:
    """The client's address: the peer, or behind a trusted proxy (``trusted_proxies``) the
    address it forwarded (:mod:`app.public.clientip`)."""
    peer = request.client.host if request.client else "unknown"
    proxies = getattr(request.app.state, "trusted_proxies", ())
    if not proxies:
        return peer
    return resolve_client(peer, request.headers.getlist("x-forwarded-for"), proxies)


def _limiter(request: Request) -> RateLimiter:
    """The app's rate limiter (Redis when ``REDIS_URL`` is set: see :mod:`app.public.edge`)."""
    return request.app.state.public.limiter  # type: ignore[no-any-return]


def require_admin(request: Request, session: SessionDep, settings: SettingsDep,
                  credentials: Annotated[HTTPAuthorizationCredentials | None,
                                         Depends(_bearer)]) -> ApiKey:
    """The admin key of the request: 401 without a valid key, 403 for a widget key or for a
    change the key's scope does not allow (:func:`app.scopes.api_scope_needed`), 429 from
    an address with too many failed attempts in the window (even with a valid key, so that
    guessing cannot go on behind the 429s). A request without a bearer key is no guess and
    is not counted."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, detail="missing API key: send Authorization: Bearer <key>",
                            headers=challenge)
    limiter, bucket = _limiter(request), f"admin-auth:{client_ip(request)}"
    limit, window = settings.admin.auth_failure_limit, settings.admin.auth_failure_window_s
    seen = limiter.peek(bucket, limit=limit, window_s=window)
    if not seen.allowed:
        raise HTTPException(429, detail="too many failed admin authentications from this "
                                        f"address: try again in {seen.retry_after_s} s",
                            headers={"Retry-After": str(seen.retry_after_s)})
    key = find_key(session, credentials.credentials)
    if key is None:
        limiter.hit(bucket, limit=limit, window_s=window)
        raise HTTPException(401, detail="invalid or revoked API key", headers=challenge)
    if key.scope not in ADMIN_SCOPES:
        raise HTTPException(403, detail="admin key required")
    needed = api_scope_needed(request.method, request.url.path)
    if not at_least(key.scope, needed):
        raise HTTPException(403, detail=f"this {key.scope} key may not do this: "
                                        f"it needs an {needed} key")
    return key


AdminKeyDep = Annotated[ApiKey, Depends(require_admin)]
