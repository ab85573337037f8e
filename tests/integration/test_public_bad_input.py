"""Bad input on the public routes gets a 4xx that names the problem, never a 500 and never
silent acceptance: lone surrogates (``"\\ud800"``, which JSON allows and UTF-8 cannot hold)
anywhere in a chat, stream, completion, feedback or handoff body, and bodies that are not
UTF-8. Real HTTP (uvicorn), the real embedder, the fixture help center."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, select

from app.models import Message
from tests.public_helpers import (
    app_for,
    base_settings,
    index_fixture_kb,
    make_keys,
    make_state,
    widget_headers,
)
from tests.servers import serve

pytestmark = [pytest.mark.integration]

LONE = "\ud800"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder) -> Iterator[tuple[str, object, object]]:
    var = tmp_path_factory.mktemp("var")
    settings, engine = index_fixture_kb(var, embedder)
    state, keys = make_state(settings, engine, embedder), make_keys(engine)
    with serve(app_for(base_settings(var), state)) as base:
        yield base, keys, engine


def _post(base: str, keys, path: str, body: object) -> httpx.Response:  # type: ignore[no-untyped-def]
    # json.dumps writes a lone surrogate as the escape "\ud800", as a browser's JSON.stringify
    # does; the bytes on the wire are valid ASCII.
    raw = json.dumps(body).encode("ascii")
    headers = {**widget_headers(keys), "Content-Type": "application/json"}
    return httpx.post(f"{base}{path}", content=raw, headers=headers, timeout=60)


def _answer(base: str, keys) -> dict:  # type: ignore[no-untyped-def]
    r = _post(base, keys, "/v1/chat", {"message": "How long do I have to return an item?"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/chat", {"message": f"refund {LONE} please"}, "message"),
    ("/v1/chat/stream", {"message": f"refund {LONE}"}, "message"),
    ("/v1/chat", {"message": "refund", "filters": {"product": [f"hub{LONE}"]}},
     "filters.product.0"),
    ("/v1/chat", {"message": "refund", "customer": {"plan": LONE}}, "customer.plan"),
    ("/v1/chat", {"message": "refund", "conversation_id": f"c_{LONE}"}, "conversation_id"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": f"refund {LONE}"}]},
     "messages.0.content"),
    ("/v1/chat/completions",
     {"messages": [{"role": "user", "content": [{"type": "text", "text": LONE}]}]},
     "messages.0.content.0.text"),
    ("/v1/feedback", {"message_id": f"m_{LONE}", "rating": "up"}, "message_id"),
    ("/v1/handoff", {"conversation_id": f"c_{LONE}"}, "conversation_id"),
])
def test_a_lone_surrogate_gets_422_naming_the_field(served, path, body, field):
    base, keys, _ = served
    r = _post(base, keys, path, body)
    assert r.status_code == 422, r.text
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert "lone surrogate" in errors[0]["message"]


def test_a_lone_surrogate_in_feedback_on_a_real_answer_is_refused_and_not_stored(served):
    base, keys, engine = served
    answer = _answer(base, keys)
    r = _post(base, keys, "/v1/feedback", {"message_id": answer["message_id"], "rating": "down",
                                           "comment": f"wrong {LONE}"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
    with Session(engine) as session:  # type: ignore[arg-type]
        texts = [m.text for m in session.exec(select(Message)).all()]
    assert not any("\ud800" in t for t in texts)


def test_a_body_that_is_not_utf8_gets_422(served):
    base, keys, _ = served
    headers = {**widget_headers(keys), "Content-Type": "application/json"}
    r = httpx.post(f"{base}/v1/chat", content=b'{"message": "caf\xe9"}', headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "body"


def test_a_paired_surrogate_escape_is_text_and_answered(served):
    base, keys, _ = served
    r = _post(base, keys, "/v1/chat", {"message": "return policy \U0001f600"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(("path", "body"), [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "refund"}],
                              "filters": {"locale": []}}),
    ("/v1/chat", {"message": "   "}),
])
def test_a_422_a_route_raises_has_the_published_shape(served, path, body):
    base, keys, _ = served
    r = _post(base, keys, path, body)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str)
    assert [set(e) for e in r.json()["errors"]] == [{"field", "message"}]
