"""A cheap deterministic stand-in for the embedding model, for indexes too large to embed.

Embedding 50,000 articles with all-MiniLM-L6-v2 on two CPU cores takes hours, so the scale
benchmarks fill the index with :class:`HashingEmbedder` vectors: hashed word features (stop
words dropped, sub-linear counts) projected to 384 dimensions with a seeded random matrix and
L2-normalised. Texts that share words get similar vectors, so dense search returns sensible
neighbours and FAISS does the same work as with real vectors of the same shape.

:class:`PacedEmbedder` returns the stand-in vectors but first runs the real model on the
same texts and discards its output, so a request or an incremental re-index costs what it
would cost with real vectors.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from app.rag.protocols import Embedder
from app.rag.text import BM25_STOPWORDS, BM25_WORD

# Versioned: a change to the vectors must not reuse indexes built with the old ones.
STANDIN_NAME = "hash-standin-1"


class HashingEmbedder:
    """Hashed word features and a seeded random projection; implements ``Embedder``."""

    def __init__(self, *, dimension: int = 384, n_features: int = 1 << 14, seed: int = 0) -> None:
        if dimension < 1 or n_features < 1:
            raise ValueError("dimension and n_features must be positive")
        self.name = STANDIN_NAME
        self.dimension = dimension
        self._n_features = n_features
        rng = np.random.default_rng(seed)
        self._projection = rng.standard_normal((n_features, dimension), dtype=np.float32)
        self._cache: dict[str, int] = {}

    def _feature(self, word: str) -> int:
        index = self._cache.get(word)
        if index is None:
            # crc32 is stable across processes, unlike hash() on str.
            index = zlib.crc32(word.encode("utf-8")) % self._n_features
            if len(self._cache) < 1_000_000:
                self._cache[word] = index
        return index

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = [self._feature(w) for w in BM25_WORD.findall(text.lower())
                   if w not in BM25_STOPWORDS]
            if not ids:
                out[row, 0] = 1.0
                continue
            features, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
            weights = (1.0 + np.log(counts)).astype(np.float32)
            out[row] = weights @ self._projection[features]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


class PacedEmbedder:
    """Stand-in vectors at the real model's cost (``pace`` runs on the same texts)."""

    def __init__(self, vectors: Embedder, *, pace: Embedder) -> None:
        self.name = vectors.name
        self.dimension = vectors.dimension
        self._vectors = vectors
        self._pace = pace

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self._pace.embed_documents(texts)
        return self._vectors.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self._pace.embed_query(text)
        return self._vectors.embed_query(text)


STANDIN_RERANKER = "reranker-standin"


def standin_reranker(work: Path) -> str:
    """An untrained cross-encoder of the default training shape, for the reranker's cost.

    When no reranker ships and none is named, the benchmark still measures what reranking
    costs: the first ``TrainParams().layers`` layers of the packaged MiniLM with a fresh
    one-output head, at ``TrainParams().max_length`` tokens, focusing long passages when the
    default training does (its ``training.json`` says so, as a trained one's does). A
    trained model of the same shape (``make train-reranker``) does exactly the same
    arithmetic; only its scores differ, and
    the benchmark forces every question past the answer gate, so no latency, throughput or
    memory figure depends on them (the rerank-depth agreement columns do).
    """
    from ingest.models.reranker.train import TrainParams, make_model

    out, params = work / STANDIN_RERANKER, asdict(TrainParams())
    record = out / "training.json"
    if not record.exists() or json.loads(record.read_text(encoding="utf-8"))["params"] != params:
        import torch

        torch.manual_seed(0)  # built afresh when the default shape changes
        make_model(TrainParams()).save_pretrained(str(out), create_model_card=False)
        record.write_text(json.dumps({"params": params}), encoding="utf-8")
    return str(out)
