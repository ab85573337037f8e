"""Answer traces: stored with the assistant's message and read back through the admin API
(real embedding model, the small fixture help center, a served app)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from app.models import Message
from app.rag.trace import Decision, Trace, TraceCandidate, TracePassage, TraceSentence
from app.schemas import (
    DecisionOut,
    TraceCandidateOut,
    TraceOut,
    TracePassageOut,
    TraceSentenceOut,
)
from tests.public_helpers import (
    admin_headers,
    app_for,
    index_fixture_kb,
    make_keys,
    make_state,
    widget_headers,
)
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ANSWERED = "How many days do I have to return hardware?"
OFF_TOPIC = "What is the boiling point of mercury in kelvin?"
TRACE = "/v1/admin/messages/{}/trace"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    settings, engine = index_fixture_kb(tmp_path_factory.mktemp("var"), embedder)
    keys = make_keys(engine)
    with serve(app_for(settings, make_state(settings, engine, embedder))) as url:
        yield url, keys, engine


def chat(url: str, keys, message: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{url}/v1/chat", json={"message": message}, headers=widget_headers(keys),
                   timeout=60)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def read_trace(url: str, keys, message_id: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.get(url + TRACE.format(message_id), headers=admin_headers(keys), timeout=30)


def assert_consistent(trace: dict[str, Any], body: dict[str, Any]) -> None:
    """The trace tells the same story as the chat response it was stored with."""
    assert trace["format"] == 1
    assert trace["query"] == body["query"]
    decision, fallback = trace["decision"], body["fallback"]
    if fallback is None:
        assert (decision["outcome"], decision["reason"]) == ("answer", None)
    else:
        assert decision["reason"] == fallback["reason"]
        expected = "suggest" if fallback["reason"] == "low_confidence" else "decline"
        assert decision["outcome"] == expected
    assert decision["kind"] in ("model", "rerank", "dense")
    if decision["reason"] != "no_context":  # something was retrieved
        assert trace["candidates"], trace
        for c in trace["candidates"]:
            assert c["chunk_id"] and c["article_id"] and c["ranks"] and c["scores"]
    cited = {n for s in trace["sentences"] for n in s["citations"]}
    assert cited == {c["n"] for c in body["citations"]}
    passages = {p["n"]: p["chunk_id"] for p in trace["passages"]}
    for c in body["citations"]:
        assert passages[c["n"]] == c["chunk_id"]
    assert trace["rerank_depth"] == body["rerank_depth"]
    assert trace["rerank_reduced"] == body["rerank_reduced"]


def test_an_answer_stores_its_trace_for_admins(served):
    url, keys, engine = served
    body = chat(url, keys, ANSWERED)
    assert body["fallback"] is None and body["citations"], body
    r = read_trace(url, keys, body["message_id"])
    assert r.status_code == 200, r.text
    trace = r.json()
    assert_consistent(trace, body)
    assert trace["decision"]["outcome"] == "answer"
    assert trace["sentences"] and all(s["citations"] for s in trace["sentences"])
    assert trace["generator"]
    with Session(engine) as session:  # stored exactly as returned
        stored = session.get(Message, body["message_id"])
        assert stored is not None and stored.trace is not None
        assert json.loads(stored.trace) == trace


def test_a_fallback_stores_its_decision(served):
    url, keys, _ = served
    body = chat(url, keys, OFF_TOPIC)
    assert body["fallback"] is not None, body
    r = read_trace(url, keys, body["message_id"])
    assert r.status_code == 200, r.text
    trace = r.json()
    assert_consistent(trace, body)
    assert trace["decision"]["outcome"] in ("suggest", "decline")
    assert trace["sentences"] == []


def test_a_streamed_answer_stores_its_trace(served):
    url, keys, _ = served
    with httpx.stream("POST", f"{url}/v1/chat/stream", json={"message": ANSWERED},
                      headers=widget_headers(keys), timeout=60) as r:
        assert r.status_code == 200
        lines = list(r.iter_lines())
    done = next(json.loads(line.removeprefix("data: ")) for i, line in enumerate(lines)
                if line.startswith("data: ") and lines[i - 1] == "event: done")
    trace = read_trace(url, keys, done["message_id"])
    assert trace.status_code == 200, trace.text
    assert_consistent(trace.json(), done)


def test_only_admin_keys_read_traces(served):
    url, keys, _ = served
    message_id = chat(url, keys, ANSWERED)["message_id"]
    path = url + TRACE.format(message_id)
    assert httpx.get(path, timeout=30).status_code == 401
    assert httpx.get(path, headers=widget_headers(keys), timeout=30).status_code == 401
    as_bearer = {"Authorization": f"Bearer {keys.widget}", **widget_headers(keys)}
    r = httpx.get(path, headers=as_bearer, timeout=30)
    assert r.status_code == 403, r.text
    assert "trace" not in r.text and "candidates" not in r.text


def test_unknown_and_user_messages_have_no_trace(served):
    url, keys, engine = served
    r = read_trace(url, keys, "m_unknown")
    assert r.status_code == 404
    assert "no message with id 'm_unknown'" in r.json()["detail"]
    body = chat(url, keys, ANSWERED)
    with Session(engine) as session:
        user = session.exec(select(Message).where(
            Message.conversation_id == body["conversation_id"],
            Message.role == "user")).one()
    r = read_trace(url, keys, user.id)
    assert r.status_code == 404
    assert "has no trace" in r.json()["detail"] and "user message" in r.json()["detail"]


def test_the_route_is_typed_in_the_openapi_schema(served):
    url, _, _ = served
    schema = httpx.get(f"{url}/openapi.json", timeout=30).json()
    op = schema["paths"]["/v1/admin/messages/{message_id}/trace"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TraceOut"}
    assert {"401", "403", "404"} <= set(op["responses"])
    components = schema["components"]["schemas"]
    assert set(components["TraceOut"]["properties"]) == {
        "format", "query", "candidates", "decision", "passages", "sentences", "generator",
        "rerank_depth", "rerank_reduced", "timings_ms"}
    assert components["DecisionOut"]["properties"]["outcome"]["enum"] == [
        "answer", "suggest", "decline"]


def test_the_response_model_mirrors_the_trace_record():
    pairs = [(Trace, TraceOut), (TraceCandidate, TraceCandidateOut), (Decision, DecisionOut),
             (TracePassage, TracePassageOut), (TraceSentence, TraceSentenceOut)]
    for record, model in pairs:
        extra = {"format"} if record is Trace else set()
        assert set(model.model_fields) == {f.name for f in dataclasses.fields(record)} | extra
    trace = Trace(
        query="return hub",
        candidates=(TraceCandidate("kb-1#0", "kb-1", "Returns", "article", 0.912345678,
                                   {"dense": 1, "sparse": 2}, {"dense": 0.81234567}),),
        decision=Decision("answer", None, "dense", 0.81234567, 0.5, True, {"top": 0.8}),
        passages=(TracePassage(1, "kb-1#0", "kb-1"),),
        sentences=(TraceSentence("Return it within 45 days.", (1,), "answers the question"),),
        generator="extractive", rerank_depth=0, timings_ms={"total": 12.5})
    stored = json.loads(json.dumps(trace.to_dict()))
    assert TraceOut.model_validate(stored).model_dump() == stored
