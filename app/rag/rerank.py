"""Cross-encoder reranking with a latency budget."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from app.rag.protocols import Reranker
from app.rag.types import Candidate

logger = logging.getLogger(__name__)


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` with one output, scores in [0, 1]."""

    def __init__(self, model: str, *, max_length: int = 256, batch_size: int = 32) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import CrossEncoder

        self.name = os.path.basename(model.rstrip("/")) or model
        self._model = CrossEncoder(model, max_length=max_length, device="cpu")
        self.batch_size = batch_size

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        scores = self._model.predict([(query, p) for p in passages], batch_size=self.batch_size,
                                     show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float32).reshape(-1)


@dataclass(frozen=True, slots=True)
class Reranked:
    candidates: tuple[Candidate, ...]
    depth: int
    reduced: bool
    ms: float


class BudgetedReranker:
    """Reranks the top candidates, shrinking the depth when the budget would be exceeded.

    The cost per pair is learnt from the calls made so far (an exponential moving average),
    so the depth adapts to the machine instead of relying on a configured guess.
    """

    def __init__(self, reranker: Reranker, *, depth: int = 20, budget_ms: float = 400.0,
                 min_depth: int = 5) -> None:
        self.reranker = reranker
        self.depth, self.budget_ms, self.min_depth = depth, budget_ms, min_depth
        self._ms_per_pair: float | None = None

    def planned_depth(self, available: int) -> int:
        depth = min(self.depth, available)
        if self._ms_per_pair:
            affordable = int(self.budget_ms // self._ms_per_pair)
            depth = min(depth, max(self.min_depth, affordable))
        return depth

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> Reranked:
        depth = self.planned_depth(len(candidates))
        reduced = depth < min(self.depth, len(candidates))
        head = list(candidates[:depth])
        started = time.perf_counter()
        scores = self.reranker.score(query, [c.chunk.embedding_text() for c in head])
        ms = (time.perf_counter() - started) * 1000
        if head:
            per_pair = ms / len(head)
            self._ms_per_pair = per_pair if self._ms_per_pair is None else (
                0.8 * self._ms_per_pair + 0.2 * per_pair)
        scored = [replace(c, score=float(s), scores={**c.scores, "rerank": float(s)})
                  for c, s in zip(head, scores, strict=True)]
        order = sorted(range(len(scored)), key=lambda i: (
            -scored[i].score, scored[i].chunk.source_type != "article", i))
        ranked = [replace(scored[i], ranks={**scored[i].ranks, "rerank": pos})
                  for pos, i in enumerate(order, start=1)]
        return Reranked(tuple(ranked), depth, reduced, round(ms, 3))
