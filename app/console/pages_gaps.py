"""Console pages for knowledge gaps: the questions the help center could not answer."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.admin import audit
from app.console import gapstore
from app.console.render import page
from app.console.session import EditorDep, ViewerDep
from app.deps import SessionDep, SettingsDep, StateDep
from app.models import utcnow

logger = logging.getLogger(__name__)
router = APIRouter()

Tab = Literal["open", "resolved", "ignored", "abuse"]


def _in_tab(view: gapstore.GapView, tab: str) -> bool:
    if tab == "abuse":
        return view.gap.kind == "abuse"
    return view.gap.kind == "gap" and view.gap.status == tab


@router.get("/gaps", response_class=HTMLResponse)
def gaps_page(request: Request, user: ViewerDep, session: SessionDep, state: StateDep,
              settings: SettingsDep, tab: Annotated[Tab, Query()] = "open",
              days: Annotated[int, Query(ge=1, le=365)] = 30) -> Response:
    """Groups of unanswered questions with counts, examples, the bot's answer and why."""
    views = gapstore.sync(session, since=utcnow() - timedelta(days=days),
                          embedder=state.embedder, index=state.index,
                          threshold=settings.admin.gaps_similarity)
    session.commit()
    counts = {t: sum(1 for v in views if _in_tab(v, t)) for t in Tab.__args__}  # type: ignore[attr-defined]
    shown = [v for v in views if _in_tab(v, tab)]
    return page(request, "gaps.html", user=user, section="gaps", views=shown, tab=tab,
                counts=counts, days=days)


def _change(session: SessionDep, gap_id: str, status: str, actor: str) -> Response:
    gap = gapstore.set_status(session, gap_id, status)
    if gap is None:
        raise HTTPException(404, detail=f"no gap with id {gap_id!r}")
    audit.record(session, actor=actor, action=f"gap.{'ignore' if status == 'ignored' else 'open'}",
                 target_type="gap", target_id=gap_id, detail={"label": gap.label})
    session.commit()
    return RedirectResponse(f"/admin/gaps?tab={'ignored' if status == 'open' else 'open'}",
                            status_code=303)


@router.post("/gaps/{gap_id}/ignore")
def ignore_gap(gap_id: str, user: EditorDep, session: SessionDep) -> Response:
    """Not a gap worth an article: hidden from the open list until opened again."""
    return _change(session, gap_id, "ignored", user.key_id)


@router.post("/gaps/{gap_id}/reopen")
def reopen_gap(gap_id: str, user: EditorDep, session: SessionDep) -> Response:
    return _change(session, gap_id, "open", user.key_id)
