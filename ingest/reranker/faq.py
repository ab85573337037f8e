"""Pairs from the DSTC10 track 2 FAQ knowledge base (Apache-2.0).

Each FAQ entry is a question (``title``) about one hotel, restaurant or attraction and its
answer (``text``). A sampled entry's question, with the entity named, is the query; its entry
is the positive. Negatives are the same question answered for *other* entities (the model must
read the entity) and BM25 hits for the query (mostly other questions about the same entity).
Queries are lowercased without punctuation half of the time, like speech-recognition output;
passages show the question half of the time, so the model learns to match answers, not only
to copy questions.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.rag.sparse import BM25Index, tokenize
from ingest.reranker.records import DataParams, Pair, jaccard, normalise

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaqEntry:
    id: str
    entity: str
    question: str
    answer: str


def load_faq(path: Path) -> list[FaqEntry]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            entity = obj.get("entity_name") or obj["domain"]
            out.append(FaqEntry(obj["_id"], str(entity), obj["title"], obj["text"]))
    return out


def passage(entry: FaqEntry, *, with_question: bool = True) -> str:
    """The text an entry is indexed and reranked as (breadcrumb style, like help chunks)."""
    if with_question:
        return f"{entry.entity} > {entry.question}\n{entry.answer}"
    return f"{entry.entity}\n{entry.answer}"


def with_entity(entity: str, question: str) -> str:
    """A question that names its entity (the form evaluation queries take as well)."""
    if normalise(entity) in normalise(question):
        return question
    return f"{entity}: {question}"


def _question_key(entry: FaqEntry) -> str:
    """The question with its entity's name removed, to find the same question elsewhere."""
    text = normalise(entry.question)
    name = normalise(entry.entity)
    return " ".join(text.replace(name, " ").split()) if name else text


def faq_pairs(entries: Sequence[FaqEntry], *, params: DataParams,
              rng: random.Random) -> list[Pair]:
    """Pairs for ``params.faq_queries`` sampled entries (all of them when fewer)."""
    bm25 = BM25Index.build(tokenize(f"{e.entity} {e.question} {e.answer}") for e in entries)
    by_key: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_key.setdefault(_question_key(e), []).append(i)
    sample = rng.sample(range(len(entries)), min(params.faq_queries, len(entries)))
    pairs: list[Pair] = []
    for i in sample:
        pairs.extend(_entry_pairs(entries, i, bm25=bm25, by_key=by_key, params=params, rng=rng))
    return pairs


def _entry_pairs(entries: Sequence[FaqEntry], i: int, *, bm25: BM25Index,
                 by_key: dict[str, list[int]], params: DataParams,
                 rng: random.Random) -> list[Pair]:
    e = entries[i]
    query = with_entity(e.entity, e.question)
    if rng.random() < 0.5:
        query = normalise(query)
    show_question = rng.random() < 0.5
    same = [j for j in by_key[_question_key(e)] if entries[j].entity != e.entity]
    negatives = rng.sample(same, min(params.faq_same_question_negatives, len(same)))
    rows, _ = bm25.search(tokenize(query), params.faq_pool)
    hits = [int(j) for j in rows if _admissible(entries, e, int(j), taken=negatives)]
    negatives += hits[: params.faq_bm25_negatives]
    out = [Pair(query, passage(e, with_question=show_question), 1.0, "faq", e.id)]
    out += [Pair(query, passage(entries[j], with_question=show_question), 0.0, "faq", e.id)
            for j in negatives]
    return out


def _admissible(entries: Sequence[FaqEntry], e: FaqEntry, j: int, *, taken: list[int]) -> bool:
    """Not the entry itself, not taken, and not a rewording of it for the same entity."""
    other = entries[j]
    if other.id == e.id or j in taken:
        return False
    same_entity = other.entity == e.entity
    return not (same_entity and (jaccard(other.question, e.question) >= 0.5
                                 or jaccard(other.answer, e.answer) >= 0.5))
