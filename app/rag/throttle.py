"""At most N model forward passes at once, shared by the embedder and the reranker.

With one intra-op thread per call, N = the number of cores keeps every core busy while
further requests wait their turn instead of time-slicing the cores (which raises every
request's latency at once) and allocating activations for every waiting request.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from app.rag.protocols import Embedder, Reranker


class ModelSlots:
    """A counting semaphore for model calls."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._sem = threading.BoundedSemaphore(slots)

    def __enter__(self) -> ModelSlots:
        self._sem.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


class ThrottledEmbedder:
    """An embedder whose calls take a model slot."""

    def __init__(self, inner: Embedder, slots: ModelSlots) -> None:
        self.inner, self._slots = inner, slots
        self.name, self.dimension = inner.name, inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._slots:
            return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        with self._slots:
            return self.inner.embed_query(text)


class ThrottledReranker:
    """A reranker whose calls take a model slot."""

    def __init__(self, inner: Reranker, slots: ModelSlots) -> None:
        self.inner, self._slots = inner, slots
        self.name = inner.name

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        with self._slots:
            return self.inner.score(query, passages)
