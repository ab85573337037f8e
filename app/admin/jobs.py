"""Re-index jobs: one worker thread, one build at a time, requests coalesced while queued.

A request while a build runs is queued, never run in parallel. Every build reads the whole
catalogue when it starts, so one queued job covers every request made before it starts: a
further request returns the queued job (``coalesced``) instead of queueing another. Between
jobs the worker also notices when another process (``python -m ingest``, or another worker of
this service) has activated a new version, and serves it.

With a :class:`~app.cluster.lease.JobLease` (``index.store`` database, several hosts) the
queue is the ``reindex_job`` table itself: every host's worker claims the next job under a
lease, so each job runs once across the cluster and is retried elsewhere if its host dies.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.admin.reindex import Reporter
from app.db import session_scope
from app.errors import RagError
from app.models import ReindexJob, utcnow
from app.ops.metrics import observe_reindex_job

if TYPE_CHECKING:
    from app.cluster.lease import JobLease

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.25
ACTIVE_STATUSES = ("queued", "running")


class Build(Protocol):
    """What a job runs: build, publish and serve a version; returns the job's result."""

    def run(self, *, rebuild: bool, report: Reporter) -> dict[str, Any]: ...


class IndexBusyError(RagError):
    """A re-index job holds the index: try again when it has finished."""


@dataclass(frozen=True, slots=True)
class Submitted:
    job: ReindexJob
    coalesced: bool


def new_job_id() -> str:
    return "job_" + secrets.token_hex(6)


