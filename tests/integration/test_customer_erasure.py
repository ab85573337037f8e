"""An admin erases one customer's data by the ``customer.id`` the widget sent or by the
contact given for a handoff: messages, traces, feedback, handoffs and their webhook
deliveries go; other customers' data stays. Real HTTP (uvicorn), the real embedder, the
database of the run (SQLite, or PostgreSQL, see conftest) and a real local webhook receiver.
All personal data below is fake."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, select

from app.models import AuditEntry, Conversation, Feedback, Handoff, Message
from tests.integration.test_personal_data import database_dump
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

CUSTOMER = "cust-4711-jane"
EMAIL = "Jane.Doe@Example.com"
PHONE = "+1 415 555 0132"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    var = tmp_path_factory.mktemp("var")
    settings, engine = index_fixture_kb(var, embedder)
    return var, engine, make_state(settings, engine, embedder), make_keys(engine)


@pytest.fixture()
def served(indexed) -> Iterator[tuple[str, Receiver]]:
    var, _, state, _ = indexed
    with receiver(200, 500) as hook:  # the first delivery arrives, later ones fail
        settings = base_settings(var, handoff={"webhook_url": hook.url,
                                               "webhook_secret": "s" * 20, "attempts": 1})
        with serve(app_for(settings, state)) as base:
            yield base, hook


def _post(base: str, path: str, headers: dict[str, str], **body: object) -> dict:
    r = httpx.post(f"{base}{path}", json=body, headers=headers, timeout=60)
    assert r.status_code in (200, 201), r.text
    return dict(r.json())


def _conversation(base: str, keys, *, customer_id: str | None = None,  # type: ignore[no-untyped-def]
                  contact: str | None = None, order: str | None = None) -> str:
    """A conversation of two turns, feedback on the answer and (with a contact) a handoff."""
    headers = widget_headers(keys)
    extra = {"customer": {"id": customer_id, "plan": "plus"}} if customer_id else {}
    first = _post(base, "/v1/chat", headers, message="How long do I have to return a device?",
                  **extra)
    cid = first["conversation_id"]
    _post(base, "/v1/chat", headers, message="and for the annual plan?", conversation_id=cid)
    _post(base, "/v1/feedback", headers, message_id=first["message_id"], rating="up")
    if contact:
        handoff = _post(base, "/v1/handoff", headers, conversation_id=cid, contact=contact,
                        **({"order_number": order} if order else {}))
        assert handoff["contact"] == contact and handoff.get("order_number") == order
    return str(cid)


def _rows(engine, cid: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        messages = s.exec(select(Message.id).where(Message.conversation_id == cid)).all()
        return {
            "conversation": int(s.get(Conversation, cid) is not None),
            "messages": len(messages),
            "traces": len(s.exec(select(Message.id).where(Message.conversation_id == cid,
                                                          Message.trace.is_not(None))).all()),  # type: ignore[union-attr]
            "feedback": len(s.exec(select(Feedback.id).where(
                Feedback.message_id.in_(messages))).all()),  # type: ignore[attr-defined]
            "handoffs": len(s.exec(select(Handoff.id).where(Handoff.conversation_id == cid)
                                   ).all()),
        }


def test_erase_by_customer_id_and_by_contact(indexed, served):
    _, engine, _, keys = indexed
    base, hook = served
    admin = admin_headers(keys)
    jane = _conversation(base, keys, customer_id=CUSTOMER, contact=EMAIL, order="LM-10042")
    hook.wait_for(1)
    payload = json.loads(hook.received[0][1])["handoff"]
    assert (payload["contact"], payload["order_number"]) == (EMAIL, "LM-10042")
    jane_again = _conversation(base, keys, customer_id=CUSTOMER)
    bob = _conversation(base, keys, contact=PHONE)  # its delivery fails: kept for redelivery
    other = _conversation(base, keys, customer_id="cust-0815")
    assert _rows(engine, jane) == {"conversation": 1, "messages": 4, "traces": 2,
                                   "feedback": 1, "handoffs": 1}
    assert CUSTOMER not in database_dump(engine)  # stored as a hash only

    r = _post(base, "/v1/admin/conversations/erase", admin, customer_id=CUSTOMER)
    assert r == {"conversations": 2, "deleted": {"feedback": 2, "handoffs": 1, "messages": 8,
                                                 "conversations": 2}}
    for cid in (jane, jane_again):
        assert set(_rows(engine, cid).values()) == {0}
    assert EMAIL.lower() not in database_dump(engine).lower()
    assert _rows(engine, other)["messages"] == 4 and _rows(engine, bob)["handoffs"] == 1

    # The same number written another way finds Bob's handoff; its failed delivery goes too.
    r = _post(base, "/v1/admin/conversations/erase", admin, contact="14155550132")
    assert r["conversations"] == 1 and r["deleted"]["handoffs"] == 1
    assert set(_rows(engine, bob).values()) == {0}
    sent = len(hook.received)
    assert _post(base, "/v1/admin/handoffs/redeliver", admin)["counts"] == {}
    assert len(hook.received) == sent  # nothing erased is sent again
    assert _rows(engine, other)["messages"] == 4

    again = _post(base, "/v1/admin/conversations/erase", admin, customer_id=CUSTOMER)
    assert again["conversations"] == 0
    with Session(engine) as s:
        audit = s.exec(select(AuditEntry).where(AuditEntry.action == "customer.erase")).all()
    assert len(audit) == 3
    assert not any(v in repr(a) for a in audit for v in (CUSTOMER, "4155550132", "Jane"))


def test_the_customer_id_shapes_nothing_and_is_never_returned(indexed, served):
    _, _, _, keys = indexed
    base, _ = served
    answer = _post(base, "/v1/chat", widget_headers(keys), message="How do I return a device?",
                   customer={"id": CUSTOMER})
    history = httpx.get(f"{base}/v1/conversations/{answer['conversation_id']}",
                        headers=widget_headers(keys))
    trace = httpx.get(f"{base}/v1/admin/messages/{answer['message_id']}/trace",
                      headers=admin_headers(keys))
    assert all(CUSTOMER not in text for text in (json.dumps(answer), history.text, trace.text))


@pytest.mark.parametrize("body", [{}, {"customer_id": "a", "contact": "b@c.de"},
                                  {"customer_id": ""}, {"name": "x"}])
def test_an_erasure_names_exactly_one_customer(indexed, served, body):
    _, _, _, keys = indexed
    base, _ = served
    r = httpx.post(f"{base}/v1/admin/conversations/erase", json=body,
                   headers=admin_headers(keys))
    assert r.status_code == 422, r.text
    assert r.json()["errors"]
    widget = httpx.post(f"{base}/v1/admin/conversations/erase", json={"customer_id": "x"},
                        headers=widget_headers(keys))
    assert widget.status_code in (401, 403)
