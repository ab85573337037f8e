"""Database rows of the admin API as response models."""

from __future__ import annotations

from app.admin import audit
from app.admin.jobs import JobRunner
from app.admin.schemas import JobOut
from app.db import session_scope
from app.models import ReindexJob


def job_out(row: ReindexJob, *, coalesced: bool = False,
            live: tuple[str, int, int] | None = None) -> JobOut:
    """``live``: the running job's (phase, done, total), fresher than the row."""
    phase, done, total = live if live is not None else (row.phase, row.done, row.total)
    progress = None
    if row.status in ("succeeded", "unchanged"):
        progress = 1.0
    elif total:
        progress = round(min(done / total, 1.0), 3)
    return JobOut(id=row.id, status=row.status, requested_by=row.requested_by,
                  rebuild=row.rebuild, created_at=row.created_at, started_at=row.started_at,
                  finished_at=row.finished_at, phase=phase, done=done, total=total,
                  progress=progress, version=row.version, result=dict(row.result),
                  error=row.error, coalesced=coalesced)


def start_job(jobs: JobRunner, *, actor: str, rebuild: bool) -> JobOut:
    """Queue a re-index job (or join the queued one) and audit a new one."""
    submitted = jobs.submit(requested_by=actor, rebuild=rebuild)
    if not submitted.coalesced:
        with session_scope(jobs.engine) as session:
            audit.record(session, actor=actor, action="reindex.start", target_type="job",
                         target_id=submitted.job.id, detail={"rebuild": rebuild})
    return job_out(submitted.job, coalesced=submitted.coalesced)
