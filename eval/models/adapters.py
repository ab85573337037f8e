"""Datasets for ``python -m eval.models ranking``, each turned into one ``RankingSet``.

- ``scifact``: BEIR SciFact test (CC BY-NC 2.0; evaluation only, read from the datasets folder
  and never copied into the repository). Abstracts, claims and graded qrels.
- ``dstc10``: DSTC10 track 2 validation: the knowledge-seeking spoken turns against the FAQ
  knowledge base, one gold FAQ entry each. The entity a turn is about is usually named earlier
  in the dialogue, so the query is the turn prefixed with the most recently mentioned
  knowledge-base entity (exact match of its name in the dialogue, longest name first), the
  same ``entity: question`` form the reranker was trained on. Every system gets the same
  queries, so the comparison isolates the reranker.
- ``questions``: a help-center question set (``data/eval/*.jsonl``, or the held-out development
  set that ``python -m ingest.models.reranker data`` writes) over the published articles'
  chunks as the service indexes them. The gold names articles, so a chunk ranking is scored as
  the order in which articles first appear in it.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.rag.chunk import MarkdownChunker
from eval.datasets import DatasetError
from eval.models.corpus import Query
from ingest.models.reranker.faq import FaqEntry, load_faq, passage, with_entity
from ingest.models.reranker.helpcenter import published_articles
from ingest.models.reranker.records import normalise

Patterns = Sequence[tuple[str, re.Pattern[str]]]

# Published nDCG@10 on SciFact test, quoted beside ours (BEIR Table 2; MTEB).
SCIFACT_ANCHORS = {"bm25": 0.665, "bm25+ms-marco-MiniLM-L-6": 0.688, "all-MiniLM-L6-v2": 0.645}


class DatasetMissing(DatasetError):
    """An external dataset that is not on this machine (it is never shipped)."""


@dataclass(frozen=True, slots=True)
class RankingSet:
    """Documents to rank, queries with graded gold, and how the ranking is measured.

    Attributes:
        name: Names the cross-encoder score cache (with the rerank depth).
        title: The heading of the printed table.
        ids: Document ids (help-center sets: chunk ids).
        texts: Document texts, as the service indexes and reranks them.
        queries: The queries; their gold names scored units.
        metrics: Metric names (``ndcg@K``, ``recall@K``, ``mrr``) reported by default.
        k: Candidates taken from each retriever before fusion.
        report: The report's default file name.
        unit_of: Document id -> the unit the gold names (chunk -> article); empty when the
            documents are the units.
        details: Report fields of this dataset's own.
    """

    name: str
    title: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    queries: tuple[Query, ...]
    metrics: tuple[str, ...]
    k: int
    report: str
    unit_of: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, object] = field(default_factory=dict)

    def units(self, ranked: Sequence[str]) -> list[str]:
        """A ranking of document ids as a ranking of units, each at its first appearance."""
        if not self.unit_of:
            return list(ranked)
        return list(dict.fromkeys(self.unit_of[d] for d in ranked))


def scifact(folder: Path) -> RankingSet:
    """SciFact test: abstracts (title, newline, text), the test claims and their qrels.

    Raises:
        DatasetMissing: ``folder`` lacks corpus.jsonl, queries.jsonl or qrels/test.tsv.
    """
    files = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "test.tsv"]
    if not all(f.is_file() for f in files):
        raise DatasetMissing(f"SciFact not found at {folder} (expected corpus.jsonl, "
                             "queries.jsonl and qrels/test.tsv; it is never shipped with the "
                             "repository)")
    ids, texts = [], []
    with files[0].open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            ids.append(str(doc["_id"]))
            texts.append(f"{doc.get('title', '')}\n{doc['text']}".strip())
    qrels: dict[str, dict[str, int]] = {}
    with files[2].open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = int(row["score"])
    queries = []
    with files[1].open(encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if str(q["_id"]) in qrels:
                queries.append(Query(str(q["_id"]), q["text"], qrels[str(q["_id"])]))
    return RankingSet(
        name="scifact", title=f"SciFact test ({len(queries)} queries)", ids=tuple(ids),
        texts=tuple(texts), queries=tuple(queries), k=100, report="beir-scifact.json",
        metrics=("ndcg@10", "recall@10", "recall@100", "mrr"),
        details={"anchors": SCIFACT_ANCHORS})


def entity_patterns(entries: Sequence[FaqEntry]) -> list[tuple[str, re.Pattern[str]]]:
    """Named entities (hotels, restaurants, attractions), longest name first."""
    names = sorted({e.entity for e in entries if e.entity not in ("train", "taxi")},
                   key=lambda n: (-len(normalise(n)), n))
    return [(n, re.compile(rf"\b{re.escape(normalise(n))}\b")) for n in names
            if len(normalise(n)) >= 4]


def last_entity(turns: Sequence[str], patterns: Patterns) -> str | None:
    """The entity named in the latest turn that names one (longest name wins in a turn)."""
    for text in reversed(turns):
        norm = normalise(text)
        for name, pattern in patterns:
            if pattern.search(norm):
                return name
    return None


def _knowledge_seeking_turns(path: Path, patterns: Patterns) -> tuple[list[Query], int]:
    """Knowledge-seeking turns as queries, and how many had an entity in their dialogue."""
    queries, found = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if not obj.get("knowledge_seeking"):
            continue
        turns = [t["text"] for t in obj.get("context", [])] + [obj["text"]]
        entity = last_entity(turns, patterns)
        found += entity is not None
        text = with_entity(entity, obj["text"]) if entity else obj["text"]
        queries.append(Query(obj["_id"], text, {g: 1 for g in obj["gold_doc_ids"]}))
    return queries, found


def dstc10(folder: Path) -> RankingSet:
    """DSTC10 validation: FAQ entries as passages, knowledge-seeking turns as queries.

    Raises:
        DatasetMissing: ``folder`` lacks kb.jsonl or queries_val.jsonl.
    """
    kb, turns = folder / "kb.jsonl", folder / "queries_val.jsonl"
    if not kb.is_file() or not turns.is_file():
        raise DatasetMissing(f"DSTC10 FAQ data not found at {folder} (expected kb.jsonl and "
                             "queries_val.jsonl; it is never shipped with the repository)")
    entries = load_faq(kb)
    queries, found = _knowledge_seeking_turns(turns, entity_patterns(entries))
    return RankingSet(
        name="dstc10", title=f"DSTC10 validation ({len(queries)} knowledge-seeking turns, "
        f"{found} with an entity)", ids=tuple(e.id for e in entries),
        texts=tuple(passage(e) for e in entries), queries=tuple(queries), k=50,
        report="dstc10.json", metrics=("recall@1", "recall@5", "mrr"),
        details={"queries_with_entity": found})


def _answerable(path: Path) -> list[Query]:
    """The set's single-turn questions that have gold articles."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        gold = obj.get("article_ids") or obj.get("gold_article_ids") or []
        if gold and not obj.get("history"):
            out.append(Query(str(obj["id"]), obj["question"], {g: 1 for g in gold}))
    return out


def questions(path: Path, *, kb: Path, chunker: MarkdownChunker) -> RankingSet:
    """A question set over the published articles of ``kb``, chunked by ``chunker``.

    Raises:
        DatasetError: the set does not exist or holds no answerable single-turn question.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such question set (the held-out development set is "
                           "written by `python -m ingest.models.reranker data`)")
    queries = _answerable(path)
    if not queries:
        raise DatasetError(f"{path} holds no answerable question (a model trained with "
                           "--dev-percent 0 has no development set)")
    chunks = [c for d in published_articles(kb) for c in chunker.chunk(d)]
    return RankingSet(
        name=path.stem, title=f"{path} ({len(queries)} answerable questions)",
        ids=tuple(c.chunk_id for c in chunks), texts=tuple(c.embedding_text() for c in chunks),
        queries=tuple(queries), k=50, report=f"rerank-{path.stem}.json",
        metrics=("recall@1", "recall@5", "mrr"),
        unit_of={c.chunk_id: c.article_id for c in chunks},
        details={"set": str(path), "articles": len({c.article_id for c in chunks})})
