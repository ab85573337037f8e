"""The separating power of decision signals: AUROC, the signals a run recorded, and the
cross-validated logistic combination."""

from __future__ import annotations

import numpy as np
import pytest

from app.rag.decide import DECISION_SIGNALS
from eval.signals import auroc, cross_validated, report


def test_auroc_is_hand_computable_and_counts_ties_half() -> None:
    assert auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    # positives 0.9 and 0.4 against negatives 0.6 and 0.1: 3 of 4 pairs ordered right
    assert auroc([0.9, 0.4, 0.6, 0.1], [True, True, False, False]) == 0.75
    assert auroc([0.3, 0.4], [True, True]) is None


def _record(i: int, *, answerable: bool, rerank: float) -> dict:
    signals = dict.fromkeys(DECISION_SIGNALS, 0.5) | {"rerank_top": rerank}
    return {"id": f"q{i}", "answerable": answerable, "gate": {"signals": signals}}


def test_the_combination_is_scored_out_of_fold_and_separates_what_the_signals_separate() -> None:
    rng = np.random.default_rng(0)
    y = np.array([1.0] * 60 + [0.0] * 60)
    x = np.column_stack([y + rng.normal(0, 0.8, 120), rng.normal(0, 1, 120)])
    probs = cross_validated(x, y)
    assert ((probs > 0) & (probs < 1)).all()
    assert auroc(probs, y.astype(bool)) > 0.7
    noise = cross_validated(rng.normal(0, 1, (120, 2)), y)
    assert abs((auroc(noise, y.astype(bool)) or 0) - 0.5) < 0.2


def test_report_reads_the_signals_the_service_recorded() -> None:
    records = [_record(i, answerable=i % 2 == 0, rerank=0.9 - 0.5 * (i % 2) + 0.01 * i)
               for i in range(20)]
    out = report(records)
    assert out["questions"] == 20 and out["answerable"] == 10
    assert out["auroc"]["rerank_top"] == 1.0 and out["auroc"]["coverage"] == 0.5
    assert out["combined_auroc"] is not None and out["combined_signals"] == ["rerank_top"]
    with pytest.raises(ValueError, match="evaluate again"):
        report([{"id": "old", "answerable": True, "gate": {"score": 0.7}}])
