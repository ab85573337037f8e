"""Pairs from the DSTC10 track 2 FAQ knowledge base (Apache-2.0).

Each FAQ entry is a question (``title``) about one hotel, restaurant or attraction and its
answer (``text``). A sampled entry's question, with the entity named, is the query; its entry
is the positive. Negatives are the same question answered for *other* entities (the model must
read the entity) and BM25 hits for the query (mostly other questions about the same entity).
Queries are lowercased without punctuation half of the time, like speech-recognition output,
some start with a spoken filler ("ok", "uh") and a share (``noise_share``) is misspelt the way
typists and speech recognisers misspell (``ingest.models.reranker.noise``); passages show the
question half of the time, so the model learns to match answers, not only to copy questions.

Paraphrases: an FAQ question is written once per entity, in that entity's own wording. When
question vectors are given, a share of the queries (``faq_paraphrase_share``) asks entity A's
question *in the words another entity's entry used* for the same topic (cosine similarity of
the questions without entity names at least ``faq_paraphrase_sim``, different wording). Its
positive is still A's entry, and the other entity's entry is a negative: the model must match
the topic whatever the wording, and the entity whatever the topic, instead of copying words.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.rag.sparse import BM25Index, tokenize
from ingest.models.reranker.noise import misspell
from ingest.models.reranker.records import DataParams, Pair, jaccard, normalise

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


FILLERS = ("ok", "great", "uh", "umm", "thanks", "perfect and", "ok and", "cool")


def question_keys(entries: Sequence[FaqEntry]) -> list[str]:
    """Each entry's question without its entity's name (what paraphrase vectors embed)."""
    return [_question_key(e) for e in entries]


def faq_pairs(entries: Sequence[FaqEntry], *, params: DataParams, rng: random.Random,
              key_vectors: np.ndarray | None = None) -> list[Pair]:
    """Pairs for ``params.faq_queries`` sampled entries (all of them when fewer).

    Args:
        entries: The FAQ knowledge base.
        params: Counts and shares of negatives and paraphrases.
        rng: The seeded random source (the pairs are reproducible).
        key_vectors: Unit vectors of ``question_keys(entries)``; None: no paraphrases.
    """
    bm25 = BM25Index.build(tokenize(f"{e.entity} {e.question} {e.answer}") for e in entries)
    by_key: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_key.setdefault(_question_key(e), []).append(i)
    sample = rng.sample(range(len(entries)), min(params.faq_queries, len(entries)))
    pairs: list[Pair] = []
    for i in sample:
        source = i
        if key_vectors is not None and rng.random() < params.faq_paraphrase_share:
            source = _paraphrase(entries, i, key_vectors, params=params, rng=rng)
        pairs.extend(_entry_pairs(entries, i, source=source, bm25=bm25, by_key=by_key,
                                  params=params, rng=rng, vectors=key_vectors))
    return pairs


def _paraphrase(entries: Sequence[FaqEntry], i: int, vectors: np.ndarray, *,
                params: DataParams, rng: random.Random) -> int:
    """Another entity's entry that asks the same thing in other words (or ``i`` itself)."""
    sims = vectors @ vectors[i]
    key = _question_key(entries[i])
    near = [int(j) for j in np.flatnonzero(sims >= params.faq_paraphrase_sim)
            if entries[int(j)].entity != entries[i].entity
            and jaccard(_question_key(entries[int(j)]), key) < 0.5]
    return rng.choice(near) if near else i


def _entry_pairs(entries: Sequence[FaqEntry], i: int, *, source: int, bm25: BM25Index,
                 by_key: dict[str, list[int]], params: DataParams, rng: random.Random,
                 vectors: np.ndarray | None) -> list[Pair]:
    """Entry ``i`` as the positive for its question, worded as entry ``source`` words it."""
    e = entries[i]
    text = _question_key(entries[source]) if source != i else e.question
    if params.noise_share and rng.random() < params.noise_share:
        text = misspell(text, rng, rate=params.noise_rate)
    if rng.random() < 0.3:
        text = f"{rng.choice(FILLERS)} {text}"
    query = with_entity(e.entity, text)
    if rng.random() < 0.5:
        query = normalise(query)
    show_question = rng.random() < 0.5
    same = [j for j in by_key[_question_key(e)] if entries[j].entity != e.entity]
    negatives = rng.sample(same, min(params.faq_same_question_negatives, len(same)))
    if source != i:
        negatives.append(source)
    rows, _ = bm25.search(tokenize(query), params.faq_pool)
    hits = [int(j) for j in rows if _admissible(entries, e, int(j), taken=negatives)]
    if vectors is not None:  # the same entity asking the same thing in other words
        hits = [j for j in hits if entries[j].entity != e.entity
                or float(vectors[j] @ vectors[i]) < params.faq_paraphrase_sim]
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
