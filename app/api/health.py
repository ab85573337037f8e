"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Index and models are loaded", responses={503: {}})
def readyz(state: StateDep, request: Request) -> JSONResponse:
    """Ready when the index and models are loaded; ``llm`` says whether the configured LLM
    answers (checked at most every ``llm.health_ttl_s``; answers fall back to extractive when
    it does not, so it does not make the service unready)."""
    index = state.index
    if index is None or state.service is None:
        # The full reason can name folders on the server: it goes to the log, not to callers.
        reason = "models loading" if state.service is None else "no index loaded (see the log)"
        return JSONResponse({"status": "not_ready", "reason": reason}, status_code=503)
    counts = index.manifest.get("counts", {})
    return JSONResponse({
        "status": "ready", "index_version": index.name, "chunks": counts.get("chunks"),
        "reranker": state.service.reranker is not None,
        "generator": state.service.generator.name,
        "llm": request.app.state.llm_probe.status().to_dict(),
    })
