"""Application factory: ``uvicorn app.main:create_app --factory``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from app import __version__
from app.admin.runtime import start_admin, stop_admin
from app.api import admin, chat, handoff, health, openai_compat, widget
from app.api.errors import install_error_shapes
from app.bodylimit import install_body_limit
from app.cluster.sync import attach_version_store
from app.console import install_console
from app.db import make_engine
from app.environment import prepare_process
from app.errors import RagError
from app.ops.config import settings_or_exit
from app.ops.http import install_ops
from app.ops.logs import configure_logging
from app.ops.metrics import observe_slot_wait, process_exit
from app.ops.summary import log_configuration
from app.ops.tracing import install_tracing, stop_tracing
from app.privacy import RetentionSweeper
from app.public.clientip import parse_networks
from app.public.edge import install_edge
from app.rag.index import IndexStore
from app.rag.protocols import Embedder
from app.settings import Settings
from app.state import AppState

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig
    from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger(__name__)


def configure_threads(settings: Settings) -> None:
    """One intra-op thread per model call by default (see ``Settings.torch_threads``).

    FAISS gets the same count: its OpenMP search stalls for tens of milliseconds when the
    cores are busy with other requests.
    """
    import faiss
    import torch

    torch.set_num_threads(settings.torch_threads)
    faiss.omp_set_num_threads(settings.torch_threads)


def load_models(state: AppState, settings: Settings, *, embedder: Embedder | None = None,
                load_index: bool = True) -> None:
    """Load the embedder, reranker, generator and (unless told not to) the active index.

    Args:
        state: Receives the models and the index.
        settings: What to load.
        embedder: An embedder to use instead of the configured one (benchmarks at scale).
        load_index: False leaves the index to a later ``state.reload_active()``.
    """
    from app.rag.factory import (
        expected_manifest,
        make_answer_service,
        make_embedder,
        make_reranker,
    )

    configure_threads(settings)
    state.not_ready_reason = "loading models"
    embedder = embedder or make_embedder(settings)
    state.embedder = embedder
    state.expected = expected_manifest(settings, dimension=embedder.dimension)
    state.service = make_answer_service(settings, embedder=embedder,
                                        reranker=make_reranker(settings),
                                        on_slot_wait=observe_slot_wait)
    if not load_index:
        return
    try:
        state.reload_active()
    except RagError as exc:
        state.not_ready_reason = str(exc)
        logger.error("index not loaded: %s", exc)


# The body of every 422 from request validation (see ``_invalid`` in create_app).
VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError", "type": "object", "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string", "example": "invalid request"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"],
            "properties": {"field": {"type": "string", "description": "e.g. articles.0.title"},
                           "message": {"type": "string"}}}},
    },
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the validation error body this app really sends."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version,
                             description=app.description, routes=app.routes)
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
            schemas.pop("ValidationError", None)
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: Settings | None = None, *, state: AppState | None = None,
               span_exporter: SpanExporter | None = None) -> FastAPI:
    """Build the app. ``state`` lets tests inject preloaded models and indexes, and
    ``span_exporter`` collect the spans (with ``tracing.enabled``) instead of sending them."""
    prepare_process()
    if settings is None:  # the server's entry point: a configuration mistake ends it in a line
        settings = settings_or_exit()
        configure_logging(settings.log)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_configuration(settings)
        if state is None:
            app_state = AppState(engine=make_engine(settings.resolved_database_url),
                                 store=IndexStore(settings.index.dir))
            app.state.groundline = app_state
            attach_version_store(app_state, settings)  # index.store database: other hosts'
            load_models(app_state, settings)
        start_admin(app, app.state.groundline, settings)
        app.state.llm_probe.status()  # logs whether the configured LLM answers
        sweeper = RetentionSweeper(app.state.groundline.engine,
                                   retention_days=settings.public.retention_days)
        try:
            sweeper.start()
            yield
        finally:
            sweeper.stop()
            stop_admin(app)
            stop_tracing(app)
            process_exit()

    # With tracing on, the app's own span is the request's only server span (app.ops.tracing).
    telemetry: TelemetryConfig | None = {"tracing": False} if settings.tracing.enabled else None
    app = FastAPI(title="Groundline", version=__version__, lifespan=lifespan,
                  telemetry=telemetry,
                  description="Answers customer questions only from the knowledge base, "
                              "with citations, or says it does not know.")
    app.state.settings = settings
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
    if state is not None:
        app.state.groundline = state
    app.include_router(health.router)
    app.include_router(chat.router)
    app.include_router(admin.router)
    app.include_router(handoff.router)
    app.include_router(handoff.admin_router)
    app.include_router(openai_compat.router)
    app.include_router(widget.router)
    install_console(app)
    install_edge(app, settings)
    install_body_limit(app, max_bytes=settings.max_request_bytes)
    install_tracing(app, settings.tracing, exporter=span_exporter)  # inside the request ids
    install_ops(app, settings)  # last: its middleware sees every request and response
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    install_error_shapes(app)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app
