"""Versioned index folders: plain files plus ``manifest.json``, swapped in atomically.

Layout under the index root::

    ACTIVE                      name of the version being served (replaced atomically)
    versions/<version>/         one immutable, complete index
        manifest.json           schema, embedder, chunker, counts, content hash
        chunks.jsonl            one chunk per line, row order = vector row = BM25 column
        chunks_offsets.npy      byte offset of every line, so chunks are read lazily
        fields.npy              per-chunk codes of the filterable fields
        articles.json           article id -> content hash and row range (incremental builds)
        dense.faiss             FAISS index
        bm25_*.npy, bm25_vocab.json

A version is written into a hidden temporary folder and renamed into place only when
complete, so a failed or killed build never leaves a half-written version behind.
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import IndexMismatchError, IndexNotFoundError
from app.rag.dense import DenseIndex
from app.rag.sparse import BM25Index
from app.rag.types import Chunk

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FILTER_FIELDS = ("status", "product", "locale", "source_type")


_CHUNK_FIELDS = tuple(f.name for f in fields(Chunk))


def chunk_to_dict(chunk: Chunk) -> dict[str, Any]:
    data = {name: getattr(chunk, name) for name in _CHUNK_FIELDS}
    data["heading_path"] = list(chunk.heading_path)
    data["tags"] = list(chunk.tags)
    return data


def chunk_from_dict(data: dict[str, Any]) -> Chunk:
    return Chunk(**{**data, "heading_path": tuple(data["heading_path"]),
                    "tags": tuple(data["tags"])})


class ChunkStore:
    """Chunks of one version, read from ``chunks.jsonl`` on demand through a memory map."""

    def __init__(self, folder: Path) -> None:
        self._offsets = np.load(folder / "chunks_offsets.npy", allow_pickle=False)
        self._file = open(folder / "chunks.jsonl", "rb")  # noqa: SIM115 - lives with the store
        size = os.fstat(self._file.fileno()).st_size
        self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, row: int) -> Chunk:
        if not 0 <= row < len(self) or self._map is None:
            raise IndexError(row)
        raw = self._map[int(self._offsets[row]):int(self._offsets[row + 1])]
        return chunk_from_dict(json.loads(raw))

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
        self._file.close()


@dataclass(frozen=True, slots=True)
class IndexVersion:
    """One loaded, immutable index version."""

    name: str
    folder: Path
    manifest: dict[str, Any]
    chunks: ChunkStore
    dense: DenseIndex
    sparse: BM25Index
    fields: np.ndarray  # (n_chunks, len(FILTER_FIELDS)) int32 codes
    articles: dict[str, dict[str, Any]]
    _masks: dict[tuple[Any, ...], np.ndarray] = field(default_factory=dict, repr=False,
                                                      compare=False)

    def article_ids(self) -> frozenset[str]:
        """Ids of the help-center articles in this version (resolved tickets left out)."""
        return frozenset(doc_id for doc_id, info in self.articles.items()
                         if info["rows"] and self.chunks[info["rows"][0]].source_type
                         == "article")

    def field_mask(self, filters: dict[str, list[str]]) -> np.ndarray | None:
        """Boolean mask of chunks matching every filter (values OR-ed within a field)."""
        if not filters:
            return None
        key = tuple(sorted((f, tuple(sorted(v))) for f, v in filters.items()))
        cached = self._masks.get(key)
        if cached is not None:
            return cached
        vocab = self.manifest["fields_vocab"]
        mask = np.ones(len(self.chunks), dtype=bool)
        for name, values in filters.items():
            col = FILTER_FIELDS.index(name)
            codes = [vocab[name][v] for v in values if v in vocab[name]]
            mask &= np.isin(self.fields[:, col], codes)
        mask.flags.writeable = False  # shared between requests through the cache
        if len(self._masks) < 64:
            self._masks[key] = mask
        return mask

    def close(self) -> None:
        self.chunks.close()


def write_version(folder: Path, *, manifest: dict[str, Any], chunks: list[Chunk],
                  dense: DenseIndex, sparse: BM25Index,
                  articles: dict[str, dict[str, Any]]) -> None:
    """Write every file of a version into ``folder`` (which must be new and private)."""
    folder.mkdir(parents=True)
    offsets = [0]
    vocab: dict[str, dict[str, int]] = {f: {} for f in FILTER_FIELDS}
    fields = np.zeros((len(chunks), len(FILTER_FIELDS)), dtype=np.int32)
    with open(folder / "chunks.jsonl", "wb") as fh:
        for row, chunk in enumerate(chunks):
            line = (json.dumps(chunk_to_dict(chunk), ensure_ascii=False) + "\n").encode()
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
            for col, field in enumerate(FILTER_FIELDS):
                value = getattr(chunk, field)
                fields[row, col] = vocab[field].setdefault(value, len(vocab[field]))
        fh.flush()
        os.fsync(fh.fileno())
    np.save(folder / "chunks_offsets.npy", np.asarray(offsets, dtype=np.int64), allow_pickle=False)
    np.save(folder / "fields.npy", fields, allow_pickle=False)
    (folder / "articles.json").write_text(json.dumps(articles), encoding="utf-8")
    dense.save(folder)
    sparse.save(folder)
    manifest = {**manifest, "fields_vocab": vocab}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def check_manifest(manifest: dict[str, Any], expected: dict[str, Any]) -> None:
    """Raise ``IndexMismatchError`` naming every setting the index disagrees with."""
    problems = []
    if manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema version {manifest.get('schema_version')} != {SCHEMA_VERSION}")
    for key in ("embedder", "chunker"):
        if key in expected and manifest.get(key) != expected[key]:
            problems.append(f"{key} {manifest.get(key)} but settings ask for {expected[key]}")
    if problems:
        raise IndexMismatchError(
            "the index was built with other settings: " + "; ".join(problems)
            + ". Rebuild it with `make ingest` (python -m ingest --rebuild)."
        )


def load_version(folder: Path, *, expected: dict[str, Any] | None = None) -> IndexVersion:
    """Load a version folder, checking its manifest against ``expected`` settings."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise IndexNotFoundError(f"no manifest.json in {folder}: run `make ingest`")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if expected is not None:
        check_manifest(manifest, expected)
    return IndexVersion(
        name=folder.name,
        folder=folder,
        manifest=manifest,
        chunks=ChunkStore(folder),
        dense=DenseIndex.load(folder),
        sparse=BM25Index.load(folder),
        fields=np.load(folder / "fields.npy", allow_pickle=False),
        articles=json.loads((folder / "articles.json").read_text(encoding="utf-8")),
    )


