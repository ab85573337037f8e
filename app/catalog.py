"""The article catalogue in the database: sync loaded documents in, read servable ones out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, delete, select

from app.models import Article, ChunkRecord, utcnow
from app.rag.build import content_hash
from app.rag.index import IndexVersion
from app.rag.types import SourceDocument

logger = logging.getLogger(__name__)

# ``source_path`` of documents written through the admin API: the database is their only
# copy, so a file sync never removes them, whatever folders it covers.
API_SOURCE = "api"


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]


def to_document(row: Article) -> SourceDocument:
    return SourceDocument(
        id=row.id, title=row.title, body=row.body, url=row.url, product=row.product,
        locale=row.locale, status=row.status, updated_at=row.updated_at,
        tags=tuple(json.loads(row.tags)), source_type=row.source_type,
        source_path=row.source_path,
    )


def upsert(session: Session, doc: SourceDocument) -> str:
    """Insert or update one document; returns added, updated or unchanged."""
    digest = content_hash(doc)
    row = session.get(Article, doc.id)
    if row is not None and row.content_hash == digest:
        if row.source_path != doc.source_path:
            row.source_path = doc.source_path
            session.add(row)
        return "unchanged"
    fields: dict[str, Any] = {
        "title": doc.title, "url": doc.url, "product": doc.product, "locale": doc.locale,
        "status": doc.status, "source_type": doc.source_type, "updated_at": doc.updated_at,
        "tags": json.dumps(list(doc.tags)), "body": doc.body, "source_path": doc.source_path,
        "content_hash": digest, "modified": utcnow(),
    }
    if row is None:
        session.add(Article(id=doc.id, **fields))
        return "added"
    for key, value in fields.items():
        setattr(row, key, value)
    session.add(row)
    return "updated"


def sync_documents(session: Session, docs: Iterable[SourceDocument], *,
                   scope: Iterable[str], keep_paths: Iterable[str] = ()) -> SyncReport:
    """Make the catalogue match ``docs`` for everything loaded from under ``scope``.

    Articles whose source file lies under a scope root but did not load are removed, except
    those from ``keep_paths`` (files that failed to load: a broken edit must not delete the
    article it used to hold) and those written through the admin API.
    """
    result: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": []}
    seen = set()
    for doc in docs:
        result[upsert(session, doc)].append(doc.id)
        seen.add(doc.id)
    roots = tuple(scope)
    kept = {p.split(":")[0].split("#")[0] for p in keep_paths}
    removed = []
    for row in session.exec(select(Article)).all():
        if (row.id in seen or row.source_path == API_SOURCE
                or not row.source_path.startswith(roots) or row.source_path in kept):
            continue
        session.delete(row)
        removed.append(row.id)
    session.flush()
    return SyncReport(added=tuple(result["added"]), updated=tuple(result["updated"]),
                      unchanged=tuple(result["unchanged"]), removed=tuple(removed))


def all_documents(session: Session) -> list[SourceDocument]:
    return [to_document(r) for r in session.exec(select(Article).order_by(Article.id)).all()]


def record_chunks(session: Session, version: IndexVersion) -> None:
    """Replace the chunk table with the chunks of ``version``."""
    session.exec(delete(ChunkRecord))  # type: ignore[call-overload]
    for chunk in version.chunks:
        session.add(ChunkRecord(
            chunk_id=chunk.chunk_id, article_id=chunk.article_id, ordinal=chunk.ordinal,
            heading_path=json.dumps(list(chunk.heading_path)), url=chunk.url,
            char_start=chunk.char_start, char_end=chunk.char_end, n_tokens=chunk.n_tokens,
            text=chunk.text, index_version=version.name,
        ))
    session.flush()
