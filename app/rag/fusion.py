"""Fusing ranked lists from several retrievers into one.

Reciprocal rank fusion (Cormack et al., 2009) scores a document ``sum_i w_i / (k + rank_i)``
with 1-based ranks; ``k = 60`` is the paper's value. The alternative min-max normalises each
retriever's scores to [0, 1] and sums them with weights. Ties go to knowledge-base articles
over tickets, then to the lower row (stable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fused:
    row: int
    score: float
    ranks: dict[str, int]
    scores: dict[str, float]


Ranked = Sequence[tuple[int, float]]  # (row, score), best first


def _collect(lists: Mapping[str, Ranked]) -> dict[int, tuple[dict[str, int], dict[str, float]]]:
    seen: dict[int, tuple[dict[str, int], dict[str, float]]] = {}
    for name, ranked in lists.items():
        for rank, (row, score) in enumerate(ranked, start=1):
            ranks, scores = seen.setdefault(row, ({}, {}))
            ranks[name] = rank
            scores[name] = float(score)
    return seen


def reciprocal_rank_fusion(lists: Mapping[str, Ranked], *, k: int = 60,
                           weights: Mapping[str, float] | None = None) -> list[Fused]:
    """RRF over named ranked lists; unranked lists contribute nothing."""
    weights = weights or {}
    out = []
    for row, (ranks, scores) in _collect(lists).items():
        fused = sum(weights.get(name, 1.0) / (k + r) for name, r in ranks.items())
        out.append(Fused(row, fused, ranks, scores))
    return out


def weighted_score_fusion(lists: Mapping[str, Ranked], *,
                          weights: Mapping[str, float] | None = None) -> list[Fused]:
    """Min-max normalised scores per list, weighted and summed."""
    weights = weights or {}
    bounds = {}
    for name, ranked in lists.items():
        values = [s for _, s in ranked]
        if values:
            bounds[name] = (min(values), max(values))
    out = []
    for row, (ranks, scores) in _collect(lists).items():
        fused = 0.0
        for name, s in scores.items():
            lo, hi = bounds[name]
            fused += weights.get(name, 1.0) * ((s - lo) / (hi - lo) if hi > lo else 1.0)
        out.append(Fused(row, fused, ranks, scores))
    return out
