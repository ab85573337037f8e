"""Answer an evaluation set with the real pipeline, in process, and record every stage.

The pipeline is the one the service builds (``app.rag.factory``) on the active index, so a
run measures what customers get. One record per question keeps the candidates of every
stage (dense, sparse, fused, reranked) with their ranks and scores, the gate decision, the
answer and its citations, the fallback reason and the latency of every stage.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import IndexNotFoundError
from app.rag.answer import AnswerService, Prepared, decision
from app.rag.index import IndexStore, IndexVersion
from app.rag.protocols import Embedder
from app.rag.retrieve import HybridRetriever, Retrieval, normalise_filters
from app.rag.sparse import tokenize
from app.rag.trace import Decision
from app.rag.types import Candidate
from app.settings import Settings
from eval.datasets import EvalQuestion
from eval.metrics import dedupe_articles

logger = logging.getLogger(__name__)

STAGE_DEPTH = 20  # candidates kept per stage in the run file
UNLIMITED_MS = 1e9
_MARKER = re.compile(r"\s*\[\d+\]")


class RecordingRetriever:
    """The service's retriever, keeping its last result so the run file shows every stage.

    The answer service keeps only the reranked head of the candidates; the dense, sparse and
    fused lists come from here.
    """

    def __init__(self, inner: HybridRetriever) -> None:
        self.inner = inner
        self.last: Retrieval | None = None

    def retrieve(self, index: IndexVersion, query: str, *,
                 filters: dict[str, list[str]] | None = None, k: int = 50) -> Retrieval:
        self.last = self.inner.retrieve(index, query, filters=filters, k=k)
        return self.last


@dataclass
class Pipeline:
    """The loaded pipeline a run answers with."""

    settings: Settings
    embedder: Embedder
    index: IndexVersion
    service: AnswerService
    recorder: RecordingRetriever
    reranker: str | None

    @property
    def gate_kind(self) -> str:
        """Which score the answer gate reads: a fitted answerability model's probability,
        the reranker's, or dense cosine similarity."""
        if self.service.model_decides(self.index):
            return "model"
        reranked = self.service.reranker is not None
        return "rerank" if reranked and self.service.policy.score == "rerank" else "dense"

    def close(self) -> None:
        self.index.close()


def eval_settings(settings: Settings, *, as_served: bool = False) -> Settings:
    """Settings for a reproducible run.

    The reranker's latency budget shrinks its depth when the machine is busy, which would
    make two runs of the same code disagree; unless ``as_served``, the budget is lifted so
    every question is reranked to the configured depth.
    """
    if as_served:
        return settings
    retrieval = settings.retrieval.model_copy(update={"rerank_budget_ms": UNLIMITED_MS})
    return settings.model_copy(update={"retrieval": retrieval})


def default_ingest_paths(settings: Settings) -> list[Path]:
    """What ``python -m ingest`` indexes by default, where it exists."""
    return [p for p in (settings.data_dir / "kb", settings.data_dir / "tickets") if p.exists()]


def ensure_index(settings: Settings, *, embedder: Embedder, paths: Sequence[Path],
                 refresh: bool = False) -> None:
    """Build the index like ``python -m ingest`` when none is active (or ``refresh``)."""
    if not refresh and IndexStore(settings.index.dir).active_name() is not None:
        return
    if not paths:
        raise IndexNotFoundError(f"no index in {settings.index.dir} and nothing to ingest: "
                                 "run `make ingest` or pass --ingest PATH")
    from app.db import make_engine
    from ingest.pipeline import ingest_paths, make_builder

    logger.info("indexing %s", ", ".join(str(p) for p in paths))
    builder = make_builder(settings)
    builder._embedder = embedder  # share the loaded model instead of loading a second copy
    report = ingest_paths(list(paths), settings=settings,
                          engine=make_engine(settings.resolved_database_url), builder=builder)
    for failure in report.failures:
        logger.warning("not ingested: %s: %s", failure.path, failure.reason)
    logger.info("index %s (%s)", report.build.version, report.build.status)


