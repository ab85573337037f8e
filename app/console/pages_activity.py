"""Console pages for what customers asked: conversations with each answer's trace,
handoffs with their webhook delivery, and evaluation runs."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from app.admin import audit
from app.cluster.runs import local_run
from app.cluster.store import DatabaseStore, StoreError
from app.console import evalreport
from app.console.render import page
from app.console.session import AdminDep, ViewerDep
from app.deps import SessionDep, SettingsDep, StateDep
from app.models import Conversation, EvalRun, Feedback, Handoff, Message, utcnow
from app.public.handoff import redeliver, webhook_target

logger = logging.getLogger(__name__)
router = APIRouter()
PAGE_SIZE = 50
Outcome = Literal["", "fallback", "thumbs_down", "handoff", "answered"]


def _filtered(outcome: str, article: str, since_days: int) -> Any:
    query = select(Conversation).where(
        col(Conversation.created) >= utcnow() - timedelta(days=since_days))
    conv = col(Conversation.id)
    if outcome == "fallback":
        query = query.where(conv.in_(select(Message.conversation_id)
                                     .where(col(Message.fallback).is_not(None))))
    elif outcome == "answered":
        query = query.where(conv.in_(select(Message.conversation_id).where(
            Message.role == "assistant", col(Message.fallback).is_(None))))
    elif outcome == "thumbs_down":
        down = select(Message.conversation_id).join(
            Feedback, col(Feedback.message_id) == col(Message.id)).where(Feedback.rating == "down")
        query = query.where(conv.in_(down))
    elif outcome == "handoff":
        query = query.where(conv.in_(select(Handoff.conversation_id)))
    if article:
        pattern = f'%"article_id": {json.dumps(article)}%'
        query = query.where(conv.in_(select(Message.conversation_id)
                                     .where(col(Message.citations).like(pattern))))
    return query


def _summaries(session: Session, convs: list[Conversation]) -> list[dict[str, Any]]:
    ids = [c.id for c in convs]
    msgs: dict[str, list[Message]] = {}
    for m in session.exec(select(Message).where(col(Message.conversation_id).in_(ids))
                          .order_by(col(Message.created))):
        msgs.setdefault(m.conversation_id, []).append(m)
    handed = set(session.exec(select(Handoff.conversation_id)
                              .where(col(Handoff.conversation_id).in_(ids))))
    out = []
    for c in convs:
        turns = msgs.get(c.id, [])
        first = next((m.text for m in turns if m.role == "user"), "")
        replies = [m for m in turns if m.role == "assistant"]
        out.append({"id": c.id, "created": c.created, "first": first, "turns": len(turns),
                    "fallbacks": sum(1 for m in replies if m.fallback), "handoff": c.id in handed})
    return out


@router.get("/conversations", response_class=HTMLResponse)
def conversations_page(request: Request, user: ViewerDep, session: SessionDep,
                       outcome: Annotated[Outcome, Query()] = "", article: str = "",
                       days: Annotated[int, Query(ge=1, le=365)] = 30,
                       page_no: Annotated[int, Query(ge=1)] = 1) -> Response:
    query = _filtered(outcome, article.strip(), days)
    convs = list(session.exec(query.order_by(col(Conversation.created).desc())
                              .offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    more = len(convs) > PAGE_SIZE
    return page(request, "conversations.html", user=user, section="conversations",
                rows=_summaries(session, convs[:PAGE_SIZE]), more=more, page_no=page_no,
                filters={"outcome": outcome, "article": article, "days": days})


@router.get("/conversations/{conversation_id}", response_class=HTMLResponse)
def conversation_page(request: Request, conversation_id: str, user: ViewerDep,
                      session: SessionDep) -> Response:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise HTTPException(404, detail=f"no conversation {conversation_id!r}")
    turns = list(session.exec(select(Message).where(Message.conversation_id == conv.id)
                              .order_by(col(Message.created))))
    feedback = {f.message_id: f for f in session.exec(
        select(Feedback).where(col(Feedback.message_id).in_([m.id for m in turns])))}
    handoffs = list(session.exec(select(Handoff).where(Handoff.conversation_id == conv.id)))
    shown = [{"m": m, "citations": json.loads(m.citations or "[]"),
              "fallback": json.loads(m.fallback) if m.fallback else None,
              "feedback": feedback.get(m.id)} for m in turns]
    return page(request, "conversation.html", user=user, section="conversations", conv=conv,
                turns=shown, handoffs=handoffs)


@router.get("/messages/{message_id}/trace", response_class=HTMLResponse)
def trace_fragment(request: Request, message_id: str, user: ViewerDep,
                   session: SessionDep) -> Response:
    """An answer's trace: query, candidates and scores, decision, passages, sentences."""
    message = session.get(Message, message_id)
    trace = json.loads(message.trace) if message is not None and message.trace else None
    return page(request, "_trace.html", user=user, trace=trace, message_id=message_id)


