"""Retrieval, abstention, citation and latency metrics of a run. Pure functions.

Retrieval is scored at article level: the final ranking of chunks (reranked when a reranker
ran, fused otherwise) is reduced to article ids in rank order, keeping each article's first
(best) position, and compared with the gold articles of answerable questions.

Gold articles are alternatives: a set lists every published article that fully answers a
question (near-duplicates, translations), and finding any one of them is right. So
``recall@k`` is the share of answerable questions with at least one gold article in the top
k, while ``gold_coverage@k`` is the classic share of all gold articles retrieved. MRR uses
the first gold article; nDCG counts every gold article as relevant.

What the customer reads is scored against each answerable question's ``key_facts`` (see
``eval.answers``): ``answer_correct`` counts answers that cite a gold article, state every key
fact and no outdated one; ``fact_first`` answers whose first sentence states the first key
fact; both over all answerable questions that have key facts, so a fallback counts against
them. ``gold_cited_rate`` only asks for a gold citation.

Abstention treats "the service fell back" as the positive prediction and "the question is
unanswerable" as the positive truth: precision is the share of fallbacks that were right to
fall back, recall the share of unanswerable questions that got a fallback.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eval.answers import is_correct, leads_with_fact, states, words_outside_steps

RANK_KS = (1, 3, 5, 10)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What metrics need from one answered question of a run."""

    id: str
    answerable: bool
    gold: tuple[str, ...]
    ranked_articles: tuple[str, ...]
    answered: bool
    cited_articles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    gate_score: float = 0.0
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    answer: str = ""
    key_facts: tuple[str, ...] = ()
    avoid_facts: tuple[str, ...] = ()
    split: str = ""
    gate_kind: str = ""  # model | rerank | dense: what gate_score is
    reason: str = ""  # the fallback reason; empty for an answer
    snippet: str = ""  # what a low_confidence fallback offered as "this may help"


def outcome_from_record(record: Mapping[str, Any]) -> Outcome:
    """The ``Outcome`` of one line of a run file."""
    return Outcome(
        id=record["id"], answerable=bool(record["answerable"]),
        gold=tuple(record.get("gold_article_ids", ())),
        ranked_articles=tuple(record.get("ranked_article_ids", ())),
        answered=record.get("fallback") is None,
        cited_articles=tuple(c["article_id"] for c in record.get("citations", ())),
        tags=tuple(record.get("tags", ())),
        gate_score=float(record.get("gate", {}).get("score", 0.0)),
        timings_ms=dict(record.get("timings_ms", {})),
        answer=record.get("answer") or "",
        key_facts=tuple(record.get("key_facts", ())),
        avoid_facts=tuple(record.get("avoid_facts", ())),
        split=record.get("split") or "",
        gate_kind=str(record.get("gate", {}).get("kind", "")),
        reason=(record.get("fallback") or {}).get("reason", ""),
        snippet=(record.get("fallback") or {}).get("snippet", ""),
    )


def dedupe_articles(article_ids: Iterable[str]) -> tuple[str, ...]:
    """Article ids in rank order, each at its first (best) position."""
    return tuple(dict.fromkeys(article_ids))


def coverage_at_k(ranked: Sequence[str], gold: Iterable[str], *, k: int) -> float:
    """Share of the gold articles found in the first ``k`` articles (classic recall)."""
    wanted = set(gold)
    if not wanted:
        raise ValueError("recall needs at least one gold article")
    return len(wanted & set(ranked[:k])) / len(wanted)


