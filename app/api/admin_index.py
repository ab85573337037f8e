"""Admin routes for re-index jobs, index versions and the unanswered-questions report."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse

from app.admin import audit, gaps, versions
from app.admin.jobs import IndexBusyError
from app.admin.runtime import JobsDep
from app.admin.schemas import ActivationOut, JobOut, ReindexRequest, VersionOut
from app.admin.views import job_out, start_job
from app.auth import AdminKeyDep
from app.catalog import record_chunks
from app.db import session_scope
from app.deps import SessionDep, SettingsDep, StateDep
from app.errors import IndexNotFoundError
from app.models import utcnow
from app.state import AppState

logger = logging.getLogger(__name__)
router = APIRouter()


@router.post("/reindex", status_code=202, response_model=JobOut,
             summary="Start a re-index job (returns at once)")
def start_reindex(admin: AdminKeyDep, jobs: JobsDep,
                  body: ReindexRequest | None = None) -> JSONResponse:
    """Builds a new index version from the catalogue (incremental unless ``rebuild``) and
    swaps it in. While a job runs, one more is queued; further requests join that one
    (``coalesced``), since a job always indexes the catalogue as it is when it starts."""
    out = start_job(jobs, actor=admin.id, rebuild=body.rebuild if body is not None else False)
    return JSONResponse(out.model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/v1/admin/jobs/{out.id}"})


@router.get("/jobs", response_model=list[JobOut], summary="Re-index jobs, newest first")
def list_jobs(session: SessionDep, jobs: JobsDep, status: str | None = None,
              limit: int = Query(default=50, ge=1, le=500)) -> list[JobOut]:
    return [job_out(r, live=jobs.live_progress(r.id))
            for r in jobs.list(session, limit=limit, status=status)]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="A job's status and result",
            responses={404: {"description": "No job with that id"}})
def get_job(job_id: str, session: SessionDep, jobs: JobsDep) -> JobOut:
    row = jobs.get(session, job_id)
    if row is None:
        raise HTTPException(404, detail=f"no job with id {job_id!r}")
    return job_out(row, live=jobs.live_progress(job_id))


@router.get("/index/versions", response_model=list[VersionOut],
            summary="Index versions on disk, newest first")
def list_versions(state: StateDep) -> list[dict[str, Any]]:
    return versions.list_versions(state)


def _activate(state: AppState, name: str, *, actor: str, action: str,
              jobs: JobsDep) -> ActivationOut:
    try:
        with jobs.exclusive():
            before = versions.activate(state, name)
    except IndexBusyError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    except IndexNotFoundError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except versions.VersionError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    with session_scope(state.engine) as session:
        audit.record(session, actor=actor, action=action, target_type="version",
                     target_id=name, detail={"previous": before})
    if state.index is not None:
        with session_scope(state.engine) as session:
            record_chunks(session, state.index)
    return ActivationOut(serving=name, previous=before)


@router.post("/index/versions/{name}/activate", response_model=ActivationOut,
             summary="Serve an index version",
             responses={404: {"description": "No index version with that name"},
                        409: {"description": "Busy or incompatible"}})
def activate_version(name: str, state: StateDep, admin: AdminKeyDep,
                     jobs: JobsDep) -> ActivationOut:
    return _activate(state, name, actor=admin.id, action="index.activate", jobs=jobs)


@router.post("/index/rollback", response_model=ActivationOut,
             summary="Serve the version before the active one",
             responses={409: {"description": "Nothing to roll back to, or busy"}})
def rollback(state: StateDep, admin: AdminKeyDep, jobs: JobsDep) -> ActivationOut:
    """The catalogue keeps its newer content: the next re-index job builds it again."""
    try:
        name = versions.previous_version(state)
    except versions.VersionError as exc:
        raise HTTPException(409, detail=str(exc)) from exc
    return _activate(state, name, actor=admin.id, action="index.rollback", jobs=jobs)


@router.get("/unanswered", summary="Unanswered questions, grouped: the articles to write next")
def unanswered(session: SessionDep, state: StateDep, settings: SettingsDep,
               days: int | None = Query(default=None, ge=1, le=365),
               limit: int = Query(default=50, ge=1, le=500)) -> dict[str, Any]:
    """Recent fallbacks and thumbs-down answers, grouped by similar question, with counts,
    reasons, example wordings (redacted) and the closest published articles."""
    since = utcnow() - timedelta(days=days or settings.admin.gaps_days)
    return gaps.report(session, since=since, embedder=state.embedder, index=state.index,
                       threshold=settings.admin.gaps_similarity, limit=limit)