class JobRunner:
    """Owns the worker thread and the ``reindex_job`` rows."""

    def __init__(self, *, engine: Engine, build: Build,
                 watch: Callable[[], None] | None = None, watch_interval_s: float = 2.0,
                 lease: JobLease | None = None, run_jobs: bool = True) -> None:
        self.engine = engine
        self.lease = lease
        self.run_jobs = run_jobs
        self.build = build
        self._watch = watch
        self._watch_interval = watch_interval_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()  # guards _pending
        self._pending: str | None = None  # the queued job that has not started yet
        self.index_lock = threading.Lock()  # held while a job builds and swaps
        self._thread: threading.Thread | None = None
        self._live: _Progress | None = None  # the running job's progress, fresher than its row

    def start(self) -> None:
        """Fail the jobs a previous process left unfinished, then start the worker.

        With a lease, unfinished jobs belong to the cluster: an expired one is claimed again.
        """
        with session_scope(self.engine) as session:
            stale = [] if self.lease is not None else session.exec(select(ReindexJob).where(
                col(ReindexJob.status).in_(ACTIVE_STATUSES))).all()
            for row in stale:
                row.status, row.finished_at = "failed", utcnow()
                row.error = ("interrupted: the service stopped before the job finished; the "
                             "active version kept serving; start a new job")
                session.add(row)
        self._thread = threading.Thread(target=self._loop, name="reindex-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Let a running job finish (up to ``timeout_s``), then end the worker."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._thread = None

    def submit(self, *, requested_by: str, rebuild: bool = False) -> Submitted:
        """Queue a job, or return the one already queued (upgraded to a full rebuild if asked)."""
        with self._lock, session_scope(self.engine) as session:
            if self.lease is not None:  # the table is the queue: any host's queued job
                pending = self.lease.queued(session)
            else:
                pending = session.get(ReindexJob, self._pending) if self._pending else None
            if pending is not None and pending.status == "queued":
                if rebuild and not pending.rebuild:
                    pending.rebuild = True
                    session.add(pending)
                session.flush()
                session.refresh(pending)
                session.expunge(pending)
                return Submitted(pending, coalesced=True)
            row = ReindexJob(id=new_job_id(), requested_by=requested_by, rebuild=rebuild)
            session.add(row)
            session.flush()
            session.refresh(row)
            session.expunge(row)
            self._pending = row.id
        self._queue.put("" if self.lease is not None else row.id)  # a lease: claim it now
        return Submitted(row, coalesced=False)

    def get(self, session: Session, job_id: str) -> ReindexJob | None:
        return session.get(ReindexJob, job_id)

    def live_progress(self, job_id: str) -> tuple[str, int, int] | None:
        """(phase, done, total) of the running job, as of now; None for any other job."""
        live = self._live
        if live is None or live.job_id != job_id:
            return None
        return live.phase, live.done, live.total

    def list(self, session: Session, *, limit: int = 50, status: str | None = None
             ) -> list[ReindexJob]:
        query = select(ReindexJob)
        if status:
            query = query.where(ReindexJob.status == status)
        query = query.order_by(col(ReindexJob.created_at).desc()).limit(limit)
        return list(session.exec(query).all())

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the index for an activation or rollback; refuse while a job builds."""
        if not self.index_lock.acquire(timeout=0.5):
            raise IndexBusyError("a re-index job is building: try again when it has finished")
        try:
            yield
        finally:
            self.index_lock.release()

    def wait(self, job_id: str, *, timeout_s: float = 60.0) -> ReindexJob:
        """Block until the job has finished (for scripts and tests)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with Session(self.engine) as session:
                row = session.get(ReindexJob, job_id)
                if row is not None and row.status not in ACTIVE_STATUSES:
                    session.expunge(row)
                    return row
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still running after {timeout_s} s")
            time.sleep(0.02)

    def _loop(self) -> None:
        tick = self._watch_interval if self.lease is None else self.lease.poll_s
        while True:
            try:
                job_id = self._queue.get(timeout=tick)
            except queue.Empty:
                job_id = ""
            if job_id is None:
                return
            if self.lease is not None:
                self._claim_and_run(self.lease)
            elif not job_id:
                self._follow_active()
            else:
                with self.index_lock:
                    self._run(job_id)

    def _claim_and_run(self, lease: JobLease) -> None:
        """Run the cluster's next job if this host may claim it, else follow the active one."""
        try:
            job_id = lease.claim() if self.run_jobs else None
        except Exception:  # the database is away: try again on the next tick
            logger.exception("could not look for re-index jobs")
            job_id = None
        if job_id is None:
            self._follow_active()
            return
        with self.index_lock, lease.heartbeat(job_id):
            self._run(job_id, claimed=True)

    def _follow_active(self) -> None:
        if self._watch is None or not self.index_lock.acquire(blocking=False):
            return
        try:
            self._watch()
        except Exception:  # a bad version on disk must not stop the worker
            logger.exception("could not follow the active index version")
        finally:
            self.index_lock.release()

    def _run(self, job_id: str, *, claimed: bool = False) -> None:
        with self._lock, session_scope(self.engine) as session:
            if self._pending == job_id:
                self._pending = None  # requests from now on need a job of their own
            row = session.get(ReindexJob, job_id)
            if row is None:
                return
            if not claimed:  # a claim has already marked it running
                row.status, row.started_at, row.phase = "running", utcnow(), "starting"
            rebuild = row.rebuild
            session.add(row)
        progress = self._live = _Progress(self.engine, job_id)
        started = time.monotonic()
        try:
            result = self.build.run(rebuild=rebuild, report=progress.reporter())
        except Exception as exc:
            self._finish(job_id, status="failed", error=describe_failure(exc), progress=progress)
            observe_reindex_job("failed", time.monotonic() - started)
            return
        finally:
            self._live = None
        status = "succeeded" if result.get("build") == "built" else "unchanged"
        self._finish(job_id, status=status, result=result, progress=progress)
        observe_reindex_job(status, time.monotonic() - started)

    def _finish(self, job_id: str, *, status: str, progress: _Progress,
                result: dict[str, Any] | None = None, error: str | None = None) -> None:
        with session_scope(self.engine) as session:
            row = session.get(ReindexJob, job_id)
            if row is None or (self.lease is not None and not self.lease.holds(row)):
                return  # another host took the job over when this one's lease expired
            row.status, row.finished_at, row.phase = status, utcnow(), "finished"
            row.done, row.total = progress.done, progress.total
            row.result, row.error = result or {}, error
            row.version = (result or {}).get("version")
            session.add(row)
        logger.info("re-index job %s %s", job_id, status)


def describe_failure(exc: Exception) -> str:
    """A message an operator can act on; the active version keeps serving in every case."""
    if isinstance(exc, OSError) and not isinstance(exc, RagError):
        where = f" ({exc.filename})" if exc.filename else ""
        detail = exc.strerror or str(exc)
        logger.error("re-index failed writing the index: %s%s", detail, where)
        return (f"could not write the index folder: {detail}{where}; check free space and "
                "permissions; the active version keeps serving")
    if isinstance(exc, RagError):
        logger.error("re-index failed: %s", exc)
        return f"{exc}; the active version keeps serving"
    logger.exception("re-index failed")
    return f"{type(exc).__name__}: {exc}; the active version keeps serving"


class _Progress:
    """Progress of the running job; written to its row on each phase and at most every
    0.25 s in between (the API reads the live values while the job runs)."""

    def __init__(self, engine: Engine, job_id: str) -> None:
        self.engine = engine
        self.job_id = job_id
        self.phase = "starting"
        self.done = 0
        self.total = 0
        self._written = 0.0

    def reporter(self) -> Reporter:
        return Reporter(phase=self._phase, plan=self._plan, advance=self._advance)

    def _phase(self, phase: str) -> None:
        self.phase = phase
        self._write(force=True)

    def _plan(self, total: int) -> None:
        self.total = total
        self.phase = f"embedding {total} chunks" if total else "writing"
        self._write(force=True)

    def _advance(self, n: int) -> None:
        self.done += n
        if self.done >= self.total:
            self.phase = "writing"
        self._write(force=self.done >= self.total)

    def _write(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._written < PROGRESS_EVERY_S:
            return
        self._written = now
        with session_scope(self.engine) as session:
            row = session.get(ReindexJob, self.job_id)
            if row is not None:
                row.phase, row.done, row.total = self.phase, self.done, self.total
                session.add(row)
