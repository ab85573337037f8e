"""Admin routes for articles and tickets. Changes reach chat answers after a re-index job:
add ``?reindex=true`` to start one (or join the queued one) with the change."""

from __future__ import annotations

import json
import logging
import unicodedata
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.admin import articles
from app.admin.jobs import JobRunner
from app.admin.runtime import JobsDep
from app.admin.schemas import (
    ArticleBatch,
    ArticleIn,
    Limit,
    Offset,
    StatusChange,
    TicketBatch,
    WriteResponse,
    WriteResult,
    require_text,
)
from app.admin.views import start_job
from app.api.errors import invalid_items
from app.auth import AdminKeyDep
from app.catalog import claimed_ids
from app.content.parse import LoadError
from app.deps import SessionDep, SettingsDep, StateDep
from app.models import Article
from app.settings import Settings

logger = logging.getLogger(__name__)
router = APIRouter()
_NOT_FOUND: dict[int | str, dict[str, object]] = {
    404: {"description": "No article or ticket with that id"}}

_REINDEX = Query(default=False, description="Start a re-index job (or join the queued one).")
_MARKDOWN_TYPES = ("text/markdown", "text/x-markdown", "text/plain")
_PUT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/ArticleIn"}},
    "text/markdown": {"schema": {"type": "string"},
                      "example": "---\nid: example-article\ntitle: Return a device\n---\n"
                                 "You have..."},
    "text/html": {"schema": {"type": "string"}},
}}}


def _respond(results: list[articles.Saved], *, jobs: JobRunner, reindex: bool,
             actor: str, status_code: int = 200) -> JSONResponse:
    job = None
    if reindex:
        job = start_job(jobs, actor=actor, rebuild=False)
    body = WriteResponse(results=[WriteResult(id=r.id, result=r.result, status=r.status)
                                  for r in results], job=job)
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code)


def _check_size(n: int, settings: Settings) -> None:
    if n > settings.admin.max_batch:
        raise HTTPException(413, detail=f"{n} items in one request, over the limit of "
                                        f"{settings.admin.max_batch}: split the batch")


@router.post("/articles", response_model=WriteResponse, summary="Create or update articles",
             responses={422: {"description": "Invalid items; nothing was written"}})
def upsert_articles(body: ArticleBatch, session: SessionDep, admin: AdminKeyDep,
                    jobs: JobsDep, settings: SettingsDep,
                    reindex: bool = _REINDEX) -> JSONResponse:
    """Insert or replace every article of the batch, or none if any item is invalid."""
    require_text(body)
    _check_size(len(body.articles), settings)
    try:
        docs = articles.parse_all(body.articles, max_bytes=settings.max_file_bytes)
    except articles.InvalidInputError as exc:
        raise invalid_items(exc.errors, field="articles") from exc
    results = articles.save(session, docs, actor=admin.id)
    session.commit()
    return _respond(results, jobs=jobs, reindex=reindex, actor=admin.id)


def _unreadable(message: str) -> RequestValidationError:
    """A body that cannot be read: a 422 of the published shape, as for any invalid body."""
    return RequestValidationError([{"type": "json_invalid", "loc": ("body",), "msg": message,
                                    "input": None}])


