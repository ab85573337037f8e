"""Admin start-up and shut-down, called from the app's lifespan, and the job runner dependency."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from sqlalchemy.exc import IntegrityError

from app.admin.jobs import JobRunner
from app.admin.reindex import Reindexer
from app.auth import ensure_env_admin_key
from app.db import session_scope
from app.settings import Settings
from app.state import AppState

logger = logging.getLogger(__name__)

RETRY_FETCH_S = 30  # a version that failed to fetch (damaged, or the database away) is retried


class ActiveFollower:
    """Serves the version ``ACTIVE`` names when another process has changed it."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._failed: str | None = None
        self._failed_at = 0.0

    def __call__(self) -> None:
        if self.state.sync is not None and not self._pull():
            return
        name = self.state.store.active_name()
        if name is None or name == self._failed:
            return
        try:
            if self.state.reload_active():
                logger.info("now serving index version %s, activated elsewhere", name)
        except Exception as exc:
            self._failed = name  # report a version that cannot be served once, not every tick
            logger.error("cannot serve index version %s: %s", name, exc)

    def _pull(self) -> bool:
        """Fetch the cluster's active version into the local store; False if it cannot be."""
        assert self.state.sync is not None
        wanted = self.state.sync.active()
        if wanted is None or (wanted == self._failed
                              and time.monotonic() - self._failed_at < RETRY_FETCH_S):
            return False
        try:
            self.state.sync.pull(expected=self.state.expected)
        except Exception as exc:
            self._failed, self._failed_at = wanted, time.monotonic()
            logger.error("cannot fetch index version %s (retrying in %d s): %s", wanted,
                         RETRY_FETCH_S, exc)
            return False
        return True


def start_admin(app: FastAPI, state: AppState, settings: Settings) -> None:
    """Register the ``ADMIN_API_KEY`` key, if set, and start the re-index worker."""
    if settings.admin_api_key is not None:
        raw = settings.admin_api_key.get_secret_value()
        try:
            with session_scope(state.engine) as session:
                ensure_env_admin_key(session, raw)
        except IntegrityError:  # another worker registered it at the same moment
            with session_scope(state.engine) as session:
                ensure_env_admin_key(session, raw)
    runner = make_runner(state, settings)
    runner.start()
    app.state.admin_jobs = runner


def make_runner(state: AppState, settings: Settings) -> JobRunner:
    """The job runner: this process's alone, or the cluster's with ``index.store`` database."""
    interval = settings.admin.watch_interval_s
    lease = None
    if settings.index.store == "database":
        from app.cluster.lease import JobLease

        lease = JobLease(state.engine, lease_s=settings.admin.job_lease_s,
                         attempts=settings.admin.job_attempts)
    return JobRunner(engine=state.engine,
                     build=Reindexer(state=state, settings=settings, engine=state.engine),
                     watch=ActiveFollower(state) if interval > 0 else None,
                     watch_interval_s=interval or 3600.0, lease=lease,
                     run_jobs=settings.admin.run_jobs)


def stop_admin(app: FastAPI) -> None:
    """Let a running re-index job finish, then stop the worker."""
    runner: JobRunner | None = getattr(app.state, "admin_jobs", None)
    if runner is not None:
        runner.stop()
        app.state.admin_jobs = None


def get_jobs(request: Request) -> JobRunner:
    runner: JobRunner | None = getattr(request.app.state, "admin_jobs", None)
    if runner is None:
        raise HTTPException(503, detail="not ready: the re-index worker is not running")
    return runner


JobsDep = Annotated[JobRunner, Depends(get_jobs)]
