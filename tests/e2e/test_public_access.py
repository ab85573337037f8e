"""Public access over real HTTP: keys and scopes, origins, CORS, request limits, errors."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session

from app.auth import find_key, revoke_key
from app.db import session_scope
from app.public.demo import ensure_demo_key
from tests.public_helpers import (
    OTHER_SITE,
    SITE,
    admin_headers,
    app_for,
    index_fixture_kb,
    make_keys,
    make_state,
    widget_headers,
)
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

QUESTION = "How many days do I have to return hardware?"


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    settings, engine = index_fixture_kb(tmp_path_factory.mktemp("var"), embedder)
    keys = make_keys(engine)
    with serve(app_for(settings, make_state(settings, engine, embedder))) as url:
        yield url, keys, engine


def chat(url: str, headers: dict[str, str], **body: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat", json={"message": QUESTION, **body}, headers=headers,
                      timeout=60)


def test_chat_needs_a_key(served):
    url, keys, _ = served
    missing = chat(url, {"Origin": SITE})
    assert missing.status_code == 401
    assert "X-Widget-Key" in missing.json()["detail"]
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = chat(url, {"X-Widget-Key": "glw_not-a-key", "Origin": SITE})
    assert wrong.status_code == 401


def test_widget_key_works_from_its_origin_with_either_header(served):
    url, keys, _ = served
    first = chat(url, widget_headers(keys))
    assert first.status_code == 200, first.text
    assert first.json()["citations"][0]["article_id"] == "t-returns"
    bearer = chat(url, {"Authorization": f"Bearer {keys.widget}", "Origin": SITE})
    assert bearer.status_code == 200


@pytest.mark.parametrize("headers", [
    {"Origin": OTHER_SITE},
    {"Origin": "null"},
    {"Origin": SITE + ".evil.test"},
    {"Referer": OTHER_SITE + "/help"},
    {},
])
def test_widget_key_from_another_origin_is_403(served, headers):
    url, keys, _ = served
    r = chat(url, {"X-Widget-Key": keys.widget, **headers})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


def test_admin_key_needs_no_origin(served):
    url, keys, _ = served
    r = chat(url, admin_headers(keys))
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_a_revoked_key_is_refused(served):
    url, _, engine = served
    keys = make_keys(engine)
    assert chat(url, widget_headers(keys)).status_code == 200
    with session_scope(engine) as session:
        revoke_key(session, keys.widget_id)
    assert chat(url, widget_headers(keys)).status_code == 401


def test_widget_key_reaches_every_public_route(served):
    url, keys, _ = served
    body = chat(url, widget_headers(keys)).json()
    h = widget_headers(keys)
    conv = httpx.get(f"{url}/v1/conversations/{body['conversation_id']}",
                     headers={"X-Widget-Key": keys.widget, "Referer": SITE + "/help/page"})
    assert conv.status_code == 200  # same-origin GETs carry a Referer, not an Origin
    fb = httpx.post(f"{url}/v1/feedback", json={"message_id": body["message_id"],
                                                "rating": "up"}, headers=h)
    assert fb.status_code == 201
    stream = httpx.post(f"{url}/v1/chat/stream", json={"message": QUESTION}, headers=h,
                        timeout=60)
    assert stream.status_code == 200 and "event: done" in stream.text
    handoff = httpx.post(f"{url}/v1/handoff", json={"conversation_id": body["conversation_id"]},
                         headers=h)
    assert handoff.status_code == 201
    assert httpx.get(f"{url}/v1/models", headers=h).status_code == 200


def test_widget_key_gets_403_on_every_admin_route(served):
    url, keys, _ = served
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    admin_routes = [(method.upper(), path) for path, ops in paths.items()
                    if path.startswith("/v1/admin") for method in ops]
    assert len(admin_routes) >= 4  # keys, audit, handoffs...
    for method, path in admin_routes:
        concrete = path.replace("{", "x").replace("}", "")
        as_widget = httpx.request(method, f"{url}{concrete}", json={},
                                  headers={"Authorization": f"Bearer {keys.widget}",
                                           "Origin": SITE})
        assert as_widget.status_code == 403, (method, path, as_widget.text)
        if method == "GET" and "{" not in path:  # read-only: safe to call for real
            as_admin = httpx.get(f"{url}{path}", headers=admin_headers(keys))
            assert as_admin.status_code == 200, (path, as_admin.text)


def test_a_widget_key_sees_only_its_own_conversations(served):
    url, keys, _ = served
    body = chat(url, widget_headers(keys)).json()
    cid, mid = body["conversation_id"], body["message_id"]
    other = {"X-Widget-Key": keys.other_widget, "Origin": OTHER_SITE}
    assert httpx.get(f"{url}/v1/conversations/{cid}", headers=other).status_code == 404
    assert chat(url, other, conversation_id=cid).status_code == 404
    assert httpx.post(f"{url}/v1/feedback", json={"message_id": mid, "rating": "down"},
                      headers=other).status_code == 404
    assert httpx.post(f"{url}/v1/handoff", json={"conversation_id": cid},
                      headers=other).status_code == 404
    assert httpx.get(f"{url}/v1/conversations/{cid}",
                     headers=admin_headers(keys)).status_code == 200
    follow = chat(url, widget_headers(keys), conversation_id=cid)
    assert follow.status_code == 200


def test_cors_preflight_is_answered_for_known_origins_only(served):
    url, keys, _ = served
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type,x-widget-key"}
    ok = httpx.options(f"{url}/v1/chat/stream", headers={"Origin": SITE, **ask})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SITE
    assert "x-widget-key" in ok.headers["access-control-allow-headers"].lower()
    refused = httpx.options(f"{url}/v1/chat/stream",
                            headers={"Origin": "http://unknown.example.test", **ask})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_responses_to_an_allowed_origin_carry_cors_headers(served):
    url, keys, _ = served
    r = chat(url, widget_headers(keys))
    assert r.headers["access-control-allow-origin"] == SITE
    assert "Origin" in r.headers["vary"]


def test_oversized_bodies_are_413(served):
    url, keys, _ = served
    big = {"message": "x" * 40_000}
    r = httpx.post(f"{url}/v1/chat", json=big, headers=widget_headers(keys))
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    def chunks():
        for _ in range(40):
            yield b"x" * 1024

    chunked = httpx.post(f"{url}/v1/chat", content=chunks(),
                         headers={**widget_headers(keys), "content-type": "application/json"})
    assert chunked.status_code == 413


@pytest.mark.parametrize(("content", "status", "needle"), [
    ('{"message": "' + "y" * 2001 + '"}', 422, "2000"),
    ('{"message": "hi"', 422, "JSON"),
    ('{"message": "hi", "filters": {"colour": "red"}}', 422, "colour"),
])
def test_bad_requests_are_clear_and_leak_nothing(served, content, status, needle):
    url, keys, _ = served
    r = httpx.post(f"{url}/v1/chat", content=content,
                   headers={**widget_headers(keys), "content-type": "application/json"})
    assert r.status_code == status
    assert needle in r.text
    for leak in ("Traceback", 'File "', ".py", "/home/", "/tmp/", "site-packages"):
        assert leak not in r.text


def test_widget_files_are_served_and_the_demo_is_off_by_default(served):
    url, _, _ = served
    js = httpx.get(f"{url}/widget.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "X-Widget-Key" in js.text
    assert httpx.get(f"{url}/widget.css").headers["content-type"].startswith("text/css")
    assert httpx.get(f"{url}/").json()["service"] == "groundline"


def test_the_demo_key_is_reused_and_replaced_for_other_origins(served, tmp_path):
    _, _, engine = served
    path = tmp_path / "demo_widget_key.json"
    first = ensure_demo_key(engine, path=path, origins=["http://127.0.0.1:8000/"])
    assert first.startswith("glw_")
    assert ensure_demo_key(engine, path=path, origins=["http://127.0.0.1:8000"]) == first
    moved = ensure_demo_key(engine, path=path, origins=["http://127.0.0.1:9000"])
    assert moved != first
    with Session(engine) as session:
        assert find_key(session, first) is None  # revoked
        key = find_key(session, moved)
        assert key is not None and key.scope == "widget"
        assert key.allowed_origins == ["http://127.0.0.1:9000"]
