"""Deterministic fakes that isolate units. They never replace the only test of a component."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np


class WhitespaceTokens:
    """Token spans of whitespace-separated words (a stand-in for the model tokenizer)."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


class HashEmbedder:
    """Bag-of-words vectors from hashed tokens: similar wording gives similar vectors."""

    name = "hash-embedder"

    def __init__(self, dimension: int = 64) -> None:
        self.dimension = dimension

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for w in re.findall(r"\w+", text.lower()):
            h = int(hashlib.md5(w.encode()).hexdigest(), 16)
            v[h % self.dimension] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros(
            (0, self.dimension), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._one(text)


class OverlapReranker:
    """Scores a passage by the share of query words it contains."""

    name = "overlap"

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        q = set(re.findall(r"\w+", query.lower()))
        return np.asarray([len(q & set(re.findall(r"\w+", p.lower()))) / max(len(q), 1)
                           for p in passages], dtype=np.float32)
