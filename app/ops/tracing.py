"""Optional OpenTelemetry tracing: one server span per HTTP request, sent over OTLP/HTTP.

Off by default (``tracing.enabled``): then no middleware is added and nothing here imports
OpenTelemetry. When on, :func:`install_tracing` gives the app its own ``TracerProvider``
(``service.name``, a parent-based ratio sampler, a batch processor and the OTLP/HTTP exporter)
and a middleware, inside the request-id middleware, that opens a server span per request. The
span is named by method and route template (``POST /v1/chat``, never the raw path, whose ids
would make every name unique) and carries ``http.method``, ``http.route``,
``http.status_code`` and the request id of the logs. A request with a ``traceparent`` header
continues its caller's trace.

The provider stays on the app instead of becoming the process's global one: FastAPI traces
requests by itself whenever a global provider is set, which would add a second server span
per request (the app also tells FastAPI not to, for a process where something else set one).

The answer pipeline is not instrumented inside. As for the metrics, an answer's stage timings,
outcome and reason are read from the answer it returns, at the API layer
(:func:`record_answer`), and set on the request's span. Spans never carry a customer's
message, query, answer, e-mail or address, nor the raw path or query string.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

from app import __version__
from app.errors import ConfigurationError
from app.ops.logs import REQUEST_ID
from app.rag.trace import outcome_of
from app.settings import TracingSettings

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from app.ops.http import ASGIApp, Message, Receive, Scope, Send
    from app.rag.answer import AnswerResult

# What the OTLP/HTTP exporter sends to when neither the setting nor its variables name a URL.
DEFAULT_BASE = "http://localhost:4318"
TRACES_PATH = "/v1/traces"
REQUEST_ID_ATTRIBUTE = "groundline.request_id"

_SPAN: ContextVar[Span | None] = ContextVar("groundline_request_span", default=None)


def export_endpoint(settings: TracingSettings, environ: Mapping[str, str] | None = None) -> str:
    """The URL spans are sent to: the setting, else the standard variables as the exporter
    reads them (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as is, ``OTEL_EXPORTER_OTLP_ENDPOINT``
    plus ``/v1/traces``, else ``http://localhost:4318/v1/traces``)."""
    environ = os.environ if environ is None else environ
    if settings.endpoint:
        return settings.endpoint
    if traces := environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return traces
    base = environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_BASE
    return base.removesuffix("/") + TRACES_PATH


def make_provider(settings: TracingSettings, *,
                  exporter: SpanExporter | None = None) -> TracerProvider:
    """A tracer provider that batches spans to ``exporter`` (default: OTLP over HTTP).

    Raises:
        ConfigurationError: The OpenTelemetry packages (the ``otel`` extra) are missing.
    """
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:
        raise ConfigurationError(
            "GROUNDLINE_TRACING__ENABLED=true needs the OpenTelemetry packages: "
            f"pip install 'groundline[otel]' ({exc.name} is missing)") from None
    if exporter is None:
        # Empty: the exporter reads the OTEL_EXPORTER_OTLP_* variables (also headers, TLS).
        exporter = OTLPSpanExporter(endpoint=settings.endpoint or None)
    resource = Resource.create({SERVICE_NAME: settings.service_name,
                                SERVICE_VERSION: __version__})
    provider = TracerProvider(resource=resource,
                              sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def install_tracing(app: FastAPI, settings: TracingSettings, *,
                    exporter: SpanExporter | None = None) -> None:
    """With ``settings.enabled``, give ``app`` a tracer provider and the span middleware.

    Call it just before :func:`app.ops.http.install_ops`, so that the request id is set when
    a span starts; :func:`stop_tracing` at shutdown sends what is still buffered.

    Args:
        app: The application.
        settings: The tracing section of the settings.
        exporter: Receives the spans instead of the OTLP exporter (tests).
    """
    if not settings.enabled:
        return
    provider = make_provider(settings, exporter=exporter)
    app.state.tracer_provider = provider
    app.add_middleware(TracingMiddleware, tracer=provider.get_tracer(__name__, __version__))


def stop_tracing(app: FastAPI) -> None:
    """Export the buffered spans and stop the exporter (nothing without tracing)."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()


class TracingMiddleware:
    """Opens a server span around each HTTP request and names it after the route."""

    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        from opentelemetry import context, propagate, trace
        from opentelemetry.trace import SpanKind, StatusCode

        from app.ops.http import UNMATCHED, route_template

        self.app = app
        self.tracer = tracer
        self._context, self._propagate, self._trace = context, propagate, trace
        self._server, self._error = SpanKind.SERVER, StatusCode.ERROR
        self._route, self._unmatched = route_template, UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        parent = self._propagate.extract(headers)
        span = self.tracer.start_span(method, context=parent, kind=self._server,
                                      attributes={"http.method": method})
        if rid := REQUEST_ID.get():
            span.set_attribute(REQUEST_ID_ATTRIBUTE, rid)
        status: int | None = None

        async def send_traced(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        token = self._context.attach(self._trace.set_span_in_context(span, parent))
        current = _SPAN.set(span)
        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send_traced)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            _SPAN.reset(current)
            self._context.detach(token)
            self._finish(span, scope, status, failure)

    def _finish(self, span: Span, scope: Scope, status: int | None,
                failure: BaseException | None) -> None:
        method, route = scope["method"], self._route(scope)
        if route != self._unmatched:
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)
        # An exception before the response started is answered 500 by the outer handler.
        status = 500 if status is None else status
        span.set_attribute("http.status_code", status)
        if failure is not None or status >= 500:
            # The type only: an exception's message may quote the request.
            kind = type(failure).__qualname__ if failure is not None else str(status)
            span.set_attribute("error.type", kind)
            span.set_status(self._error, kind)
        span.end()


def record_answer(result: AnswerResult) -> None:
    """Set an answer's stage timings (``groundline.answer.<stage>_ms``), outcome, reason,
    generator and index version on the current request's span; nothing without one."""
    span = _SPAN.get()
    if span is None or not span.is_recording():
        return
    reason = result.fallback.reason if result.fallback is not None else None
    attributes: dict[str, str | bool | float] = {
        f"groundline.answer.{stage}_ms": round(ms, 3)
        for stage, ms in result.timings_ms.items()}
    attributes.update({
        "groundline.answer.outcome": outcome_of(reason),
        "groundline.answer.reason": reason or "none",
        "groundline.answer.generator": result.generator,
        "groundline.answer.llm_failed": result.llm_failed,
        "groundline.index_version": result.index_version,
    })
    span.set_attributes(attributes)
