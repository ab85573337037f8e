"""The public routes' edge: CORS for the keys' origins, and the request size limit.

CORS cannot use one static list: each widget key names its own origins. A preflight carries
no key, so it is answered for the origins of any live widget key (and refused otherwise);
the real request is then checked against its own key's origins by ``public_caller``, which
leaves the approved origin in the request state for this middleware to echo back.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from app.public.access import WIDGET_KEY_HEADER, PublicRuntime
from app.public.origins import try_origin
from app.public.ratelimit import make_rate_limiter
from app.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC_PATHS = frozenset({"/v1/chat", "/v1/chat/stream", "/v1/chat/completions",
                          "/v1/feedback", "/v1/handoff", "/v1/models"})
PUBLIC_PREFIXES = ("/v1/conversations/",)
ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = f"Authorization, Content-Type, Accept, {WIDGET_KEY_HEADER}"
EXPOSE_HEADERS = "Retry-After"


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _json(send: Send, status: int, detail: str,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class PublicEdgeMiddleware:
    """Answers preflights, rejects oversized bodies and adds CORS headers on public routes."""

    def __init__(self, app: ASGIApp, *, runtime: PublicRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and _header(scope, b"access-control-request-method"):
            await self._preflight(scope, send)
            return
        limit = self.runtime.settings.max_body_bytes
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _json(send, 413, f"request body too large: the limit is {limit} bytes")
            return
        body = await _read_body(receive, limit)
        if body is None:
            await _json(send, 413, f"request body too large: the limit is {limit} bytes")
            return
        state = scope.setdefault("state", {})
        await self.app(scope, _replay(body, receive), _with_cors(send, state))

    async def _preflight(self, scope: Scope, send: Send) -> None:
        origin = try_origin(_header(scope, b"origin"))
        engine = scope["app"].state.groundline.engine
        known = await run_in_threadpool(self.runtime.known_origins, engine)
        if origin is None or origin not in known:
            await _json(send, 403, "origin not allowed")
            return
        await send({"type": "http.response.start", "status": 204, "headers": [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-methods", ALLOW_METHODS.encode()),
            (b"access-control-allow-headers", ALLOW_HEADERS.encode()),
            (b"access-control-max-age", str(self.runtime.settings.preflight_max_age_s).encode()),
            (b"vary", b"Origin"),
        ]})
        await send({"type": "http.response.body", "body": b""})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` (chunked uploads too)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls wait for the disconnect, as usual

    return replay


def _with_cors(send: Send, state: MutableMapping[str, Any]) -> Send:
    async def wrapped(message: Message) -> None:
        origin = state.get("cors_origin")
        if message["type"] == "http.response.start" and origin:
            headers = list(message.get("headers", []))
            headers += [(b"access-control-allow-origin", origin.encode()),
                        (b"access-control-expose-headers", EXPOSE_HEADERS.encode()),
                        (b"vary", b"Origin")]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def install_edge(app: FastAPI, settings: Settings) -> PublicRuntime:
    """Create the rate limiter (Redis when ``REDIS_URL`` is set) and add the middleware."""
    limiter = make_rate_limiter(settings.redis_url, prefix=settings.public.rate_limit_prefix)
    runtime = PublicRuntime(settings=settings.public, limiter=limiter)
    app.state.public = runtime
    app.add_middleware(PublicEdgeMiddleware, runtime=runtime)
    return runtime
