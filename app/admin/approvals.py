"""Approvals of content held for review: an editor's word that a flagged document is fine.

An approval names the content hash the document had when it was approved, so the next index
build serves it, and any later change to the document holds it again until approved again.
The flagged sentences themselves are still left out of answers by the answer-time screening.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from app.admin import audit
from app.models import Article, ContentApproval, utcnow

logger = logging.getLogger(__name__)


def approve(session: Session, article_id: str, *, actor: str) -> ContentApproval | None:
    """Approve the document as it is now; None if there is no such document. Caller commits."""
    row = session.get(Article, article_id)
    if row is None:
        return None
    approval = session.get(ContentApproval, article_id)
    if approval is None:
        approval = ContentApproval(article_id=article_id, content_hash=row.content_hash)
    approval.content_hash, approval.actor, approval.approved_at = row.content_hash, actor, utcnow()
    session.add(approval)
    audit.record(session, actor=actor, action="held.approve", target_type=row.source_type,
                 target_id=article_id, detail={"content_hash": row.content_hash})
    logger.info("approved held document %s", article_id)
    return approval


def approved_hashes(session: Session) -> dict[str, str]:
    """Document id -> the content hash it was approved with."""
    return {a.article_id: a.content_hash for a in session.exec(select(ContentApproval))}
