"""The answerability model: decision signals of a retrieval, the model's probability and file,
fitting it for a target false-answer rate, and the gate deciding with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.errors import ConfigurationError
from app.rag.answer import AnswerService, GatePolicy
from app.rag.decide import DECISION_SIGNALS, AnswerabilityModel, decision_signals
from app.rag.extractive import ExtractiveGenerator
from app.rag.factory import gate_policy
from app.rag.sparse import BM25Index, tokenize
from app.rag.types import Candidate, Chunk
from app.settings import Settings
from eval.decision import fit, threshold_for

TEXTS = {"ret": "You have 45 days to return a device.",
         "ship": "We ship to seven countries.",
         "cam": "The camera records motion clips."}


def _candidate(key: str, **scores: float) -> Candidate:
    text = TEXTS[key]
    chunk = Chunk(chunk_id=f"{key}:0", article_id=key, ordinal=0, title=key, heading_path=(),
                  text=text, url="", char_start=0, char_end=len(text), n_tokens=8)
    return Candidate(chunk=chunk, score=1.0, scores=dict(scores))


def _sparse() -> BM25Index:
    return BM25Index.build(tokenize(t) for t in TEXTS.values())


def test_signals_read_every_stage_and_weigh_the_question_by_rarity() -> None:
    candidates = [_candidate("ret", dense=0.7, sparse=5.0, fused=0.03, rerank=0.9),
                  _candidate("ship", dense=0.5, sparse=1.0, fused=0.02, rerank=0.2)]
    s = decision_signals("days to return a doorbell?", candidates, _sparse())
    assert set(s) == set(DECISION_SIGNALS)
    assert s["rerank_top"] == 0.9 and s["rerank_margin"] == pytest.approx(0.7)
    assert s["dense_top"] == 0.7 and s["agreement"] == 1.0
    assert s["unknown"] == pytest.approx(1 / 3)  # "doorbel" is in no text; "day", "return" are
    assert 0 < s["coverage"] < 1  # the unseen word weighs most and is not covered
    assert decision_signals("anything", [], _sparse())["coverage"] == 0.0


def _model(threshold: float = 0.5) -> AnswerabilityModel:
    n = len(DECISION_SIGNALS)
    weights = tuple(2.0 if s == "rerank_top" else 0.0 for s in DECISION_SIGNALS)
    return AnswerabilityModel(signals=DECISION_SIGNALS, mean=(0.5,) * n, scale=(0.25,) * n,
                              weights=weights, bias=0.0, threshold=threshold,
                              manifest={"dataset": "sample"})


def test_the_model_is_a_logistic_of_standardised_signals_and_round_trips(tmp_path: Path) -> None:
    model = _model()
    assert model.probability({"rerank_top": 0.5}) == 0.5
    assert model.probability({"rerank_top": 0.75}) == pytest.approx(1 / (1 + np.exp(-2)))
    path = tmp_path / "decision.json"
    path.write_text(model.to_json(), encoding="utf-8")
    assert AnswerabilityModel.load(path) == model
    path.write_text('{"format": 99}', encoding="utf-8")
    with pytest.raises(ConfigurationError, match="make calibrate"):
        AnswerabilityModel.load(path)
    with pytest.raises(ConfigurationError, match="unknown signals"):
        AnswerabilityModel(signals=("mood",), mean=(0.0,), scale=(1.0,), weights=(1.0,),
                           bias=0.0, threshold=0.5)


def test_the_gate_decides_with_the_model_when_there_is_one() -> None:
    service = AnswerService(retriever=None, reranker=None,  # type: ignore[arg-type]
                            generator=ExtractiveGenerator(), verifier=None,  # type: ignore[arg-type]
                            policy=GatePolicy(dense_min_score=0.99, model=_model(0.6)))
    candidates = [_candidate("ret", dense=0.3, rerank=0.9)]
    score, _, fallback = service._gate(candidates, {"rerank_top": 0.9})
    assert fallback is None and score > 0.6  # the dense bar alone would have refused
    score, _, fallback = service._gate(candidates, {"rerank_top": 0.3})
    assert fallback is not None and fallback.reason == "low_score" and score < 0.6


def test_the_factory_reads_a_fitted_model_from_var_dir(tmp_path: Path) -> None:
    assert gate_policy(Settings(var_dir=tmp_path)).model is None
    (tmp_path / "decision.json").write_text(_model(0.42).to_json(), encoding="utf-8")
    assert gate_policy(Settings(var_dir=tmp_path)).model.threshold == 0.42  # type: ignore[union-attr]


def test_the_threshold_meets_the_target_false_answer_rate() -> None:
    probs = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0], dtype=float)
    t = threshold_for(probs, y, max_false_answer=0.25)  # one of four unanswerable may pass
    assert 0.5 < t <= 0.6 + 1e-9 and ((probs >= t) & (y == 0)).sum() == 1
    assert threshold_for(probs, y, max_false_answer=0.0) > 0.7


def test_fitting_on_records_learns_the_separating_signal() -> None:
    rng = np.random.default_rng(3)
    records = []
    for i in range(120):
        answerable = i % 2 == 0
        signals = {s: float(rng.normal()) for s in DECISION_SIGNALS}
        signals["rerank_top"] = float(rng.normal(1.0 if answerable else -1.0, 0.7))
        records.append({"answerable": answerable, "gate": {"signals": signals}})
    model, quality = fit(records, max_false_answer=0.2, manifest={"dataset": "synthetic"})
    assert quality["auroc"] > 0.85 and quality["false_answer_rate"] <= 0.2
    strongest = max(range(len(DECISION_SIGNALS)), key=lambda i: abs(model.weights[i]))
    assert DECISION_SIGNALS[strongest] == "rerank_top"
    assert model.manifest["out_of_fold"] == quality and model.manifest["questions"] == 120
