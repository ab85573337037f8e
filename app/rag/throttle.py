"""At most N model forward passes at once, shared by the embedder and the reranker.

With one intra-op thread per call, N = the number of cores keeps every core busy while
further requests wait their turn instead of time-slicing the cores (which raises every
request's latency at once) and allocating activations for every waiting request.

The N slots share one instance of each model. The weights are only read, so forward passes
may overlap; the fast tokenizer is not: each call sets its padding and truncation on the
shared Rust tokenizer and then encodes, so a call with other settings in another thread
changes what this one gets ("expected sequence of length 86 at dim 1 (got 88)").
:func:`serialise_preprocessing` makes tokenisation one call at a time (it takes a
millisecond or two of a forward pass's tens), and nothing else may call a shared model's
tokenizer: the reranker's focusing step counts tokens with a private copy (``token_counter``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from app.rag.protocols import Embedder, Reranker


class ModelSlots:
    """A counting semaphore for model calls.

    ``on_wait`` (optional) is told how long each call waited for its slot, 0 when one was
    free (the service's metrics).
    """

    def __init__(self, slots: int, *, on_wait: Callable[[float], None] | None = None) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.slots = slots
        self._sem = threading.BoundedSemaphore(slots)
        self._on_wait = on_wait

    def __enter__(self) -> ModelSlots:
        waited = 0.0
        if not self._sem.acquire(blocking=False):
            started = time.perf_counter()
            self._sem.acquire()
            waited = time.perf_counter() - started
        if self._on_wait is not None:
            self._on_wait(waited)
        return self

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


def serialise_preprocessing(model: Any) -> None:
    """Make ``model.preprocess`` (a sentence-transformers model's tokenisation) run one call
    at a time, in every thread that shares ``model``.

    Args:
        model: A ``SentenceTransformer`` or ``CrossEncoder``; its ``predict`` and ``encode``
            (and the ONNX scorer) tokenise through ``preprocess``.
    """
    inner: Callable[..., Any] = model.preprocess
    lock = threading.Lock()

    def preprocess(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return inner(*args, **kwargs)

    model.preprocess = preprocess


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
