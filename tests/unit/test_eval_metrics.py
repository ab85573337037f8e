"""Evaluation metrics, calibration and gates against hand-computed values."""

from __future__ import annotations

import math

import pytest

from eval import calibrate as cal
from eval.gates import Gate, check_gate, check_gates, compare, metric_value
from eval.metrics import (
    Outcome,
    abstention_metrics,
    by_tag,
    citation_precision,
    coverage_at_k,
    dedupe_articles,
    hit_at_k,
    latency_percentiles,
    ndcg_at_k,
    outcome_from_record,
    reciprocal_rank,
    retrieval_metrics,
)


def test_chunks_reduce_to_articles_at_their_best_rank():
    assert dedupe_articles(["a", "b", "a", "c", "b"]) == ("a", "b", "c")


def test_hits_need_one_gold_article_and_coverage_counts_them_all():
    ranked = ["x", "a", "y", "b"]
    assert hit_at_k(ranked, ["a", "b"], k=1) == 0.0
    assert hit_at_k(ranked, ["a", "b"], k=2) == 1.0
    assert coverage_at_k(ranked, ["a", "b"], k=2) == 0.5
    assert coverage_at_k(ranked, ["a", "b"], k=4) == 1.0
    with pytest.raises(ValueError):
        coverage_at_k(ranked, [], k=5)


def test_reciprocal_rank_is_one_over_the_first_gold_position():
    assert reciprocal_rank(["x", "y", "a"], ["a"]) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "b", "a"], ["a", "b"]) == 0.5
    assert reciprocal_rank(["x"], ["a"]) == 0.0


def test_ndcg_matches_a_hand_computed_value():
    # gold at ranks 2 and 4 of 2 gold: DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "a", "y", "b"], ["a", "b"], k=10) == pytest.approx(expected)
    assert ndcg_at_k(["a"], ["a"], k=10) == 1.0
    assert ndcg_at_k(["x", "y", "a"], ["a"], k=2) == 0.0


def _o(qid: str, answerable: bool, *, answered: bool, ranked=(), gold=(), cited=(),
       tags=(), timings=None) -> Outcome:
    return Outcome(id=qid, answerable=answerable, gold=tuple(gold), ranked_articles=tuple(ranked),
                   answered=answered, cited_articles=tuple(cited), tags=tuple(tags),
                   timings_ms=timings or {})


OUTCOMES = [
    _o("q1", True, answered=True, ranked=["a", "b"], gold=["a"], cited=["a", "b"], tags=["x"]),
    _o("q2", True, answered=True, ranked=["c", "d", "e", "f", "g", "b"], gold=["b"],
       cited=["c"], tags=["x"]),
    _o("q3", True, answered=False, ranked=["b", "a"], gold=["a"], tags=["y"]),
    _o("u1", False, answered=False, ranked=["a"], tags=["y"]),
    _o("u2", False, answered=True, ranked=["a"], cited=["a"]),
    _o("u3", False, answered=False),
]


