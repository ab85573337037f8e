"""Knowledge gaps as the console tracks them, and the overview's figures, on a real database
with the real embedding model: grouping, injection and abuse apart, linking, resolution and
reopening, ignoring."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from app.console import gapstore, metrics
from app.db import make_engine
from app.models import Conversation, Feedback, Handoff, Message, utcnow
from app.settings import Settings

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parents[1] / "fixtures" / "console" / "gap_questions.jsonl"
THRESHOLD = 0.6


@pytest.fixture()
def engine(tmp_path):
    engine = make_engine(Settings(var_dir=tmp_path).resolved_database_url)
    yield engine
    engine.dispose()


def turn(session: Session, question: str, *, fallback: str | None = "off_topic",
         cites: tuple[str, ...] = (), at_s: float = 0.0, total_ms: float = 20.0) -> Message:
    """A conversation of one question and its reply, ``at_s`` seconds from now."""
    at = utcnow() + timedelta(seconds=at_s)
    conv = Conversation(id=f"c_{abs(hash((question, at_s))):x}"[:40], created=at)
    session.add(conv)
    session.add(Message(id=f"u{conv.id}", conversation_id=conv.id, role="user", text=question,
                        created=at))
    reply = Message(id=f"a{conv.id}", conversation_id=conv.id, role="assistant",
                    text="" if fallback else "Yes. [1]", created=at + timedelta(milliseconds=5),
                    fallback=json.dumps({"reason": fallback, "message": "I'd rather not guess."})
                    if fallback else None,
                    citations=json.dumps([{"n": 1, "article_id": a, "title": a.title()}
                                          for a in cites]),
                    timings=json.dumps({"total": total_ms}))
    session.add(reply)
    session.commit()
    return reply


def sync(session: Session, embedder) -> list[gapstore.GapView]:  # type: ignore[no-untyped-def]
    views = gapstore.sync(session, since=utcnow() - timedelta(days=1), embedder=embedder,
                          index=None, threshold=THRESHOLD)
    session.commit()
    return views


def test_injection_and_abuse_are_grouped_apart(engine, embedder):
    rows = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]
    with Session(engine) as session:
        for n, row in enumerate(rows):
            turn(session, row["question"], at_s=-n)
        views = sync(session, embedder)
        asked: dict[str, set[str]] = {"gap": set(), "abuse": set()}
        for v in views:
            asked[v.gap.kind] |= set(v.gap.questions)
        counted = sum(v.count for v in views if v.gap.kind == "gap")
    assert asked["abuse"] == {r["question"] for r in rows if r["abuse"]}
    assert asked["gap"] == {r["question"] for r in rows if not r["abuse"]}
    assert counted == 9


def test_a_linked_gap_resolves_and_reopens(engine, embedder):
    with Session(engine) as session:
        turn(session, "Do you deliver to Mars?", at_s=-20)
        turn(session, "Can you ship my order to Mars?", at_s=-10)
        turn(session, "How do I reset the hub?", fallback=None, cites=("t-reset",), at_s=-5)
        views = sync(session, embedder)
        [gap] = [v.gap for v in views]
        assert gap.status == "open" and len(gap.message_ids) == 2
        assert {e.answer for v in views for e in v.examples} == {"I'd rather not guess."}

        gapstore.link(session, gap.id, "t-mars")
        session.commit()
        turn(session, "How do I reset the hub?", fallback=None, cites=("t-reset",), at_s=1)
        assert sync(session, embedder)[0].gap.status == "open"  # not one of its questions
        turn(session, "do you deliver to mars", fallback=None, cites=("t-other",), at_s=2)
        assert sync(session, embedder)[0].gap.status == "open"  # answered, not by its article
        turn(session, "Do you deliver to Mars?", fallback=None, cites=("t-mars",), at_s=3)
        assert sync(session, embedder)[0].gap.status == "resolved"
        turn(session, "Is delivery to Mars possible?", at_s=4)  # a paraphrase falls back
        [view] = sync(session, embedder)
        assert view.gap.id == gap.id and view.gap.status == "open" and view.count == 3


def test_an_ignored_gap_stays_ignored(engine, embedder):
    with Session(engine) as session:
        turn(session, "What is the meaning of life?", at_s=-3)
        [view] = sync(session, embedder)
        gapstore.set_status(session, view.gap.id, "ignored")
        session.commit()
        turn(session, "what is the meaning of life", at_s=1)
        [view] = sync(session, embedder)
        assert view.gap.status == "ignored" and view.count == 2


def test_the_overview_figures(engine):
    with Session(engine) as session:
        for n in range(18):
            turn(session, f"How do I return item {n}?", fallback=None, cites=("t-returns",),
                 at_s=-n, total_ms=10.0 + n)
        turn(session, "off topic one", at_s=-30, total_ms=500.0)
        late = turn(session, "unsure one", fallback="low_confidence", at_s=-31, total_ms=900.0)
        turn(session, "long ago", at_s=-9 * 86400)
        session.add(Feedback(message_id=late.id, rating="down"))
        session.add(Handoff(id="h1", conversation_id=late.conversation_id, reason="other",
                            summary="s"))
        session.commit()
        week = metrics.overview(session, days=7)
        month = metrics.overview(session, days=30)
    assert (week.conversations, week.answers, week.answered) == (20, 20, 18)
    assert week.answered_rate == pytest.approx(0.9)
    assert dict(week.fallbacks) == {"off_topic": 1, "low_confidence": 1}
    assert week.p95_ms == 500.0  # 19th of 20 replies by latency
    assert week.cited == [("t-returns", "T-Returns", 18)]
    assert (week.thumbs_down, week.thumbs_up, week.handoffs) == (1, 0, 1)
    assert month.conversations == 21 and month.fallbacks["off_topic"] == 2
    assert sum(b["answered"] + b["fallbacks"] for b in week.bars) == 20
