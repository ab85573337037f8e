"""The request body limit of every route: 413 before an oversized body is read.

A declared ``Content-Length`` over the limit is refused at once. A body without one (chunked
uploads) is counted while the route reads it, and reading stops as soon as it passes the
limit, so no route ever holds more than the limit in memory. Public routes also have their
own, smaller limit (:mod:`app.public.edge`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, HTTPException

from app.errors import RagError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(RagError, HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    An ``HTTPException`` so that FastAPI, which turns other errors raised while it reads a
    body into 400, lets it through to the exception handlers as a 413.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=too_large(limit))


def too_large(limit: int) -> str:
    return f"request body too large: the limit is {limit:,} bytes (GROUNDLINE_MAX_REQUEST_BYTES)"


def _content_length(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            return bytes(value).decode("latin-1")
    return None


class BodyLimitMiddleware:
    """Answers 413 with the API's error shape for bodies over ``max_bytes``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _reject(send, self.max_bytes)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except BodyTooLargeError:
            # Raised outside the routes' exception handlers (a middleware reading the body).
            if started:
                raise
            await _reject(send, self.max_bytes)


async def _reject(send: Send, limit: int) -> None:
    body = json.dumps({"detail": too_large(limit)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def install_body_limit(app: FastAPI, *, max_bytes: int) -> None:
    """Add the limit as the outermost middleware, so that it sees every request first."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_bytes)
