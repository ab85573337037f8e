"""RAGAS scores of a run: the metrics that need no LLM always, LLM-judged ones on request.

Without an LLM (ragas' legacy ``ragas.metrics`` module, single-turn scoring):

- ``id_based_context_precision`` / ``id_based_context_recall``: the articles of the context
  passages against the gold articles;
- ``non_llm_context_recall``: the reference passage (the chunk of the canonical, first gold
  article that covers most of the reference answer) found among the context passages by
  string similarity;
- ``non_llm_string_similarity`` (Levenshtein) and ``rouge_score`` (ROUGE-L F1): the answer,
  without citation markers, against the reference answer.

With a judge endpoint (``ragas.metrics.collections`` through ``llm_factory`` and an
``AsyncOpenAI`` client; the embeddings are the shipped MiniLM): ``faithfulness`` and
``answer_relevancy`` of answered questions, ``llm_context_precision_with_reference`` and
``llm_context_recall`` of answerable ones.

The context passages are those sent to the generator, or for a question the gate stopped,
those it would have sent. Context metrics cover answerable questions; answer metrics cover
answered ones. A score the metric cannot give (no passage, no reference) is left out of the
mean, not counted as 0.
"""

from __future__ import annotations

import asyncio
import logging
import math
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from ragas import SingleTurnSample
from ragas.embeddings.base import BaseRagasEmbedding

from app.rag.protocols import Embedder
from eval.run import strip_markers

logger = logging.getLogger(__name__)

NON_LLM_METRICS = ("id_based_context_precision", "id_based_context_recall",
                   "non_llm_context_recall", "non_llm_string_similarity", "rouge_score")
LLM_METRICS = ("faithfulness", "answer_relevancy", "llm_context_precision_with_reference",
               "llm_context_recall")


@dataclass(frozen=True, slots=True)
class Judge:
    """An OpenAI-compatible endpoint that judges answers."""

    base_url: str
    api_key: str
    model: str
    timeout_s: float = 60.0
    max_concurrency: int = 4


