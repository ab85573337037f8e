"""OpenTelemetry tracing through a served app (real embedding model, the fixture help
center): one server span per request named by its route template, the answer's stage
timings on it, no customer's words anywhere, and nothing at all when tracing is off."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from app.errors import ConfigurationError
from app.main import create_app
from app.ops.summary import effective_configuration
from app.ops.tracing import TracingMiddleware, export_endpoint, make_provider
from app.settings import Settings, TracingSettings
from tests.public_helpers import (
    index_fixture_kb,
    make_keys,
    make_state,
    receiver,
    widget_headers,
)
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

EMAIL = "jane.doe@example.com"
MESSAGE = f"I am {EMAIL}: how many days do I have to return hardware?"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):  # type: ignore[no-untyped-def]
    settings, engine = index_fixture_kb(tmp_path_factory.mktemp("var"), embedder)
    return settings, engine, make_keys(engine), embedder


def served(indexed, *, enabled: bool, endpoint: str = ""):  # type: ignore[no-untyped-def]
    """An app over the indexed help center; spans go to the returned in-memory exporter,
    or over OTLP/HTTP to ``endpoint`` when one is given."""
    settings, engine, keys, embedder = indexed
    settings = settings.model_copy(update={"tracing": TracingSettings(
        enabled=enabled, endpoint=endpoint)})
    exporter = InMemorySpanExporter()
    app = create_app(settings, state=make_state(settings, engine, embedder),
                     span_exporter=None if endpoint else exporter)
    return app, exporter


def chat(url: str, keys, path: str = "/v1/chat", **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{url}{path}", json={"message": MESSAGE}, timeout=60,
                   headers={**widget_headers(keys), **headers})
    assert r.status_code == 200, r.text
    return r


def server_spans(app, exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:  # type: ignore[no-untyped-def]
    """The server spans once ``count`` have ended (a span ends just after the response's
    last byte is sent, so the client can be a moment ahead)."""
    deadline = time.monotonic() + 10
    while True:
        app.state.tracer_provider.force_flush()
        spans = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        time.sleep(0.02)


def texts(spans: Sequence[ReadableSpan]) -> str:
    """Every name and attribute value of the spans and their events, as one text."""
    parts = []
    for span in spans:
        parts.append(span.name)
        parts += [str(v) for v in (span.attributes or {}).values()]
        for event in span.events:
            parts += [event.name, *(str(v) for v in (event.attributes or {}).values())]
    return "\n".join(parts)


def test_with_tracing_off_there_are_no_spans_and_no_provider(indexed):
    app, exporter = served(indexed, enabled=False)
    assert not hasattr(app.state, "tracer_provider")
    assert not any(m.cls is TracingMiddleware for m in app.user_middleware)
    with serve(app) as url:
        chat(url, indexed[2])
    assert exporter.get_finished_spans() == ()
    assert not isinstance(trace.get_tracer_provider(), SdkTracerProvider)


def test_a_chat_request_is_one_server_span_named_by_its_route(indexed):
    app, exporter = served(indexed, enabled=True)
    keys = indexed[2]
    with serve(app) as url:
        r = chat(url, keys, **{"X-Request-ID": "support-ticket-7"})
        conversation = r.json()["conversation_id"]
        answer = r.json()["answer"]
        spans = server_spans(app, exporter, 1)
        assert len(spans) == 1
        span = spans[0]
        assert span.name == "POST /v1/chat"
        attributes = dict(span.attributes or {})
        assert {k: attributes[k] for k in ("http.method", "http.route", "http.status_code",
                                           "groundline.request_id")} == {
            "http.method": "POST", "http.route": "/v1/chat", "http.status_code": 200,
            "groundline.request_id": "support-ticket-7"}
        for stage in ("rewrite", "dense", "sparse", "fuse", "decide", "total"):
            assert attributes[f"groundline.answer.{stage}_ms"] >= 0  # type: ignore[operator]
        assert attributes["groundline.answer.outcome"] == "answer"
        assert span.resource.attributes["service.name"] == "groundline"

        exporter.clear()
        r = httpx.get(f"{url}/v1/conversations/{conversation}", headers=widget_headers(keys))
        assert r.status_code == 200
        assert httpx.get(f"{url}/v1/no-such-route/x-4711").status_code == 404
        by_name = {s.name: s for s in server_spans(app, exporter, 2)}
        assert set(by_name) == {"GET /v1/conversations/{conversation_id}", "GET"}
        assert (by_name["GET"].attributes or {})["http.status_code"] == 404
        assert "http.route" not in (by_name["GET"].attributes or {})
        seen = texts([span, *by_name.values()])
    # Spans carry routes, statuses, ids and timings: never the customer's words, the
    # answer, an e-mail address or the raw path.
    for private in (MESSAGE, EMAIL, "hardware", answer[:40], conversation, "x-4711"):
        assert private not in seen
    assert not isinstance(trace.get_tracer_provider(), SdkTracerProvider)  # not global


def test_a_stream_continues_the_callers_trace(indexed):
    app, exporter = served(indexed, enabled=True)
    with serve(app) as url:
        r = chat(url, indexed[2], "/v1/chat/stream",
                 traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01")
        assert "event: done" in r.text
        spans = server_spans(app, exporter, 1)
    assert [s.name for s in spans] == ["POST /v1/chat/stream"]
    span = spans[0]
    assert span.context is not None and span.parent is not None
    assert (span.context.trace_id, span.parent.span_id) == (int(TRACE_ID, 16),
                                                            int(PARENT_ID, 16))
    assert (span.attributes or {})["groundline.answer.total_ms"] > 0  # type: ignore[operator]


def test_spans_reach_an_otlp_http_collector_by_shutdown(indexed):
    """The real exporter, to a receiver on loopback: what is buffered is sent at shutdown."""
    with receiver() as collector:
        endpoint = collector.url.replace("/hooks/handoff", "/v1/traces")
        app, _ = served(indexed, enabled=True, endpoint=endpoint)
        with serve(app) as url:
            assert httpx.get(f"{url}/healthz").status_code == 200
        collector.wait_for(1)
    headers, body = collector.received[0]
    assert headers["content-type"] == "application/x-protobuf"
    sent = ExportTraceServiceRequest.FromString(body).resource_spans
    resource = {a.key: a.value.string_value for a in sent[0].resource.attributes}
    assert resource["service.name"] == "groundline"
    assert [s.name for r in sent for scope in r.scope_spans for s in scope.spans] == [
        "GET /healthz"]


def test_the_sample_ratio_applies_to_new_traces_and_callers_decide_theirs():
    exporter = InMemorySpanExporter()
    provider = make_provider(TracingSettings(enabled=True, sample_ratio=0.0), exporter=exporter)
    tracer = provider.get_tracer("test")
    tracer.start_span("new trace").end()
    caller = SpanContext(int(TRACE_ID, 16), int(PARENT_ID, 16), is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    tracer.start_span("sampled caller",
                      context=trace.set_span_in_context(NonRecordingSpan(caller))).end()
    provider.force_flush()
    assert [s.name for s in exporter.get_finished_spans()] == ["sampled caller"]
    provider.shutdown()


def test_the_start_up_line_says_where_traces_go_without_credentials(monkeypatch):
    assert effective_configuration(Settings())["tracing"] == "off"
    on = Settings(tracing={"enabled": True, "sample_ratio": 0.25,
                           "endpoint": "https://user:secret@otel.example:4318/v1/traces?k=t"})
    assert effective_configuration(on)["tracing"] == (
        "OTLP/HTTP to https://otel.example:4318/v1/traces as groundline, sampling 0.25")
    from_env = TracingSettings(enabled=True)
    assert export_endpoint(from_env, {}) == "http://localhost:4318/v1/traces"
    assert export_endpoint(from_env, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == (
        "http://c:4318/v1/traces")
    assert export_endpoint(from_env, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                                      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t/x"}) == (
        "http://t/x")


def test_tracing_without_the_packages_is_a_configuration_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'groundline\[otel\]'"):
        make_provider(TracingSettings(enabled=True))
