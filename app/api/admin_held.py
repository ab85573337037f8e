"""Admin route listing content held for review by the content-safety check.

A published article or ticket with a flagged sentence (a request for passwords, codes or
card numbers, text addressed to the assistant, a link outside the allowed domains) is not
indexed; this route says which, where and why, so an editor can fix it or delete it.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.admin.approvals import approve, approved_hashes
from app.auth import AdminKeyDep
from app.catalog import to_document
from app.content.safety import Finding, held_documents
from app.deps import SessionDep, SettingsDep
from app.models import Article, ContentApproval
from app.rag.build import recorded_verdicts
from app.rag.factory import make_content_safety
from app.rag.index import IndexStore
from app.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter()


class HeldOut(BaseModel):
    """One flagged sentence of a held document."""

    article_id: str
    title: str
    source_type: str
    source_path: str
    reason: str  # credential_request | assistant_instruction | outside_link | active_content
    sentence: str
    detail: str


@router.get("/held", response_model=list[HeldOut],
            summary="Content held for review: never indexed, never served")
def list_held(session: SessionDep, settings: SettingsDep) -> list[HeldOut]:
    """Every flagged sentence of every published document in the catalogue, checked with
    the current settings (``content.allowed_domains``), as the next index build holds them.
    Fix the text (or add a legitimate domain to the setting) and re-index to serve it, or
    approve it as it is. Approved documents are not listed while their content is unchanged."""
    return held_list(session, settings)


# Checking every document takes seconds at 10,000 articles: the list is kept until the
# catalogue, the approvals or the allowed domains change, and what the check found in each
# document is kept by its content hash, so after an edit only the changed documents are
# read and checked again. Contents the active index version recorded as passing the same
# rules are not read at all, so a first visit after a restart reads only what changed since
# the last build.
_LAST: dict[str, tuple[tuple[object, ...], list[HeldOut]]] = {}
_CHECKED: dict[tuple[tuple[str, ...], str], tuple[Finding, ...]] = {}
_MAX_CHECKED = 200_000
_BATCH = 500


def _fingerprint(session: Session, settings: Settings) -> tuple[object, ...]:
    articles = session.exec(select(func.count(), func.max(Article.modified))).one()
    approvals = session.exec(select(func.count(), func.max(ContentApproval.approved_at))).one()
    return (*articles, *approvals, tuple(settings.content.allowed_domains))


def _findings(session: Session, settings: Settings) -> dict[str, tuple[Finding, ...]]:
    """What holds each held document, by id, checking only contents not checked before."""
    domains = tuple(settings.content.allowed_domains)
    hashes = dict(session.exec(select(Article.id, Article.content_hash)).all())
    unchecked = [i for i, h in hashes.items() if (domains, h) not in _CHECKED]
    if len(_CHECKED) + len(unchecked) > _MAX_CHECKED:
        _CHECKED.clear()
        unchecked = list(hashes)
    safety = make_content_safety(settings)
    if unchecked:  # contents the last index build passed under the same rules are not read
        verdicts = recorded_verdicts(IndexStore(settings.index.dir), safety)
        for i in unchecked:
            if verdicts.get(hashes[i]) is False:
                _CHECKED[(domains, hashes[i])] = ()
        unchecked = [i for i in unchecked if (domains, hashes[i]) not in _CHECKED]
    for start in range(0, len(unchecked), _BATCH):
        rows = session.exec(select(Article).where(
            col(Article.id).in_(unchecked[start:start + _BATCH]))).all()
        docs = [to_document(r) for r in rows]
        held = held_documents(docs, safety)
        for row, doc in zip(rows, docs, strict=True):
            _CHECKED[(domains, row.content_hash)] = held.get(doc.id, ())
    return {i: found for i, h in hashes.items() if (found := _CHECKED[(domains, h)])}


def held_list(session: Session, settings: Settings) -> list[HeldOut]:
    """The held sentences, from the cache while nothing they depend on changed."""
    key, fingerprint = str(session.get_bind().engine.url), _fingerprint(session, settings)
    hit = _LAST.get(key)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    held = _findings(session, settings)
    approved = approved_hashes(session)
    rows = {r.id: r for r in session.exec(select(Article).where(col(Article.id).in_(held)))}
    held = {i: f for i, f in held.items() if approved.get(i) != rows[i].content_hash}
    out = [HeldOut(article_id=doc_id, title=rows[doc_id].title,
                   source_type=rows[doc_id].source_type, source_path=rows[doc_id].source_path,
                   reason=f.reason, sentence=f.sentence, detail=f.detail)
           for doc_id, found in sorted(held.items()) for f in found]
    _LAST[key] = (fingerprint, out)
    return out


@router.post("/held/{article_id}/approve", status_code=204,
             summary="Approve held content as it is: the next re-index serves it",
             responses={404: {"description": "No such article or ticket"}})
def approve_held(article_id: str, session: SessionDep, admin: AdminKeyDep) -> Response:
    """The document is indexed by the next re-index job although the safety check flags it,
    until its content changes. Its flagged sentences are still left out of answers."""
    if approve(session, article_id, actor=admin.id) is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    return Response(status_code=204)