def load_embedder(settings: Settings, embedder: Embedder | None = None) -> Embedder:
    """The embedder a run shares between indexing and answering (loaded unless given)."""
    import torch

    from app.rag.factory import make_embedder

    torch.set_num_threads(settings.torch_threads)
    return embedder or make_embedder(settings)


def load_pipeline(settings: Settings, *, embedder: Embedder | None = None,
                  ingest: Sequence[Path] | None = None, refresh: bool = False) -> Pipeline:
    """Load models and the active index the way the service does (building it if missing)."""
    from app.rag.factory import (
        expected_manifest,
        make_answer_service,
        make_reranker,
        reranker_path,
    )

    embedder = load_embedder(settings, embedder)
    paths = default_ingest_paths(settings) if ingest is None else list(ingest)
    ensure_index(settings, embedder=embedder, paths=paths, refresh=refresh)
    dimension = int(getattr(embedder, "dimension", 384))
    index = IndexStore(settings.index.dir).load_active(
        expected=expected_manifest(settings, dimension=dimension))
    service = make_answer_service(settings, embedder=embedder, reranker=make_reranker(settings))
    recorder = RecordingRetriever(service.retriever)
    service.retriever = recorder  # type: ignore[assignment]
    return Pipeline(settings, embedder, index, service, recorder, reranker_path(settings))


def _hits(candidates: Sequence[Candidate], stage: str) -> list[dict[str, Any]]:
    ranked = sorted((c for c in candidates if stage in c.ranks), key=lambda c: c.ranks[stage])
    return [{"chunk_id": c.chunk.chunk_id, "article_id": c.chunk.article_id,
             "rank": c.ranks[stage], "score": round(c.scores.get(stage, c.score), 5)}
            for c in ranked[:STAGE_DEPTH]]


def stage_lists(retrieval: Retrieval | None, prepared: Prepared) -> dict[str, list[dict]]:
    """Candidates per stage, each in its own rank order."""
    fused = retrieval.candidates if retrieval is not None else prepared.candidates
    stages = {name: _hits(fused, name) for name in ("dense", "sparse", "fused")}
    if any("rerank" in c.ranks for c in prepared.candidates):
        stages["rerank"] = _hits(prepared.candidates, "rerank")
    return stages


def reference_contexts(index: IndexVersion, gold: Sequence[str], *,
                       reference: str) -> list[str]:
    """The passage of the canonical gold article that covers most of the reference answer.

    Sets name gold articles, not passages, and list alternatives after the canonical article
    first; this picks the one passage a grader would point at, for the RAGAS metrics that
    compare retrieved passages with reference passages.
    """
    wanted = set(tokenize(reference))
    for article in gold:
        entry = index.articles.get(article)
        if entry is None:  # not in the index: the next alternative stands in
            continue
        start, end = entry["rows"]
        chunks = [index.chunks[row] for row in range(start, end)]
        best = max(chunks, key=lambda c: len(wanted & set(tokenize(c.embedding_text()))))
        return [best.text]
    return []


def strip_markers(answer: str) -> str:
    """The answer without its ``[n]`` citation markers."""
    return _MARKER.sub("", answer).strip()


def _gate(decision: Decision) -> dict[str, Any]:
    return {"score": round(decision.score, 5), "agreement": decision.agreement,
            "kind": decision.kind, "threshold": round(decision.threshold, 5),
            "outcome": decision.outcome,
            "signals": {k: round(v, 5) for k, v in decision.signals.items()}}


def _contexts(service: AnswerService, prepared: Prepared) -> list[dict[str, str]]:
    """The passages the generator gets, or would get had the gate let the question through.

    Context metrics judge retrieval, so a question the gate stopped still has contexts.
    """
    passages = prepared.passages or service.passages(prepared.candidates)
    return [{"chunk_id": p.chunk.chunk_id, "article_id": p.chunk.article_id,
             "text": p.chunk.text} for p in passages]


