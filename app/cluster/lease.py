"""Re-index jobs that run once across several hosts: claims with a lease in PostgreSQL.

Every host's job runner polls for work. A claim is one transaction: an advisory lock makes
the claimers take turns, no job may be running under a live lease (one build at a time in the
cluster), and the oldest queued job, or a running one whose lease has expired because its host
stopped, is taken with ``FOR UPDATE SKIP LOCKED``. The host renews its lease while the build
runs; a job started ``attempts`` times without finishing is marked failed, never left running.
Times are the database's own (``now()``), so hosts' clocks do not matter.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.errors import RagError
from app.models import ReindexJob

logger = logging.getLogger(__name__)

# Any fixed 64-bit number: the key of the advisory lock the claimers take turns on.
CLAIM_LOCK = 7_145_202_611

_BUSY = text("SELECT id FROM reindex_job WHERE status = 'running' AND lease_until > now() "
             "LIMIT 1")
_NEXT = text(
    "SELECT id, attempts FROM reindex_job WHERE status = 'queued' OR (status = 'running' AND "
    "(lease_until IS NULL OR lease_until <= now())) ORDER BY created_at LIMIT 1 "
    "FOR UPDATE SKIP LOCKED")
_TAKE = text(
    "UPDATE reindex_job SET status = 'running', claimed_by = :host, attempts = attempts + 1, "
    "lease_until = now() + make_interval(secs => :lease), started_at = now(), "
    "phase = 'starting', done = 0, total = 0 WHERE id = :id")
_GIVE_UP = text(
    "UPDATE reindex_job SET status = 'failed', finished_at = now(), phase = 'finished', "
    "error = :error WHERE id = :id")
_RENEW = text(
    "UPDATE reindex_job SET lease_until = now() + make_interval(secs => :lease) "
    "WHERE id = :id AND claimed_by = :host AND status = 'running'")


class LeaseError(RagError):
    """Job leases need PostgreSQL."""


def host_id() -> str:
    """This process, as named in ``reindex_job.claimed_by``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class JobLease:
    """Claims, renews and releases re-index jobs for one process."""

    poll_s = 0.5  # how often an idle runner looks for a job (and follows the active version)

    def __init__(self, engine: Engine, *, lease_s: float = 30.0, attempts: int = 3) -> None:
        if engine.dialect.name != "postgresql":
            raise LeaseError("index.store database runs re-index jobs across hosts through "
                             "PostgreSQL: set GROUNDLINE_DATABASE_URL to a PostgreSQL URL")
        self.engine = engine
        self.lease_s = lease_s
        self.attempts = attempts
        self.host = host_id()

    def claim(self) -> str | None:
        """The id of the job this host now runs, or None if there is none it may run."""
        with self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
            if conn.execute(_BUSY).first() is not None:
                return None
            row = conn.execute(_NEXT).first()
            if row is None:
                return None
            job_id, attempts = row
            if attempts >= self.attempts:
                conn.execute(_GIVE_UP, {"id": job_id, "error": (
                    f"the hosts that started this job stopped before it finished ({attempts} "
                    "times); the active version kept serving; start a new job")})
                logger.error("re-index job %s failed: started %d times", job_id, attempts)
                return None
            conn.execute(_TAKE, {"id": job_id, "host": self.host, "lease": self.lease_s})
        logger.info("claimed re-index job %s (attempt %d)", job_id, attempts + 1)
        return str(job_id)

    def renew(self, job_id: str) -> bool:
        """Extend the lease; False if this host no longer holds the job."""
        with self.engine.begin() as conn:
            done = conn.execute(_RENEW, {"id": job_id, "host": self.host,
                                         "lease": self.lease_s})
            return bool(done.rowcount)

    @contextmanager
    def heartbeat(self, job_id: str) -> Iterator[None]:
        """Renew the lease every third of its length while the block runs."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease_s / 3):
                try:
                    if not self.renew(job_id):
                        logger.warning("lost the lease of re-index job %s", job_id)
                        return
                except Exception:  # a database hiccup: the next beat tries again
                    logger.exception("could not renew the lease of re-index job %s", job_id)

        thread = threading.Thread(target=beat, name="reindex-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def holds(self, row: ReindexJob) -> bool:
        return row.claimed_by == self.host

    @staticmethod
    def queued(session: Session) -> ReindexJob | None:
        """The oldest job that no host has started yet, if any."""
        query = (select(ReindexJob).where(ReindexJob.status == "queued")
                 .order_by(col(ReindexJob.created_at)).limit(1))
        return session.exec(query).first()