def hit_at_k(ranked: Sequence[str], gold: Iterable[str], *, k: int) -> float:
    """1.0 when any gold article is among the first ``k`` (averaged: ``recall@k``)."""
    return float(bool(set(gold) & set(ranked[:k])))


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str]) -> float:
    """1 / rank of the first gold article (1-based); 0 when none was retrieved."""
    wanted = set(gold)
    for rank, article in enumerate(ranked, start=1):
        if article in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], gold: Iterable[str], *, k: int = 10) -> float:
    """Binary-relevance nDCG: gains 1/log2(rank + 1), normalised by the ideal ranking."""
    wanted = set(gold)
    if not wanted:
        raise ValueError("nDCG needs at least one gold article")
    dcg = sum(1.0 / math.log2(rank + 1)
              for rank, article in enumerate(ranked[:k], start=1) if article in wanted)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def _mean(values: Sequence[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def retrieval_metrics(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """recall@k, gold_coverage@k, mrr and ndcg@10 averaged over the answerable questions."""
    scored = [o for o in outcomes if o.answerable and o.gold]
    out: dict[str, float | None] = {}
    for k in RANK_KS:
        out[f"recall@{k}"] = _mean([hit_at_k(o.ranked_articles, o.gold, k=k) for o in scored])
    for k in (5, 10):
        out[f"gold_coverage@{k}"] = _mean([coverage_at_k(o.ranked_articles, o.gold, k=k)
                                           for o in scored])
    out["mrr"] = _mean([reciprocal_rank(o.ranked_articles, o.gold) for o in scored])
    out["ndcg@10"] = _mean([ndcg_at_k(o.ranked_articles, o.gold, k=10) for o in scored])
    return out


def abstention_metrics(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """Precision and recall of fallbacks, answered rates and balanced decision accuracy.

    A metric is ``None`` where its denominator is empty (e.g. no unanswerable question).
    """
    fell_back = [o for o in outcomes if not o.answered]
    right = sum(not o.answerable for o in fell_back)
    unanswerable = [o for o in outcomes if not o.answerable]
    answerable = [o for o in outcomes if o.answerable]
    answered_ok = sum(o.answered for o in answerable)
    tnr = _ratio(right, len(unanswerable))
    tpr = _ratio(answered_ok, len(answerable))
    return {
        "abstention_precision": _ratio(right, len(fell_back)),
        "abstention_recall": tnr,
        "answered_rate": _ratio(sum(o.answered for o in outcomes), len(outcomes)),
        "answered_rate_answerable": tpr,
        "false_answer_rate": _ratio(len(unanswerable) - right, len(unanswerable)),
        "decision_balanced_accuracy": (round((tnr + tpr) / 2, 4)
                                       if tnr is not None and tpr is not None else None),
    }


def outcome_metrics(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """How often each of the three outcomes occurs: a confident answer, "this may help"
    (a ``low_confidence`` fallback with a suggested passage) or a decline (any other
    fallback); and how often a suggestion offered for an answerable question states its
    first key fact."""
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    suggested = [o for o in answerable if o.reason == "low_confidence"]
    labelled = [o for o in suggested if o.key_facts]
    return {
        "suggested_rate_answerable": _ratio(len(suggested), len(answerable)),
        "suggested_rate_unanswerable": _ratio(
            sum(o.reason == "low_confidence" for o in unanswerable), len(unanswerable)),
        "declined_rate_unanswerable": _ratio(
            sum(not o.answered and o.reason != "low_confidence" for o in unanswerable),
            len(unanswerable)),
        "suggestion_states_fact": _ratio(
            sum(states(o.snippet, o.key_facts[0]) for o in labelled), len(labelled)),
    }


def decision_calibration(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """Expected calibration error of the answerability model's probabilities (10 bins) when
    the model decided every question, else None."""
    from eval.decision import expected_calibration_error

    if not outcomes or any(o.gate_kind != "model" for o in outcomes):
        return {"decision_calibration_error": None}
    probs = np.array([o.gate_score for o in outcomes])
    y = np.array([1.0 if o.answerable else 0.0 for o in outcomes])
    return {"decision_calibration_error": expected_calibration_error(probs, y)}


def citation_precision(outcomes: Sequence[Outcome]) -> float | None:
    """Share of citations, over answered answerable questions, that name a gold article.

    Citations given to unanswerable questions are counted by the abstention metrics, not
    here, so this isolates whether answers cite the right articles.
    """
    good = total = 0
    for o in outcomes:
        if o.answerable and o.answered:
            total += len(o.cited_articles)
            good += sum(a in set(o.gold) for a in o.cited_articles)
    return _ratio(good, total)


def _cites_gold(o: Outcome) -> bool:
    return o.answered and bool(set(o.cited_articles) & set(o.gold))


def gold_cited_rate(outcomes: Sequence[Outcome]) -> float | None:
    """Answerable questions answered with at least one citation of a gold article."""
    answerable = [o for o in outcomes if o.answerable]
    return _ratio(sum(_cites_gold(o) for o in answerable), len(answerable))


def answer_metrics(outcomes: Sequence[Outcome]) -> dict[str, float | None]:
    """``answer_correct`` and ``fact_first`` over the answerable questions with key facts;
    the words of answers outside step lists (median and 90th percentile) over answers given.
    """
    labelled = [o for o in outcomes if o.answerable and o.key_facts]
    correct = sum(_cites_gold(o) and is_correct(o.answer, key_facts=o.key_facts,
                                                avoid_facts=o.avoid_facts) for o in labelled)
    first = sum(o.answered and leads_with_fact(o.answer, o.key_facts) for o in labelled)
    words = [words_outside_steps(o.answer) for o in outcomes if o.answered and o.answer]
    return {"answer_correct": _ratio(correct, len(labelled)),
            "fact_first": _ratio(first, len(labelled)),
            "answer_words_p50": round(float(np.percentile(words, 50)), 1) if words else None,
            "answer_words_p90": round(float(np.percentile(words, 90)), 1) if words else None}


def latency_percentiles(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """p50 and p95 in milliseconds of every stage that was timed."""
    stages: dict[str, list[float]] = {}
    for o in outcomes:
        for stage, ms in o.timings_ms.items():
            stages.setdefault(stage, []).append(float(ms))
    return {s: {"p50": round(float(np.percentile(v, 50)), 2),
                "p95": round(float(np.percentile(v, 95)), 2), "n": len(v)}
            for s, v in stages.items()}


def core_metrics(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The headline metrics of a group of questions."""
    return {"questions": len(outcomes),
            "answerable": sum(o.answerable for o in outcomes),
            **retrieval_metrics(outcomes), **abstention_metrics(outcomes),
            **outcome_metrics(outcomes), **decision_calibration(outcomes),
            "citation_precision": citation_precision(outcomes),
            "gold_cited_rate": gold_cited_rate(outcomes), **answer_metrics(outcomes)}


def by_tag(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """``core_metrics`` per tag, plus the answerable and unanswerable groups."""
    groups: dict[str, list[Outcome]] = {"answerable": [], "unanswerable": []}
    for o in outcomes:
        groups["answerable" if o.answerable else "unanswerable"].append(o)
        for tag in o.tags:
            groups.setdefault(tag, []).append(o)
    return {name: core_metrics(group) for name, group in sorted(groups.items()) if group}


def by_split(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """``core_metrics`` of the development and test parts of a set that has them."""
    parts: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.split:
            parts.setdefault(o.split, []).append(o)
    return {name: core_metrics(group) for name, group in sorted(parts.items())}


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Everything ``metrics.json`` reports besides RAGAS: headline, per part, per tag, latency."""
    return {**core_metrics(outcomes), "by_split": by_split(outcomes),
            "by_tag": by_tag(outcomes), "latency_ms": latency_percentiles(outcomes)}
