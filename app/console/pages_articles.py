"""Console pages for articles: list and filter, view, edit Markdown with a preview, publish,
unpublish, delete, and the content held for review."""

from __future__ import annotations

import json
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from app.admin import approvals, articles
from app.admin.runtime import JobsDep
from app.admin.schemas import ArticleIn
from app.admin.views import start_job
from app.api.admin_held import held_list
from app.catalog import claimed_ids
from app.console import gapstore
from app.console.markdown import render
from app.console.render import page
from app.console.session import EditorDep, ViewerDep, form_fields
from app.content.parse import LoadError
from app.deps import SessionDep, SettingsDep, StateDep
from app.models import Article, KnowledgeGap

logger = logging.getLogger(__name__)
router = APIRouter()
PAGE_SIZE = 50
EDIT_FIELDS = ("id", "title", "product", "locale", "status", "tags", "url", "body")


def _distinct(session: Session, column: Any) -> list[str]:
    return [v for v in session.exec(select(column).distinct().order_by(column)).all() if v]


@router.get("/articles", response_class=HTMLResponse)
def articles_page(request: Request, user: ViewerDep, session: SessionDep, state: StateDep,
                  q: str = "", status: str = "", product: str = "", locale: str = "",
                  source: Annotated[str, Query(pattern="^(|api|file)$")] = "",
                  source_type: str = "", page_no: Annotated[int, Query(ge=1)] = 1) -> Response:
    filters: dict[str, str | None] = {"status": status, "product": product, "locale": locale,
                                      "source": source, "source_type": source_type}
    total, rows = articles.list_rows(session, filters=filters, q=q or None, limit=PAGE_SIZE,
                                     offset=(page_no - 1) * PAGE_SIZE)
    owned = claimed_ids(session, (r.id for r in rows))
    items = [articles.describe(r, index=state.index, body=False, owned=r.id in owned)
             for r in rows]
    options = {"status": ["published", "draft", "archived"],
               "product": _distinct(session, Article.product),
               "locale": _distinct(session, Article.locale),
               "source_type": ["article", "ticket"]}
    return page(request, "articles.html", user=user, section="articles", items=items,
                total=total, filters={**filters, "q": q}, options=options, page_no=page_no,
                pages=max(1, -(-total // PAGE_SIZE)))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-") or "new-article"


@router.get("/articles/new", response_class=HTMLResponse)
def new_article(request: Request, user: ViewerDep, session: SessionDep,
                gap: str = "") -> Response:
    """The editor, empty or prefilled with a knowledge gap's questions."""
    found = session.get(KnowledgeGap, gap) if gap else None
    form = {"id": "", "title": "", "product": "general", "locale": "en-US",
            "status": "draft", "tags": "", "url": "", "body": ""}
    if found is not None:
        title = found.label.rstrip("?").strip()
        asked = "\n".join(f"- {q}" for q in found.questions[:8])
        form.update(id=_slug(title), title=title,
                    body=f"Customers asked:\n\n{asked}\n\nWrite the answer here: the fact "
                         "first, then what the customer needs to do.\n")
    return page(request, "editor.html", user=user, section="articles", form=form,
                gap=found, new=True, preview=render(form["body"]))


def _row(session: Session, article_id: str) -> Article:
    row = session.get(Article, article_id)
    if row is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    return row


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_page(request: Request, article_id: str, user: ViewerDep, session: SessionDep,
                 state: StateDep) -> Response:
    row = _row(session, article_id)
    info = articles.describe(row, index=state.index, body=True,
                             owned=bool(claimed_ids(session, [row.id])))
    linked = list(session.exec(select(KnowledgeGap).where(KnowledgeGap.article_id == row.id)))
    return page(request, "article.html", user=user, section="articles", a=info,
                html_body=render(row.body), gaps=linked)


@router.get("/articles/{article_id}/edit", response_class=HTMLResponse)
def edit_article(request: Request, article_id: str, user: ViewerDep,
                 session: SessionDep) -> Response:
    row = _row(session, article_id)
    form = {"id": row.id, "title": row.title, "product": row.product, "locale": row.locale,
            "status": row.status, "tags": ", ".join(json.loads(row.tags)), "url": row.url,
            "body": row.body}
    return page(request, "editor.html", user=user, section="articles", form=form, gap=None,
                new=False, preview=render(row.body))


@router.post("/preview", response_class=HTMLResponse)
async def preview(request: Request, user: EditorDep) -> Response:
    """The editor's live preview (htmx): the body as the help center would show it."""
    body = (await form_fields(request)).get("body", "")
    return HTMLResponse(render(body))


@router.post("/articles")
async def save_article(request: Request, user: EditorDep, session: SessionDep,
                       settings: SettingsDep, jobs: JobsDep) -> Response:
    """Create or replace an article from the editor; link it to its gap; re-index if asked."""
    fields = await form_fields(request)
    form = {k: fields.get(k, "").strip() for k in EDIT_FIELDS}
    form["body"] = fields.get("body", "")
    gap = session.get(KnowledgeGap, fields.get("gap", "")) if fields.get("gap") else None
    if fields.get("action") == "publish":
        form["status"] = "published"
    tags = [t.strip() for t in form["tags"].split(",") if t.strip()]
    item = ArticleIn(id=form["id"], title=form["title"], body=form["body"],
                     product=form["product"] or None, locale=form["locale"] or None,
                     status=form["status"] or None, url=form["url"] or None, tags=tags)
    try:
        doc = articles.to_source(item, path_id=form["id"], max_bytes=settings.max_file_bytes)
    except LoadError as exc:
        return page(request, "editor.html", user=user, section="articles", form=form, gap=gap,
                    new=fields.get("new") == "1", preview=render(form["body"]),
                    error=str(exc), status_code=422)
    articles.save(session, [doc], actor=user.key_id)
    if gap is not None:
        gapstore.link(session, gap.id, doc.id)
    session.commit()
    if fields.get("reindex") == "1" or fields.get("action") == "publish":
        start_job(jobs, actor=user.key_id, rebuild=False)
    return RedirectResponse(f"/admin/articles/{doc.id}", status_code=303)


def _status(session: Session, article_id: str, status: str, *, actor: str, jobs: JobsDep,
            reindex: bool) -> Response:
    if articles.set_status(session, article_id, status, actor=actor) is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    if reindex:
        start_job(jobs, actor=actor, rebuild=False)
    return RedirectResponse(f"/admin/articles/{article_id}", status_code=303)


@router.post("/articles/{article_id}/publish")
async def publish(request: Request, article_id: str, user: EditorDep, session: SessionDep,
                  jobs: JobsDep) -> Response:
    reindex = (await form_fields(request)).get("reindex") == "1"
    return _status(session, article_id, "published", actor=user.key_id, jobs=jobs,
                   reindex=reindex)


@router.post("/articles/{article_id}/unpublish")
async def unpublish(request: Request, article_id: str, user: EditorDep, session: SessionDep,
                    jobs: JobsDep) -> Response:
    reindex = (await form_fields(request)).get("reindex") == "1"
    return _status(session, article_id, "draft", actor=user.key_id, jobs=jobs,
                   reindex=reindex)


@router.post("/articles/{article_id}/delete")
def delete(article_id: str, user: EditorDep, session: SessionDep, jobs: JobsDep) -> Response:
    if articles.delete(session, article_id, actor=user.key_id) is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    start_job(jobs, actor=user.key_id, rebuild=False)
    return RedirectResponse("/admin/articles", status_code=303)


@router.get("/held", response_class=HTMLResponse)
def held_page(request: Request, user: ViewerDep, session: SessionDep,
              settings: SettingsDep) -> Response:
    """Published content the safety check holds out of the index, with why."""
    held = held_list(session, settings)
    return page(request, "held.html", user=user, section="articles", held=held)


@router.post("/held/{article_id}/approve")
def approve_held(article_id: str, user: EditorDep, session: SessionDep) -> Response:
    """Approve held content as it is: the next re-index serves it until it changes."""
    if approvals.approve(session, article_id, actor=user.key_id) is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    return RedirectResponse("/admin/held", status_code=303)


@router.post("/held/{article_id}/reject")
def reject_held(article_id: str, user: EditorDep, session: SessionDep) -> Response:
    """Reject held content: it goes back to draft, out of the review list."""
    if articles.set_status(session, article_id, "draft", actor=user.key_id) is None:
        raise HTTPException(404, detail=f"no article or ticket with id {article_id!r}")
    session.commit()
    return RedirectResponse("/admin/held", status_code=303)


