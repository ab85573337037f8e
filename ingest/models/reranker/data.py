"""Assemble the reranker's training pairs from every source, reproducibly.

Sources (all usable for a shipped model):

1. the sample help center: the hand-written training questions in ``data/train`` and the
   customer messages of the tickets in ``data/tickets`` (redacted by the loader), each to the
   chunks of its gold articles, with hard negatives from a BM25 + dense first stage, a share
   of them misspelt in each repeat (``ingest.models.reranker.noise``);
2. the help center's own text: sentences of its chunks as queries for the rest of their
   chunk (``cloze``);
3. the DSTC10 FAQ knowledge base (Apache-2.0) beside the repository, when present.

A stable share of the questions and tickets (``dev_percent``) is held out as a development
set; evaluation questions under ``data/eval`` are removed before anything is built.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.rag.chunk import ChunkerParams, MarkdownChunker
from app.rag.embed import HFTokenCounter, SentenceTransformerEmbedder
from app.rag.types import SourceDocument
from app.settings import Settings
from ingest.models.reranker.cloze import cloze_pairs
from ingest.models.reranker.faq import faq_pairs, load_faq, question_keys
from ingest.models.reranker.helpcenter import (
    ChunkSearch,
    cached_embeddings,
    helpcenter_pairs,
    published_articles,
    ticket_queries,
)
from ingest.models.reranker.noise import noisy_repeats
from ingest.models.reranker.records import (
    DataParams,
    LabelledQuery,
    LeakageGuard,
    Pair,
    eval_questions,
    is_dev,
    load_questions,
    summarise,
    write_pairs,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DataPaths:
    """Where the training data is read and the embedding cache kept (the CLI fills these from
    the settings)."""

    kb: Path = Path("data/kb")
    tickets: Path = Path("data/tickets")
    questions: Path = Path("data/train/questions.jsonl")
    eval_dir: Path = Path("data/eval")
    faq: Path = Path("../shared/datasets/dstc10-faq/kb.jsonl")
    cache: Path = Path("var/cache/reranker")


@dataclass(frozen=True, slots=True)
class Assembled:
    """The training pairs, the held-out development queries and how they were built."""

    pairs: list[Pair]
    dev: list[LabelledQuery]
    stats: dict[str, object] = field(default_factory=dict)


def make_chunker(settings: Settings) -> MarkdownChunker:
    """The chunker the index builder uses, so passages match the served chunks exactly."""
    c = settings.chunker
    return MarkdownChunker(HFTokenCounter(settings.embedder.model),
                           ChunkerParams(max_tokens=c.max_tokens, min_tokens=c.min_tokens,
                                         overlap_tokens=c.overlap_tokens,
                                         hard_max_tokens=c.hard_max_tokens))


def split_queries(queries: list[LabelledQuery], *, percent: int
                  ) -> tuple[list[LabelledQuery], list[LabelledQuery]]:
    train = [q for q in queries if not is_dev(q.id, percent=percent)]
    dev = [q for q in queries if is_dev(q.id, percent=percent)]
    return train, dev


def help_center_search(settings: Settings, articles: Sequence[SourceDocument], *,
                       cache: Path) -> ChunkSearch:
    """The articles' chunks as the service indexes them, searchable like the service."""
    chunker = make_chunker(settings)
    chunks = [c for doc in articles for c in chunker.chunk(doc)]
    embedder = SentenceTransformerEmbedder(settings.embedder.model,
                                           max_seq_length=settings.embedder.max_seq_length)
    return ChunkSearch.build(chunks, embedder, cache=cache)


def assemble(settings: Settings, *, params: DataParams, paths: DataPaths) -> Assembled:
    """Every training pair, the held-out development queries and the counts."""
    rng = random.Random(params.seed)
    articles = published_articles(paths.kb)
    known = {a.id for a in articles}
    guard = LeakageGuard(eval_questions(paths.eval_dir), threshold=params.near_duplicate)
    queries = load_questions(paths.questions) + ticket_queries(paths.tickets, known=known)
    queries, leaked = guard.filter(queries)
    train, dev = split_queries(queries, percent=params.dev_percent)
    search = help_center_search(settings, articles, cache=paths.cache)
    kb_pairs = helpcenter_pairs(search, train, params=params, rng=rng)
    cloze = cloze_pairs(search, params=params, rng=rng) if params.cloze_per_chunk else []
    search.save_queries()
    pairs = noisy_repeats(kb_pairs, params=params) + cloze
    faq: list[Pair] = []
    if paths.faq.exists():
        entries = load_faq(paths.faq)
        keys = cached_embeddings(search.embedder, question_keys(entries), cache=paths.cache)
        faq = faq_pairs(entries, params=params, rng=rng, key_vectors=keys)
        pairs += faq
    else:
        logger.warning("%s not found: training without the FAQ pairs", paths.faq)
    rng.shuffle(pairs)
    stats: dict[str, object] = {
        "params": asdict(params),
        "sources": summarise(kb_pairs) | summarise(cloze) | summarise(faq),
        "kb_repeat": params.kb_repeat, "pairs_total": len(pairs),
        "articles": len(articles), "chunks": len(search.chunks),
        "eval_questions_seen": len(guard), "queries_dropped_as_eval_duplicates": leaked,
        "train_queries": {s: sum(q.source == s for q in train)
                          for s in ("questions", "unanswerable", "tickets")},
        "dev_queries": {s: sum(q.source == s for q in dev)
                        for s in ("questions", "unanswerable", "tickets")},
    }
    return Assembled(pairs, dev, stats)


def save(result: Assembled, folder: Path) -> None:
    """``pairs.jsonl``, ``dev.jsonl`` (held-out queries) and ``data.json`` (the counts)."""
    write_pairs(result.pairs, folder / "pairs.jsonl")
    with (folder / "dev.jsonl").open("w", encoding="utf-8") as f:
        for q in result.dev:
            f.write(json.dumps({"id": q.id, "question": q.text, "article_ids": list(q.gold),
                                "source": q.source}, ensure_ascii=False) + "\n")
    (folder / "data.json").write_text(json.dumps(result.stats, indent=2) + "\n",
                                      encoding="utf-8")
