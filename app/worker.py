"""Run re-index jobs without serving HTTP: ``python -m app.worker``.

With ``GROUNDLINE_INDEX__STORE=database`` on PostgreSQL, a worker claims the cluster's jobs
like any host (``app.cluster.lease``) and publishes the versions it builds into the database,
so API processes can leave builds to it (``GROUNDLINE_ADMIN__RUN_JOBS=false``). It loads the
embedding model once, keeps its own index folder as a cache, and stops on SIGTERM or Ctrl-C
after the job it runs has finished.
"""

from __future__ import annotations

import logging
import signal
import threading

from app.admin.runtime import make_runner
from app.cluster.sync import attach_version_store
from app.db import make_engine
from app.environment import prepare_process
from app.ops.config import settings_or_exit
from app.ops.logs import configure_logging
from app.rag.index import IndexStore
from app.state import AppState

logger = logging.getLogger(__name__)


def main() -> int:
    """Start the job runner and wait for a signal to stop."""
    prepare_process()
    settings = settings_or_exit()
    configure_logging(settings.log)
    if settings.index.store != "database":
        logger.error("a separate worker needs GROUNDLINE_INDEX__STORE=database on PostgreSQL; "
                     "with the default folder store the service runs its own jobs")
        return 2
    from app.main import load_models

    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    attach_version_store(state, settings)
    load_models(state, settings)
    runner = make_runner(state, settings.model_copy(
        update={"admin": settings.admin.model_copy(update={"run_jobs": True})}))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner.start()
    logger.info("re-index worker %s waiting for jobs", runner.lease.host if runner.lease else "")
    stop.wait()
    logger.info("stopping: letting the running job finish")
    runner.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
