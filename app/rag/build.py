"""Build a new index version from the servable documents, reusing what has not changed.

Only documents whose content hash changed are re-chunked and re-embedded; the chunks and
vectors of unchanged documents are copied from the active version. If nothing changed at
all, no version is written. The new version is written to a private folder, published by
rename and activated by replacing the ACTIVE pointer, so a failed or killed build leaves
the active version serving.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from app.content.safety import ContentSafety
from app.errors import IndexBuildError, RagError
from app.rag.chunk import MarkdownChunker
from app.rag.dense import DenseIndex
from app.rag.index import SCHEMA_VERSION, IndexStore, IndexVersion, load_version, write_version
from app.rag.protocols import Embedder
from app.rag.sparse import BM25Index, tokenize
from app.rag.types import Chunk, SourceDocument

logger = logging.getLogger(__name__)

# In a version folder: the content hashes the safety check held and passed, with the safety
# fingerprint they were checked under, so the next build (in any process) reads only what
# changed. Hashes only: no document text.
REVIEWS_FILE = "reviews.json"

Progress = Callable[[int], None]
Plan = Callable[[int], None]  # told once how many chunks the build will embed


_HASHED_FIELDS = tuple(f.name for f in fields(SourceDocument) if f.name != "source_path")


def content_hash(doc: SourceDocument) -> str:
    """Hash of everything about a document that changes what gets indexed."""
    data = {name: getattr(doc, name) for name in _HASHED_FIELDS}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def recorded_verdicts(store: IndexStore, safety: ContentSafety) -> Mapping[str, bool]:
    """Whether the safety check held each content hash, as the active version recorded it
    (:data:`REVIEWS_FILE`); empty unless recorded under ``safety``'s fingerprint."""
    name = store.active_name()
    return {} if name is None else _read_verdicts(store.versions_dir / name, safety.fingerprint)


