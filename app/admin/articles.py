"""Articles and tickets written through the admin API, kept in the database catalogue.

The database is the source of truth for what the next re-index serves. Every article or
ticket written or deleted here is owned by the API (:func:`app.catalog.claim`): ``python -m
ingest`` neither overwrites nor removes nor brings it back until an admin releases it
(:func:`release`), after which its file wins again. Inputs go through the same
parsers as files (:mod:`app.content.parse`), so one article gives the same document, and the
same content hash, whichever way it arrives. A batch is all or nothing.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app import catalog
from app.admin import audit
from app.admin.schemas import ID_PATTERN, ArticleIn
from app.catalog import API_SOURCE, to_document, upsert
from app.content.parse import (
    LoadError,
    parse_fields,
    parse_html,
    parse_json_article,
    parse_markdown,
    parse_ticket,
)
from app.errors import RagError
from app.models import Article
from app.rag.index import IndexVersion
from app.rag.types import SourceDocument

_PAYLOAD_KEYS = {"format", "content", "article"}
_ID_RE = re.compile(ID_PATTERN)


class InvalidInputError(RagError, ValueError):
    """Some items of a request cannot be parsed; ``errors`` lists each with its position."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"item {e['index']}: {e['error']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Saved:
    id: str
    result: str  # added | updated | unchanged | deleted | released
    status: str = ""


def to_source(item: ArticleIn, *, path_id: str | None = None,
              max_bytes: int = 1_000_000) -> SourceDocument:
    """Parse one input into a document; ``path_id`` is the id from the URL, if any.

    Raises:
        LoadError: If the input is invalid, over ``max_bytes`` or its id does not match
            :data:`ID_PATTERN`; the message says what to fix.
    """
    if path_id is not None:
        path_id = checked_id(path_id)
    if item.format in ("markdown", "html"):
        if not item.content:
            raise LoadError(f"format {item.format} needs the page in 'content'")
        _check_bytes(item.content, what="content", max_bytes=max_bytes)
        parse = parse_markdown if item.format == "markdown" else parse_html
        doc = parse(item.content, source_path=API_SOURCE)
    elif item.format == "zendesk":
        if item.article is None:
            raise LoadError("format zendesk needs the article object in 'article'")
        _check_bytes(item.article, what="the article object", max_bytes=max_bytes)
        doc = parse_json_article({"id": path_id, **item.article}, source_path=API_SOURCE)
    else:
        fields = item.model_dump(exclude_none=True, exclude=_PAYLOAD_KEYS)
        _check_bytes(fields, what="the article", max_bytes=max_bytes)
        doc = parse_fields({"id": path_id, **fields}, source_path=API_SOURCE)
    doc = replace(doc, id=checked_id(doc.id))
    if path_id is not None and doc.id != path_id:
        raise LoadError(f"the article's id {doc.id!r} differs from the id in the URL {path_id!r}")
    return doc


def checked_id(value: str) -> str:
    """``value`` in Unicode NFC, if it then matches :data:`ID_PATTERN`.

    Raises:
        LoadError: If it does not (``../x``, spaces, non-ASCII letters, over 128 characters).
    """
    normal = unicodedata.normalize("NFC", value)
    if not _ID_RE.match(normal):
        raise LoadError(f"id {value!r} does not match {ID_PATTERN}: use ASCII letters, digits, "
                        "'.', '_' and '-', starting with a letter or digit, at most 128 "
                        "characters")
    return normal


def _check_bytes(value: Any, *, what: str, max_bytes: int) -> None:
    """The same limit as a file: the UTF-8 size of the text, or of the object as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise LoadError(f"{what} is {size:,} bytes, over the limit of {max_bytes:,} bytes "
                        "(GROUNDLINE_MAX_FILE_BYTES): split it")


def parse_all(items: list[ArticleIn], *, max_bytes: int) -> list[SourceDocument]:
    """Every item parsed, or :class:`InvalidInputError` naming every bad one."""
    docs, errors = [], []
    for n, item in enumerate(items):
        try:
            docs.append(to_source(item, max_bytes=max_bytes))
        except LoadError as exc:
            errors.append({"index": n, "id": item.id, "error": str(exc)})
    _check_duplicates(docs, errors)
    if errors:
        raise InvalidInputError(errors)
    return docs


def parse_tickets(items: list[dict[str, Any]], *, max_bytes: int) -> list[SourceDocument]:
    """Tickets parsed and redacted (personal data never reaches the database)."""
    docs, errors = [], []
    for n, obj in enumerate(items):
        try:
            _check_bytes(obj, what="the ticket", max_bytes=max_bytes)
            doc = parse_ticket(obj, source_path=API_SOURCE)
            # The ticket's own id follows the pattern, and so does the document's ticket-<id>.
            checked_id(doc.id.removeprefix("ticket-"))
            docs.append(replace(doc, id=checked_id(doc.id)))
        except LoadError as exc:
            errors.append({"index": n, "id": obj.get("id"), "error": str(exc)})
    _check_duplicates(docs, errors)
    if errors:
        raise InvalidInputError(errors)
    return docs


def _check_duplicates(docs: list[SourceDocument], errors: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for n, doc in enumerate(docs):
        if doc.id in seen:
            errors.append({"index": n, "id": doc.id, "error": f"duplicate id {doc.id!r}"})
        seen.add(doc.id)


def save(session: Session, docs: list[SourceDocument], *, actor: str) -> list[Saved]:
    """Insert or update documents, with one audit row per change (the caller commits)."""
    out = []
    for doc in docs:
        catalog.claim(session, doc.id, deleted=False, actor=actor)
        result = upsert(session, doc)
        if result != "unchanged":
            kind = "ticket" if doc.source_type == "ticket" else "article"
            audit.record(session, actor=actor, action=f"{kind}.{_VERB[result]}",
                         target_type=kind, target_id=doc.id, detail={"status": doc.status})
        out.append(Saved(doc.id, result, doc.status))
    session.flush()
    return out


_VERB = {"added": "create", "updated": "update"}


def set_status(session: Session, article_id: str, status: str, *, actor: str) -> Saved | None:
    """Publish, unpublish (draft) or archive an article; None if there is no such article."""
    row = session.get(Article, article_id)
    if row is None:
        return None
    catalog.claim(session, article_id, deleted=False, actor=actor)
    result = upsert(session, replace(to_document(row), status=status))
    if result != "unchanged":
        audit.record(session, actor=actor, action=f"article.{_STATUS_VERB[status]}",
                     target_type=row.source_type, target_id=article_id,
                     detail={"status": status})
    session.flush()
    return Saved(article_id, result, status)


_STATUS_VERB = {"published": "publish", "draft": "unpublish", "archived": "archive"}


def delete(session: Session, article_id: str, *, actor: str) -> Saved | None:
    """Delete an article or ticket from the catalogue; None if there is no such id."""
    row = session.get(Article, article_id)
    if row is None:
        return None
    audit.record(session, actor=actor, action=f"{row.source_type}.delete",
                 target_type=row.source_type, target_id=article_id,
                 detail={"source": row.source_path or API_SOURCE, "title": row.title})
    catalog.claim(session, article_id, deleted=True, actor=actor)  # a tombstone
    session.delete(row)
    session.flush()
    return Saved(article_id, "deleted", row.status)


def release(session: Session, article_id: str, *, actor: str) -> Saved | None:
    """Hand an article or tombstone the API owns back to its file; None if the API owns none.

    The next ``python -m ingest`` of the file's folder takes the file's version again.
    """
    held = catalog.release(session, article_id)
    if held is None:
        return None
    row = session.get(Article, article_id)
    kind = row.source_type if row is not None else "article"
    audit.record(session, actor=actor, action=f"{kind}.release", target_type=kind,
                 target_id=article_id,
                 detail={"deleted": held.deleted, "file": held.file_path or None})
    session.flush()
    return Saved(article_id, "released", row.status if row is not None else "")


def list_rows(session: Session, *, filters: dict[str, str | None], q: str | None,
              limit: int, offset: int) -> tuple[int, list[Article]]:
    """Articles matching every given filter (and ``q`` in the title or id), by id."""
    query = select(Article)
    for name in ("status", "product", "locale", "source_type"):
        if value := filters.get(name):
            query = query.where(getattr(Article, name) == value)
    if (origin := filters.get("source")) == "api":
        query = query.where(Article.source_path == API_SOURCE)
    elif origin == "file":
        query = query.where(Article.source_path != API_SOURCE)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(Article.title).like(pattern),
                                func.lower(Article.id).like(pattern)))
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(Article.id)).offset(offset).limit(limit)).all()
    return int(total), list(rows)


def describe(row: Article, *, index: IndexVersion | None, body: bool,
             owned: bool) -> dict[str, Any]:
    """An article as the admin API shows it, with whether the served index has this content;
    ``owned``: the admin API owns it (file ingestion leaves it alone)."""
    indexed = index.articles.get(row.id) if index is not None else None
    out: dict[str, Any] = {
        "id": row.id, "title": row.title, "url": row.url, "product": row.product,
        "locale": row.locale, "status": row.status, "source_type": row.source_type,
        "updated_at": row.updated_at, "tags": json.loads(row.tags),
        "source": "api" if row.source_path == API_SOURCE else "file",
        "source_path": None if row.source_path == API_SOURCE else row.source_path,
        "owner": "api" if owned else "file",
        "content_hash": row.content_hash, "created": row.created, "modified": row.modified,
        "index": {"version": index.name if index is not None else None,
                  "indexed": indexed is not None,
                  "current": (indexed is not None and indexed["hash"] == row.content_hash)
                  or (indexed is None and row.status != "published")},
    }
    if body:
        out["body"] = row.body
    return out
