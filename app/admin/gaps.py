"""Unanswered questions: recent fallbacks and thumbs-down answers, grouped by similar question.

Each group is one gap in the knowledge base: how often it was asked, why it went unanswered,
a few example wordings (redacted, as they are customers' words) and the articles closest to
it, i.e. the article to fix or the place to write a new one. Questions are grouped by cosine
similarity of their embeddings (the service's own embedder, centroid linkage); without an
embedder, by word overlap.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from app.content.redact import redact
from app.models import Feedback, Message
from app.rag.index import IndexVersion
from app.rag.protocols import Embedder
from app.rag.sparse import tokenize

logger = logging.getLogger(__name__)

MAX_ITEMS = 500  # clustering is quadratic per merge: the newest 500 are plenty
WORD_OVERLAP = 0.5

# The report reads the same recent questions on every visit: redact each once.
_redacted = lru_cache(maxsize=4 * MAX_ITEMS)(redact)


@dataclass(frozen=True, slots=True)
class Unanswered:
    message_id: str
    question: str
    reasons: tuple[str, ...]
    at: datetime


@dataclass
class _Group:
    items: list[Unanswered] = field(default_factory=list)
    vector: np.ndarray | None = None  # sum of the members' embeddings
    words: set[str] = field(default_factory=set)


def collect(session: Session, *, since: datetime, limit: int = MAX_ITEMS) -> list[Unanswered]:
    """Assistant turns since ``since`` that fell back or got a thumbs down, newest first."""
    down = {f.message_id: f.reason for f in session.exec(
        select(Feedback).where(Feedback.rating == "down", col(Feedback.created) >= since))}
    query = (select(Message).where(Message.role == "assistant", col(Message.created) >= since)
             .where(col(Message.fallback).is_not(None) | col(Message.id).in_(list(down)))
             .order_by(col(Message.created).desc()).limit(limit))
    replies = list(session.exec(query).all())
    questions = _questions(session, replies)
    items = []
    for reply in replies:
        reasons = []
        if reply.fallback:
            reasons.append(str(json.loads(reply.fallback).get("reason", "fallback")))
        if reply.id in down:
            reasons.append("thumbs_down")
        question = questions.get(reply.id) or reply.query
        if question.strip():
            items.append(Unanswered(message_id=reply.id, question=_redacted(question.strip()),
                                    reasons=tuple(reasons), at=reply.created))
    return items


def _questions(session: Session, replies: list[Message]) -> dict[str, str]:
    """The user message each reply answered: the latest one before it in its conversation."""
    conversations = list({r.conversation_id for r in replies})
    asked: dict[str, list[Message]] = {}
    for m in session.exec(select(Message).where(Message.role == "user",
                                                col(Message.conversation_id).in_(conversations))
                          .order_by(col(Message.created))):
        asked.setdefault(m.conversation_id, []).append(m)
    out = {}
    for reply in replies:
        before = [m for m in asked.get(reply.conversation_id, []) if m.created <= reply.created]
        if before:
            out[reply.id] = before[-1].text
    return out


def group(items: list[Unanswered], *, embedder: Embedder | None,
          threshold: float) -> list[_Group]:
    """Clusters of similar questions, in order of each cluster's newest question."""
    if embedder is None or not items:
        return _group_by_words(items)
    vectors = embedder.embed_documents([i.question for i in items])
    clusters = _agglomerate(vectors, threshold=threshold)
    groups = [_Group(items=[items[n] for n in members],
                     vector=vectors[members].sum(axis=0)) for members in clusters]
    return sorted(groups, key=lambda g: g.items[0].at, reverse=True)


def _agglomerate(vectors: np.ndarray, *, threshold: float) -> list[list[int]]:
    """Centroid-linkage clustering: merge the two most similar clusters (cosine of their
    summed embeddings) until no pair reaches ``threshold``. Paraphrases of one question
    rarely all pass a threshold against each other, but each is close to their centroid."""
    sums = vectors.astype(np.float64).copy()
    members = [[n] for n in range(len(vectors))]
    alive = np.ones(len(vectors), dtype=bool)
    sim = _cosines(sums, sums)
    np.fill_diagonal(sim, -np.inf)
    while alive.sum() > 1:
        a, b = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        sums[a] += sums[b]
        members[a] += members[b]
        alive[b] = False
        sim[b, :] = sim[:, b] = -np.inf
        row = _cosines(sums[a:a + 1], sums)[0]
        row[~alive] = -np.inf
        row[a] = -np.inf
        sim[a, :] = sim[:, a] = row
    return [sorted(members[n]) for n in np.flatnonzero(alive)]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1)[:, None] * np.linalg.norm(b, axis=1)[None, :]
    return (a @ b.T) / np.maximum(norms, 1e-12)  # type: ignore[no-any-return]


def _group_by_words(items: list[Unanswered]) -> list[_Group]:
    """Without an embedder: each question joins the group sharing most of its words."""
    groups: list[_Group] = []
    for item in items:
        words = set(tokenize(item.question))
        best = max(groups, key=lambda g: _overlap(g.words, words), default=None)
        if best is None or _overlap(best.words, words) < WORD_OVERLAP:
            best = _Group()
            groups.append(best)
        best.items.append(item)
        best.words |= words
    return groups


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def closest_articles(index: IndexVersion | None, vector: np.ndarray | None, *,
                     k: int = 3) -> list[dict[str, Any]]:
    """The published articles nearest to a group's centroid, one entry per article."""
    if index is None or vector is None:
        return []
    norm = float(np.linalg.norm(vector))
    rows, scores = index.dense.search(vector / (norm or 1.0), k * 5)
    out: dict[str, dict[str, Any]] = {}
    for row, score in zip(rows, scores, strict=True):
        chunk = index.chunks[int(row)]
        if chunk.source_type == "article" and chunk.article_id not in out:
            out[chunk.article_id] = {"article_id": chunk.article_id, "title": chunk.title,
                                     "url": chunk.url, "score": round(float(score), 4)}
    return list(out.values())[:k]


def report(session: Session, *, since: datetime, embedder: Embedder | None,
           index: IndexVersion | None, threshold: float, limit: int = 50) -> dict[str, Any]:
    """The unanswered-questions report: groups by count, then by how recent."""
    items = collect(session, since=since)
    groups = group(items, embedder=embedder, threshold=threshold)
    groups.sort(key=lambda g: (len(g.items), g.items[0].at), reverse=True)
    out = []
    for g in groups[:limit]:
        reasons = Counter(r for i in g.items for r in i.reasons)
        examples = list(dict.fromkeys(i.question for i in g.items))
        out.append({
            "question": examples[0], "count": len(g.items), "reasons": dict(reasons),
            "examples": examples[:5], "first_seen": g.items[-1].at, "last_seen": g.items[0].at,
            "message_ids": [i.message_id for i in g.items[:10]],
            "closest_articles": closest_articles(index, g.vector),
        })
    return {"since": since, "questions": len(items), "groups": out,
            "grouping": "embedding cosine" if embedder is not None else "word overlap"}
