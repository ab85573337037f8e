"""The console's pages at 10,000 articles and 100,000 messages on PostgreSQL: server p95 per
page (after a first visit, which groups and embeds the new unanswered questions once).

Writes ``var/bench/console-pages.json``. Slow: populating and measuring take about a minute.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert, update

from app.auth import create_key
from app.db import make_engine, session_scope
from app.main import create_app
from app.models import Article, Conversation, Message, utcnow
from app.rag.index import IndexStore
from app.state import AppState
from tests.public_helpers import base_settings
from tests.servers import serve

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.e2e]

ARTICLES, CONVERSATIONS = 10_000, 50_000  # two messages each: 100,000 messages
PAGES = ["/admin", "/admin?days=30", "/admin/gaps", "/admin/conversations",
         "/admin/conversations?outcome=fallback", "/admin/conversations?article=a-00042",
         "/admin/articles", "/admin/articles?q=topic%2042&status=published",
         "/admin/articles/a-00001", "/admin/conversations/c_00000001", "/admin/index",
         "/admin/held", "/admin/evaluation", "/admin/handoffs", "/admin/keys", "/admin/audit"]
TEST_DATABASE_URL = os.environ.get("GROUNDLINE_TEST_DATABASE_URL", "")
OUT = Path(__file__).resolve().parents[2] / "var" / "bench" / "console-pages.json"
P95_MS = 300.0


DEVICES = ["hub", "camera", "doorbell", "smart lock", "plug", "thermostat", "app", "account",
           "subscription", "motion sensor"]
TROUBLES = ["won't connect to wifi", "keeps beeping", "shows a red light", "lost its settings",
            "cannot update its firmware", "is not charging", "drops offline at night",
            "sends no notifications", "was charged twice", "asks for a new password"]
FORMS = ["Why does my {d} say it {t}?", "My {d} {t}, what do I do?", "how to fix a {d} that {t}"]


def question(rnd: random.Random) -> str:
    return rnd.choice(FORMS).format(d=rnd.choice(DEVICES), t=rnd.choice(TROUBLES))


def populate(engine) -> None:  # type: ignore[no-untyped-def]
    rnd, now = random.Random(1), utcnow()
    with engine.begin() as conn:
        conn.execute(insert(Article), [dict(
            id=f"a-{i:05d}", title=f"Article {i} about topic {i % 97}", url="",
            product=f"p{i % 7}", locale="en-US", status="published", source_type="article",
            updated_at="", tags="[]", body="Body text. " * 50, source_path="kb.md",
            content_hash=f"{i:064d}", created=now, modified=now) for i in range(ARTICLES)])
        convs, msgs = [], []
        for i in range(CONVERSATIONS):
            cid, at = f"c_{i:08d}", now - timedelta(seconds=rnd.randint(0, 30 * 86400))
            fell = rnd.random() < 0.25
            convs.append({"id": cid, "created": at, "customer": "{}"})
            # Every row names every column: a bulk insert takes its columns from the first.
            msgs.append(dict(id=f"u_{i:08d}", conversation_id=cid, role="user",
                             text=question(rnd), citations="[]",
                             fallback=None, timings="{}", created=at))
            cites = [] if fell else [{"n": 1, "article_id": f"a-{rnd.randint(0, 9999):05d}",
                                      "title": "An article"}]
            msgs.append(dict(
                id=f"m_{i:08d}", conversation_id=cid, role="assistant",
                text="" if fell else "An answer. [1]", citations=json.dumps(cites),
                fallback=json.dumps({"reason": rnd.choice(["off_topic", "low_confidence"]),
                                     "message": "I'd rather not guess."}) if fell else None,
                timings=json.dumps({"total": rnd.uniform(10, 200)}),
                created=at + timedelta(milliseconds=30)))
        conn.execute(insert(Conversation), convs)
        conn.execute(insert(Message), msgs)


def p95(times: list[float]) -> float:
    """The 95th percentile of 20 timings: the second slowest."""
    return round(sorted(times)[int(0.95 * len(times)) - 1], 1)


def held_after_edits(client: httpx.Client, engine) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The held-for-review page when an article changed since the last visit: only the
    changed article is checked again. Twenty visits, p95 read as the other pages' is (the
    second slowest), so that one visit slowed by the machine does not decide it."""
    times = []
    for n in range(20):
        with engine.begin() as conn:
            conn.execute(update(Article).where(Article.id == f"a-{n:05d}").values(
                body=f"Edited {n}. " + "Body text. " * 50, content_hash=f"{ARTICLES + n:064d}",
                modified=utcnow()))
        t = time.perf_counter()
        assert client.get("/admin/held").status_code == 200
        times.append((time.perf_counter() - t) * 1000)
    return {"page": "/admin/held, an article edited before each visit", "first_ms": None,
            "p50_ms": round(statistics.median(times), 1), "p95_ms": p95(times)}


