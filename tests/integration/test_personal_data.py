"""Personal data a customer types never reaches the database, responses, webhooks or logs.

Real HTTP (uvicorn), the real embedder, SQLite (or PostgreSQL, see conftest) and a real local
webhook receiver. All personal data below is fake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session, SQLModel, select

from app.models import Conversation, Message, utcnow
from app.privacy import RetentionSweeper, purge_expired
from tests.public_helpers import (
    Receiver,
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

pytestmark = [pytest.mark.integration]

PLANTED = ("my card 4111 1111 1111 1111 cvv 123, email jane.doe@example.com, "
           "phone +1 415 555 0132, I live at 12 Market Street")
FOLLOW_UP = "and how many days to return it? reach me at +1 415 555 0132 or jane.doe@example.com"
COMMENT = "wrong answer, call me on +1 415 555 0132, card 4111111111111111 cvv 123"
# Any of these anywhere means a leak ("cvv 123" rather than "123": timings hold digits too).
SECRETS = ("4111 1111", "4111111111111111", "1111 1111", "cvv 123", "jane.doe", "example.com",
           "415 555", "555 0132", "Market Street", "12 Market")


def leaks(blob: str) -> list[str]:
    return [s for s in SECRETS if s.lower() in blob.lower()]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    var = tmp_path_factory.mktemp("var")
    settings, engine = index_fixture_kb(var, embedder)
    return var, engine, make_state(settings, engine, embedder), make_keys(engine)


@pytest.fixture()
def served(indexed) -> Iterator[tuple[str, Receiver]]:
    var, _, state, _ = indexed
    with receiver() as hook:
        settings = base_settings(var, handoff={"webhook_url": hook.url,
                                               "webhook_secret": "s" * 20, "attempts": 1})
        with serve(app_for(settings, state)) as base:
            yield base, hook


def database_dump(engine, *, skip: tuple[str, ...] = ()) -> str:  # type: ignore[no-untyped-def]
    """Every value of every row of every table (but ``skip``), as one string."""
    rows = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows += [repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table.name}"'))]
    return "\n".join(rows)


def chat(base: str, keys, message: str, **extra) -> dict:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{base}/v1/chat", json={"message": message, **extra},
                   headers=widget_headers(keys), timeout=60)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_planted_personal_data_is_redacted_everywhere(indexed, served, caplog):
    caplog.set_level(logging.DEBUG)
    _, engine, _, keys = indexed
    base, hook = served
    first = chat(base, keys, PLANTED)
    cid = first["conversation_id"]
    stream = httpx.post(f"{base}/v1/chat/stream", headers=widget_headers(keys), timeout=60,
                        json={"message": FOLLOW_UP, "conversation_id": cid})
    assert stream.status_code == 200 and "event: done" in stream.text
    feedback = httpx.post(f"{base}/v1/feedback", headers=widget_headers(keys),
                          json={"message_id": first["message_id"], "rating": "down",
                                "reason": "jane.doe@example.com", "comment": COMMENT})
    assert feedback.status_code == 201, feedback.text
    history = httpx.get(f"{base}/v1/conversations/{cid}", headers=widget_headers(keys))
    handoff = httpx.post(f"{base}/v1/handoff", headers=widget_headers(keys),
                         json={"conversation_id": cid, "reason": "customer_request"})
    assert handoff.status_code == 201, handoff.text
    trace = httpx.get(f"{base}/v1/admin/messages/{first['message_id']}/trace",
                      headers=admin_headers(keys))
    completion = httpx.post(f"{base}/v1/chat/completions", headers=widget_headers(keys),
                            timeout=60, json={"messages": [{"role": "user", "content": PLANTED}]})
    assert completion.status_code == 200, completion.text
    hook.wait_for(1)  # the handoff reached the webhook

    outputs = {"chat": json.dumps(first), "stream": stream.text, "history": history.text,
               "handoff": handoff.text, "trace": trace.text, "completion": completion.text,
               "webhook": b"".join(body for _, body in hook.received).decode(),
               "database": database_dump(engine),
               "logs": caplog.text}
    assert {name: leaks(blob) for name, blob in outputs.items() if leaks(blob)} == {}
    # What was kept is the redacted message, so the test would see a leak if there were one.
    with Session(engine) as session:
        user = session.exec(select(Message).where(Message.conversation_id == cid,
                                                  Message.role == "user")).all()
    assert user[0].text == (
        "my card [CARD] cvv [CVV], email [EMAIL], phone [PHONE], I live at [ADDRESS]")
    assert "[CARD]" in first["query"] and "[EMAIL]" in json.loads(trace.text)["query"]
    assert "Customer: my card [CARD]" in handoff.json()["summary"]


def test_admin_erases_one_conversation_everywhere(indexed, served):
    _, engine, _, keys = indexed
    base, _ = served
    kept = chat(base, keys, "How many days do I have to return hardware?")["conversation_id"]
    first = chat(base, keys, PLANTED)
    cid = first["conversation_id"]
    httpx.post(f"{base}/v1/feedback", headers=widget_headers(keys),
               json={"message_id": first["message_id"], "rating": "down", "comment": "meh"})
    httpx.post(f"{base}/v1/handoff", headers=widget_headers(keys),
               json={"conversation_id": cid, "reason": "customer_request"})
    assert httpx.delete(f"{base}/v1/admin/conversations/{cid}",
                        headers=widget_headers(keys)).status_code in (401, 403)
    r = httpx.delete(f"{base}/v1/admin/conversations/{cid}", headers=admin_headers(keys))
    assert r.status_code == 200, r.text
    assert r.json()["deleted"] == {"feedback": 1, "handoffs": 1, "messages": 2,
                                   "conversations": 1}
    assert httpx.get(f"{base}/v1/conversations/{cid}",
                     headers=widget_headers(keys)).status_code == 404
    assert httpx.get(f"{base}/v1/conversations/{kept}",
                     headers=widget_headers(keys)).status_code == 200
    assert cid not in database_dump(engine, skip=("audit_log",))  # the audit says who erased it
    assert kept in database_dump(engine)
    assert httpx.delete(f"{base}/v1/admin/conversations/{cid}",
                        headers=admin_headers(keys)).status_code == 404


def test_retention_purges_only_idle_conversations(indexed):
    _, engine, _, _ = indexed
    old, fresh = utcnow() - timedelta(days=40), utcnow() - timedelta(days=1)
    with Session(engine) as session:
        for cid, created, last in (("c_old", old, old), ("c_revived", old, fresh),
                                   ("c_new", fresh, fresh)):
            session.add(Conversation(id=cid, created=created))
            session.flush()
            session.add(Message(id=f"m_{cid}", conversation_id=cid, role="user", text="hi",
                                created=last))
        session.commit()
    assert purge_expired(engine, retention_days=0) == {}
    assert purge_expired(engine, retention_days=60) == {"conversations": 0, "messages": 0,
                                                        "feedback": 0, "handoffs": 0}
    sweeper = RetentionSweeper(engine, retention_days=30)
    sweeper.start()  # purges at once, then hourly in its thread
    sweeper.stop()
    with Session(engine) as session:
        assert session.get(Conversation, "c_old") is None
        assert session.get(Conversation, "c_revived") is not None
        assert session.get(Conversation, "c_new") is not None
