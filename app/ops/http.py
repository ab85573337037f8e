"""Request ids, the access log and the HTTP metrics, in one middleware around every route.

Each request gets an id: the caller's ``X-Request-ID`` when it is a plain token of at most
128 characters (a proxy's or a client's), else a new one. It is returned in the response's
``X-Request-ID`` header and carried by every log line written for the request. Requests are
counted and timed under their route template (``/v1/conversations/{conversation_id}``), never
the raw path, so ids in paths neither reach the metrics nor multiply their series.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import Depends, FastAPI
from starlette.routing import Match

from app.ops.llm_probe import LLMProbe
from app.ops.logs import REQUEST_ID, install_request_ids
from app.ops.metrics import observe_request
from app.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_logger = logging.getLogger("app.access")

HEADER = b"x-request-id"
_VALID_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes: access line at DEBUG
UNMATCHED = "unmatched"


def request_id(scope: Scope) -> str:
    """The caller's id when it is a plain token, else a new one."""
    for key, value in scope.get("headers", []):
        if key == HEADER and _VALID_ID.fullmatch(value):
            return bytes(value).decode("ascii")
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request, e.g. ``/v1/chat``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", []):
        match, _ = candidate.matches(scope)  # a wrong method still names its route
        if match != Match.NONE and isinstance(getattr(candidate, "path", None), str):
            return str(candidate.path)
    return UNMATCHED


class RequestMiddleware:
    """Sets the request id, returns it, counts and times the request, logs one line."""

    def __init__(self, app: ASGIApp, *, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        token = REQUEST_ID.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", []), (HEADER, rid.encode("ascii"))]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            observe_request(scope["method"], route, status, seconds)
            if self.access_log:
                level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
                access_logger.log(level, "%s %s %d %.1f ms", scope["method"], route, status,
                                  seconds * 1000, extra={
                                      "method": scope["method"], "route": route,
                                      "status": status, "duration_ms": round(seconds * 1000, 1)})
            REQUEST_ID.reset(token)


def install_ops(app: FastAPI, settings: Settings) -> None:
    """Add the request middleware (outermost: call it last), ``/metrics`` and the LLM probe."""
    from app.api import metrics
    from app.auth import require_admin

    install_request_ids()
    app.state.llm_probe = LLMProbe.from_settings(settings.llm)
    if settings.metrics.enabled:
        guard = [Depends(require_admin)] if settings.metrics.require_admin else []
        app.include_router(metrics.router, dependencies=guard)
    app.add_middleware(RequestMiddleware, access_log=settings.log.access)
