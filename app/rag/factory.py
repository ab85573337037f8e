"""The only place that maps settings to implementations."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from app.content.safety import ContentSafety
from app.errors import ConfigurationError
from app.rag import spelling
from app.rag.answer import AnswerService, GatePolicy
from app.rag.build import DenseParams, IndexBuilder
from app.rag.chunk import ChunkerParams, MarkdownChunker
from app.rag.citations import CitationVerifier
from app.rag.decide import AnswerabilityModel
from app.rag.embed import HFTokenCounter, SentenceTransformerEmbedder, embedder_manifest
from app.rag.extractive import ExtractiveGenerator
from app.rag.generate import OpenAIGenerator
from app.rag.index import IndexStore
from app.rag.protocols import Embedder, Generator, QueryRewriter, Reranker
from app.rag.rerank import BudgetedReranker, CrossEncoderReranker
from app.rag.retrieve import HybridRetriever
from app.rag.rewrite import LLMRewriter, RuleBasedRewriter
from app.rag.sentences import SCORED_UNITS, SentenceScorer
from app.rag.throttle import ModelSlots, ThrottledEmbedder, ThrottledReranker
from app.settings import DEFAULT_EMBEDDER, Settings

logger = logging.getLogger(__name__)

def usable_cores() -> int:
    """The CPU cores this process may run on (a process pinned with ``taskset`` gets its own
    count, not the machine's)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def expected_manifest(settings: Settings, *, dimension: int) -> dict[str, object]:
    """What an index must have been built with to be served under these settings."""
    e = settings.embedder
    return {"embedder": embedder_manifest(e.model, dimension=dimension,
                                          max_seq_length=e.max_seq_length),
            "chunker": settings.chunker.model_dump()}


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    e = settings.embedder
    return SentenceTransformerEmbedder(e.model, batch_size=e.batch_size,
                                       max_seq_length=e.max_seq_length)


def make_index_builder(settings: Settings, *, embedder: Embedder | None = None,
                       store: IndexStore | None = None) -> IndexBuilder:
    """The builder of ``python -m ingest`` and of the service's re-index jobs.

    Args:
        settings: Chunker, embedder and index settings.
        embedder: A loaded embedder to share (the service's); without one, the model loads
            only when a build has something to embed, so an unchanged run stays fast.
        store: Where versions are published; defaults to ``settings.index.dir``.
    """
    c, ix = settings.chunker, settings.index
    chunker = MarkdownChunker(
        HFTokenCounter(settings.embedder.model),
        ChunkerParams(max_tokens=c.max_tokens, min_tokens=c.min_tokens,
                      overlap_tokens=c.overlap_tokens, hard_max_tokens=c.hard_max_tokens),
    )
    shared = embedder

    def load() -> Embedder:
        return shared if shared is not None else make_embedder(settings)

    if shared is not None:
        dimension = shared.dimension
    else:  # the default model's dimension is known; any other model is loaded to ask
        dimension = 384 if settings.embedder.model == DEFAULT_EMBEDDER else load().dimension
    return IndexBuilder(
        store=store or IndexStore(ix.dir), chunker=chunker, embedder=load,
        embedder_info=embedder_manifest(settings.embedder.model, dimension=dimension,
                                        max_seq_length=settings.embedder.max_seq_length),
        dense=DenseParams(hnsw_threshold=ix.hnsw_threshold, hnsw_m=ix.hnsw_m,
                          ef_construction=ix.hnsw_ef_construction,
                          ef_search=ix.hnsw_ef_search),
        keep_versions=ix.keep_versions, safety=make_content_safety(settings),
    )


def make_content_safety(settings: Settings) -> ContentSafety:
    """The content-safety check that holds documents at build time and screens passages."""
    return ContentSafety(settings.content.allowed_domains)


def reranker_path(settings: Settings) -> str | None:
    """The configured reranker, the shipped one when none is configured, or None."""
    value = settings.retrieval.reranker.strip()
    if value.lower() == "none":
        return None
    if value:
        return value
    shipped = settings.shipped_reranker
    return str(shipped) if (shipped / "config.json").exists() else None


def make_reranker(settings: Settings) -> Reranker | None:
    """The cross-encoder, loaded only where it is used: reranking (``rerank_depth`` > 0),
    scoring the top passages' sentences (``answer.sentence_scoring``) or checking an LLM's
    sentences against their passages."""
    if (settings.retrieval.rerank_depth == 0 and not settings.llm.base_url
            and not settings.answer.sentence_scoring):
        logger.info("the cross-encoder is not loaded: reranking is off "
                    "(GROUNDLINE_RETRIEVAL__RERANK_DEPTH=0) and sentences are not scored with it")
        return None
    path = reranker_path(settings)
    if path is None:
        logger.warning("no cross-encoder reranker configured")
        return None
    return CrossEncoderReranker(path, max_length=settings.retrieval.reranker_max_length,
                                int8=settings.retrieval.reranker_int8,
                                focus=settings.retrieval.reranker_focus,
                                backend=settings.retrieval.reranker_backend,
                                onnx_cache=settings.onnx_cache)


def make_generator(settings: Settings) -> Generator:
    llm = settings.llm
    if not llm.base_url:
        return ExtractiveGenerator()
    return OpenAIGenerator(base_url=llm.base_url, api_key=llm.api_key.get_secret_value(),
                           model=llm.model, timeout_s=llm.timeout_s,
                           max_tokens=llm.max_tokens, temperature=llm.temperature)


def sentence_scorer_name(settings: Settings) -> str | None:
    """The cross-encoder that scores sentences under these settings and how many units it
    reads ("support-reranker@6"; the answerability model's manifest keeps it), None when
    sentences are not scored."""
    path = reranker_path(settings) if settings.answer.sentence_scoring else None
    return f"{Path(path).name}@{SCORED_UNITS}" if path else None


def decision_model(settings: Settings) -> AnswerabilityModel | None:
    """The answerability model the gate uses, at the threshold for the configured target.

    The operator's fitted model (``answer.decision_file``) when there is one, else the
    shipped one; None when the gate is set to score bars, or when the model's signals came
    from another reranker than the one loaded, or with reranking on where it was fitted
    without (or the reverse): the dense bars decide then.
    """
    a = settings.answer
    if a.gate_score != "model":
        return None
    path = a.decision_file if a.decision_file.exists() else settings.shipped_decision
    if not path.exists():
        logger.warning("no answerability model at %s or %s: the answer gate uses the dense "
                       "score bars", a.decision_file, settings.shipped_decision)
        return None
    try:
        model = AnswerabilityModel.load(path)
    except ConfigurationError as exc:  # e.g. fitted by an older version with other signals
        logger.warning("the answerability model in %s cannot be used (%s): the answer gate "
                       "uses the dense score bars", path, exc)
        return None
    fitted = model.manifest.get("reranker")
    current = reranker_path(settings) if settings.retrieval.rerank_depth > 0 else None
    if "reranker" in model.manifest and (Path(str(fitted)).name if fitted else None) != (
            Path(current).name if current else None):
        logger.warning("the answerability model in %s was fitted with the reranker %s, not "
                       "%s: the answer gate uses the dense score bars; run `make calibrate`",
                       path, fitted, current)
        return None
    scorer = sentence_scorer_name(settings)
    if model.manifest.get("sentence_scorer") != scorer and any(
            w for s, w in zip(model.signals, model.weights, strict=True)
            if s == "sentence_rerank"):
        logger.warning("the answerability model in %s was fitted with sentences scored by %s, "
                       "not %s: the answer gate uses the dense score bars; run `make "
                       "calibrate`", path, model.manifest.get("sentence_scorer"), scorer)
        return None
    model = model.with_target(a.max_false_answer_rate)
    logger.info("answer decision by the model in %s (threshold %.3f for a false-answer rate "
                "of %.2f)", path, model.threshold, a.max_false_answer_rate)
    return model


def gate_policy(settings: Settings) -> GatePolicy:
    a = settings.answer
    min_score, dense_min_score = a.min_score, a.dense_min_score
    if a.threshold_file.exists():
        calibrated = json.loads(a.threshold_file.read_text(encoding="utf-8"))
        min_score = float(calibrated.get("min_score", min_score))
        dense_min_score = float(calibrated.get("dense_min_score", dense_min_score))
        logger.info("answer thresholds %.3f (reranker) and %.3f (dense) from %s",
                    min_score, dense_min_score, a.threshold_file)
    return GatePolicy(score="rerank" if a.gate_score == "rerank" else "dense",
                      min_score=min_score, model=decision_model(settings),
                      min_score_agreement=min(a.min_score_agreement, min_score),
                      dense_min_score=dense_min_score,
                      dense_min_score_agreement=min(a.dense_min_score_agreement,
                                                    dense_min_score),
                      max_passages=a.max_passages, passage_ratio=a.passage_ratio,
                      suggestions=a.suggestions,
                      related_min_similarity=a.related_min_similarity)


def make_answer_service(settings: Settings, *, embedder: Embedder,
                        reranker: Reranker | None = None,
                        generator: Generator | None = None,
                        on_slot_wait: Callable[[float], None] | None = None) -> AnswerService:
    r = settings.retrieval
    slots = ModelSlots(settings.model_concurrency or usable_cores(), on_wait=on_slot_wait)
    embedder = ThrottledEmbedder(embedder, slots)
    reranker = ThrottledReranker(reranker, slots) if reranker is not None else None
    retriever = HybridRetriever(embedder, dense_k=r.dense_k, sparse_k=r.sparse_k,
                                fusion=r.fusion, rrf_k=r.rrf_k,
                                weights={"dense": r.dense_weight, "sparse": r.sparse_weight},
                                ef_search=settings.index.hnsw_ef_search,
                                ticket_weight=r.ticket_weight)
    generator = generator or make_generator(settings)
    # An LLM's sentences must also convince the cross-encoder that the cited passage backs
    # them; extractive sentences are copied from the passages, so overlap suffices.
    checker = reranker if not isinstance(generator, ExtractiveGenerator) else None
    # The word lists that tell a misspelt question word from a real one take about a second
    # to load: in the background, so that start-up does not wait and a first question
    # rarely does.
    threading.Thread(target=spelling.dictionary, name="word-lists", daemon=True).start()
    budgeted = (BudgetedReranker(reranker, depth=r.rerank_depth, budget_ms=r.rerank_budget_ms,
                                 fusion_weight=r.rerank_fusion_weight)
                if reranker is not None and r.rerank_depth > 0 else None)
    return AnswerService(
        retriever=retriever, reranker=budgeted,
        generator=generator,
        verifier=CitationVerifier(min_overlap=settings.answer.min_overlap, reranker=checker,
                                  min_reranker_score=settings.answer.min_support_score),
        policy=gate_policy(settings), rewriter=make_rewriter(settings),
        safety=make_content_safety(settings),
        sentence_scorer=(SentenceScorer(reranker) if reranker is not None
                         and settings.answer.sentence_scoring else None),
    )


def make_rewriter(settings: Settings) -> QueryRewriter:
    llm = settings.llm
    if not llm.base_url:
        return RuleBasedRewriter()
    return LLMRewriter(base_url=llm.base_url, api_key=llm.api_key.get_secret_value(),
                       model=llm.model, timeout_s=min(llm.timeout_s, 5.0))
