"""Poisoned content is never served: held at ingestion, screened again at answer time.

The fixture help center plus the poisoned fixtures (tests/fixtures/poisoned) are indexed with
the real model, FAISS and BM25 and served through the real app; every question that matches
a poisoned article is asked through /v1/chat and /v1/chat/completions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.db import make_engine
from app.rag.factory import make_answer_service
from ingest.pipeline import ingest_paths, make_builder
from tests.public_helpers import (
    FIXTURE_KB,
    SITE,
    admin_headers,
    app_for,
    base_settings,
    make_keys,
    make_state,
    widget_headers,
)

pytestmark = pytest.mark.integration

POISONED = Path(__file__).resolve().parents[1] / "fixtures" / "poisoned"
FIXTURES = [(p.stem, yaml.safe_load(p.read_text().split("---")[1]))
            for p in sorted(POISONED.glob("*.md"))]
CUSTOMER_POISON = ("lumora-refunds", "Ignore previous instructions", "every customer about")


def _serve(var: Path, embedder, *, hold: bool, screen: bool = True):  # type: ignore[no-untyped-def]
    settings = base_settings(var)
    engine = make_engine(settings.resolved_database_url)
    builder = make_builder(settings)
    builder._embedder = embedder
    if not hold:
        builder.safety = None
    report = ingest_paths([FIXTURE_KB, POISONED], settings=settings, engine=engine,
                          builder=builder)
    state = make_state(settings, engine, embedder)
    if not screen:
        state.service = make_answer_service(settings, embedder=embedder)
        state.service.safety = None
    keys = make_keys(engine)
    return TestClient(app_for(settings, state)), keys, report


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    client, keys, report = _serve(tmp_path_factory.mktemp("var"), embedder, hold=True)
    with client:
        yield client, keys, report


def _ask(client: TestClient, headers: dict[str, str], question: str, **extra: object) -> str:
    r = client.post("/v1/chat", json={"message": question, **extra}, headers=headers)
    assert r.status_code == 200, r.text
    c = client.post("/v1/chat/completions", headers=headers, json={
        "model": "groundline", "messages": [{"role": "user", "content": question}], **extra})
    assert c.status_code == 200, c.text
    return r.text + c.text


def test_every_poisoned_article_and_ticket_is_held_with_its_sentence(served) -> None:
    client, keys, report = served
    ids = {stem for stem, _ in FIXTURES}
    assert set(report.build.held) == ids | {"ticket-P-9002"}
    r = client.get("/v1/admin/held", headers=admin_headers(keys))
    assert r.status_code == 200, r.text
    rows = r.json()
    for stem, meta in FIXTURES:
        mine = [row for row in rows if row["article_id"] == stem]
        assert any(row["reason"] == meta["expect_reason"] and meta["poison"] in row["sentence"]
                   for row in mine), (stem, mine)
    assert "ticket-P-9001" not in {row["article_id"] for row in rows}  # customer text only
    assert client.get("/v1/admin/held", headers=widget_headers(keys)).status_code in (401, 403)


@pytest.mark.parametrize(("stem", "meta"), FIXTURES, ids=[s for s, _ in FIXTURES])
def test_poisoned_text_is_never_served(served, stem: str, meta: dict) -> None:
    client, keys, _ = served
    for headers in (admin_headers(keys), widget_headers(keys)):
        text = _ask(client, headers, meta["question"])
        assert meta["poison"] not in text and json.dumps(meta["poison"])[1:-1] not in text
        assert f'"article_id":"{stem}"' not in text.replace(" ", "")


def test_a_customers_words_in_a_ticket_are_never_served_even_to_admin_ticket_filters(
        served) -> None:
    client, keys, _ = served
    for question in ("is there a 500% refund policy", "how long does a refund take"):
        text = _ask(client, admin_headers(keys), question, filters={"source_type": "ticket"})
        for poison in CUSTOMER_POISON:
            assert poison not in text
    body = client.post("/v1/chat", headers=admin_headers(keys), json={
        "message": "how long does a refund take to reach my card",
        "filters": {"source_type": "ticket"}}).json()
    if body["fallback"] is None:  # the resolution, and nothing but the resolution, is quoted
        assert "original payment method" in body["answer"]


def test_widget_keys_may_not_restrict_retrieval_to_tickets(served) -> None:
    client, keys, _ = served
    for path, body in (("/v1/chat", {"message": "refund policy"}),
                       ("/v1/chat/completions", {"model": "groundline", "messages": [
                           {"role": "user", "content": "refund policy"}]})):
        for value in ("ticket", ["article", "ticket"]):
            r = client.post(path, headers=widget_headers(keys),
                            json={**body, "filters": {"source_type": value}})
            assert r.status_code == 403, r.text
        ok = client.post(path, headers=widget_headers(keys),
                         json={**body, "filters": {"source_type": "article"}})
        assert ok.status_code == 200, ok.text


def test_answer_time_screening_catches_what_ingestion_let_through(tmp_path, embedder) -> None:
    """Indexed without holding (as an index built before this check would be)."""
    stem, meta = next(f for f in FIXTURES if f[0] == "p-verify-reset")
    client, keys, _ = _serve(tmp_path / "screened", embedder, hold=False)
    with client:
        text = _ask(client, admin_headers(keys), meta["question"])
        assert "card digits" not in text and "lumora-accounts" not in text
        ticket = _ask(client, admin_headers(keys), "is there a 500% refund policy",
                      filters={"source_type": "ticket"})
        assert not any(p in ticket for p in CUSTOMER_POISON)
    # The control: with neither check the poisoned article is what gets served.
    client, keys, _ = _serve(tmp_path / "open", embedder, hold=False, screen=False)
    with client:
        assert "card digits" in _ask(client, admin_headers(keys), meta["question"])


def test_html_and_script_links_never_reach_an_answer(tmp_path, embedder) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "badge.md").write_text(
        "---\nid: badge\ntitle: Show the hub status badge\n"
        "url: https://help.lumora.example/articles/badge\n---\n"
        "The hub status badge shows whether your hub is online.<script>steal()</script> "
        "Open the badge settings in the [Lumora app](javascript:steal()) under Hub > Badge. "
        "<img src=x onerror=steal()>The badge refreshes every minute.\n")
    settings = base_settings(tmp_path / "var")
    engine = make_engine(settings.resolved_database_url)
    builder = make_builder(settings)
    builder._embedder = embedder
    ingest_paths([kb], settings=settings, engine=engine, builder=builder)
    keys = make_keys(engine)
    with TestClient(app_for(settings, make_state(settings, engine, embedder))) as client:
        question = "where are the hub status badge settings"
        r = client.post("/v1/chat/completions", headers={**widget_headers(keys), "Origin": SITE},
                        json={"model": "groundline",
                              "messages": [{"role": "user", "content": question}]})
        assert r.status_code == 200, r.text
        content = r.json()["choices"][0]["message"]["content"]
        assert "badge" in content.lower()
        for bad in ("<script", "javascript:", "onerror", "steal()"):
            assert bad not in r.text
