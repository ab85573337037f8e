"""Composition root of ingestion: settings -> loader, chunker, embedder, builder."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from app.admin.approvals import approved_hashes
from app.catalog import all_documents, record_chunks, sync_documents
from app.db import session_scope
from app.models import IndexBuild, utcnow
from app.rag.build import BuildOutcome, IndexBuilder, Progress
from app.rag.factory import make_index_builder
from app.rag.types import SourceDocument
from app.settings import Settings
from ingest.sources import LoadFailure, load_path

logger = logging.getLogger(__name__)


def make_builder(settings: Settings) -> IndexBuilder:
    """The builder for file ingestion; the model loads only if something needs embedding."""
    return make_index_builder(settings)


@dataclass(frozen=True, slots=True)
class IngestReport:
    added: int
    updated: int
    unchanged: int
    removed: int
    failures: tuple[LoadFailure, ...]
    kept: tuple[str, ...]  # ids a file offered, left as the admin API edited or deleted them
    build: BuildOutcome
    seconds: float


def ingest_paths(paths: list[Path], *, settings: Settings, engine: Engine,
                 builder: IndexBuilder, rebuild: bool = False,
                 progress: Progress | None = None) -> IngestReport:
    """Load sources, sync the catalogue, and build a new index version if anything changed."""
    started = time.perf_counter()
    docs: list[SourceDocument] = []
    failures: list[LoadFailure] = []
    for path in paths:
        result = load_path(path, max_bytes=settings.max_file_bytes)
        docs.extend(result.documents)
        failures.extend(result.failures)
    with session_scope(engine) as session:
        sync = sync_documents(session, docs, scope=[str(p) for p in paths],
                              keep_paths=[f.path for f in failures])
        build_row = IndexBuild(failed=len(failures))
        session.add(build_row)
        session.flush()
        build_id = build_row.id
        catalogue = all_documents(session)
        approved = approved_hashes(session)
    try:
        outcome = builder.build(catalogue, force=rebuild, progress=progress, approved=approved)
    except Exception as exc:
        _finish(engine, build_id, status="failed", error=str(exc))
        raise
    _finish(engine, build_id, status=outcome.status, outcome=outcome)
    if outcome.status == "built":
        version = builder.store.load_active()
        try:
            with session_scope(engine) as session:
                record_chunks(session, version)
        finally:
            version.close()
    return IngestReport(added=len(sync.added), updated=len(sync.updated),
                        unchanged=len(sync.unchanged), removed=len(sync.removed),
                        failures=tuple(failures), kept=sync.kept, build=outcome,
                        seconds=time.perf_counter() - started)


def _finish(engine: Engine, build_id: int | None, *, status: str,
            outcome: BuildOutcome | None = None, error: str | None = None) -> None:
    with session_scope(engine) as session:
        row = session.get(IndexBuild, build_id)
        if row is None:
            return
        row.status, row.finished_at, row.error = status, utcnow(), error
        if outcome is not None:
            row.version = outcome.version
            row.added, row.updated = outcome.added, outcome.updated
            row.unchanged, row.removed = outcome.unchanged, outcome.removed
            row.chunks, row.embedded, row.seconds = (outcome.chunks, outcome.embedded,
                                                     outcome.seconds)
        session.add(row)
