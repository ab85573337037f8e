"""The benchmark's parts as plain functions of folders and counts (the runner times them)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.bench import sizes
from eval.bench.synth import sample_questions

Say = Callable[[str], None]


def build(root: Path, articles: int, seed: int, fresh: bool) -> dict[str, Any]:
    """Generate and index one size in a child process (its peak memory is its own)."""
    return sizes.build_size(root, articles, seed=seed, fresh=fresh)


def incremental(root: Path) -> dict[str, Any]:
    return sizes.incremental(root)


def served(root: Path, plan: sizes.SizePlan, say: Say) -> dict[str, Any]:
    return sizes.measure_size(root, plan, say=say)


def ingestion(work: Path, sources: Path, articles: int | None) -> dict[str, Any]:
    from eval.bench.ingestion import measure_ingestion

    return measure_ingestion(work, sources=sources, limit=articles)


def reranker_path(option: str | None) -> str | None:
    """The reranker a benchmark server uses: the option, else the service's default."""
    if option is not None:
        return None if option.strip().lower() == "none" else option
    from app.rag.factory import reranker_path as default_path
    from app.settings import Settings

    return default_path(Settings())


def _index(root: Path) -> Any:
    from app.rag.index import IndexStore

    return IndexStore(root / "index").load_active()


def bm25(root: Path, questions: int, oracle_queries: int) -> dict[str, Any]:
    from eval.bench.compare import bm25_side_by_side

    index = _index(root)
    try:
        return bm25_side_by_side(index, sample_questions(root / "questions.jsonl", questions),
                                 oracle_queries=oracle_queries)
    finally:
        index.close()


def dense(root: Path, questions: int) -> dict[str, Any]:
    import numpy as np

    from app.settings import Settings
    from eval.bench.compare import exact_vs_hnsw
    from eval.bench.standin import HashingEmbedder

    index = _index(root)
    try:
        vectors = index.dense.vectors()
        served_kind = index.dense.kind
    finally:
        index.close()
    embedder = HashingEmbedder()
    asked = sample_questions(root / "questions.jsonl", questions)
    queries = np.stack([embedder.embed_query(q.text) for q in asked])
    ix = Settings().index
    result = exact_vs_hnsw(vectors, queries, m=ix.hnsw_m, ef_construction=ix.hnsw_ef_construction,
                           ef_search=ix.hnsw_ef_search)
    return {**result, "served": served_kind, "vectors_from": "stand-in embedder"}


def rerank(root: Path, questions: int, reranker: str) -> dict[str, Any]:
    """Rerank depths 10/20/40 in this process, one torch thread as in the service."""
    import torch

    from app.rag.factory import make_answer_service
    from app.rag.rerank import CrossEncoderReranker
    from app.settings import Settings
    from eval.bench.compare import rerank_depths
    from eval.bench.standin import HashingEmbedder

    settings = Settings()
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.torch_threads)
    index = _index(root)
    try:
        model = CrossEncoderReranker(reranker,
                                     max_length=settings.retrieval.reranker_max_length,
                                     int8=settings.retrieval.reranker_int8,
                                     backend=settings.retrieval.reranker_backend,
                                     onnx_cache=settings.onnx_cache)
        model.score("warm up", ["the model"])
        retriever = make_answer_service(settings, embedder=HashingEmbedder()).retriever
        return rerank_depths(index, sample_questions(root / "questions.jsonl", questions),
                             retriever=retriever, reranker=model)
    finally:
        index.close()
        torch.set_num_threads(threads)
