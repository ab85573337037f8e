"""Metrics, request ids, the LLM's health and its failures, through a served app (real
embedding model, the fixture help center, a real OpenAI-compatible server on loopback)."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from app.ops.llm_probe import LLMProbe
from app.ops.logs import JsonFormatter
from app.ops.metrics import observe_slot_wait
from app.rag.factory import make_answer_service
from app.rag.generate import OpenAIGenerator
from app.settings import LLMSettings
from tests.fake_openai import fake_openai_server
from tests.public_helpers import (
    admin_headers,
    index_fixture_kb,
    make_keys,
    make_state,
    widget_headers,
)
from tests.servers import free_port, serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]

ANSWERED = "How many days do I have to return hardware?"
OFF_TOPIC = "What is the boiling point of mercury in kelvin?"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    settings, engine = index_fixture_kb(tmp_path_factory.mktemp("var"), embedder)
    keys = make_keys(engine)
    with fake_openai_server() as fake:
        settings = settings.model_copy(update={"llm": LLMSettings(
            base_url=fake.base_url, api_key="sk-test", model=fake.model, health_ttl_s=0)})
        state = make_state(settings, engine, embedder)
        state.service = make_answer_service(  # as load_models composes it
            settings, embedder=embedder, on_slot_wait=observe_slot_wait,
            generator=OpenAIGenerator(base_url=fake.base_url, api_key="sk-test",
                                      model=fake.model, timeout_s=2.0))
        with serve(create_app(settings, state=state)) as url:
            yield url, keys, fake


def scrape(url: str, keys) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    """Every sample of /metrics by name and labels."""
    r = httpx.get(f"{url}/metrics", headers=admin_headers(keys), timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return float(samples.get((name, tuple(sorted(labels.items()))), 0.0))


def chat(url: str, keys, message: str, **headers: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    r = httpx.post(f"{url}/v1/chat", json={"message": message}, timeout=60,
                   headers={**widget_headers(keys), **headers})
    assert r.status_code == 200, r.text
    return r


def test_metrics_refuse_callers_without_an_admin_key(served):
    url, keys, _ = served
    assert httpx.get(f"{url}/metrics").status_code == 401
    widget = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {keys.widget}"})
    assert widget.status_code == 403
    assert "groundline_http_requests_total" in httpx.get(
        f"{url}/metrics", headers=admin_headers(keys)).text


def test_a_chat_request_is_counted_under_its_route_template_and_reason(served):
    url, keys, _ = served
    before = scrape(url, keys)
    body = chat(url, keys, OFF_TOPIC).json()
    assert body["fallback"]["reason"] == "off_topic"
    conversation = body["conversation_id"]
    r = httpx.get(f"{url}/v1/conversations/{conversation}", headers=widget_headers(keys))
    assert r.status_code == 200
    assert httpx.get(f"{url}/v1/no-such-route/x-4711").status_code == 404
    after = scrape(url, keys)
    route = {"method": "POST", "route": "/v1/chat", "status": "200"}
    assert value(after, "groundline_http_requests_total", **route) == value(
        before, "groundline_http_requests_total", **route) + 1
    template = {"method": "GET", "route": "/v1/conversations/{conversation_id}",
                "status": "200"}
    assert value(after, "groundline_http_requests_total", **template) == value(
        before, "groundline_http_requests_total", **template) + 1
    reason = {"outcome": "decline", "reason": "off_topic"}
    assert value(after, "groundline_answers_total", **reason) == value(
        before, "groundline_answers_total", **reason) + 1
    stage = "groundline_answer_stage_seconds_count"
    for name in ("dense", "sparse", "decide", "total"):
        assert value(after, stage, stage=name) == value(before, stage, stage=name) + 1
    assert value(after, "groundline_model_slot_wait_seconds_count") > value(
        before, "groundline_model_slot_wait_seconds_count")
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "groundline_http_requests_total", **unmatched) == value(
        before, "groundline_http_requests_total", **unmatched) + 1
    text = httpx.get(f"{url}/metrics", headers=admin_headers(keys)).text
    assert conversation not in text and "x-4711" not in text  # raw paths are no labels


def test_an_answer_the_llm_failed_says_so_and_is_counted(served):
    url, keys, fake = served
    fake.script(reply="You can return hardware within 45 days of delivery [1].")
    body = chat(url, keys, ANSWERED).json()
    assert (body["generator"], body["llm_failed"]) == (f"openai:{fake.model}", False)
    before = scrape(url, keys)
    fake.script(status=500)
    body = chat(url, keys, ANSWERED).json()
    fake.reset()
    assert body["fallback"] is None and body["citations"]
    assert (body["generator"], body["llm_failed"]) == ("extractive", True)
    after = scrape(url, keys)
    assert value(after, "groundline_llm_fallbacks_total") == value(
        before, "groundline_llm_fallbacks_total") + 1
    answered = {"outcome": "answer", "reason": "none"}
    assert value(after, "groundline_answers_total", **answered) == value(
        before, "groundline_answers_total", **answered) + 1


def test_readyz_reports_the_configured_llm(served):
    url, _, fake = served
    fake.reset()
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["status"] == "ready"
    assert ready["llm"]["configured"] is True and ready["llm"]["reachable"] is True
    assert [r.path for r in fake.requests] == ["/v1/models"]
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"


def test_an_unreachable_llm_is_reported_and_checks_are_cached():
    probe = LLMProbe(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="k", ttl_s=60)
    first = probe.status()
    assert first.configured and first.reachable is False
    assert first.detail.startswith("unreachable") and "127.0.0.1" not in first.detail
    assert probe.status() is first  # within the interval: no second check
    assert LLMProbe(base_url="", api_key="", ttl_s=0).status().configured is False


def test_the_request_id_round_trips_and_marks_the_log_lines(served, caplog):
    url, keys, _ = served
    with caplog.at_level(logging.INFO, logger="app.access"):
        given = chat(url, keys, OFF_TOPIC, **{"X-Request-ID": "support-ticket-42.a"})
        made = chat(url, keys, OFF_TOPIC)
        unsafe = chat(url, keys, OFF_TOPIC, **{"X-Request-ID": "a b\"c"})
        deadline = time.monotonic() + 5
        while len([r for r in caplog.records if r.name == "app.access"]) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert given.headers["x-request-id"] == "support-ticket-42.a"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])
    lines = [r for r in caplog.records if r.name == "app.access"]
    assert {r.request_id for r in lines} >= {"support-ticket-42.a",  # type: ignore[attr-defined]
                                             made.headers["x-request-id"]}
    record = next(r for r in lines if r.request_id == "support-ticket-42.a")  # type: ignore[attr-defined]
    logged = json.loads(JsonFormatter().format(record))
    assert logged["request_id"] == "support-ticket-42.a"
    assert (logged["route"], logged["status"], logged["method"]) == ("/v1/chat", 200, "POST")
    assert "mercury" not in caplog.text  # the customer's words are not logged


WORKER = """
import sys
from app.ops.metrics import observe_request, process_exit, set_index_version
observe_request("POST", "/v1/chat", 200, 0.01)
set_index_version(sys.argv[1], 10)
if sys.argv[2] == "exit":
    process_exit()
"""


def test_several_worker_processes_are_added_up(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, one scrape covers every worker process, and a worker
    that exited no longer claims an index version."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for version, ending in (("v-one", "exit"), ("v-two", "stay")):
        subprocess.run([sys.executable, "-c", WORKER, version, ending], env=env, check=True,
                       cwd=ROOT, timeout=60)
    text = subprocess.run([sys.executable, "-c", "from app.ops.metrics import render; "
                           "print(render()[0].decode())"], env=env, check=True, cwd=ROOT,
                          capture_output=True, text=True, timeout=60).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    route = (("method", "POST"), ("route", "/v1/chat"), ("status", "200"))
    assert samples[("groundline_http_requests_total", route)] == 2.0
    versions = {dict(k[1])["version"] for k, v in samples.items()
                if k[0] == "groundline_index_version_info" and v == 1.0}
    assert versions == {"v-two"}