class MiniLMEmbeddings(BaseRagasEmbedding):
    """RAGAS embeddings backed by the service's own embedder (the shipped MiniLM)."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__()
        self._embedder = embedder

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return [float(x) for x in self._embedder.embed_query(text)]

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_text(text)

    def embed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return np.asarray(self._embedder.embed_documents(list(texts))).tolist()

    async def aembed_texts(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self.embed_texts(texts)


def _legacy_metrics() -> dict[str, Any]:
    with warnings.catch_warnings():  # they live only in the legacy module in ragas 0.4
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.metrics import (
            IDBasedContextPrecision,
            IDBasedContextRecall,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
            RougeScore,
        )
    return {"id_based_context_precision": IDBasedContextPrecision(),
            "id_based_context_recall": IDBasedContextRecall(),
            "non_llm_context_recall": NonLLMContextRecall(),
            "non_llm_string_similarity": NonLLMStringSimilarity(),
            "rouge_score": RougeScore(rouge_type="rougeL", mode="fmeasure")}


def _answered(record: dict[str, Any]) -> bool:
    return record.get("fallback") is None and bool(strip_markers(record.get("answer", "")))


def _texts(items: Sequence[dict[str, Any]]) -> list[str]:
    return [item["text"] for item in items]


def non_llm_samples(record: dict[str, Any]) -> dict[str, SingleTurnSample | None]:
    """The sample each non-LLM metric scores for one record; None where it does not apply."""
    out: dict[str, SingleTurnSample | None] = dict.fromkeys(NON_LLM_METRICS)
    if not record["answerable"]:
        return out
    contexts = record.get("contexts", [])
    ids = SingleTurnSample(retrieved_context_ids=[c["article_id"] for c in contexts],
                           reference_context_ids=list(record["gold_article_ids"]))
    out["id_based_context_precision"] = ids if contexts else None
    out["id_based_context_recall"] = ids
    if record.get("reference_contexts"):
        out["non_llm_context_recall"] = SingleTurnSample(
            retrieved_contexts=_texts(contexts) or [""],
            reference_contexts=list(record["reference_contexts"]))
    if _answered(record) and record.get("reference_answer"):
        answer = SingleTurnSample(response=strip_markers(record["answer"]),
                                  reference=record["reference_answer"])
        out["non_llm_string_similarity"] = out["rouge_score"] = answer
    return out


async def _non_llm(records: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    metrics = _legacy_metrics()
    scores = []
    for record in records:
        row: dict[str, float] = {}
        for name, sample in non_llm_samples(record).items():
            if sample is not None:
                row[name] = float(await metrics[name].single_turn_ascore(sample))
        scores.append(row)
    return scores


def score_non_llm(records: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """Per record, the non-LLM RAGAS scores that apply to it."""
    return asyncio.run(_non_llm(records))


def _llm_calls(record: dict[str, Any], metrics: dict[str, Any]
               ) -> dict[str, Callable[[], Awaitable[Any]]]:
    question = record["question"]
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    if _answered(record) and record.get("contexts"):  # answered: contexts = passages sent
        response, passages = strip_markers(record["answer"]), _texts(record["contexts"])
        calls["faithfulness"] = lambda: metrics["faithfulness"].ascore(
            user_input=question, response=response, retrieved_contexts=passages)
        calls["answer_relevancy"] = lambda: metrics["answer_relevancy"].ascore(
            user_input=question, response=response)
    contexts = _texts(record.get("contexts", []))
    if record["answerable"] and record.get("reference_answer") and contexts:
        reference = record["reference_answer"]
        calls["llm_context_precision_with_reference"] = lambda: metrics[
            "llm_context_precision_with_reference"].ascore(
            user_input=question, reference=reference, retrieved_contexts=contexts)
        calls["llm_context_recall"] = lambda: metrics["llm_context_recall"].ascore(
            user_input=question, reference=reference, retrieved_contexts=contexts)
    return calls


def _llm_metrics(judge: Judge, embedder: Embedder) -> dict[str, Any]:
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory
    from ragas.metrics.collections import (
        AnswerRelevancy,
        ContextPrecisionWithReference,
        ContextRecall,
        Faithfulness,
    )

    client = AsyncOpenAI(base_url=judge.base_url, api_key=judge.api_key,
                         timeout=judge.timeout_s, max_retries=1)
    llm = llm_factory(judge.model, client=client)
    return {"faithfulness": Faithfulness(llm=llm),
            "answer_relevancy": AnswerRelevancy(llm=llm, embeddings=MiniLMEmbeddings(embedder)),
            "llm_context_precision_with_reference": ContextPrecisionWithReference(
                llm=llm, name="llm_context_precision_with_reference"),
            "llm_context_recall": ContextRecall(llm=llm, name="llm_context_recall")}


async def _llm(records: Sequence[dict[str, Any]], *, judge: Judge,
               embedder: Embedder) -> tuple[list[dict[str, float]], int]:
    metrics = _llm_metrics(judge, embedder)
    gate = asyncio.Semaphore(judge.max_concurrency)
    errors = 0

    async def one(call: Callable[[], Awaitable[Any]], label: str) -> float:
        nonlocal errors
        async with gate:
            try:
                result = await asyncio.wait_for(call(), timeout=judge.timeout_s * 4)
                return float(result.value)
            except Exception as exc:  # a judge failure costs one score, not the run
                errors += 1
                logger.warning("judge failed on %s: %s", label, type(exc).__name__)
                return math.nan

    plans = [_llm_calls(r, metrics) for r in records]
    tasks = [[(name, asyncio.ensure_future(one(call, f"{r['id']}/{name}")))
              for name, call in plan.items()] for r, plan in zip(records, plans, strict=True)]
    rows = []
    for row_tasks in tasks:
        rows.append({name: await task for name, task in row_tasks})
    return rows, errors


def score_llm(records: Sequence[dict[str, Any]], *, judge: Judge,
              embedder: Embedder) -> tuple[list[dict[str, float]], int]:
    """Per record, the LLM-judged scores (NaN where the judge failed), and the failures."""
    return asyncio.run(_llm(records, judge=judge, embedder=embedder))


def aggregate(rows: Sequence[dict[str, float]], names: Sequence[str]) -> dict[str, Any]:
    """Mean of each metric over the records it applies to, with how many it covered."""
    means: dict[str, Any] = {}
    for name in names:
        values = [row[name] for row in rows if name in row and not math.isnan(row[name])]
        means[name] = round(float(np.mean(values)), 4) if values else None
        means[f"{name}_n"] = len(values)
    return means


def score_run(records: list[dict[str, Any]], *, judge: Judge | None = None,
              embedder: Embedder | None = None) -> dict[str, Any]:
    """Score a run's records in place (``record["ragas"]``) and return the RAGAS summary."""
    rows = score_non_llm(records)
    names: list[str] = list(NON_LLM_METRICS)
    extra: dict[str, Any] = {"judge": None}
    if judge is not None:
        if embedder is None:
            raise ValueError("the LLM-judged metrics need the embedder for answer relevancy")
        llm_rows, errors = score_llm(records, judge=judge, embedder=embedder)
        rows = [{**a, **b} for a, b in zip(rows, llm_rows, strict=True)]
        names += LLM_METRICS
        extra = {"judge": judge.model, "judge_errors": errors}
    for record, row in zip(records, rows, strict=True):
        record["ragas"] = {k: (None if math.isnan(v) else round(v, 4)) for k, v in row.items()}
    return {**aggregate(rows, names), **extra}
