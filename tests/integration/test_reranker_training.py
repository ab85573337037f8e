"""The reranker training code, run for real on a few dozen pairs (seconds, not the full run)."""

from __future__ import annotations

import json
from dataclasses import asdict

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
    assert saved["params"] == asdict(params) and saved["data"] == {"sources": {"test": 48}}
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["num_hidden_layers"] == 1
    assert not (out / "README.md").exists()  # a hand-written model card is never overwritten
    reranker = CrossEncoderReranker(str(out), max_length=None)
    assert reranker.max_length == 48
    scores = reranker.score("how do I return my hub", [p for _, p, _ in PAIRS[:2]])
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))
