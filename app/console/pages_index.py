"""Console pages for the index: re-index with live progress, versions, activate, rollback."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import audit, versions
from app.admin.jobs import IndexBusyError
from app.admin.runtime import JobsDep
from app.admin.views import job_out, start_job
from app.catalog import record_chunks
from app.console.render import page
from app.console.session import AdminDep, EditorDep, ViewerDep
from app.db import session_scope
from app.deps import SessionDep, StateDep
from app.errors import IndexNotFoundError
from app.state import AppState

logger = logging.getLogger(__name__)
router = APIRouter()


@router.get("/index", response_class=HTMLResponse)
def index_page(request: Request, user: ViewerDep, session: SessionDep, state: StateDep,
               jobs: JobsDep, error: str = "") -> Response:
    recent = [job_out(r, live=jobs.live_progress(r.id)) for r in jobs.list(session, limit=10)]
    return page(request, "index.html", user=user, section="index",
                versions=versions.list_versions(state), jobs=recent, error=error)


@router.post("/reindex", response_class=HTMLResponse)
def reindex(request: Request, user: EditorDep, jobs: JobsDep) -> Response:
    """Start a re-index job; htmx swaps in its progress, which polls until the job ends."""
    job = start_job(jobs, actor=user.key_id, rebuild=False)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/admin/index", status_code=303)
    return page(request, "_job.html", user=user, job=job)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(request: Request, job_id: str, user: ViewerDep, session: SessionDep,
                 jobs: JobsDep) -> Response:
    row = jobs.get(session, job_id)
    if row is None:
        raise HTTPException(404, detail=f"no job with id {job_id!r}")
    return page(request, "_job.html", user=user, job=job_out(row, live=jobs.live_progress(job_id)))


def _activate(state: AppState, name: str, *, actor: str, action: str, jobs: JobsDep) -> str:
    """Serve ``name``; an error message, or "" on success."""
    try:
        with jobs.exclusive():
            before = versions.activate(state, name)
    except (IndexBusyError, IndexNotFoundError, versions.VersionError) as exc:
        return str(exc)
    with session_scope(state.engine) as session:
        audit.record(session, actor=actor, action=action, target_type="version",
                     target_id=name, detail={"previous": before, "via": "console"})
        if state.index is not None:
            record_chunks(session, state.index)
    return ""


def _back(error: str) -> Response:
    return RedirectResponse("/admin/index" + (f"?error={quote(error)}" if error else ""),
                            status_code=303)


@router.post("/index/versions/{name}/activate")
def activate(name: str, user: AdminDep, state: StateDep, jobs: JobsDep) -> Response:
    return _back(_activate(state, name, actor=user.key_id, action="index.activate", jobs=jobs))


@router.post("/index/rollback")
def rollback(user: AdminDep, state: StateDep, jobs: JobsDep) -> Response:
    try:
        name = versions.previous_version(state)
    except versions.VersionError as exc:
        return _back(str(exc))
    return _back(_activate(state, name, actor=user.key_id, action="index.rollback", jobs=jobs))
