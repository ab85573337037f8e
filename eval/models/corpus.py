"""Retrieval benchmarks over an external corpus with the service's own building blocks.

BM25 (``app.rag.sparse``), dense all-MiniLM-L6-v2 (``app.rag.embed``), reciprocal rank fusion
as ``HybridRetriever`` does it (50 candidates from each side, k = 60) and cross-encoder
reranking of the fused head blended as ``BudgetedReranker`` does it (``app.rag.rerank.blend``).
Embeddings and cross-encoder scores are cached (``Settings.cache_dir``) so a second run, or a
run with another blend weight, recomputes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.rag.fusion import reciprocal_rank_fusion
from app.rag.protocols import Embedder, Reranker
from app.rag.rerank import CrossEncoderReranker, blend
from app.rag.sparse import BM25Index, tokenize
from app.settings import RetrievalSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    text: str
    gold: dict[str, int]  # doc id -> graded relevance


def embeddings(embedder: Embedder, texts: Sequence[str], *, cache: Path) -> np.ndarray:
    """Embeddings of ``texts``, cached by a hash of the model name and the texts."""
    digest = hashlib.sha256("\x1e".join([embedder.name, *texts]).encode("utf-8")).hexdigest()
    file = cache / "embeddings" / f"{digest[:24]}.npy"
    if file.exists():
        return np.load(file, allow_pickle=False)
    logger.info("embedding %d texts (cached afterwards in %s)", len(texts), file)
    vectors = embedder.embed_documents(list(texts))
    file.parent.mkdir(parents=True, exist_ok=True)
    np.save(file, vectors, allow_pickle=False)
    return vectors


class Corpus:
    """Documents with a BM25 index and dense vectors; ``digest`` identifies their content."""

    def __init__(self, ids: Sequence[str], texts: Sequence[str], *, embedder: Embedder,
                 cache: Path) -> None:
        self.ids, self.texts = list(ids), list(texts)
        self.digest = hashlib.sha256("\x1e".join([*self.ids, *self.texts]).encode("utf-8")
                                     ).hexdigest()[:12]
        self.bm25 = BM25Index.build(tokenize(t) for t in self.texts)
        self.vectors = embeddings(embedder, self.texts, cache=cache)
        self.embedder, self.cache = embedder, cache

    def rankings(self, queries: Sequence[Query], *, k: int = 50
                 ) -> dict[str, dict[str, list[tuple[int, float]]]]:
        """Per query: ``bm25``, ``dense`` and ``hybrid`` (RRF) lists of (row, score)."""
        qvecs = embeddings(self.embedder, [q.text for q in queries], cache=self.cache)
        out = {}
        for q, qv in zip(queries, qvecs, strict=True):
            sims = self.vectors @ qv
            top = np.argsort(-sims, kind="stable")[:k]
            dense = [(int(r), float(sims[r])) for r in top]
            rows, scores = self.bm25.search(tokenize(q.text), k)
            sparse = list(zip(rows.tolist(), scores.tolist(), strict=True))
            fused = reciprocal_rank_fusion({"dense": dense, "sparse": sparse}, k=60)
            fused.sort(key=lambda f: (-f.score, f.row))
            out[q.id] = {"bm25": sparse, "dense": dense,
                         "hybrid": [(f.row, f.score) for f in fused]}
        return out


class ScoreCache:
    """Cross-encoder probabilities per (query text, document), one JSON file per model.

    Keyed by the query's text, not its id, so a change in how a query is written (an entity
    prefix, say) is scored afresh instead of reusing a score of the old text.

    A query's candidates are scored in one call, all of them again when any is missing: with
    int8 weights a pair's score depends slightly on the other pairs in its batch (dynamic
    quantisation scales activations per batch), and the service scores a request's reranked
    head in one call. Use one cache ``name`` per rerank depth.
    """

    def __init__(self, reranker: Reranker, *, signature: str, name: str,
                 cache: Path) -> None:
        self.reranker = reranker
        self.file = cache / "rerank" / f"{name}-{signature}.json"
        self.scores: dict[str, float] = (json.loads(self.file.read_text(encoding="utf-8"))
                                         if self.file.exists() else {})

    def score(self, query: Query, rows: Sequence[int], texts: Sequence[str],
              ids: Sequence[str]) -> np.ndarray:
        keys = [f"{query.text}\x1f{ids[r]}" for r in rows]
        if any(k not in self.scores for k in keys):
            fresh = self.reranker.score(query.text, [texts[r] for r in rows])
            self.scores.update(zip(keys, map(float, fresh), strict=True))
        return np.array([self.scores[k] for k in keys])

    def save(self) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(self.scores), encoding="utf-8")


def weights_digest(folder: str) -> str:
    """Identifies a model folder's weights wherever it lies (size and hash of its config,
    training record and first bytes of the weights); empty for a folder that does not exist."""
    path = Path(folder)
    if not path.is_dir():
        return ""
    h = hashlib.sha256()
    for name in ("config.json", "training.json", "model.safetensors"):
        file = path / name
        if file.exists():
            h.update(str(file.stat().st_size).encode())
            with file.open("rb") as f:
                h.update(f.read(1 << 20))
    return h.hexdigest()[:16]


def model_signature(folder: str) -> str:
    """Identifies a model folder: its path and its weights."""
    return hashlib.sha256(f"{folder}\0{weights_digest(folder)}".encode()).hexdigest()[:16]


def add_runtime_options(parser: argparse.ArgumentParser, retrieval: RetrievalSettings) -> None:
    """``--int8/--no-int8`` and ``--backend``: score as the service loads the reranker."""
    parser.add_argument("--int8", action=argparse.BooleanOptionalAction,
                        default=retrieval.reranker_int8,
                        help="int8 reranker weights, as the service loads them (default: "
                             "settings)")
    parser.add_argument("--backend", choices=("torch", "onnx"),
                        default=retrieval.reranker_backend,
                        help="reranker runtime (default: settings)")


def score_signature(folder: str, model: CrossEncoderReranker) -> str:
    """What a cached score depends on: the weights, the token budget, int8 and focusing."""
    return (f"{model_signature(folder)}-{model.max_length}"
            + ("-int8" if model.int8 else "") + ("-focus" if model.focus else "")
            + ("-onnx" if model.backend == "onnx" else ""))


def reranked(hybrid: Sequence[tuple[int, float]], probs: np.ndarray, *, depth: int,
             weight: float) -> list[int]:
    """The hybrid list with its head reordered by the blended score, the tail unchanged."""
    head = list(hybrid[:depth])
    blended = blend(probs, np.array([s for _, s in head]), weight=weight)
    order = sorted(range(len(head)), key=lambda i: (-blended[i], i))
    return [head[i][0] for i in order] + [r for r, _ in hybrid[depth:]]


def ndcg_at(ranked: Sequence[str], gold: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (BEIR's definition: gain = relevance, log2 discount)."""
    dcg = sum(gold.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(gold.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], gold: Mapping[str, int], k: int) -> float:
    relevant = {d for d, g in gold.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr(ranked: Sequence[str], gold: Mapping[str, int]) -> float:
    for i, d in enumerate(ranked, start=1):
        if gold.get(d, 0) > 0:
            return 1.0 / i
    return 0.0


Metric = Callable[[Sequence[str], Mapping[str, int]], float]


def metric(name: str) -> Metric:
    """The metric called ``name``: ``ndcg@K``, ``recall@K`` or ``mrr``.

    Raises:
        ValueError: ``name`` is none of these.
    """
    kind, _, k = name.partition("@")
    if name == "mrr":
        return mrr
    if k.isdigit() and int(k) > 0:
        if kind == "ndcg":
            return lambda ranked, gold: ndcg_at(ranked, gold, int(k))
        if kind == "recall":
            return lambda ranked, gold: recall_at(ranked, gold, int(k))
    raise ValueError(f"unknown metric {name!r}: use ndcg@K, recall@K or mrr")


def mean(measure: Metric, runs: Mapping[str, Sequence[str]], queries: Sequence[Query]) -> float:
    """``measure`` averaged over the queries, to 4 decimals."""
    return round(float(np.mean([measure(runs[q.id], q.gold) for q in queries])), 4)


def scores(runs: Mapping[str, Sequence[str]], queries: Sequence[Query],
           metrics: Sequence[str]) -> dict[str, float]:
    """Each named metric (see ``metric``) of one system's runs, averaged over the queries."""
    return {name: mean(metric(name), runs, queries) for name in metrics}


RERANKED = "hybrid+rerank"  # the label of the reranker under evaluation; "compare" for another


def reranked_system(depth: int, weight: float, *, label: str = RERANKED) -> str:
    """The name of a reranked system in reports: ``hybrid+rerank@20 w=0.7``."""
    return f"{label}@{depth} w={weight}"


def print_table(title: str, rows: Sequence[Mapping[str, object]]) -> None:
    """A plain text table of dicts sharing the same keys."""
    if not rows:
        return
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print(title)
    print("  ".join(k.ljust(widths[k]) for k in keys))
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys))
