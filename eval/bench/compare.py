"""Side by side, on one benchmark index: BM25 implementations, exact against approximate
dense search, and reranking depths.

- BM25: rank-bm25's ``BM25Okapi`` against the service's sparse-matrix BM25 on the index's
  own passages and the benchmark questions (``eval.bench.sparse.measure``).
- Dense: FAISS exact inner product (``IndexFlatIP``) against HNSW with the service's
  parameters, on the index's (stand-in) vectors: build time, size, latency, recall@10.
- Reranking: the cross-encoder's cost at depth 10, 20 and 40 on the fused candidates, with
  how often the top passage and the source article's rank agree with depth 40.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from eval.bench.stats import recall_at_k, summary
from eval.bench.synth import Question


def bm25_side_by_side(index: Any, questions: Sequence[Question], *,
                      oracle_queries: int = 5) -> dict[str, Any]:
    """Both BM25s on the passages of a loaded index version."""
    from app.rag.sparse import tokenize
    from eval.bench.sparse import measure

    docs = [tokenize(c.embedding_text()) for c in index.chunks]
    queries = [tokenize(q.text) for q in questions]
    return {**measure(docs, queries, oracle_queries=oracle_queries), "corpus": "index passages"}


def _search_ms(index: Any, queries: np.ndarray, k: int) -> tuple[list[float], list[list[int]]]:
    times, rows = [], []
    for q in queries:
        started = time.perf_counter()
        _, found = index.search(q.reshape(1, -1), k)
        times.append((time.perf_counter() - started) * 1000)
        rows.append(found[0].tolist())
    return times, rows


def exact_vs_hnsw(vectors: np.ndarray, queries: np.ndarray, *, m: int = 32,
                  ef_construction: int = 200, ef_search: int = 256,
                  k: int = 10) -> dict[str, Any]:
    """Build both FAISS indexes over ``vectors`` and compare them on ``queries``."""
    faiss: Any = importlib.import_module("faiss")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    out: dict[str, Any] = {"vectors": len(vectors), "dimension": int(vectors.shape[1]),
                           "queries": len(queries), "k": k}
    started = time.perf_counter()
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    flat_build = time.perf_counter() - started
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    hnsw.add(vectors)
    hnsw_build = time.perf_counter() - started
    hnsw.hnsw.efSearch = ef_search
    flat_ms, exact = _search_ms(flat, queries, k)
    hnsw_ms, approx = _search_ms(hnsw, queries, k)
    out["exact"] = {"build_s": round(flat_build, 2), "search_ms": summary(flat_ms, digits=2),
                    "bytes": int(faiss.serialize_index(flat).nbytes)}
    out["hnsw"] = {"build_s": round(hnsw_build, 2), "search_ms": summary(hnsw_ms, digits=2),
                   "bytes": int(faiss.serialize_index(hnsw).nbytes), "m": m,
                   "ef_construction": ef_construction, "ef_search": ef_search,
                   f"recall@{k}": recall_at_k(exact, approx, k)}
    return out


def rerank_depths(index: Any, questions: Sequence[Question], *, retriever: Any,
                  reranker: Any, depths: Sequence[int] = (10, 20, 40)) -> dict[str, Any]:
    """Cross-encoder cost and agreement at several depths on the same fused candidates."""
    from app.rag.retrieve import normalise_filters

    filters = normalise_filters({})
    costs: dict[int, list[float]] = {d: [] for d in depths}
    top_same: dict[int, int] = dict.fromkeys(depths, 0)
    hit5: dict[int, int] = dict.fromkeys(depths, 0)
    deepest = max(depths)
    asked = 0
    for q in questions:
        candidates = retriever.retrieve(index, q.text, filters=filters).candidates
        if not candidates:
            continue
        asked += 1
        texts = [c.chunk.embedding_text() for c in candidates[:deepest]]
        tops: dict[int, list[str]] = {}
        for d in depths:
            started = time.perf_counter()
            scores = reranker.score(q.text, texts[:d])
            costs[d].append((time.perf_counter() - started) * 1000)
            order = np.argsort(-scores, kind="stable")
            tops[d] = [candidates[int(i)].chunk.article_id for i in order[:5]]
            hit5[d] += bool(q.article_id) and q.article_id in tops[d]
        for d in depths:
            top_same[d] += tops[d][:1] == tops[deepest][:1]
    return {"questions": asked, "reranker": getattr(reranker, "name", "?"), "depths": {
        str(d): {"rerank_ms": summary(costs[d]),
                 "ms_per_pair": round(float(np.median(costs[d])) / d, 2) if costs[d] else None,
                 "top1_same_as_deepest": round(top_same[d] / asked, 3) if asked else None,
                 "source_in_top5": round(hit5[d] / asked, 3) if asked else None}
        for d in depths}}