@router.get("/handoffs", response_class=HTMLResponse)
def handoffs_page(request: Request, user: ViewerDep, session: SessionDep,
                  status: str = "", notice: str = "") -> Response:
    query = select(Handoff).order_by(col(Handoff.created).desc()).limit(200)
    if status:
        query = query.where(Handoff.delivery_status == status)
    return page(request, "handoffs.html", user=user, section="handoffs",
                rows=list(session.exec(query)), status=status, notice=notice)


@router.post("/handoffs/redeliver")
def redeliver_page(user: AdminDep, state: StateDep, settings: SettingsDep,
                   session: SessionDep) -> Response:
    counts = redeliver(state.engine, target=webhook_target(settings.handoff), limit=100)
    audit.record(session, actor=user.key_id, action="handoff.redeliver", target_type="handoff",
                 target_id="*", detail={"counts": counts})
    session.commit()
    done = ", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing to send"
    return RedirectResponse(f"/admin/handoffs?notice={quote(done)}", status_code=303)


@router.get("/evaluation", response_class=HTMLResponse)
def evaluation_page(request: Request, user: ViewerDep, session: SessionDep,
                    a: int | None = None, b: int | None = None) -> Response:
    """Evaluation runs with their gates; two of them compared metric by metric."""
    runs = list(session.exec(select(EvalRun).order_by(col(EvalRun.created_at).desc())
                             .limit(100)))
    pair = [r for r in (session.get(EvalRun, a) if a else None,
                        session.get(EvalRun, b) if b else None) if r is not None]
    metrics = sorted({k for r in pair for k, v in r.metrics.items()
                      if isinstance(v, int | float)})
    return page(request, "evaluation.html", user=user, section="evaluation", runs=runs,
                pair=pair, metrics=metrics)


def _run_folder(run_dir: str, *, db: DatabaseStore | None, runs_dir: Path) -> str:
    """Where this host reads a run: with the database store, a run recorded on another host
    is fetched from the store into ``runs_dir`` first."""
    if db is None or not run_dir:
        return run_dir
    try:
        folder = local_run(db, run_dir, runs_dir=runs_dir)
    except StoreError as exc:
        logger.warning("evaluation run %s: %s", run_dir, exc)
        return run_dir
    return str(folder) if folder is not None else run_dir


@router.get("/evaluation/{run_id}", response_class=HTMLResponse)
def evaluation_run_page(request: Request, run_id: int, user: ViewerDep, session: SessionDep,
                        state: StateDep, settings: SettingsDep,
                        failures: bool = False) -> Response:
    """A run's report: its gates and each question's answer, failures first if asked."""
    run = session.get(EvalRun, run_id)
    if run is None:
        raise HTTPException(404, detail=f"no evaluation run {run_id}")
    report = evalreport.read_report(_run_folder(
        run.run_dir, db=state.sync.db if state.sync else None, runs_dir=settings.eval_runs_dir))
    rows, gates = report if report is not None else ([], [])
    shown = [r for r in rows if r.failure] if failures else rows
    return page(request, "evaluation_run.html", user=user, section="evaluation", run=run,
                rows=shown, total=len(rows), failed=sum(1 for r in rows if r.failure),
                gates=gates, found=report is not None, failures=failures)
