"""The answerability model: decision signals of a retrieval, the model's probability and file,
fitting it for a target false-answer rate, and the gate deciding with it."""

from __future__ import annotations

import json
from dataclasses import replace
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
    assert s["non_english"] == 0.0


def test_a_top_passage_in_another_language_is_a_signal() -> None:
    german = _candidate("ret", dense=0.4, rerank=0.5)
    german = replace(german, chunk=replace(german.chunk, locale="de-DE"))
    assert decision_signals("Rückgabe?", [german], _sparse())["non_english"] == 1.0
    assert decision_signals("return?", [_candidate("ret", dense=0.4)],
                            _sparse())["non_english"] == 0.0


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
    gate = service._gate(candidates, {"rerank_top": 0.9})
    assert gate.fallback is None and gate.score > 0.6  # the dense bar alone would have refused
    assert gate.kind == "model" and gate.threshold == 0.6
    gate = service._gate(candidates, {"rerank_top": 0.3})
    # dense 0.3 is below the default related_min_similarity: nothing related, off_topic
    assert gate.fallback is not None and gate.fallback.reason == "off_topic"
    assert gate.score < 0.6


def test_the_factory_prefers_the_operators_model_to_the_shipped_one(tmp_path: Path) -> None:
    shipped = gate_policy(Settings(var_dir=tmp_path)).model
    assert shipped is not None and shipped.manifest["dataset"]  # data/models/answerability.json
    (tmp_path / "decision.json").write_text(_model(0.42).to_json(), encoding="utf-8")
    assert gate_policy(Settings(var_dir=tmp_path)).model.threshold == 0.42  # type: ignore[union-attr]
    bars = Settings(var_dir=tmp_path, answer={"gate_score": "dense"})
    assert gate_policy(bars).model is None


def test_a_model_fitted_with_another_reranker_is_not_used(tmp_path: Path) -> None:
    model = replace(_model(), manifest={"reranker": "support-reranker"})
    path = tmp_path / "decision.json"
    path.write_text(model.to_json(), encoding="utf-8")
    reranking = Settings(var_dir=tmp_path, retrieval={"rerank_depth": 20})
    plain = Settings(var_dir=tmp_path)  # reranking off, the default
    assert gate_policy(reranking).model is not None
    assert gate_policy(plain).model is None  # the dense bars decide
    path.write_text(replace(model, manifest={"reranker": "other-model"}).to_json(),
                    encoding="utf-8")
    assert gate_policy(reranking).model is None
    path.write_text(replace(model, manifest={"reranker": None}).to_json(), encoding="utf-8")
    assert gate_policy(plain).model is not None  # fitted without reranking
    assert gate_policy(reranking).model is None


def test_the_configured_false_answer_rate_picks_the_fitted_threshold(tmp_path: Path) -> None:
    model = replace(_model(0.7), thresholds={"0.05": 0.9, "0.1": 0.8, "0.2": 0.6})
    assert model.for_target(0.1) == 0.8 and model.for_target(0.15) == 0.8
    assert model.for_target(0.5) == 0.6 and model.for_target(0.01) == 0.9  # strictest
    assert replace(model, thresholds={}).for_target(0.1) == 0.7
    path = tmp_path / "decision.json"
    path.write_text(model.to_json(), encoding="utf-8")
    assert AnswerabilityModel.load(path).thresholds == model.thresholds
    settings = Settings(var_dir=tmp_path, answer={"max_false_answer_rate": 0.2})
    assert gate_policy(settings).model.threshold == 0.6  # type: ignore[union-attr]


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
    # one threshold per target, stricter for smaller targets, each met out of fold
    targets = sorted(model.thresholds, key=float)
    assert [model.thresholds[t] for t in targets] == sorted(model.thresholds.values(),
                                                               reverse=True)
    for target, rates in quality["targets"].items():
        assert rates["false_answer_rate"] <= float(target)
    assert 0 <= quality["expected_calibration_error"] < 0.15
    assert sum(row["questions"] for row in quality["reliability"]) == 120