def answer_record(pipeline: Pipeline, q: EvalQuestion) -> dict[str, Any]:
    """Answer one question and describe everything that happened, from the answer's trace."""
    filters = normalise_filters({})
    pipeline.recorder.last = None
    started = time.perf_counter()
    result = pipeline.service.answer(pipeline.index, q.question, history=q.history,
                                     filters=filters)
    wall = round((time.perf_counter() - started) * 1000, 3)
    trace = result.trace
    assert trace is not None
    prepared = result.prepared
    fallback = result.fallback
    return q.to_dict() | {
        "query": trace.query,
        "stages": stage_lists(pipeline.recorder.last, prepared),
        "ranked_article_ids": list(dedupe_articles(c.chunk.article_id
                                                   for c in prepared.candidates)),
        "gate": _gate(trace.decision),
        "answer": result.answer,
        "citations": [{"n": c.n, "chunk_id": c.chunk_id, "article_id": c.article_id,
                       "score": c.score} for c in result.citations],
        "fallback": None if fallback is None else {
            "reason": fallback.reason,
            "suggestions": [s.article_id for s in fallback.suggestions],
            "snippet": next((s.snippet for s in fallback.suggestions if s.snippet), "")},
        "passages": [{"n": p.n, "chunk_id": p.chunk_id, "article_id": p.article_id}
                     for p in trace.passages],
        "sentences": [{"text": s.text, "citations": list(s.citations), "why": s.why}
                      for s in trace.sentences],
        "contexts": _contexts(pipeline.service, prepared),
        "reference_contexts": (reference_contexts(pipeline.index, q.gold_article_ids,
                                                  reference=q.reference_answer or q.question)
                               if q.answerable else []),
        "generator": trace.generator,
        "rerank": {"depth": trace.rerank_depth, "reduced": trace.rerank_reduced},
        "timings_ms": {**result.timings_ms, "wall": wall},
    }


def gate_record(pipeline: Pipeline, q: EvalQuestion) -> dict[str, Any]:
    """Retrieve, rerank and gate one question without generating (for calibration)."""
    prepared = pipeline.service.prepare(pipeline.index, q.question, history=q.history,
                                        filters=normalise_filters({}))
    return q.to_dict() | {
        "query": prepared.query,
        "ranked_article_ids": list(dedupe_articles(c.chunk.article_id
                                                   for c in prepared.candidates)),
        "gate": _gate(decision(prepared)),
        "fallback": None if prepared.fallback is None else {
            "reason": prepared.fallback.reason, "suggestions": []},
        "timings_ms": dict(prepared.timings_ms),
    }


def run_questions(pipeline: Pipeline, questions: Sequence[EvalQuestion], *,
                  progress: Callable[[int], object] | None = None,
                  generate: bool = True) -> list[dict[str, Any]]:
    """Answer every question (or only gate it when not ``generate``).

    A question that raises is recorded with its error instead of ending the run.
    """
    pipeline.service.prepare(pipeline.index, "warm up")  # first-call costs stay out of latency
    records = []
    for q in questions:
        try:
            records.append(answer_record(pipeline, q) if generate else gate_record(pipeline, q))
        except Exception as exc:  # one broken question must not lose a nightly run
            logger.exception("question %s failed", q.id)
            records.append(q.to_dict() | {
                "error": f"{type(exc).__name__}: {exc}", "stages": {}, "ranked_article_ids": [],
                "gate": {"score": 0.0, "agreement": False, "kind": "none"}, "answer": "",
                "citations": [], "fallback": {"reason": "error", "suggestions": []},
                "passages": [], "contexts": [], "reference_contexts": [], "timings_ms": {}})
        if progress is not None:
            progress(1)
    return records
