"""Choosing the answer threshold from an evaluation set.

The gate answers when the top passage's score reaches the threshold, or reaches the lower
agreement bar when dense and BM25 retrieval both put the same article first (see
``AnswerService``). Sweeping the threshold over the scores a run recorded shows the
trade-off: every step up abstains on more unanswerable questions and on more answerable
ones. The default target picks the lowest threshold at which at most 5% of unanswerable
questions are answered, which answers as many answerable questions as that allows;
``balanced`` maximises the mean of both correct-decision rates instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OBJECTIVES = ("target", "balanced")


@dataclass(frozen=True, slots=True)
class Point:
    """The gate inputs of one question."""

    score: float
    agreement: bool
    answerable: bool
    top_is_gold: bool


def points(records: Sequence[Mapping[str, Any]]) -> list[Point]:
    """Gate inputs of a run's records (questions that errored are left out)."""
    return [Point(score=float(r["gate"]["score"]), agreement=bool(r["gate"]["agreement"]),
                  answerable=bool(r["answerable"]),
                  top_is_gold=bool(r["ranked_article_ids"][:1])
                  and r["ranked_article_ids"][0] in set(r["gold_article_ids"]))
            for r in records if "error" not in r]


def answers(p: Point, *, threshold: float, agreement_bar: float | None) -> bool:
    """The gate's decision at ``threshold`` (the agreement bar never exceeds it)."""
    if p.score >= threshold:
        return True
    return agreement_bar is not None and p.agreement and p.score >= min(agreement_bar, threshold)


def evaluate(pts: Sequence[Point], *, threshold: float,
             agreement_bar: float | None) -> dict[str, float]:
    """Answered shares and balanced accuracy at one threshold."""
    decided = [(p, answers(p, threshold=threshold, agreement_bar=agreement_bar)) for p in pts]
    pos = [(p, said) for p, said in decided if p.answerable]
    neg = [said for p, said in decided if not p.answerable]
    tpr = sum(said for _, said in pos) / len(pos) if pos else 0.0
    fpr = sum(neg) / len(neg) if neg else 0.0
    correct = sum(said and p.top_is_gold for p, said in pos) / len(pos) if pos else 0.0
    return {"threshold": round(threshold, 5), "answered_answerable": round(tpr, 4),
            "answered_unanswerable": round(fpr, 4), "correct_answered": round(correct, 4),
            "balanced_accuracy": round((tpr + 1 - fpr) / 2, 4)}


def sweep(pts: Sequence[Point], *, agreement_bar: float | None) -> list[dict[str, float]]:
    """The trade-off at every threshold that changes a decision.

    Thresholds sit halfway between consecutive distinct scores (plus one below the lowest
    and one above the highest), so a chosen threshold keeps a margin on both sides instead
    of sitting exactly on one question's score.
    """
    scores = sorted({round(p.score, 5) for p in pts})
    if not scores:
        return []
    mids = [(a + b) / 2 for a, b in zip(scores, scores[1:], strict=False)]
    thresholds = [scores[0] - 1e-3, *mids, scores[-1] + 1e-3]
    return [evaluate(pts, threshold=t, agreement_bar=agreement_bar) for t in thresholds]


def choose(curve: Sequence[Mapping[str, float]], *, objective: str = "target",
           max_false_answer: float = 0.05) -> tuple[Mapping[str, float], bool]:
    """The chosen point of the curve, and whether it meets the objective's target.

    ``target``: the lowest threshold whose unanswerable-answered share is at most
    ``max_false_answer``; when none reaches it, the threshold that answers the fewest
    unanswerable questions (ties: the most answerable ones). ``balanced``: the highest
    balanced accuracy (ties: the lowest threshold).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
    if not curve:
        raise ValueError("nothing to calibrate on")
    if objective == "balanced":
        best = max(curve, key=lambda r: (r["balanced_accuracy"], -r["threshold"]))
        return best, True
    ok = [r for r in curve if r["answered_unanswerable"] <= max_false_answer]
    if ok:
        return min(ok, key=lambda r: r["threshold"]), True
    best = min(curve, key=lambda r: (r["answered_unanswerable"], -r["answered_answerable"],
                                     r["threshold"]))
    return best, False


def condensed(curve: Sequence[Mapping[str, float]], rows: int = 15) -> list[Mapping[str, float]]:
    """About ``rows`` evenly spaced points of a long curve, for printing."""
    if len(curve) <= rows:
        return list(curve)
    step = (len(curve) - 1) / (rows - 1)
    return [curve[round(i * step)] for i in range(rows)]


def with_point(rows: Sequence[Mapping[str, float]],
               point: Mapping[str, float]) -> list[Mapping[str, float]]:
    """``rows`` with ``point`` in threshold order (added if missing)."""
    if any(r is point for r in rows):
        return list(rows)
    return sorted([*rows, point], key=lambda r: r["threshold"])


def print_curve(curve: Sequence[Mapping[str, float]], chosen: Mapping[str, float]) -> None:
    """The condensed curve as a table, the chosen threshold marked."""
    print(f"{'threshold':>10} {'answerable':>11} {'unanswerable':>13} {'correct':>8} "
          f"{'balanced':>9}   (shares answered)")
    for row in with_point(condensed(curve), chosen):
        mark = "  <- chosen" if row is chosen else ""
        print(f"{row['threshold']:>10.4f} {row['answered_answerable']:>11.3f} "
              f"{row['answered_unanswerable']:>13.3f} {row['correct_answered']:>8.3f} "
              f"{row['balanced_accuracy']:>9.3f}{mark}")


def write_threshold(path: Path, result: dict[str, Any], *, kind: str) -> None:
    """Merge the chosen threshold into the file the service reads.

    A threshold calibrated on reranker probabilities is stored as ``min_score``; one
    calibrated on dense cosine scores as ``dense_min_score``, so it can never be mistaken
    for a reranker probability. The service reads both at start.
    """
    current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    key = "min_score" if kind == "rerank" else "dense_min_score"
    current.update({key: result["threshold"], f"{key}_calibration": {
        k: v for k, v in result.items() if k != "threshold"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {key} = {result['threshold']:.4f} to {path} (read when the service starts)")
