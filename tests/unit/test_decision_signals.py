"""The separating power of decision signals: AUROC, the signals of a run record, and the
cross-validated logistic combination."""

from __future__ import annotations

import numpy as np
import pytest

from eval.signals import auroc, cross_validated, report, signals_of


def test_auroc_is_hand_computable_and_counts_ties_half() -> None:
    assert auroc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert auroc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert auroc([0.5, 0.5], [True, False]) == 0.5
    # positives 0.9 and 0.4 against negatives 0.6 and 0.1: 3 of 4 pairs ordered right
    assert auroc([0.9, 0.4, 0.6, 0.1], [True, True, False, False]) == 0.75
    assert auroc([0.3, 0.4], [True, True]) is None


def _record(*, answerable: bool, dense: float, text: str, question: str) -> dict:
    hit = {"chunk_id": "a:0", "article_id": "a", "rank": 1, "score": dense}
    second = {"chunk_id": "b:0", "article_id": "b", "rank": 2, "score": dense - 0.1}
    return {"question": question, "query": question, "answerable": answerable,
            "stages": {"dense": [hit, second], "sparse": [hit], "fused": [hit]},
            "contexts": [{"chunk_id": "a:0", "article_id": "a", "text": text}]}


def test_signals_of_a_record_weigh_rare_words_more() -> None:
    idf = {"return": 1.0, "window": 3.0, "hub": 0.5}
    r = _record(answerable=True, dense=0.8, text="The return window is 45 days for a hub.",
                question="what is the return window for a doorbell")
    s = signals_of(r, idf, unknown_idf=5.0)
    assert s["dense_top"] == 0.8 and s["dense_margin"] == pytest.approx(0.1)
    assert s["agreement"] == 1.0 and s["rerank_top"] == 0.0
    assert s["coverage"] == pytest.approx((1.0 + 3.0) / (1.0 + 3.0 + 5.0))
    assert s["unknown"] == pytest.approx(1 / 3)  # "doorbell" is in no article


def test_the_combination_is_scored_out_of_fold_and_separates_what_the_signals_separate() -> None:
    rng = np.random.default_rng(0)
    y = np.array([1.0] * 60 + [0.0] * 60)
    x = np.column_stack([y + rng.normal(0, 0.8, 120), rng.normal(0, 1, 120)])
    probs = cross_validated(x, y)
    assert ((probs > 0) & (probs < 1)).all()
    assert auroc(probs, y.astype(bool)) > 0.7
    noise = cross_validated(rng.normal(0, 1, (120, 2)), y)
    assert abs((auroc(noise, y.astype(bool)) or 0) - 0.5) < 0.2


def test_report_lists_every_signal_and_the_combination() -> None:
    records = [_record(answerable=i % 2 == 0, dense=0.9 - 0.5 * (i % 2) + 0.01 * i,
                       text="return window 45 days", question="return window?")
               for i in range(20)]
    out = report(records, {"return": 1.0, "window": 2.0}, unknown_idf=4.0)
    assert out["questions"] == 20 and out["answerable"] == 10
    assert out["auroc"]["dense_top"] == 1.0
    assert out["combined_auroc"] is not None and "dense_top" in out["combined_signals"]
