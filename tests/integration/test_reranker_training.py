"""The reranker training code, run for real on a few dozen pairs (seconds, not the full run)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.rag.rerank import CrossEncoderReranker
from ingest.models.reranker.records import Pair
from ingest.models.reranker.train import TrainParams, train

pytestmark = pytest.mark.integration

PAIRS = [
    ("how do I return my hub", "You can return hardware within 45 days of delivery.", 1.0),
    ("how do I return my hub", "The Plus plan costs $4.99 a month.", 0.0),
    ("reset the hub", "Hold the reset button for 10 seconds until the ring flashes.", 1.0),
    ("reset the hub", "Standard shipping takes 3-5 business days.", 0.0),
    ("Alpha Inn: is there wifi", "Alpha Inn\nAlpha Inn has free wifi in every room.", 1.0),
    ("Alpha Inn: is there wifi", "Beta Lodge\nBeta Lodge has free wifi in every room.", 0.0),
]


def test_training_saves_a_loadable_model_with_its_record(tmp_path):
    pairs = [Pair(q, p, label, "test", q) for q, p, label in PAIRS] * 8
    out = tmp_path / "model"
    params = TrainParams(layers=1, max_length=48, batch_size=8, seed=3)
    record = train(pairs, out=out, params=params, data_stats={"sources": {"test": 48}})
    assert record["pairs"] == 48 and record["positives"] == 24
    saved = json.loads((out / "training.json").read_text(encoding="utf-8"))
    assert saved["params"]["layers"] == 1 and saved["data"] == {"sources": {"test": 48}}
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 1
    assert not (out / "README.md").exists()  # a hand-written model card is never overwritten
    reranker = CrossEncoderReranker(str(out), max_length=None)
    assert reranker.max_length == 48
    scores = reranker.score("how do I return my hub", [p for _, p, _ in PAIRS[:2]])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_listwise_training_learns_the_order_within_each_query(tmp_path):
    groups = {
        "how do I return my hub": ("You can return hardware within 45 days of delivery.",
                                   ["The Plus plan costs $4.99 a month.",
                                    "Standard shipping takes 3-5 business days.",
                                    "Hold the reset button for 10 seconds."]),
        "reset the hub": ("Hold the reset button for 10 seconds until the ring flashes.",
                          ["You can return hardware within 45 days of delivery.",
                           "The Plus plan costs $4.99 a month.",
                           "Invite family members from the Household screen."]),
        "what does Plus cost": ("The Plus plan costs $4.99 a month.",
                                ["Standard shipping takes 3-5 business days.",
                                 "Hold the reset button for 10 seconds.",
                                 "You can return hardware within 45 days of delivery."]),
    }
    pairs = [Pair(q, pos, 1.0, "test", q) for q, (pos, _) in groups.items()]
    pairs += [Pair(q, neg, 0.0, "test", q) for q, (_, negs) in groups.items() for neg in negs]
    out = tmp_path / "model"
    params = TrainParams(layers=2, max_length=48, batch_size=8, seed=3, epochs=24,
                         learning_rate=2e-4, loss="listwise", negatives=3)
    record = train(pairs * 2, out=out, params=params)
    assert record["listwise_rows"] == 6 and record["params"]["loss"] == "listwise"
    reranker = CrossEncoderReranker(str(out), max_length=None)
    for query, (pos, negs) in groups.items():
        scores = reranker.score(query, [pos, *negs])
        assert int(np.argmax(scores)) == 0, (query, scores)
        assert np.all((scores >= 0) & (scores <= 1))


def test_an_unknown_loss_is_refused(tmp_path):
    pairs = [Pair(q, p, label, "test", q) for q, p, label in PAIRS]
    with pytest.raises(ValueError, match="unknown loss"):
        train(pairs, out=tmp_path / "m", params=TrainParams(layers=1, loss="hinge"))
