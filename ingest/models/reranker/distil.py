"""Soft labels from a larger reranker (a "teacher") for training a small one.

A deeper cross-encoder ranks far better than the two-layer one the latency budget allows, but
is too slow to serve on a CPU. Its probabilities on the training pairs carry what it learnt
(how wrong a wrong passage is, not only that it is wrong); the small model is trained towards
``(1 - weight) * label + weight * teacher probability`` with the same binary cross-entropy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ingest.models.reranker.records import Pair

logger = logging.getLogger(__name__)

ScorePairs = Callable[[Sequence[tuple[str, str]]], np.ndarray]


def soft_labels(pairs: Sequence[Pair], score_pairs: ScorePairs, *, weight: float,
                chunk: int = 2048) -> list[Pair]:
    """``pairs`` with labels mixed with the teacher's probabilities, in the same order.

    Args:
        pairs: The training pairs.
        score_pairs: The teacher's probabilities of (question, passage) pairs
            (``CrossEncoderReranker.score_pairs``).
        weight: The teacher's share of each label, in [0, 1].
        chunk: Pairs per call. Pairs are scored shortest first, so a batch pads little.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError("the teacher's weight must be between 0 and 1")
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].query) + len(pairs[i].passage))
    probs = np.zeros(len(pairs), dtype=np.float64)
    for start in range(0, len(order), chunk):
        rows = order[start:start + chunk]
        probs[rows] = score_pairs([(pairs[i].query, pairs[i].passage) for i in rows])
        logger.info("teacher scored %d of %d pairs", min(start + chunk, len(order)), len(order))
    return [replace(p, label=round((1.0 - weight) * p.label + weight * float(q), 6))
            for p, q in zip(pairs, probs, strict=True)]
