"""Sentence-level scoring: whether one sentence of the top passages answers the question.

A passage can be about the question without answering it (what a near-miss question
retrieves), and the sentence that answers often shares few words with a casually worded
question. ``SentenceScorer`` has the cross-encoder read the units (sentences, list items,
table rows) of the top passages that could lead an answer, each under its section heading;
the best probability is a decision signal (``sentence_rerank``), and each unit's probability
is kept for the extractive generator.

The cross-encoder's cost grows with the tokens it reads, and a help-center passage holds
fifteen or more units; only the ``SCORED_UNITS`` units sharing the most content words with
the question (in their text or their heading) are read. On the development part of the sample
set that halves the time of this stage and separates answerable from unanswerable questions as
well as reading every unit does (AUROC 0.861 at 6 units against 0.848 for all; see
docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.rag.citations import content_words
from app.rag.extractive import UnitView, unit_views
from app.rag.protocols import Reranker
from app.rag.types import Passage, SentenceScores

SCORED_PASSAGES = 3  # the passages the extractive generator reads first
SCORED_UNITS = 6  # the units read per question: those sharing most words with it


class SentenceScorer:
    """Scores the leading candidates among the units of the top passages with a
    cross-encoder.

    Args:
        reranker: The cross-encoder (the reranker's model; pairs are short, so this costs a
            fraction of reranking 20 passages).
        passages: How many of the sent passages are read.
        units: How many units are scored: the ones that could lead an answer (not a lead-in
            or a question) sharing the most content words with the question, in their text
            or their section heading; earlier ones win ties.
    """

    def __init__(self, reranker: Reranker, *, passages: int = SCORED_PASSAGES,
                 units: int = SCORED_UNITS) -> None:
        if passages < 1 or units < 1:
            raise ValueError("passages and units must each be at least 1")
        self.reranker, self.passages, self.units = reranker, passages, units

    @property
    def name(self) -> str:
        """The cross-encoder's name."""
        return self.reranker.name

    def score(self, query: str, passages: Sequence[Passage]) -> SentenceScores:
        """The probability of each scored unit of the first ``passages`` passages, in
        reading order per passage; a unit not scored reads 0.0."""
        counts = {p.n: 0 for p in passages[: self.passages]}
        leading: list[tuple[int, int, UnitView]] = []  # (passage n, position, view)
        for passage in passages[: self.passages]:
            views = unit_views(passage.chunk)
            counts[passage.n] = len(views)
            leading.extend((passage.n, pos, v) for pos, v in enumerate(views) if v.can_lead)
        if not leading:
            return SentenceScores()
        asked = content_words(query)
        chosen = sorted(sorted(range(len(leading)), key=lambda i: -len(asked & leading[i][2].words)
                               )[: self.units])
        views = [leading[i][2] for i in chosen]
        values = np.asarray(self.reranker.score(
            query, [f"{v.heading}: {v.text}" if v.heading else v.text for v in views]),
            dtype=float)
        out = {n: [0.0] * count for n, count in counts.items()}
        for i, value in zip(chosen, values, strict=True):
            n, pos, _ = leading[i]
            out[n][pos] = round(float(value), 5)
        return SentenceScores({n: tuple(v) for n, v in out.items()},
                              {p.n: p.chunk.chunk_id for p in passages[: self.passages]},
                              max(round(float(v), 5) for v in values))
