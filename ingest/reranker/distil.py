"""Soft labels from a larger reranker (a "teacher") for training a small one.

A deeper cross-encoder ranks far better than the two-layer one the latency budget allows, but
is too slow to serve on a CPU. Its probabilities on the training pairs carry what it learnt
(how wrong a wrong passage is, not only that it is wrong); the small model is trained towards
``(1 - weight) * label + weight * teacher probability`` with the same binary cross-entropy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from app.rag.protocols import Reranker
from ingest.reranker.records import Pair

logger = logging.getLogger(__name__)


def soft_labels(pairs: Sequence[Pair], teacher: Reranker, *, weight: float) -> list[Pair]:
    """``pairs`` with labels mixed with the teacher's probabilities, in the same order.

    The teacher scores each query's passages in one call.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError("the teacher's weight must be between 0 and 1")
    by_query: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by_query.setdefault(p.query, []).append(i)
    probs = [0.0] * len(pairs)
    for n, (query, rows) in enumerate(by_query.items(), start=1):
        scores = teacher.score(query, [pairs[i].passage for i in rows])
        for i, s in zip(rows, scores, strict=True):
            probs[i] = float(s)
        if n % 2000 == 0:
            logger.info("teacher scored %d of %d queries", n, len(by_query))
    return [replace(p, label=round((1.0 - weight) * p.label + weight * q, 6))
            for p, q in zip(pairs, probs, strict=True)]
