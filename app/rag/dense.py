"""Dense retrieval with FAISS: exact inner product, or HNSW above a size threshold."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np


class DenseIndex:
    """FAISS index over L2-normalised vectors; row ``i`` is chunk ``i``."""

    FILE = "dense.faiss"

    def __init__(self, index: object) -> None:
        self._index = index

    @property
    def kind(self) -> str:
        return "hnsw" if "HNSW" in type(self._index).__name__ else "flat"

    @property
    def size(self) -> int:
        return int(self._index.ntotal)  # type: ignore[attr-defined]

    @classmethod
    def build(cls, vectors: np.ndarray, *, hnsw_threshold: int = 100_000, hnsw_m: int = 32,
              ef_construction: int = 200, ef_search: int = 256) -> DenseIndex:
        """Exact ``IndexFlatIP`` up to ``hnsw_threshold`` vectors, ``IndexHNSWFlat`` above."""
        faiss: Any = importlib.import_module("faiss")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        if len(vectors) > hnsw_threshold:
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = ef_construction
            index.hnsw.efSearch = ef_search
        else:
            index = faiss.IndexFlatIP(dim)
        if len(vectors):
            index.add(vectors)
        return cls(index)

    def vectors(self) -> np.ndarray:
        """All stored vectors, in row order (used to reuse embeddings across builds)."""
        n = self.size
        if n == 0:
            return np.zeros((0, int(self._index.d)), np.float32)  # type: ignore[attr-defined,arg-type]
        return self._index.reconstruct_n(0, n)  # type: ignore[attr-defined]

    def search(self, query: np.ndarray, k: int, *, mask: np.ndarray | None = None,
               ef_search: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows and inner-product scores; ``mask`` restricts rows before the cut."""
        faiss: Any = importlib.import_module("faiss")
        if self.size == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if mask is not None and mask.all():
            mask = None  # e.g. the published-only filter on an index of published chunks
        if mask is not None:
            if not mask.any():
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            # A bitmap selector is O(1) to build from the mask (a batch selector hashes every
            # allowed id, milliseconds per query at 100k+ chunks); ``bits`` must outlive search.
            bits = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef_search or self._ef())
            else:
                params = faiss.SearchParameters(sel=selector)
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=ef_search or self._ef())
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, rows = self._index.search(q, min(k, self.size), params=params)  # type: ignore[attr-defined]
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def _ef(self) -> int:
        return int(self._index.hnsw.efSearch)  # type: ignore[attr-defined]

    def save(self, folder: Path) -> None:
        faiss: Any = importlib.import_module("faiss")

        faiss.write_index(self._index, str(folder / self.FILE))

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        faiss: Any = importlib.import_module("faiss")

        return cls(faiss.read_index(str(folder / cls.FILE)))