class IndexStore:
    """The index root: versions, the ACTIVE pointer, atomic publication and pruning."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    def versions(self) -> list[str]:
        """Complete versions, oldest first (names sort by creation time)."""
        if not self.versions_dir.exists():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir()
                      if p.is_dir() and not p.name.startswith(".")
                      and (p / "manifest.json").exists())

    def active_name(self) -> str | None:
        pointer = self.root / "ACTIVE"
        if not pointer.exists():
            return None
        name = pointer.read_text(encoding="utf-8").strip()
        return name if (self.versions_dir / name / "manifest.json").exists() else None

    def active_manifest(self) -> dict[str, Any] | None:
        name = self.active_name()
        if name is None:
            return None
        return json.loads((self.versions_dir / name / "manifest.json").read_text("utf-8"))

    def load_active(self, *, expected: dict[str, Any] | None = None) -> IndexVersion:
        name = self.active_name()
        if name is None:
            raise IndexNotFoundError(
                f"no index in {self.root}: build one with `make ingest` (python -m ingest data)"
            )
        return load_version(self.versions_dir / name, expected=expected)

    def staging_folder(self, name: str) -> Path:
        """A private folder to write a new version into; removed again if the build fails."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        return self.versions_dir / f".tmp-{name}-{os.getpid()}"

    def publish(self, staging: Path, name: str, *, activate: bool = True) -> Path:
        """Move a complete staging folder into place, then point ACTIVE at it."""
        final = self.versions_dir / name
        os.rename(staging, final)
        _fsync_dir(self.versions_dir)
        if activate:
            self.activate(name)
        return final

    def activate(self, name: str) -> None:
        if not (self.versions_dir / name / "manifest.json").exists():
            raise IndexNotFoundError(f"no index version named {name!r}")
        tmp = self.root / f".ACTIVE.{os.getpid()}"
        tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(tmp, self.root / "ACTIVE")
        _fsync_dir(self.root)
        logger.info("index version %s is now active", name)

    def prune(self, keep: int) -> list[str]:
        """Delete old versions beyond ``keep`` (never the active one) and stale staging dirs."""
        active = self.active_name()
        removed = []
        for name in self.versions()[:-keep] if keep > 0 else []:
            if name != active:
                shutil.rmtree(self.versions_dir / name, ignore_errors=True)
                removed.append(name)
        if self.versions_dir.exists():
            for p in self.versions_dir.glob(".tmp-*"):
                pid = p.name.rsplit("-", 1)[-1]
                if pid.isdigit() and not _pid_alive(int(pid)):
                    shutil.rmtree(p, ignore_errors=True)
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
