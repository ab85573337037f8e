"""The article catalogue in the database: sync loaded documents in, read servable ones out.

Each article has one owner. An article loaded from a file is its file's until an admin writes
or deletes it through the admin API; from then on the API owns it (an :class:`ArticleClaim`
row, a tombstone for a deletion) and file ingestion leaves it alone, reporting it as kept,
until an admin releases it (:func:`release`). Articles created through the API are the API's
from the start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, delete, select

from app.models import Article, ArticleClaim, ChunkRecord, utcnow
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
    kept: tuple[str, ...] = ()  # offered by a file, but the admin API owns them


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
    article it used to hold) and those the admin API owns. Documents whose id the admin API
    owns (edited, deleted or created through it) are not written: they are reported as kept.
    """
    result: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "kept": []}
    claims = {c.article_id: c for c in session.exec(select(ArticleClaim)).all()}
    seen = set()
    for doc in docs:
        seen.add(doc.id)
        held = claims.get(doc.id)
        if held is None:
            result[upsert(session, doc)].append(doc.id)
            continue
        result["kept"].append(doc.id)
        if held.file_path != doc.source_path:  # where release hands the article back to
            held.file_path = doc.source_path
            session.add(held)
    roots = tuple(scope)
    kept = {p.split(":")[0].split("#")[0] for p in keep_paths}
    removed = []
    for row in session.exec(select(Article)).all():
        if (row.id in seen or row.id in claims or row.source_path == API_SOURCE
                or not row.source_path.startswith(roots) or row.source_path in kept):
            continue
        session.delete(row)
        removed.append(row.id)
    session.flush()
    return SyncReport(added=tuple(result["added"]), updated=tuple(result["updated"]),
                      unchanged=tuple(result["unchanged"]), removed=tuple(removed),
                      kept=tuple(sorted(result["kept"])))


def claim(session: Session, article_id: str, *, deleted: bool, actor: str) -> None:
    """Record that the admin API owns ``article_id`` (call before writing or deleting its row).

    The file the row came from, if any, is remembered for :func:`release`.
    """
    row = session.get(Article, article_id)
    changes: dict[str, Any] = {"deleted": deleted, "actor": actor, "claimed_at": utcnow()}
    if row is not None and row.source_path not in ("", API_SOURCE):
        changes["file_path"] = row.source_path
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        held = session.get(ArticleClaim, article_id) or ArticleClaim(article_id=article_id)
        for name, value in changes.items():
            setattr(held, name, value)
        session.add(held)
        return
    # One statement, so that a claim released or created by a concurrent request in between
    # is neither updated in vain (StaleDataError) nor inserted twice (IntegrityError).
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    stmt = insert(ArticleClaim).values({"article_id": article_id, "file_path": "", **changes})
    session.flush()
    session.execute(stmt.on_conflict_do_update(index_elements=["article_id"], set_=changes))
    for loaded in list(session.identity_map.values()):  # re-read a claim loaded before
        if isinstance(loaded, ArticleClaim) and loaded.article_id == article_id:
            session.expire(loaded)


def release(session: Session, article_id: str) -> ArticleClaim | None:
    """Hand an article the admin API owns back to its file; None if the API does not own it.

    The claim (or tombstone) goes, and the row, if any, points at its file again: the next
    file ingestion of that folder writes the file's version, or removes the article if the
    file no longer holds it. With no file known, the row stays until a file offers its id.
    """
    held = session.get(ArticleClaim, article_id)
    if held is None:
        return None
    row = session.get(Article, article_id)
    if row is not None and held.file_path and row.source_path == API_SOURCE:
        row.source_path = held.file_path
        session.add(row)
    session.delete(held)
    session.flush()
    return held


def claimed_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that the admin API owns."""
    wanted = list(ids)
    if not wanted:
        return set()
    query = select(ArticleClaim.article_id).where(col(ArticleClaim.article_id).in_(wanted))
    return set(session.exec(query).all())


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
