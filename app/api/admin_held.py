"""Admin route listing content held for review by the content-safety check.

A published article or ticket with a flagged sentence (a request for passwords, codes or
card numbers, text addressed to the assistant, a link outside the allowed domains) is not
indexed; this route says which, where and why, so an editor can fix it or delete it.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel

from app.catalog import all_documents
from app.content.safety import held_documents
from app.deps import SessionDep, SettingsDep
from app.rag.factory import make_content_safety

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
    Fix the text (or add a legitimate domain to the setting) and re-index to serve it."""
    docs = {d.id: d for d in all_documents(session)}
    held = held_documents(docs.values(), make_content_safety(settings))
    return [HeldOut(article_id=doc_id, title=docs[doc_id].title,
                    source_type=docs[doc_id].source_type, source_path=docs[doc_id].source_path,
                    reason=f.reason, sentence=f.sentence, detail=f.detail)
            for doc_id, found in sorted(held.items()) for f in found]