async def article_payload(request: Request) -> ArticleIn:
    """The PUT body: JSON (:class:`ArticleIn`), raw Markdown with front matter, or HTML."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if kind not in (*_MARKDOWN_TYPES, "text/html", "application/json"):
        raise HTTPException(415, detail="send application/json, text/markdown or text/html")
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _unreadable("the body is not UTF-8") from exc
    if kind in _MARKDOWN_TYPES or kind == "text/html":
        return ArticleIn(format="html" if kind == "text/html" else "markdown", content=text)
    try:
        value = json.loads(text or "null")
    except json.JSONDecodeError as exc:
        raise _unreadable(f"invalid JSON: {exc.msg}") from exc
    require_text(value)
    try:
        return ArticleIn.model_validate(value)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])}
                                      for e in exc.errors()]) from exc


@router.put("/articles/{article_id}", response_model=WriteResponse, openapi_extra=_PUT_BODY,
            summary="Create or replace one article",
            responses={201: {"description": "Created"}, 422: {"description": "Invalid"}})
def put_article(article_id: str, item: Annotated[ArticleIn, Depends(article_payload)],
                session: SessionDep, admin: AdminKeyDep, jobs: JobsDep,
                settings: SettingsDep, reindex: bool = _REINDEX) -> JSONResponse:
    """JSON fields (body in Markdown), a Markdown page with front matter, or an HTML page."""
    try:
        doc = articles.to_source(item, path_id=article_id, max_bytes=settings.max_file_bytes)
    except LoadError as exc:
        raise invalid_items([{"index": 0, "id": article_id, "error": str(exc)}],
                            field="body") from exc
    results = articles.save(session, [doc], actor=admin.id)
    session.commit()
    created = results[0].result == "added"
    return _respond(results, jobs=jobs, reindex=reindex, actor=admin.id,
                    status_code=201 if created else 200)


@router.get("/articles", summary="List articles and tickets (no bodies)")
def list_articles(session: SessionDep, state: StateDep, status: str | None = None,
                  product: str | None = None, locale: str | None = None,
                  source_type: str | None = None,
                  source: str | None = Query(default=None, pattern="^(api|file)$"),
                  q: str | None = Query(default=None, description="in the title or id"),
                  limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    filters = {"status": status, "product": product, "locale": locale,
               "source_type": source_type, "source": source}
    total, rows = articles.list_rows(session, filters=filters, q=q, limit=limit, offset=offset)
    owned = claimed_ids(session, (r.id for r in rows))
    return {"total": total, "limit": limit, "offset": offset,
            "items": [articles.describe(r, index=state.index, body=False, owned=r.id in owned)
                      for r in rows]}


def _lookup_id(article_id: str) -> str:
    """Ids are stored in NFC, so an NFD spelling in a URL finds the same article. Reads and
    deletes do not apply the id pattern: rows from files may predate it."""
    return unicodedata.normalize("NFC", article_id)


def _get_row(session: SessionDep, article_id: str) -> Article:
    row = session.get(Article, _lookup_id(article_id))
    if row is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    return row


@router.get("/articles/{article_id}", summary="One article, with its body and index state",
            responses=_NOT_FOUND)
def get_article(article_id: str, session: SessionDep, state: StateDep) -> dict[str, Any]:
    row = _get_row(session, article_id)
    return articles.describe(row, index=state.index, body=True,
                             owned=bool(claimed_ids(session, [row.id])))


@router.delete("/articles/{article_id}", response_model=WriteResponse,
               summary="Delete an article or ticket", responses=_NOT_FOUND)
def delete_article(article_id: str, session: SessionDep, admin: AdminKeyDep, jobs: JobsDep,
                   reindex: bool = _REINDEX) -> JSONResponse:
    """Removed from the catalogue now, from answers after the next re-index job. It stays
    deleted when ``python -m ingest`` runs again, even if a file still holds it, until it is
    released (``POST /v1/admin/articles/{id}/release``)."""
    saved = articles.delete(session, _lookup_id(article_id), actor=admin.id)
    if saved is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    return _respond([saved], jobs=jobs, reindex=reindex, actor=admin.id)


@router.post("/articles/{article_id}/release", response_model=WriteResponse,
             summary="Hand an article edited or deleted here back to its file",
             responses={404: {"description": "No article or ticket with that id owned by "
                                             "the admin API"}})
def release_article(article_id: str, session: SessionDep, admin: AdminKeyDep,
                    jobs: JobsDep) -> JSONResponse:
    """The admin API stops owning the article (or its deletion): the next ``python -m ingest``
    of its folder (``make run`` runs one) writes the file's version again, or removes the
    article if no file holds it any more. Until then the catalogue keeps the API's version."""
    saved = articles.release(session, _lookup_id(article_id), actor=admin.id)
    if saved is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r} was "
                                        "edited or deleted through the admin API since its "
                                        "last release: its file already owns it")
    session.commit()
    # No re-index job: the catalogue changes only when file ingestion takes the file again.
    return _respond([saved], jobs=jobs, reindex=False, actor=admin.id)


def _set_status(article_id: str, status: str, session: SessionDep, admin_id: str,
                jobs: JobRunner, reindex: bool) -> JSONResponse:
    saved = articles.set_status(session, _lookup_id(article_id), status, actor=admin_id)
    if saved is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    return _respond([saved], jobs=jobs, reindex=reindex, actor=admin_id)


@router.post("/articles/{article_id}/unpublish", response_model=WriteResponse,
             summary="Unpublish (draft) or archive an article", responses=_NOT_FOUND)
def unpublish_article(article_id: str, session: SessionDep, admin: AdminKeyDep,
                      jobs: JobsDep, body: StatusChange | None = None,
                      reindex: bool = _REINDEX) -> JSONResponse:
    status = body.status if body is not None else "draft"
    return _set_status(article_id, status, session, admin.id, jobs, reindex)


@router.post("/articles/{article_id}/publish", response_model=WriteResponse,
             summary="Publish a draft or archived article", responses=_NOT_FOUND)
def publish_article(article_id: str, session: SessionDep, admin: AdminKeyDep, jobs: JobsDep,
                    reindex: bool = _REINDEX) -> JSONResponse:
    return _set_status(article_id, "published", session, admin.id, jobs, reindex)


@router.post("/tickets", response_model=WriteResponse,
             summary="Upload resolved tickets (redacted before storage)",
             responses={422: {"description": "Invalid tickets; nothing was written"}})
def upload_tickets(body: TicketBatch, session: SessionDep, admin: AdminKeyDep, jobs: JobsDep,
                   settings: SettingsDep, reindex: bool = _REINDEX) -> JSONResponse:
    """Tickets become searchable ``ticket-<id>`` documents when resolved; texts are redacted
    (emails, phone and card numbers, addresses, order numbers, names) on the way in."""
    require_text(body)
    _check_size(len(body.tickets), settings)
    try:
        docs = articles.parse_tickets(body.tickets, max_bytes=settings.max_file_bytes)
    except articles.InvalidInputError as exc:
        raise invalid_items(exc.errors, field="tickets") from exc
    results = articles.save(session, docs, actor=admin.id)
    session.commit()
    return _respond(results, jobs=jobs, reindex=reindex, actor=admin.id)
