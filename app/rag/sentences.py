"""Sentence-level scoring: whether one sentence of the top passages answers the question.

A passage can be about the question without answering it (what a near-miss question
retrieves), and the sentence that answers often shares few words with a casually worded
question. ``SentenceScorer`` has the cross-encoder read every sentence, list item and table
row of the top passages under its section heading; the best probability is a decision
signal (``sentence_rerank``), and each unit's probability is kept for the extractive
generator and the trace.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.rag.extractive import unit_views
from app.rag.protocols import Reranker
from app.rag.types import Passage, SentenceScores

SCORED_PASSAGES = 3  # the passages the extractive generator reads first
MAX_UNITS = 64  # a bound on one question's scoring work, whatever the passages hold


class SentenceScorer:
    """Scores the units of the top passages against the question with a cross-encoder.

    Args:
        reranker: The cross-encoder (the reranker's model; pairs are short, so this costs a
            fraction of reranking 20 passages).
        passages: How many of the sent passages are scored.
    """

    def __init__(self, reranker: Reranker, *, passages: int = SCORED_PASSAGES) -> None:
        if passages < 1:
            raise ValueError("passages must be at least 1")
        self.reranker, self.passages = reranker, passages

    @property
    def name(self) -> str:
        """The cross-encoder's name."""
        return self.reranker.name

    def score(self, query: str, passages: Sequence[Passage]) -> SentenceScores:
        """Every unit's probability, for the first ``passages`` passages (at most
        ``MAX_UNITS`` units in all)."""
        owners: list[tuple[int, int]] = []  # (passage n, units scored) in order
        pairs: list[str] = []
        for passage in passages[: self.passages]:
            views = unit_views(passage.chunk)[: max(0, MAX_UNITS - len(pairs))]
            owners.append((passage.n, len(views)))
            pairs.extend(f"{v.heading}: {v.text}" if v.heading else v.text for v in views)
        if not pairs:
            return SentenceScores()
        values = np.asarray(self.reranker.score(query, pairs), dtype=float)
        out: dict[int, tuple[float, ...]] = {}
        start = 0
        for n, count in owners:
            out[n] = tuple(round(float(v), 5) for v in values[start:start + count])
            start += count
        return SentenceScores(out, {p.n: p.chunk.chunk_id for p in passages[: self.passages]})


def best_score(scores: SentenceScores, passages: Sequence[Passage]) -> float:
    """The best probability of a unit that could lead an answer (not a lead-in or a
    question); 0.0 when nothing was scored. The ``sentence_rerank`` decision signal."""
    best = 0.0
    for passage in passages:
        values = scores.rerank.get(passage.n, ())
        for view, value in zip(unit_views(passage.chunk), values, strict=False):
            if view.can_lead:
                best = max(best, value)
    return best
