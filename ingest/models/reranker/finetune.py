"""Fine-tune a reranker on an operator's own tickets and chat feedback.

Support teams change their help center every week; a reranker tuned to *their* wording of
questions ranks better without baking any fact into a model (the facts stay in the index).
This module turns two kinds of evidence into training pairs:

- **tickets**: each resolved ticket's customer message, with the articles its agent linked
  (``article:<id>`` tags), positives and hard negatives chosen exactly as for the shipped
  model (``helpcenter.query_pairs``), and repeated with a share of the queries misspelt in
  each repeat, as the shipped model was trained (``noise.noisy_repeats``);
- **the help center's own text**: sentences of its chunks as queries for the rest of their
  chunk (``cloze``), so the model learns the operator's vocabulary;
- **feedback** (optional): thumbs on answered chat turns, read from the service's database.
  A thumbs-down makes every chunk the answer cited a negative for the turn's query; a
  thumbs-up makes the first cited chunk a positive. The latest rating of a message counts.
  Queries are redacted before they become training text.

A stable share of the ticket queries is held out (``dev.jsonl`` in the work folder) so the new
model can be compared with the one it started from on questions neither has seen
(``python -m eval.models ranking --dataset questions --compare``; ``make finetune-reranker``
runs both steps).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.content.redact import redact
from app.rag.types import Chunk
from app.settings import Settings
from ingest.models.reranker.cloze import cloze_pairs
from ingest.models.reranker.data import Assembled, help_center_search, split_queries
from ingest.models.reranker.helpcenter import helpcenter_pairs, published_articles, ticket_queries
from ingest.models.reranker.noise import noisy_repeats
from ingest.models.reranker.records import DataParams, LeakageGuard, Pair, eval_questions, summarise

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rating:
    """One rated answer: the query it answered, the chunks it cited, up or down."""

    message_id: str
    query: str
    chunk_ids: tuple[str, ...]
    up: bool


def read_ratings(database_url: str) -> list[Rating]:
    """The latest rating of every answered assistant turn in the service's database."""
    from sqlmodel import Session, col, select

    from app.db import make_engine
    from app.models import Feedback, Message

    engine = make_engine(database_url)
    latest: dict[str, Rating] = {}
    with Session(engine) as session:
        rows = session.exec(select(Feedback, Message)
                            .join(Message, col(Feedback.message_id) == col(Message.id))
                            .order_by(col(Feedback.created), col(Feedback.id))).all()
        for feedback, message in rows:
            cited = tuple(str(c["chunk_id"]) for c in json.loads(message.citations or "[]"))
            if message.role != "assistant" or message.fallback or not cited:
                continue
            latest[message.id] = Rating(message.id, message.query or message.text, cited,
                                        feedback.rating == "up")
    engine.dispose()
    return list(latest.values())


def feedback_pairs(ratings: list[Rating], chunks: Mapping[str, Chunk]) -> tuple[list[Pair], int]:
    """Training pairs from ratings, and how many cited chunks no longer exist (skipped)."""
    pairs: list[Pair] = []
    missing = 0
    for r in ratings:
        cited = r.chunk_ids[:1] if r.up else r.chunk_ids
        query = redact(r.query)
        for chunk_id in cited:
            chunk = chunks.get(chunk_id)
            if chunk is None:
                missing += 1
                continue
            pairs.append(Pair(query, chunk.embedding_text(), 1.0 if r.up else 0.0, "feedback",
                              r.message_id))
    return pairs, missing


@dataclass(frozen=True, slots=True)
class OperatorData:
    """What fine-tuning learns from and where it keeps its embedding cache (the CLI fills these
    from the settings)."""

    kb: Path = Path("data/kb")
    tickets: Path = Path("data/tickets")
    eval_dir: Path = Path("data/eval")
    database_url: str | None = None  # None: no feedback
    cache: Path = Path("var/cache/reranker")


def assemble_operator(settings: Settings, *, data: OperatorData, params: DataParams
                      ) -> Assembled:
    """Pairs from the operator's tickets (and feedback), and the held-out ticket queries."""
    rng = random.Random(params.seed)
    articles = published_articles(data.kb)
    if not articles:
        raise ValueError(f"no published articles under {data.kb}: point --kb at the help center")
    queries = ticket_queries(data.tickets, known={a.id for a in articles})
    guard = LeakageGuard(eval_questions(data.eval_dir), threshold=params.near_duplicate)
    queries, leaked = guard.filter(queries)
    train, dev = split_queries(queries, percent=params.dev_percent)
    search = help_center_search(settings, articles, cache=data.cache)
    chunks = search.chunks
    ticket_pairs = helpcenter_pairs(search, train, params=params, rng=rng)
    rated: list[Pair] = []
    missing = 0
    if data.database_url:
        ratings = read_ratings(data.database_url)
        rated, missing = feedback_pairs(ratings, {c.chunk_id: c for c in chunks})
    if not ticket_pairs and not rated:
        raise ValueError(f"no training pairs: {data.tickets} has no resolved tickets that link "
                         "a published article (tag article:<id>), and there is no feedback")
    cloze = cloze_pairs(search, params=params, rng=rng) if params.cloze_per_chunk else []
    search.save_queries()
    pairs = noisy_repeats(ticket_pairs, params=params) + rated + cloze
    rng.shuffle(pairs)
    stats: dict[str, object] = {
        "kind": "fine-tune",
        "sources": summarise(ticket_pairs) | summarise(rated) | summarise(cloze),
        "kb_repeat": params.kb_repeat, "pairs_total": len(pairs), "articles": len(articles),
        "chunks": len(chunks), "train_queries": len(train), "dev_queries": len(dev),
        "queries_dropped_as_eval_duplicates": leaked, "feedback_chunks_missing": missing,
    }
    return Assembled(pairs, dev, stats)
