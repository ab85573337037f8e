"""Knowledge gaps the console tracks: the unanswered-questions report's groups, kept.

Each visit of the gaps page groups the recent fallbacks and thumbs-down answers
(:mod:`app.admin.gaps`) and matches every group to the gap that already holds one of its
messages, or records a new gap. A gap linked to the article written for it resolves itself
once the newest asking of one of its questions is answered citing that article, and opens
again when its questions fall back afterwards. Injection probes and abuse are grouped apart.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from app.admin import gaps
from app.console.abuse import is_abuse
from app.content.redact import redact
from app.models import Feedback, KnowledgeGap, Message, utcnow
from app.rag.index import IndexVersion
from app.rag.protocols import Embedder

logger = logging.getLogger(__name__)

MAX_QUESTIONS = 20
MAX_MESSAGES = 200


@dataclass
class Example:
    question: str
    message_id: str
    reasons: tuple[str, ...]
    answer: str = ""
    comment: str | None = None


@dataclass
class GapView:
    """A tracked gap with what the current report says about it."""

    gap: KnowledgeGap
    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    examples: list[Example] = field(default_factory=list)
    closest: list[dict[str, Any]] = field(default_factory=list)


class CachedEmbedder:
    """The service's embedder with a memory of the questions it embedded (the page groups the
    same questions on every visit)."""

    def __init__(self, inner: Embedder, cache: dict[str, np.ndarray]) -> None:
        self.inner, self.cache = inner, cache
        self.name, self.dimension = inner.name, inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            if len(self.cache) > 20_000:
                self.cache.clear()
            self.cache.update(zip(missing, self.inner.embed_documents(missing), strict=True))
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 1))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


_VECTORS: dict[str, np.ndarray] = {}


def new_gap_id() -> str:
    return "gap_" + secrets.token_hex(6)


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?!. ")


def sync(session: Session, *, since: datetime, embedder: Embedder | None,
         index: IndexVersion | None, threshold: float) -> list[GapView]:
    """Group the recent unanswered questions, record and update the gaps, and resolve or
    reopen linked ones. The caller commits."""
    cached = CachedEmbedder(embedder, _VECTORS) if embedder is not None else None
    items = gaps.collect(session, since=since)
    abusive = {i.message_id: is_abuse(i.question) for i in items}
    views: list[GapView] = []
    for kind in ("gap", "abuse"):
        members = [i for i in items if abusive[i.message_id] == (kind == "abuse")]
        groups = _grouped(kind, members, embedder=cached, threshold=threshold)
        stored = list(session.exec(select(KnowledgeGap).where(KnowledgeGap.kind == kind)))
        owner = {m: g for g in stored for m in g.message_ids}
        for grp in groups:
            gap = next((owner[i.message_id] for i in grp.items if i.message_id in owner), None)
            gap = _record(session, gap, grp.items, kind=kind)
            for i in grp.items:
                owner[i.message_id] = gap
            views.append(GapView(gap=gap, count=len(grp.items),
                                 reasons=_reasons(grp.items),
                                 closest=gaps.closest_articles(index, grp.vector)))
    for view in views:
        if view.gap.article_id and view.gap.status != "ignored":
            _settle(session, view.gap, embedder=cached, threshold=threshold)
    _examples(session, views, items)
    views.sort(key=lambda v: (v.count, v.gap.updated_at), reverse=True)
    return views


# The last grouping of each kind: the page is visited far more often than new questions
# arrive, and grouping 500 questions costs more than the rest of the page.
_LAST: dict[str, tuple[tuple[Any, ...], list[Any]]] = {}


def _grouped(kind: str, members: list[gaps.Unanswered], *, embedder: Embedder | None,
             threshold: float) -> list[Any]:
    key = (threshold, embedder is None, *((i.message_id, i.question) for i in members))
    hit = _LAST.get(kind)
    if hit is not None and hit[0] == key:
        return hit[1]
    groups = gaps.group(members, embedder=embedder, threshold=threshold)
    _LAST[kind] = (key, groups)
    return groups


def _reasons(items: list[gaps.Unanswered]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        for r in i.reasons:
            out[r] = out.get(r, 0) + 1
    return out


def _record(session: Session, gap: KnowledgeGap | None, items: list[gaps.Unanswered], *,
            kind: str) -> KnowledgeGap:
    ids = [i.message_id for i in items]
    questions = list(dict.fromkeys(i.question for i in items))
    fresh = gap is None
    if gap is None:
        gap = KnowledgeGap(id=new_gap_id(), label=questions[0], kind=kind)
    new_ids = [m for m in ids if m not in gap.message_ids]
    new_questions = [q for q in questions if q not in gap.questions]
    if fresh or new_ids or new_questions:
        gap.message_ids = (gap.message_ids + new_ids)[-MAX_MESSAGES:]
        gap.questions = (gap.questions + new_questions)[:MAX_QUESTIONS]
        gap.updated_at = utcnow()
        session.add(gap)
    return gap


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _settle(session: Session, gap: KnowledgeGap, *, embedder: Embedder | None,
            threshold: float) -> None:
    """Resolve or reopen a linked gap from the newest asking of one of its questions."""
    since = _aware(gap.linked_at or gap.created_at)
    replies = list(session.exec(select(Message).where(
        Message.role == "assistant", col(Message.created) >= since)
        .order_by(col(Message.created).desc()).limit(MAX_MESSAGES)))
    asked = questions_of(session, replies)
    latest = next((r for r in replies
                   if r.id in asked and _matches(asked[r.id], gap, embedder, threshold)), None)
    if latest is None:
        return
    cites = {c.get("article_id") for c in json.loads(latest.citations or "[]")}
    status = gap.status
    if latest.fallback is None and gap.article_id in cites:
        status = "resolved"
    elif latest.fallback is not None:
        status = "open"
    if status != gap.status:
        logger.info("gap %s is now %s", gap.id, status)
        gap.status, gap.updated_at = status, utcnow()
        session.add(gap)


def _matches(question: str, gap: KnowledgeGap, embedder: Embedder | None,
             threshold: float) -> bool:
    if _norm(question) in {_norm(q) for q in gap.questions}:
        return True
    if embedder is None or not gap.questions:
        return False
    vectors = embedder.embed_documents([question, *gap.questions])
    sims = vectors[1:] @ vectors[0] / np.maximum(
        np.linalg.norm(vectors[1:], axis=1) * np.linalg.norm(vectors[0]), 1e-12)
    return bool(sims.max() >= threshold)


def questions_of(session: Session, replies: list[Message]) -> dict[str, str]:
    """The redacted user question each reply answered (the latest before it)."""
    ids = list({r.conversation_id for r in replies})
    turns: dict[str, list[Message]] = {}
    for m in session.exec(select(Message).where(Message.role == "user",
                                                col(Message.conversation_id).in_(ids))
                          .order_by(col(Message.created))):
        turns.setdefault(m.conversation_id, []).append(m)
    out = {}
    for r in replies:
        before = [m.text for m in turns.get(r.conversation_id, []) if m.created <= r.created]
        if before:
            out[r.id] = redact(before[-1])
    return out


def _examples(session: Session, views: list[GapView], items: list[gaps.Unanswered]) -> None:
    """Up to three examples per gap with the bot's answer and any thumbs-down comment."""
    by_id = {i.message_id: i for i in items}
    wanted = {m for v in views for m in v.gap.message_ids[-3:] if m in by_id}
    replies = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(wanted)))}
    comments = {f.message_id: f.comment for f in session.exec(
        select(Feedback).where(col(Feedback.message_id).in_(wanted), Feedback.rating == "down"))}
    for view in views:
        for m in reversed(view.gap.message_ids[-3:]):
            if m in by_id and m in replies:
                view.examples.append(Example(
                    question=by_id[m].question, message_id=m, reasons=by_id[m].reasons,
                    answer=reply_text(replies[m]), comment=_comment(comments.get(m))))


def _comment(text: str | None) -> str | None:
    return redact(text) if text else None


def reply_text(message: Message) -> str:
    """What the customer saw: the answer, or the fallback's message."""
    if message.text.strip() or not message.fallback:
        return message.text
    return str(json.loads(message.fallback).get("message", ""))


def link(session: Session, gap_id: str, article_id: str) -> KnowledgeGap | None:
    """Link a gap to the article written for it; it waits for its questions to be answered."""
    gap = session.get(KnowledgeGap, gap_id)
    if gap is None:
        return None
    gap.article_id, gap.linked_at, gap.status = article_id, utcnow(), "open"
    gap.updated_at = utcnow()
    session.add(gap)
    return gap


def set_status(session: Session, gap_id: str, status: str) -> KnowledgeGap | None:
    """Ignore a gap, or open it again."""
    gap = session.get(KnowledgeGap, gap_id)
    if gap is None:
        return None
    gap.status, gap.updated_at = status, utcnow()
    session.add(gap)
    return gap
