"""Fitting the answerability model (``app.rag.decide``) on an evaluation set's questions.

The model is a logistic regression over the standardised decision signals the service records
for every question. Its thresholds are chosen on out-of-fold probabilities (5 folds, so no
question is scored by a model fitted on it): for each target in ``TARGETS``, the lowest
probability at which at most that share of unanswerable questions would be answered. The
weights are then refitted on all the questions given. The out-of-fold probabilities also
give the calibration error (``expected_calibration_error``) and the reliability table the
report plots. Fit it on the development part only; report on the test part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from app.rag.decide import DECISION_SIGNALS, AnswerabilityModel
from eval.signals import auroc, cross_validated, fit_logistic, signal_matrix


def threshold_for(probs: np.ndarray, y: np.ndarray, *, max_false_answer: float) -> float:
    """The lowest threshold that answers at most ``max_false_answer`` of the unanswerable."""
    negatives = np.sort(probs[y == 0])[::-1]
    allowed = int(np.floor(max_false_answer * len(negatives)))
    if allowed >= len(negatives):
        return 0.0
    return float(np.nextafter(negatives[allowed], 1.0))  # just above the first one refused


TARGETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3)
BINS = 10


def reliability(probs: np.ndarray, y: np.ndarray, *, bins: int = BINS
                ) -> list[dict[str, float]]:
    """Per probability bin: questions, mean predicted probability, share answerable."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            out.append({"low": round(float(edges[b]), 2), "high": round(float(edges[b + 1]), 2),
                        "questions": int(inside.sum()),
                        "predicted": round(float(probs[inside].mean()), 4),
                        "answerable": round(float(y[inside].mean()), 4)})
    return out


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, *, bins: int = BINS) -> float:
    """Mean |predicted - observed| over probability bins, weighted by questions per bin."""
    table = reliability(probs, y, bins=bins)
    total = sum(row["questions"] for row in table)
    return round(sum(row["questions"] * abs(row["predicted"] - row["answerable"])
                     for row in table) / total, 4) if total else 0.0


def calibration_error_noise(probs: np.ndarray, *, bins: int = BINS, draws: int = 1000,
                            seed: int = 0) -> float:
    """The median calibration error a perfectly calibrated model would show at these
    probabilities on this many questions (outcomes drawn from the probabilities themselves):
    the error's floor from sampling alone, to read ``expected_calibration_error`` against."""
    rng = np.random.default_rng(seed)
    errors = [expected_calibration_error(probs, (rng.random(len(probs)) < probs).astype(float),
                                         bins=bins) for _ in range(draws)]
    return round(float(np.median(errors)), 4)


def fit(records: Sequence[Mapping[str, Any]], *, max_false_answer: float,
        manifest: Mapping[str, Any]) -> tuple[AnswerabilityModel, dict[str, Any]]:
    """The model and how it did out of fold: AUROC, false-answer and answered rates."""
    x = signal_matrix(records)
    y = np.array([1.0 if r["answerable"] else 0.0 for r in records])
    if not 0 < y.sum() < len(y):
        raise ValueError("fitting needs answerable and unanswerable questions")
    probs = cross_validated(x, y)
    threshold = threshold_for(probs, y, max_false_answer=max_false_answer)
    answered = probs >= threshold
    targets = sorted({*TARGETS, max_false_answer})
    thresholds = {f"{t:g}": threshold_for(probs, y, max_false_answer=t) for t in targets}
    quality = {"auroc": auroc(probs, y.astype(bool)),
               "false_answer_rate": round(float(answered[y == 0].mean()), 4),
               "answered_rate_answerable": round(float(answered[y == 1].mean()), 4),
               "expected_calibration_error": expected_calibration_error(probs, y),
               "calibration_error_if_calibrated": calibration_error_noise(probs),
               "targets": {k: {"false_answer_rate": round(float((probs[y == 0] >= t).mean()), 4),
                               "answered_rate_answerable":
                                   round(float((probs[y == 1] >= t).mean()), 4)}
                           for k, t in thresholds.items()},
               "reliability": reliability(probs, y)}
    mean, std = x.mean(axis=0), x.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    w = fit_logistic((x - mean) / scale, y)
    model = AnswerabilityModel(signals=DECISION_SIGNALS, mean=tuple(map(float, mean)),
                               scale=tuple(map(float, scale)),
                               weights=tuple(map(float, w[1:])), bias=float(w[0]),
                               threshold=threshold, thresholds=thresholds,
                               manifest={**manifest, "max_false_answer": max_false_answer,
                                         "questions": len(y),
                                         "answerable": int(y.sum()),
                                         "out_of_fold": quality})
    return model, quality
