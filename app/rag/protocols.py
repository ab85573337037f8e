"""The seams between the pipeline and its models: one- or two-method protocols."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from app.rag.types import Generation, Passage, Turn


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors."""

    name: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant."""

    name: str

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray: ...


class TokenCounter(Protocol):
    """Counts tokens and maps token positions back to character offsets."""

    def token_spans(self, text: str) -> list[tuple[int, int]]: ...


class Generator(Protocol):
    """Writes an answer from numbered passages, citing them as ``[n]``."""

    name: str

    def generate(self, question: str, passages: Sequence[Passage], *,
                 history: Sequence[Turn] = (), style: str = "") -> Generation: ...

    def stream(self, question: str, passages: Sequence[Passage], *,
               history: Sequence[Turn] = (), style: str = "") -> Iterator[str]: ...


class QueryRewriter(Protocol):
    """Turns a follow-up into a standalone search query."""

    name: str

    def rewrite(self, message: str, *, previous_questions: Sequence[str] = (),
                previous_titles: Sequence[str] = ()) -> str: ...
