"""Pairs from the sample help center: training questions and ticket messages to chunks.

Passages are the chunks the service indexes, in the exact text the reranker sees at serving
time (``Chunk.embedding_text()``: breadcrumb, then body). A first stage like the service's
(BM25 and dense search fused by reciprocal rank) proposes the candidates; the best-ranked chunk
of each gold article is a positive, other chunks of gold articles are left out (they may or
may not answer), high-ranked chunks of other articles are the hard negatives, and a couple of
chunks drawn at random from the whole help center are easy ones (they anchor low scores for
plainly unrelated text, which the answer gate relies on).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.rag.fusion import reciprocal_rank_fusion
from app.rag.protocols import Embedder
from app.rag.sparse import BM25Index, tokenize
from app.rag.types import Chunk, SourceDocument
from ingest.models.reranker.records import DataParams, LabelledQuery, Pair, family, pick_negatives
from ingest.sources import load_path

logger = logging.getLogger(__name__)

MAX_TICKET_WORDS = 60
_QUESTION = re.compile(r"## Customer question\s*\n(.*?)(?:\n## Resolution|\Z)", re.DOTALL)


def published_articles(kb: Path) -> list[SourceDocument]:
    docs = load_path(kb).documents
    return [d for d in docs if d.source_type == "article" and d.status == "published"]


def ticket_queries(folder: Path, *, known: set[str]) -> list[LabelledQuery]:
    """Customer messages of tickets (redacted by the loader) with their linked articles."""
    if not folder.exists():
        return []
    out = []
    for doc in load_path(folder).documents:
        if doc.source_type != "ticket":
            continue
        gold = tuple(t.split(":", 1)[1] for t in doc.tags if t.startswith("article:"))
        gold = tuple(g for g in gold if g in known)
        match = _QUESTION.search(doc.body)
        if gold and match and match.group(1).strip():
            # Long messages would crowd the passage out of the pair's token budget.
            text = " ".join(match.group(1).split()[:MAX_TICKET_WORDS])
            out.append(LabelledQuery(doc.id, text, gold, "tickets"))
    return out


def cached_embeddings(embedder: Embedder, texts: Sequence[str], *, cache: Path) -> np.ndarray:
    """Document embeddings, read from ``cache`` when the same texts were embedded before."""
    digest = hashlib.sha256("\x1e".join([embedder.name, *texts]).encode("utf-8")).hexdigest()
    file = cache / f"{digest[:20]}.npy"
    if file.exists():
        return np.load(file, allow_pickle=False)
    vectors = embedder.embed_documents(list(texts))
    cache.mkdir(parents=True, exist_ok=True)
    np.save(file, vectors, allow_pickle=False)
    return vectors


@dataclass
class ChunkSearch:
    """BM25 plus dense search over a fixed list of chunks, fused like the service.

    Query vectors are kept by text and, with a ``query_file``, read from it at build and
    written back by :meth:`save_queries`, so a second run embeds only queries it has not seen
    (each still embedded alone, as the service embeds a question).
    """

    chunks: list[Chunk]
    vectors: np.ndarray
    bm25: BM25Index
    embedder: Embedder
    query_file: Path | None = None
    queries: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, chunks: list[Chunk], embedder: Embedder, *, cache: Path) -> ChunkSearch:
        texts = [c.embedding_text() for c in chunks]
        vectors = cached_embeddings(embedder, texts, cache=cache)
        name = hashlib.sha256(embedder.name.encode("utf-8")).hexdigest()[:20]
        query_file = cache / f"queries-{name}.npz"
        queries = {}
        if query_file.exists():
            with np.load(query_file, allow_pickle=False) as saved:
                queries = dict(zip(saved["texts"].tolist(), saved["vectors"], strict=True))
        return cls(chunks, vectors, BM25Index.build(tokenize(t) for t in texts), embedder,
                   query_file, queries)

    def save_queries(self) -> None:
        """Write the query vectors embedded so far to ``query_file``."""
        if self.query_file is None or not self.queries:
            return
        self.query_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.query_file.with_name(f".{self.query_file.name}.{os.getpid()}.npz")
        np.savez(tmp, texts=np.array(list(self.queries)),
                 vectors=np.stack(list(self.queries.values())))
        os.replace(tmp, self.query_file)

    def query_vector(self, query: str) -> np.ndarray:
        vector = self.queries.get(query)
        if vector is None:
            vector = self.queries[query] = self.embedder.embed_query(query)
        return vector

    def search(self, query: str, *, k: int) -> tuple[list[int], np.ndarray]:
        """Fused rows (best first) and the dense similarity of every chunk to the query."""
        sims = self.vectors @ self.query_vector(query)
        dense = np.argsort(-sims, kind="stable")[:50]
        rows, scores = self.bm25.search(tokenize(query), 50)
        fused = reciprocal_rank_fusion(
            {"dense": [(int(r), float(sims[r])) for r in dense],
             "sparse": list(zip(rows.tolist(), scores.tolist(), strict=True))})
        fused.sort(key=lambda f: (-f.score, f.row))
        return [f.row for f in fused[:k]], sims


def query_pairs(search: ChunkSearch, query: LabelledQuery, *, params: DataParams,
                rng: random.Random) -> list[Pair]:
    """Positives (best chunk per gold article) and hard negatives for one query."""
    ranked, sims = search.search(query.text, k=params.kb_pool)
    article_of = [c.article_id for c in search.chunks]
    families = [family(a) for a in article_of]
    gold = {family(g) for g in query.gold}
    positives: list[int] = []
    for g in query.gold:
        rows = [i for i, a in enumerate(article_of) if a == g]
        if not rows:
            continue
        in_list = [r for r in ranked if r in rows]
        positives.append(in_list[0] if in_list else max(rows, key=lambda r: sims[r]))
    best = max((float(sims[r]) for r in positives), default=None)
    negatives = pick_negatives(ranked, doc_family=families, gold=gold, query_sim=sims.tolist(),
                               positive_sim=best, margin=params.margin,
                               hard=params.kb_hard_negatives, rand=params.kb_random_negatives,
                               rng=rng)
    taken = set(negatives) | set(positives)
    easy = [r for r in range(len(families)) if families[r] not in gold and r not in taken]
    negatives += rng.sample(easy, min(params.kb_easy_negatives, len(easy)))
    text = search.chunks
    out = [Pair(query.text, text[r].embedding_text(), 1.0, query.source, query.id)
           for r in positives]
    out += [Pair(query.text, text[r].embedding_text(), 0.0, query.source, query.id)
            for r in negatives]
    return out


def helpcenter_pairs(search: ChunkSearch, queries: Sequence[LabelledQuery], *,
                     params: DataParams, rng: random.Random) -> list[Pair]:
    known = {c.article_id for c in search.chunks}
    pairs: list[Pair] = []
    for q in queries:
        missing = [g for g in q.gold if g not in known]
        if missing:
            logger.warning("query %s names articles that are not published: %s", q.id,
                           ", ".join(missing))
        pairs.extend(query_pairs(search, q, params=params, rng=rng))
    return pairs
