"""Admin start-up and shut-down, called from the app's lifespan, and the job runner dependency."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request

from app.admin.jobs import JobRunner
from app.admin.reindex import Reindexer
from app.auth import ensure_env_admin_key
from app.db import session_scope
from app.settings import Settings
from app.state import AppState

logger = logging.getLogger(__name__)


class ActiveFollower:
    """Serves the version ``ACTIVE`` names when another process has changed it."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._failed: str | None = None

    def __call__(self) -> None:
        name = self.state.store.active_name()
        if name is None or name == self._failed:
            return
        try:
            if self.state.reload_active():
                logger.info("now serving index version %s, activated elsewhere", name)
        except Exception as exc:
            self._failed = name  # report a version that cannot be served once, not every tick
            logger.error("cannot serve index version %s: %s", name, exc)


def start_admin(app: FastAPI, state: AppState, settings: Settings) -> None:
    """Register the ``ADMIN_API_KEY`` key, if set, and start the re-index worker."""
    if settings.admin_api_key is not None:
        with session_scope(state.engine) as session:
            ensure_env_admin_key(session, settings.admin_api_key.get_secret_value())
    interval = settings.admin.watch_interval_s
    runner = JobRunner(engine=state.engine,
                       build=Reindexer(state=state, settings=settings, engine=state.engine),
                       watch=ActiveFollower(state) if interval > 0 else None,
                       watch_interval_s=interval or 3600.0)
    runner.start()
    app.state.admin_jobs = runner


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