def test_calibration_error_is_zero_when_predictions_match_outcomes() -> None:
    from eval.decision import expected_calibration_error, reliability

    probs = np.array([0.05] * 20 + [0.95] * 20)
    y = np.array([0.0] * 19 + [1.0] + [1.0] * 19 + [0.0])
    assert expected_calibration_error(probs, y) == pytest.approx(0.0)
    over = np.array([0.9] * 10)
    assert expected_calibration_error(over, np.array([1.0] * 5 + [0.0] * 5)) == pytest.approx(0.4)
    table = reliability(probs, y)
    assert [row["questions"] for row in table] == [20, 20]


def test_a_model_decides_only_on_the_knowledge_base_it_was_fitted_on() -> None:
    model = replace(_model(), manifest={"articles": ["a", "b", "c", "d"]})
    assert model.fits({"a", "b", "c", "d", "e"})  # an article added since: still fits
    assert not model.fits({"a", "b", "x"})  # Jaccard 2/5: another knowledge base
    assert model.fits({"a", "b", "c"})  # 3/4
    assert not model.fits({"x", "y", "z"})
    assert _model().fits({"x"})  # a model that lists no articles applies everywhere


class _Index:
    def __init__(self, name: str, articles: set[str]) -> None:
        self.name, self._articles = name, frozenset(articles)

    def article_ids(self) -> frozenset[str]:
        return self._articles


def test_the_service_falls_back_to_the_score_bars_on_another_knowledge_base() -> None:
    model = replace(_model(0.6), manifest={"articles": ["ret", "ship"]})
    service = AnswerService(retriever=None, reranker=None,  # type: ignore[arg-type]
                            generator=ExtractiveGenerator(), verifier=None,  # type: ignore[arg-type]
                            policy=GatePolicy(dense_min_score=0.5, model=model))
    assert service.model_decides(_Index("v1", {"ret", "ship", "cam"}))  # type: ignore[arg-type]
    assert not service.model_decides(_Index("v2", {"bike"}))  # type: ignore[arg-type]
    candidates = [_candidate("ret", dense=0.7, rerank=0.1)]
    assert service._gate(candidates, {"rerank_top": 0.1}, use_model=False).kind == "dense"
    assert service._gate(candidates, {"rerank_top": 0.1}, use_model=False).fallback is None
    assert service._gate(candidates, {"rerank_top": 0.1}).fallback is not None


def test_a_model_fitted_with_other_sentence_scores_is_not_used(tmp_path: Path) -> None:
    weights = tuple(1.0 if s == "sentence_rerank" else 0.0 for s in DECISION_SIGNALS)
    model = replace(_model(), weights=weights,
                    manifest={"reranker": None, "sentence_scorer": "support-reranker@6"})
    path = tmp_path / "decision.json"
    path.write_text(model.to_json(), encoding="utf-8")
    assert gate_policy(Settings(var_dir=tmp_path)).model is not None
    unscored = Settings(var_dir=tmp_path, answer={"sentence_scoring": False})
    assert gate_policy(unscored).model is None  # its strongest signal would read 0.0
    for other in ("other@6", "support-reranker"):  # another model, or every unit scored
        path.write_text(replace(model, manifest={"reranker": None, "sentence_scorer": other})
                        .to_json(), encoding="utf-8")
        assert gate_policy(Settings(var_dir=tmp_path)).model is None


def test_a_model_file_from_another_version_falls_back_to_the_bars(tmp_path: Path) -> None:
    """An operator's model fitted with signals this version no longer has must not stop the
    service: the dense bars decide until `make calibrate` refits it."""
    stale = json.loads(_model().to_json())
    stale["signals"] = [*stale["signals"][:-1], "retired_signal"]
    (tmp_path / "decision.json").write_text(json.dumps(stale), encoding="utf-8")
    assert gate_policy(Settings(var_dir=tmp_path)).model is None


def test_the_calibration_error_floor_shrinks_with_more_questions() -> None:
    """Sampling alone gives a perfectly calibrated model a calibration error; the report
    states it beside the measured one."""
    from eval.decision import calibration_error_noise

    probs = np.linspace(0.05, 0.95, 200)
    small, large = calibration_error_noise(probs), calibration_error_noise(np.tile(probs, 25))
    assert 0.02 < small < 0.12 and large < small / 3
    assert calibration_error_noise(np.ones(50)) == 0.0  # certain outcomes: no sampling error
