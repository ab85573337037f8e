"""Prometheus metrics: ``GET /metrics`` (an admin key unless ``metrics.require_admin`` is off)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from app.ops.metrics import render

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics (docs/operations.md)",
            response_class=Response,
            responses={200: {"content": {"text/plain": {}}},
                       401: {"description": "No admin key"},
                       403: {"description": "Not an admin key"}})
def metrics() -> Response:
    """Every metric in the Prometheus text format (of every worker in multiprocess mode)."""
    body, content_type = render()
    return Response(body, media_type=content_type)