@lru_cache(maxsize=4)  # a published version never changes: each record is read once
def _read_verdicts(folder: Path, fingerprint: str) -> Mapping[str, bool]:
    try:
        data = json.loads((folder / REVIEWS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # written by an earlier release, or unreadable: review everything
    if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
        return {}
    return MappingProxyType({**dict.fromkeys(data.get("clean", []), False),
                             **dict.fromkeys(data.get("held", []), True)})


@dataclass(frozen=True, slots=True)
class BuildOutcome:
    """What one build did."""

    version: str | None
    status: str  # built | unchanged
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    full_rebuild: bool = False
    held: tuple[str, ...] = ()  # published documents held for review, not indexed
    new_chunks: tuple[Chunk, ...] = field(default=(), repr=False)


@dataclass(frozen=True, slots=True)
class DenseParams:
    hnsw_threshold: int = 100_000
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 256


class IndexBuilder:
    """Turns the servable documents into a published, active index version."""

    def __init__(self, *, store: IndexStore, chunker: MarkdownChunker,
                 embedder: Callable[[], Embedder], embedder_info: dict[str, Any],
                 dense: DenseParams | None = None, keep_versions: int = 5,
                 safety: ContentSafety | None = None) -> None:
        self.store = store
        self.safety = safety
        self.chunker = chunker
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self.embedder_info = embedder_info
        self.dense = dense or DenseParams()
        self.keep_versions = keep_versions
        # Whether the safety check holds a content, by content hash, from the last build (or
        # the active version's REVIEWS_FILE): a review depends only on the content and the
        # safety fingerprint, so a build reads only the documents that changed since.
        self._reviews: dict[str, bool] = {}

    @property
    def chunker_info(self) -> dict[str, Any]:
        return asdict(self.chunker.params)

    def expected(self) -> dict[str, Any]:
        return {"embedder": self.embedder_info, "chunker": self.chunker_info}

    def corpus_hash(self, hashes: dict[str, str]) -> str:
        payload = json.dumps([sorted(hashes.items()), self.expected()], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def build(self, docs: list[SourceDocument], *, force: bool = False,
              progress: Progress | None = None, plan: Plan | None = None,
              approved: Mapping[str, str] | None = None) -> BuildOutcome:
        """Index the published documents among ``docs`` (articles first, then tickets).

        ``progress`` is called with the number of chunks embedded by each batch, ``plan``
        once with the number of chunks to embed, before embedding starts. Documents the
        content-safety check flags are held: left out of the index (see ``GET
        /v1/admin/held``), unless ``approved`` maps their id to their current content hash.
        """
        started = time.perf_counter()
        published = [d for d in docs if d.status == "published"]
        hashes = {d.id: content_hash(d) for d in published}
        held = self._held(published, hashes)
        if approved:
            held = {i for i in held if approved.get(i) != hashes[i]}
        if held:
            logger.warning("%d documents held for review (not indexed): %s", len(held),
                           ", ".join(sorted(held)[:20]))
        servable = sorted((d for d in published if d.id not in held),
                          key=lambda d: (d.source_type != "article", d.id))
        hashes = {d.id: hashes[d.id] for d in servable}
        corpus = self.corpus_hash(hashes)
        with self._lock():
            active = self.store.active_manifest()
            if active and active.get("content_hash") == corpus and not force:
                return BuildOutcome(version=self.store.active_name(), status="unchanged",
                                    unchanged=len(servable), chunks=active["counts"]["chunks"],
                                    seconds=time.perf_counter() - started,
                                    held=tuple(sorted(held)))
            prev = None if force else self._reusable_active()
            outcome = self._build(servable, hashes, corpus, prev, progress, started, plan)
            outcome = replace(outcome, held=tuple(sorted(held)))
            self.store.prune(self.keep_versions)
            return outcome

    def _held(self, published: list[SourceDocument], hashes: Mapping[str, str]) -> set[str]:
        """The ids of the documents the content-safety check holds (see
        :func:`app.content.safety.held_documents`); contents reviewed before are not read
        again."""
        if self.safety is None:
            return set()
        known = self._reviews or recorded_verdicts(self.store, self.safety)
        reviews = {}
        for doc in published:
            digest = hashes[doc.id]
            held = known.get(digest)
            reviews[digest] = bool(self.safety.review(doc)) if held is None else held
        self._reviews = reviews
        return {d.id for d in published if reviews[hashes[d.id]]}

    def _write_reviews(self, folder: Path) -> None:
        if self.safety is None:
            return
        record = {"fingerprint": self.safety.fingerprint,
                  "held": sorted(h for h, held in self._reviews.items() if held),
                  "clean": sorted(h for h, held in self._reviews.items() if not held)}
        (folder / REVIEWS_FILE).write_text(json.dumps(record), encoding="utf-8")

    def _reusable_active(self) -> IndexVersion | None:
        name = self.store.active_name()
        if name is None:
            return None
        try:
            return load_version(self.store.versions_dir / name, expected=self.expected())
        except RagError as exc:
            logger.warning("full rebuild: %s", exc)
            return None

    def _build(self, servable: list[SourceDocument], hashes: dict[str, str], corpus: str,
               prev: IndexVersion | None, progress: Progress | None,
               started: float, plan: Plan | None = None) -> BuildOutcome:
        chunks, vectors, todo = self._collect(servable, hashes, prev)
        if plan is not None:
            plan(len(todo))
        embed_started = time.perf_counter()
        new_vectors = self._embed([c for _, c in todo], progress)
        embed_seconds = time.perf_counter() - embed_started
        for (slot, _), vec in zip(todo, new_vectors, strict=True):
            vectors[slot] = vec
        dim = int(self.embedder_info["dimension"])
        ready = [v for v in vectors if v is not None]
        matrix = np.stack(ready) if ready else np.zeros((0, dim), dtype=np.float32)
        name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f") + "-" + corpus[:8]
        articles = self._article_rows(chunks, hashes)
        prev_ids = set(prev.articles) if prev else set()
        counts = {
            "documents": len(servable),
            "articles": sum(d.source_type == "article" for d in servable),
            "tickets": sum(d.source_type == "ticket" for d in servable),
            "chunks": len(chunks),
        }
        manifest = {
            "schema_version": SCHEMA_VERSION, "version": name, "content_hash": corpus,
            "created_at": datetime.now(UTC).isoformat(), "counts": counts,
            **self.expected(), "sparse": {"tokenizer": "word-stopwords-snowball-english"},
        }
        staging = self.store.staging_folder(name)
        try:
            dense = DenseIndex.build(matrix, hnsw_threshold=self.dense.hnsw_threshold,
                                     hnsw_m=self.dense.hnsw_m,
                                     ef_construction=self.dense.ef_construction,
                                     ef_search=self.dense.ef_search)
            manifest["dense"] = {"kind": dense.kind, **asdict(self.dense)}
            sparse = BM25Index.build(tokenize(c.embedding_text()) for c in chunks)
            write_version(staging, manifest=manifest, chunks=chunks, dense=dense,
                          sparse=sparse, articles=articles)
            self._write_reviews(staging)
            self.store.publish(staging, name)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError):
                raise IndexBuildError(f"could not write index version {name}: {exc}") from exc
            raise
        finally:
            if prev is not None:
                prev.close()
        common = set(hashes) & prev_ids
        changed = {a for a in common if prev and prev.articles[a]["hash"] != hashes[a]}
        return BuildOutcome(
            version=name, status="built", added=len(set(hashes) - prev_ids),
            updated=len(changed), unchanged=len(common) - len(changed),
            removed=len(prev_ids - set(hashes)), chunks=len(chunks), embedded=len(todo),
            seconds=time.perf_counter() - started, embed_seconds=embed_seconds,
            full_rebuild=prev is None, new_chunks=tuple(c for _, c in todo),
        )

    def _collect(self, servable: list[SourceDocument], hashes: dict[str, str],
                 prev: IndexVersion | None
                 ) -> tuple[list[Chunk], list[np.ndarray | None], list[tuple[int, Chunk]]]:
        """Chunks in row order, reused vectors, and the (slot, chunk) pairs still to embed."""
        prev_vectors = prev.dense.vectors() if prev else None
        chunks: list[Chunk] = []
        vectors: list[np.ndarray | None] = []
        todo: list[tuple[int, Chunk]] = []
        for doc in servable:
            old = prev.articles.get(doc.id) if prev else None
            if prev and old and old["hash"] == hashes[doc.id] and prev_vectors is not None:
                lo, hi = old["rows"]
                chunks.extend(prev.chunks[r] for r in range(lo, hi))
                vectors.extend(prev_vectors[lo:hi])
                continue
            for chunk in self.chunker.chunk(doc):
                todo.append((len(chunks), chunk))
                chunks.append(chunk)
                vectors.append(None)
        return chunks, vectors, todo

    def _embed(self, chunks: list[Chunk], progress: Progress | None) -> np.ndarray:
        if not chunks:
            return np.zeros((0, int(self.embedder_info["dimension"])), dtype=np.float32)
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        texts = [c.embedding_text() for c in chunks]
        # Sort once by length so every batch pads to similar lengths; feed the model in
        # slices large enough to keep it busy but small enough to report progress.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), int(self.embedder_info["dimension"])), dtype=np.float32)
        step = 256
        # The tokenizer's many small objects trigger collections that rescan every document
        # and chunk this build holds. Embedding creates no reference cycles worth collecting,
        # so collection pauses while it runs (measured on the sample help center: embedding
        # in the pipeline was 10% slower than the model alone with collection on, level with
        # it off). What existed before is frozen so the next collection skips it too.
        gc.freeze()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            for lo in range(0, len(order), step):
                idx = order[lo:lo + step]
                out[idx] = self._embedder.embed_documents([texts[i] for i in idx])
                if progress:
                    progress(len(idx))
        finally:
            if was_enabled:
                gc.enable()
            gc.unfreeze()
        return out

    @staticmethod
    def _article_rows(chunks: list[Chunk], hashes: dict[str, str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for row, chunk in enumerate(chunks):
            entry = rows.setdefault(chunk.article_id,
                                    {"hash": hashes[chunk.article_id], "rows": [row, row]})
            entry["rows"][1] = row + 1
        return rows

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One build at a time per index root, across processes."""
        self.store.root.mkdir(parents=True, exist_ok=True)
        with open(self.store.root / ".build.lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexBuildError("another index build is running on this index") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

