"""Handoffs over real HTTP, delivered to a real local webhook receiver that fails at first."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlmodel import Session

from app.models import Handoff
from app.public.webhook import verify
from tests.public_helpers import (
    admin_headers,
    app_for,
    base_settings,
    index_fixture_kb,
    make_keys,
    make_state,
    receiver,
    widget_headers,
)
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SECRET = "whsec-test-1234567890"
ANSWERABLE = "How many days do I have to return hardware?"
UNANSWERABLE = "Can I pay for my order with goats?"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    var = tmp_path_factory.mktemp("var")
    settings, engine = index_fixture_kb(var, embedder)
    return var, engine, make_state(settings, engine, embedder), make_keys(engine)


@contextmanager
def app_with_webhook(indexed, url: str, *, attempts: int = 4) -> Iterator[str]:
    var, _, state, _ = indexed
    settings = base_settings(var, handoff={"webhook_url": url, "webhook_secret": SECRET,
                                           "attempts": attempts, "backoff_s": 0.05})
    with serve(app_for(settings, state)) as base:
        yield base


def conversation(base: str, keys) -> str:  # type: ignore[no-untyped-def]
    first = httpx.post(f"{base}/v1/chat", json={"message": ANSWERABLE},
                       headers=widget_headers(keys), timeout=60).json()
    second = httpx.post(f"{base}/v1/chat", headers=widget_headers(keys), timeout=60,
                        json={"message": UNANSWERABLE,
                              "conversation_id": first["conversation_id"]}).json()
    assert first["fallback"] is None and second["fallback"] is not None
    return str(first["conversation_id"])


def handoff(base: str, keys, cid: str, reason: str = "missing_knowledge"  # type: ignore[no-untyped-def]
            ) -> dict[str, object]:
    r = httpx.post(f"{base}/v1/handoff", json={"conversation_id": cid, "reason": reason},
                   headers=widget_headers(keys))
    assert r.status_code == 201, r.text
    return dict(r.json())


def stored(engine, handoff_id: str, status: str, timeout: float = 15.0) -> Handoff:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            row = session.get(Handoff, handoff_id)
            assert row is not None
            if row.delivery_status == status or time.monotonic() > deadline:
                assert row.delivery_status == status
                return row
        time.sleep(0.05)


def test_handoff_is_signed_retried_and_delivered(indexed, caplog):
    caplog.set_level(logging.INFO)
    _, engine, _, keys = indexed
    with receiver(500, 503, 200) as rec, app_with_webhook(indexed, rec.url) as base:
        cid = conversation(base, keys)
        out = handoff(base, keys, cid)
        rec.wait_for(3)
        row = stored(engine, str(out["id"]), "delivered")
    assert out["delivery_status"] == "pending"
    assert "How many days do I have to return hardware?" in str(out["summary"])
    assert "no answer" in str(out["summary"])
    assert "t-returns" in {c["article_id"] for c in out["citations"]}  # type: ignore[union-attr]
    assert row.attempts == 3 and row.last_error is None
    for headers, body in rec.received:
        assert headers["x-groundline-delivery"] == out["id"]
        assert headers["x-groundline-event"] == "handoff.created"
        ts, signature = headers["x-groundline-timestamp"], headers["x-groundline-signature"]
        mac = hmac.new(SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert signature == f"sha256={mac}"
        assert verify(SECRET, body, timestamp=ts, signature=signature)
    payload = json.loads(rec.received[-1][1])
    assert payload["event"] == "handoff.created"
    assert payload["handoff"]["conversation_id"] == cid
    assert payload["handoff"]["reason"] == "missing_knowledge"
    assert payload["handoff"]["summary"] == out["summary"]
    public_logs = " ".join(r.getMessage() for r in caplog.records
                           if r.name.startswith("app."))
    assert "attempt 1/4 failed: HTTP 500" in public_logs
    assert "goats" not in public_logs and "return hardware" not in public_logs  # no PII


def test_a_failed_delivery_is_kept_and_redelivered(indexed):
    _, engine, _, keys = indexed
    with receiver(500) as rec, app_with_webhook(indexed, rec.url, attempts=3) as base:
        out = handoff(base, keys, conversation(base, keys), reason="customer_request")
        rec.wait_for(3)
        row = stored(engine, str(out["id"]), "failed")
        assert row.attempts == 3 and row.last_error == "HTTP 500"
        failed = httpx.get(f"{base}/v1/admin/handoffs", params={"status": "failed"},
                           headers=admin_headers(keys)).json()
        assert out["id"] in {h["id"] for h in failed}
        rec.statuses = [200]
        again = httpx.post(f"{base}/v1/admin/handoffs/redeliver", headers=admin_headers(keys))
        assert again.status_code == 200 and again.json()["counts"].get("delivered", 0) >= 1
    assert stored(engine, str(out["id"]), "delivered").attempts == 4
    assert json.loads(rec.received[-1][1])["handoff"]["id"] == out["id"]


def test_client_errors_are_not_retried(indexed):
    _, engine, _, keys = indexed
    with receiver(400) as rec, app_with_webhook(indexed, rec.url) as base:
        out = handoff(base, keys, conversation(base, keys), reason="other")
        row = stored(engine, str(out["id"]), "failed")
    assert row.attempts == 1 and len(rec.received) == 1


def test_without_a_webhook_handoffs_are_stored(indexed):
    var, engine, state, keys = indexed
    with serve(app_for(base_settings(var), state)) as base:
        out = handoff(base, keys, conversation(base, keys), reason="unsupported_request")
        assert out["delivery_status"] == "no_webhook"
        bad = httpx.post(f"{base}/v1/handoff", headers=widget_headers(keys),
                         json={"conversation_id": out["conversation_id"], "reason": "bored"})
        assert bad.status_code == 422
        unknown = httpx.post(f"{base}/v1/handoff", headers=widget_headers(keys),
                             json={"conversation_id": "c_nope"})
        assert unknown.status_code == 404
    assert stored(engine, str(out["id"]), "no_webhook").attempts == 0
