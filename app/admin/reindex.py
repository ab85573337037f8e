"""One re-index: read the catalogue, build a new index version, swap it into the service.

The build is incremental (only articles whose content hash changed are re-chunked and
re-embedded) and reuses the embedder the service already has loaded, so a one-article change
costs one article's embeddings plus writing the version's files. Requests in flight keep the
version they started with; the swap is one reference assignment (:meth:`AppState.swap`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from app.admin.approvals import approved_hashes
from app.catalog import all_documents, record_chunks
from app.db import session_scope
from app.errors import RagError
from app.models import IndexBuild, utcnow
from app.rag.build import BuildOutcome, IndexBuilder
from app.rag.factory import make_index_builder
from app.rag.index import IndexVersion
from app.settings import Settings
from app.state import AppState

logger = logging.getLogger(__name__)


class ReindexError(RagError):
    """A re-index job cannot run or failed; the served version is untouched."""


@dataclass
class Reporter:
    """Where a job reports its phase and progress (``done`` of ``total`` chunks embedded)."""

    phase: Callable[[str], None]
    plan: Callable[[int], None]
    advance: Callable[[int], None]


def full_rebuild_reason(builder: IndexBuilder, *, rebuild: bool) -> str | None:
    """Why this build cannot reuse the active version's vectors, or None if it can."""
    if rebuild:
        return "a full rebuild was requested"
    manifest = builder.store.active_manifest()
    if manifest is None:
        return "there is no active index version to build on"
    changed = [key for key, value in builder.expected().items() if manifest.get(key) != value]
    if not changed:
        return None
    was = {key: manifest.get(key) for key in changed}
    now = {key: builder.expected()[key] for key in changed}
    return f"{' and '.join(changed)} settings changed: index has {was}, settings ask for {now}"


class Reindexer:
    """Runs re-index builds for one service; the job runner calls :meth:`run` on its thread."""

    def __init__(self, *, state: AppState, settings: Settings, engine: Engine) -> None:
        self.state = state
        self.settings = settings
        self.engine = engine
        self._builder: IndexBuilder | None = None

    def builder(self) -> IndexBuilder:
        if self._builder is None:
            if self.state.embedder is None:
                raise ReindexError("the embedding model is not loaded yet: retry in a moment")
            self._builder = make_index_builder(self.settings, embedder=self.state.embedder,
                                               store=self.state.store)
        return self._builder

    def run(self, *, rebuild: bool, report: Reporter) -> dict[str, Any]:
        """Build, publish and serve a new version; returns what the job reports as its result."""
        started = time.perf_counter()
        builder = self.builder()
        report.phase("reading catalogue")
        with session_scope(self.engine) as session:
            catalogue = all_documents(session)
            approved = approved_hashes(session)
            build_row = IndexBuild()
            session.add(build_row)
            session.flush()
            build_id = build_row.id
        if self.state.sync is not None:  # build on the cluster's version, not a stale one
            self.state.sync.pull(expected=self.state.expected)
            self.state.reload_active()
        reason = full_rebuild_reason(builder, rebuild=rebuild)
        previous = self.state.index.name if self.state.index else None
        report.phase("building")
        try:
            outcome = builder.build(catalogue, force=rebuild, progress=report.advance,
                                    plan=report.plan, approved=approved)
        except Exception as exc:
            _finish_build(self.engine, build_id, error=str(exc))
            raise
        _finish_build(self.engine, build_id, outcome=outcome)
        if self.state.sync is not None and outcome.version is not None:
            report.phase("publishing")
            self.state.sync.push(outcome.version)
        report.phase("swapping")
        swap_started = time.perf_counter()
        self._serve_active(previous)
        swap_seconds = time.perf_counter() - swap_started
        served_after = time.perf_counter() - started
        if outcome.status == "built":
            report.phase("recording chunks")
            self._record_chunks()
        return _result(outcome, previous=previous, served=self.state.index,
                       reason=reason if outcome.status == "built" else None,
                       swap_seconds=swap_seconds, served_after=served_after,
                       total=time.perf_counter() - started)

    def _serve_active(self, previous: str | None) -> None:
        """Swap the new active version in; if it cannot be loaded, point ACTIVE back."""
        try:
            self.state.reload_active()
        except Exception as exc:
            if previous is not None:
                self.state.store.activate(previous)
            raise ReindexError(f"the new index version could not be loaded ({exc}); "
                               f"still serving {previous}") from exc

    def _record_chunks(self) -> None:
        """Mirror the served version's chunks into the chunk table (for inspection joins)."""
        index = self.state.index
        if index is None:
            return
        with session_scope(self.engine) as session:
            record_chunks(session, index)


def _result(outcome: BuildOutcome, *, previous: str | None, served: IndexVersion | None,
            reason: str | None,
            swap_seconds: float, served_after: float, total: float) -> dict[str, Any]:
    return {
        "build": outcome.status, "version": outcome.version, "previous_version": previous,
        "serving": served.name if served is not None else None,
        "added": outcome.added, "updated": outcome.updated, "unchanged": outcome.unchanged,
        "removed": outcome.removed, "chunks": outcome.chunks, "embedded": outcome.embedded,
        "full_rebuild": outcome.status == "built" and outcome.full_rebuild,
        "full_rebuild_reason": (reason or "the active version could not be reused")
        if outcome.status == "built" and outcome.full_rebuild else None,
        "build_seconds": round(outcome.seconds, 3),
        "embed_seconds": round(outcome.embed_seconds, 3),
        "swap_seconds": round(swap_seconds, 3),
        "served_after_seconds": round(served_after, 3),
        "total_seconds": round(total, 3),
    }


def _finish_build(engine: Engine, build_id: int | None, *, outcome: BuildOutcome | None = None,
                  error: str | None = None) -> None:
    """Close the ``index_build`` row the CLI also writes, so both show in one history."""
    with session_scope(engine) as session:
        row = session.get(IndexBuild, build_id)
        if row is None:
            return
        row.finished_at = utcnow()
        if outcome is None:
            row.status, row.error = "failed", error
        else:
            row.status, row.version = outcome.status, outcome.version
            row.added, row.updated = outcome.added, outcome.updated
            row.unchanged, row.removed = outcome.unchanged, outcome.removed
            row.chunks, row.embedded = outcome.chunks, outcome.embedded
            row.seconds = outcome.seconds
        session.add(row)