def test_retrieval_metrics_average_over_answerable_questions_only():
    m = retrieval_metrics(OUTCOMES)
    assert m["recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["recall@5"] == pytest.approx(2 / 3, abs=1e-4)  # q2's gold is 6th
    assert m["recall@10"] == 1.0
    assert m["mrr"] == pytest.approx((1 + 1 / 6 + 1 / 2) / 3, abs=1e-4)
    # alternatives: one of two gold articles on top is a hit, half the gold coverage
    two = retrieval_metrics([_o("q", True, answered=True, ranked=["a", "x"], gold=["a", "b"])])
    assert two["recall@1"] == 1.0 and two["gold_coverage@5"] == 0.5


def test_abstention_metrics_treat_a_fallback_as_the_positive_prediction():
    m = abstention_metrics(OUTCOMES)
    # fallbacks: q3 (wrong), u1, u3 (right) -> precision 2/3; unanswerable 3, caught 2
    assert m["abstention_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["abstention_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["answered_rate"] == 0.5
    assert m["answered_rate_answerable"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["false_answer_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert abstention_metrics([_o("q", True, answered=True)])["abstention_precision"] is None


def test_citation_precision_counts_citations_of_answered_answerable_questions():
    # q1 cites a (gold) and b; q2 cites c (not gold); u2's citation is not counted here
    assert citation_precision(OUTCOMES) == pytest.approx(1 / 3, abs=1e-4)
    assert citation_precision([_o("u", False, answered=True, cited=["a"])]) is None


def test_breakdown_per_tag_and_latency_percentiles():
    groups = by_tag(OUTCOMES)
    assert groups["x"]["questions"] == 2 and groups["x"]["recall@1"] == 0.5
    assert groups["unanswerable"]["abstention_recall"] == pytest.approx(2 / 3, abs=1e-4)
    lat = latency_percentiles([_o(str(i), True, answered=True, timings={"dense": float(i)})
                               for i in range(1, 101)])
    assert lat["dense"]["p50"] == 50.5 and lat["dense"]["p95"] == pytest.approx(95.05)


def test_outcome_from_a_run_record():
    record = {"id": "q", "answerable": True, "gold_article_ids": ["a"],
              "ranked_article_ids": ["b", "a"], "fallback": None,
              "citations": [{"article_id": "a", "n": 1}], "tags": ["t"],
              "gate": {"score": 0.7}, "timings_ms": {"total": 3.0}}
    o = outcome_from_record(record)
    assert o.answered and o.cited_articles == ("a",) and o.gate_score == 0.7
    assert not outcome_from_record({**record, "fallback": {"reason": "low_score"}}).answered


def _p(score, answerable, agreement=False, gold=True):
    return cal.Point(score=score, agreement=agreement, answerable=answerable, top_is_gold=gold)


def test_calibration_picks_the_lowest_threshold_meeting_the_target():
    pts = [_p(0.9, True), _p(0.8, True), _p(0.6, True), _p(0.7, False), _p(0.2, False),
           _p(0.1, False)]
    curve = cal.sweep(pts, agreement_bar=None)
    chosen, met = cal.choose(curve, max_false_answer=0.0)
    assert met and chosen["threshold"] == pytest.approx(0.75)  # midway between 0.7 and 0.8
    assert chosen["answered_answerable"] == pytest.approx(2 / 3, abs=1e-3)
    balanced, _ = cal.choose(curve, objective="balanced")
    assert balanced["threshold"] == pytest.approx(0.4)  # answers 3/3, 1/3 wrongly: 5/6
    assert balanced["balanced_accuracy"] == pytest.approx(5 / 6, abs=1e-3)


def test_agreement_keeps_answering_below_the_threshold_but_not_below_its_own_bar():
    p = _p(0.4, True, agreement=True)
    assert cal.answers(p, threshold=0.5, agreement_bar=0.35)
    assert not cal.answers(p, threshold=0.5, agreement_bar=0.45)
    assert not cal.answers(_p(0.4, True), threshold=0.5, agreement_bar=0.35)


def test_unreachable_target_falls_back_to_the_fewest_false_answers():
    pts = [_p(0.5, True), _p(0.4, False, agreement=True)]
    chosen, met = cal.choose(cal.sweep(pts, agreement_bar=0.3), max_false_answer=0.0)
    assert not met and chosen["answered_unanswerable"] == 1.0


def test_gates_fail_on_drops_beyond_tolerance_and_on_floors():
    metrics = {"recall@5": 0.80, "ragas": {"rouge_score": 0.5}, "latency_ms": {"total": {
        "p95": 120.0}}}
    baseline = {"recall@5": 0.84, "ragas": {"rouge_score": 0.52}}
    gates = [Gate("recall@5", max_drop=0.03), Gate("ragas.rouge_score", max_drop=0.03),
             Gate("latency_ms.total.p95", max=100.0), Gate("mrr", min=0.5)]
    results = {r.metric: r for r in check_gates(gates, metrics, baseline=baseline)}
    assert results["recall@5"].passed is False and "0.0400" in results["recall@5"].reason
    assert results["ragas.rouge_score"].passed is True
    assert results["latency_ms.total.p95"].passed is False
    assert results["mrr"].passed is None  # not measured: reported, not failed
    assert check_gate(Gate("recall@5", max_drop=0.03), 0.5, baseline=None).passed is None
    assert check_gate(Gate("recall@5", min=0.6), 0.5, baseline=None).passed is False


def test_metric_paths_and_comparison_rows():
    metrics = {"recall@5": 0.8, "ragas": {"rouge_score": 0.5, "judge": None}}
    assert metric_value(metrics, "ragas.rouge_score") == 0.5
    assert metric_value(metrics, "ragas.judge") is None
    rows = {r["metric"]: r for r in compare(metrics, {"recall@5": 0.7})}
    assert rows["recall@5"]["delta"] == pytest.approx(0.1)
    assert rows["ragas.rouge_score"]["delta"] is None


def test_compare_lists_questions_whose_decision_or_hit_changed():
    from eval.compare import outcome_changes

    def rec(answerable, fallback=None, ranked=("a",)):
        return {"answerable": answerable, "gold_article_ids": ["a"] if answerable else [],
                "ranked_article_ids": list(ranked),
                "fallback": {"reason": fallback} if fallback else None}

    before = {"q1": rec(True), "q2": rec(True), "u1": rec(False, "low_score"),
              "u2": rec(False, ranked=("b",)), "gone": rec(True)}
    after = {"q1": rec(True), "q2": rec(True, ranked=("x",)), "u1": rec(False),
             "u2": rec(False, ranked=("c",))}
    assert outcome_changes(before, after) == [
        ("q2", "answered, hit@5", "answered, miss"),
        ("u1", "fallback (low_score)", "answered")]


def test_outcome_shares_and_the_decisions_calibration_error() -> None:
    from eval.metrics import Outcome, decision_calibration, outcome_metrics

    def o(i: int, answerable: bool, reason: str = "", snippet: str = "",
          score: float = 0.5, kind: str = "model") -> Outcome:
        return Outcome(id=str(i), answerable=answerable, gold=("a",), ranked_articles=("a",),
                       answered=not reason, key_facts=("45 days",) if answerable else (),
                       reason=reason, snippet=snippet, gate_score=score, gate_kind=kind)

    outcomes = [o(1, True), o(2, True, "low_confidence", "You have 45 days."),
                o(3, True, "low_confidence", "Keep the box."), o(4, False, "low_confidence"),
                o(5, False, "off_topic"), o(6, False)]
    shares = outcome_metrics(outcomes)
    assert shares["suggested_rate_answerable"] == round(2 / 3, 4)
    assert shares["suggested_rate_unanswerable"] == round(1 / 3, 4)
    assert shares["declined_rate_unanswerable"] == round(1 / 3, 4)
    assert shares["suggestion_states_fact"] == 0.5
    assert decision_calibration(outcomes)["decision_calibration_error"] == pytest.approx(0.0)
    bars = [o(7, True, kind="dense")]
    assert decision_calibration(outcomes + bars)["decision_calibration_error"] is None
