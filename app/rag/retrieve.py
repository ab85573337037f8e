"""Hybrid retrieval: dense (FAISS) and sparse (BM25) candidates, filtered, then fused."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from app.errors import RagError
from app.rag.fusion import Fused, reciprocal_rank_fusion, weighted_score_fusion
from app.rag.index import FILTER_FIELDS, IndexVersion
from app.rag.protocols import Embedder
from app.rag.sparse import tokenize
from app.rag.types import Candidate

DEFAULT_FILTERS: dict[str, list[str]] = {"status": ["published"]}


class FilterError(RagError, ValueError):
    """A filter names an unknown field."""


def normalise_filters(filters: Mapping[str, str | Sequence[str] | None] | None
                      ) -> dict[str, list[str]]:
    """Validate filters; only published content is ever searchable from the chat API."""
    out = dict(DEFAULT_FILTERS)
    for field, value in (filters or {}).items():
        if value is None:
            continue
        if field not in FILTER_FIELDS:
            raise FilterError(f"unknown filter {field!r}; filters are {', '.join(FILTER_FIELDS)}")
        if field == "status":
            continue  # drafts and archived articles are stored, never served
        values = [value] if isinstance(value, str) else list(value)
        if not values or not all(isinstance(v, str) and v for v in values):
            raise FilterError(f"filter {field!r} needs a non-empty string or list of strings")
        out[field] = values
    return out


@dataclass(frozen=True, slots=True)
class Retrieval:
    candidates: tuple[Candidate, ...]
    timings_ms: dict[str, float]


class HybridRetriever:
    """Dense and sparse search over one index version, fused into one candidate list.

    Filters are applied inside both searches (a mask before the top-k cut), so a filter never
    empties a list that had matching documents further down.
    """

    def __init__(self, embedder: Embedder, *, dense_k: int = 50, sparse_k: int = 50,
                 fusion: str = "rrf", rrf_k: int = 60,
                 weights: Mapping[str, float] | None = None, ef_search: int | None = None,
                 ticket_weight: float = 1.0) -> None:
        if fusion not in ("rrf", "weighted"):
            raise ValueError("fusion must be 'rrf' or 'weighted'")
        if not 0 <= ticket_weight <= 1:
            raise ValueError("ticket_weight must be between 0 and 1")
        self.ticket_weight = ticket_weight
        self.embedder = embedder
        self.dense_k, self.sparse_k = dense_k, sparse_k
        self.fusion, self.rrf_k = fusion, rrf_k
        self.weights = dict(weights or {"dense": 1.0, "sparse": 1.0})
        self.ef_search = ef_search

    def retrieve(self, index: IndexVersion, query: str, *,
                 filters: dict[str, list[str]] | None = None, k: int = 50) -> Retrieval:
        timings: dict[str, float] = {}
        mask = index.field_mask(filters or {})
        t = time.perf_counter()
        qvec = self.embedder.embed_query(query)
        rows, scores = index.dense.search(qvec, self.dense_k, mask=mask, ef_search=self.ef_search)
        timings["dense"] = _ms(t)
        t = time.perf_counter()
        srows, sscores = index.sparse.search(tokenize(query), self.sparse_k, mask=mask)
        timings["sparse"] = _ms(t)
        t = time.perf_counter()
        lists = {"dense": list(zip(rows.tolist(), scores.tolist(), strict=True)),
                 "sparse": list(zip(srows.tolist(), sscores.tolist(), strict=True))}
        fused = (reciprocal_rank_fusion(lists, k=self.rrf_k, weights=self.weights)
                 if self.fusion == "rrf" else weighted_score_fusion(lists, weights=self.weights))
        candidates = self._rank(index, fused, ticket_weight=self.ticket_weight)[:k]
        timings["fuse"] = _ms(t)
        return Retrieval(tuple(candidates), timings)

    @staticmethod
    def _rank(index: IndexVersion, fused: list[Fused], *, ticket_weight: float
              ) -> list[Candidate]:
        out = []
        for f in fused:
            chunk = index.chunks[f.row]
            # A resolved ticket is one customer's case, an article the company's policy: the
            # ticket's fused score is scaled down so it helps only where articles are weak.
            score = f.score * ticket_weight if chunk.source_type == "ticket" else f.score
            out.append(Candidate(chunk=chunk, score=score, ranks=dict(f.ranks),
                                 scores={**f.scores, "fused": score}))
        # Ties go to articles over tickets, then to the earlier row (articles precede tickets).
        order = sorted(range(len(out)), key=lambda i: (
            -out[i].score, out[i].chunk.source_type != "article", fused[i].row))
        return [replace(out[i], ranks={**out[i].ranks, "fused": pos})
                for pos, i in enumerate(order, start=1)]


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
