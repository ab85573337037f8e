"""Fitting the answerability model (``app.rag.decide``) on an evaluation set's questions.

The model is a logistic regression over the standardised decision signals the service records
for every question. Its threshold is chosen on out-of-fold probabilities (5 folds, so no
question is scored by a model fitted on it): the lowest probability at which at most the
target share of unanswerable questions would be answered. The weights are then refitted on
all the questions given. Fit it on the development part only; report on the test part.
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


def fit(records: Sequence[Mapping[str, Any]], *, max_false_answer: float,
        manifest: Mapping[str, Any]) -> tuple[AnswerabilityModel, dict[str, float | None]]:
    """The model and how it did out of fold: AUROC, false-answer and answered rates."""
    x = signal_matrix(records)
    y = np.array([1.0 if r["answerable"] else 0.0 for r in records])
    if not 0 < y.sum() < len(y):
        raise ValueError("fitting needs answerable and unanswerable questions")
    probs = cross_validated(x, y)
    threshold = threshold_for(probs, y, max_false_answer=max_false_answer)
    answered = probs >= threshold
    quality = {"auroc": auroc(probs, y.astype(bool)),
               "false_answer_rate": round(float(answered[y == 0].mean()), 4),
               "answered_rate_answerable": round(float(answered[y == 1].mean()), 4)}
    mean, std = x.mean(axis=0), x.std(axis=0)
    scale = np.where(std > 0, std, 1.0)
    w = fit_logistic((x - mean) / scale, y)
    model = AnswerabilityModel(signals=DECISION_SIGNALS, mean=tuple(map(float, mean)),
                               scale=tuple(map(float, scale)),
                               weights=tuple(map(float, w[1:])), bias=float(w[0]),
                               threshold=threshold,
                               manifest={**manifest, "max_false_answer": max_false_answer,
                                         "questions": len(y),
                                         "answerable": int(y.sum()),
                                         "out_of_fold": quality})
    return model, quality