def gaps_with_new_questions(client: httpx.Client, engine) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """The gaps page when a new unanswered question arrived since the last visit."""
    rnd, times = random.Random(2), []
    for n in range(20):
        cid, now = f"c_new_{n:04d}", utcnow()
        with engine.begin() as conn:
            conn.execute(insert(Conversation), [{"id": cid, "created": now, "customer": "{}"}])
            conn.execute(insert(Message), [
                dict(id=f"u_new_{n:04d}", conversation_id=cid, role="user",
                     text=question(rnd), fallback=None, created=now),
                dict(id=f"m_new_{n:04d}", conversation_id=cid, role="assistant", text="",
                     fallback=json.dumps({"reason": "off_topic", "message": "Not sure."}),
                     created=now + timedelta(milliseconds=5))])
        t = time.perf_counter()
        assert client.get("/admin/gaps").status_code == 200
        times.append((time.perf_counter() - t) * 1000)
    return {"page": "/admin/gaps, a new question before each visit", "first_ms": None,
            "p50_ms": round(statistics.median(times), 1), "p95_ms": p95(times)}


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="set GROUNDLINE_TEST_DATABASE_URL to a "
                    "PostgreSQL URL (make test-slow does)")
def test_every_page_p95_at_scale(tmp_path, embedder):
    settings = base_settings(tmp_path)
    engine = make_engine(settings.resolved_database_url)
    started = time.perf_counter()
    populate(engine)
    populated_s = time.perf_counter() - started
    with session_scope(engine) as session:
        _, raw = create_key(session, name="bench", scope="viewer")
    state = AppState(engine=engine, store=IndexStore(settings.index.dir), embedder=embedder)
    rows = []
    with serve(create_app(settings, state=state)) as url, httpx.Client(base_url=url,
                                                                       timeout=300) as client:
        assert client.post("/admin/login", data={"key": raw}).status_code == 303
        for path in PAGES:
            t = time.perf_counter()
            page = client.get(path)
            first = (time.perf_counter() - t) * 1000
            assert page.status_code == 200, path
            if path == "/admin/gaps":
                assert page.text.count("data-gap=") >= 10  # the fallbacks, grouped
            times = []
            for _ in range(20):
                t = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - t) * 1000)
            rows.append({"page": path, "first_ms": round(first, 1),
                         "p50_ms": round(statistics.median(times), 1), "p95_ms": p95(times)})
        rows.append(held_after_edits(client, engine))
        rows.append(gaps_with_new_questions(client, engine))
    engine.dispose()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"articles": ARTICLES, "messages": 2 * CONVERSATIONS,
                               "populate_s": round(populated_s, 1), "pages": rows}, indent=2),
                   encoding="utf-8")
    slow = [r for r in rows[:-1] if r["p95_ms"] >= P95_MS]  # held after edits included
    assert not slow, slow
    assert rows[-1]["p95_ms"] < 3 * P95_MS, rows[-1]  # groups again, embeds only the new one
