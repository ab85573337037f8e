"""Percentiles and summaries of benchmark samples (pure functions)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

STAGES = ("rewrite", "dense", "sparse", "fuse", "rerank", "sentences", "decide", "generate",
          "total")
RETRIEVAL_STAGES = ("rewrite", "dense", "sparse", "fuse")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation, as numpy's default."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Iterable[float], *, digits: int = 1) -> dict[str, float]:
    """``{p50, p95, p99, mean, max, n}`` of ``values``; ``{"n": 0}`` when there are none."""
    data = [float(v) for v in values]
    if not data:
        return {"n": 0}
    return {"p50": round(percentile(data, 50), digits), "p95": round(percentile(data, 95), digits),
            "p99": round(percentile(data, 99), digits),
            "mean": round(sum(data) / len(data), digits), "max": round(max(data), digits),
            "n": len(data)}


def stage_summaries(timings: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Per-stage summaries over responses' ``timings_ms``; a stage counts where it ran.

    ``retrieval`` is the sum of the retrieval stages of each response (query rewriting,
    dense and sparse search, fusion).
    """
    out: dict[str, dict[str, float]] = {}
    for stage in STAGES:
        values = [t[stage] for t in timings if stage in t]
        if values:
            out[stage] = summary(values)
    retrieval = [sum(t.get(s, 0.0) for s in RETRIEVAL_STAGES) for t in timings
                 if any(s in t for s in RETRIEVAL_STAGES)]
    if retrieval:
        out["retrieval"] = summary(retrieval)
    return out


def rerank_bound(rerank_ms_median: float, *, cores: int) -> float | None:
    """Requests/s that ``cores`` busy cores allow when each request costs its rerank time.

    One reranking call runs on one core (``torch_threads`` = 1), so ``cores`` requests can
    rerank at once: the ceiling is ``cores * 1000 / median rerank ms``.
    """
    if rerank_ms_median <= 0 or cores < 1:
        return None
    return round(cores * 1000.0 / rerank_ms_median, 2)


def recall_at_k(exact: Sequence[Sequence[int]], approx: Sequence[Sequence[int]], k: int) -> float:
    """Mean share of the exact top-``k`` rows that the approximate search also returned."""
    if len(exact) != len(approx):
        raise ValueError("exact and approximate results differ in length")
    if not exact:
        return 0.0
    hits = 0.0
    for want, got in zip(exact, approx, strict=True):
        truth = set(list(want)[:k])
        if truth:
            hits += len(truth & set(list(got)[:k])) / len(truth)
    return round(hits / len(exact), 4)
