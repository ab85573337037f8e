"""Sentence-level scoring: whether one sentence of the top passages answers the question.

A passage can be about the question without answering it (what a near-miss question
retrieves), and the sentence that answers often shares few words with a casually worded
question. ``SentenceScorer`` has the cross-encoder read every sentence, list item and table
row of the top passages under its section heading; the best probability is a decision
signal (``sentence_rerank``), and each unit's probability is kept for the extractive
generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.rag.extractive import UnitView, unit_views
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
        views: list[UnitView] = []
        for passage in passages[: self.passages]:
            taken = unit_views(passage.chunk)[: max(0, MAX_UNITS - len(views))]
            owners.append((passage.n, len(taken)))
            views.extend(taken)
        if not views:
            return SentenceScores()
        values = np.asarray(self.reranker.score(
            query, [f"{v.heading}: {v.text}" if v.heading else v.text for v in views]),
            dtype=float)
        out: dict[int, tuple[float, ...]] = {}
        start = 0
        for n, count in owners:
            out[n] = tuple(round(float(v), 5) for v in values[start:start + count])
            start += count
        best = max((round(float(v), 5) for v, view in zip(values, views, strict=True)
                    if view.can_lead), default=0.0)
        return SentenceScores(out, {p.n: p.chunk.chunk_id for p in passages[: self.passages]},
                              best)
