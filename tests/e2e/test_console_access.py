"""The console's sign-in, sessions, CSRF and scopes, and the API's scopes, on a real server.

Every console page and action is checked for refusing a request without a session, a
viewer's change and a change without its CSRF token.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session, select
from starlette.requests import Request

from app.auth import hash_key
from app.console.session import COOKIE, cookie_is_secure
from app.db import make_engine
from app.main import create_app
from app.models import (
    ApiKey,
    AuditEntry,
    ConsoleSession,
    Conversation,
    EvalRun,
    Message,
    utcnow,
)
from app.rag.index import IndexStore
from app.state import AppState
from tests.console_helpers import PUBLIC, console_routes, make_scoped_keys, sign_in
from tests.public_helpers import base_settings
from tests.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROUTES = [r for r in console_routes() if r not in PUBLIC]
CHANGES = [r for r in ROUTES if r[0] == "POST"]
PAGES = [r for r in ROUTES if r[0] == "GET"]


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    settings = base_settings(var)
    engine = make_engine(settings.resolved_database_url)
    state = AppState(engine=engine, store=IndexStore(settings.index.dir))
    keys = make_scoped_keys(engine)
    with serve(create_app(settings, state=state)) as url:
        yield url, engine, keys
    engine.dispose()


@pytest.fixture(scope="module")
def sessions(console):
    url, _, keys = console
    signed = {scope: sign_in(url, getattr(keys, scope)) for scope in ("admin", "editor",
                                                                       "viewer")}
    yield signed
    for s in signed.values():
        s.client.close()


def test_the_route_list_covers_the_console():
    assert ("GET", "/admin/gaps") in PAGES and ("POST", "/admin/articles") in CHANGES
    assert len(PAGES) >= 14 and len(CHANGES) >= 14


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_without_a_session_nothing_is_served(console, method, path):
    url, _, _ = console
    r = httpx.request(method, url + path, follow_redirects=False,
                      cookies={COOKIE: "not-a-session"})
    if method == "GET":
        assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    else:
        assert r.status_code == 401 and "sign in" in r.text


@pytest.mark.parametrize(("method", "path"), CHANGES)
def test_a_change_without_its_csrf_token_is_refused(sessions, method, path):
    admin = sessions["admin"]
    for data in ({}, {"csrf_token": "forged"}):
        r = admin.client.request(method, path, data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text


@pytest.mark.parametrize(("method", "path"),
                         [c for c in CHANGES if c != ("POST", "/admin/logout")])
def test_a_viewer_cannot_change_anything(sessions, method, path):
    viewer = sessions["viewer"]
    r = viewer.client.request(method, path, data={"csrf_token": viewer.csrf},
                              follow_redirects=False)
    assert r.status_code == 403 and "viewer key may not" in r.text


def test_every_page_opens_for_a_viewer(sessions):
    viewer = sessions["viewer"]
    for _, path in PAGES:
        if "/x" in path:
            continue  # pages of one article, conversation, job or message
        r = viewer.client.get(path)
        assert r.status_code == 200, (path, r.text[:300])
        assert "Auditor" in r.text and "<nav" in r.text


def test_the_session_cookie(console):
    url, _, keys = console
    r = httpx.post(url + "/admin/login", data={"key": keys.viewer})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
    assert "secure" not in cookie  # served on loopback over plain HTTP
    scope = {"type": "http", "scheme": "http", "server": ("10.0.0.5", 8000), "path": "/admin",
             "headers": [(b"host", b"bot.example.com")]}
    assert cookie_is_secure(Request(scope))
    assert cookie_is_secure(Request({**scope, "scheme": "https", "server": ("127.0.0.1", 80)}))


def test_wrong_keys_do_not_sign_in(console):
    url, _, keys = console
    for key in ("gla_wrong", keys.widget, ""):
        r = httpx.post(url + "/admin/login", data={"key": key})
        assert r.status_code == 401 and COOKIE not in r.headers.get("set-cookie", "")
    r = httpx.post(url + "/admin/login", data={"key": keys.admin},
                   headers={"Origin": "http://evil.example.test"})
    assert r.status_code == 403


def test_sign_out_and_expiry_end_the_session(console):
    url, engine, keys = console
    first, second = sign_in(url, keys.editor), sign_in(url, keys.editor)
    r = first.client.post("/admin/logout", data={"csrf_token": first.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    assert first.client.get("/admin").status_code == 303
    assert second.client.get("/admin").status_code == 200
    with Session(engine) as session:
        row = session.get(ConsoleSession, hash_key(second.client.cookies[COOKIE]))
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert second.client.get("/admin").status_code == 303


def test_the_api_enforces_the_same_scopes(console):
    url, _, keys = console

    def call(key: str, method: str, path: str, **kw):  # type: ignore[no-untyped-def]
        return httpx.request(method, url + path, headers={"Authorization": f"Bearer {key}"},
                             timeout=60, **kw)

    article = {"title": "Gift cards", "body": "Gift cards never expire.", "status": "draft"}
    assert call(keys.viewer, "GET", "/v1/admin/articles").status_code == 200
    assert call(keys.viewer, "PUT", "/v1/admin/articles/gift", json=article).status_code == 403
    assert call(keys.viewer, "POST", "/v1/admin/reindex").status_code == 403
    assert call(keys.editor, "PUT", "/v1/admin/articles/gift", json=article).status_code == 201
    assert call(keys.editor, "POST", "/v1/admin/keys",
                json={"name": "x", "scope": "admin"}).status_code == 403
    assert call(keys.editor, "POST", "/v1/admin/index/rollback").status_code == 403
    assert call(keys.widget, "GET", "/v1/admin/articles").status_code == 403
    r = call(keys.admin, "POST", "/v1/admin/keys", json={"name": "reader", "scope": "viewer"})
    assert r.status_code == 201 and r.json()["key"].startswith("glv_")


def test_the_audit_log_names_the_console_user(console, sessions):
    editor = sessions["editor"]
    r = editor.client.post("/admin/articles", data={
        "csrf_token": editor.csrf, "id": "audit-named", "title": "Named", "body": "Text.",
        "status": "draft", "new": "1", "action": "save"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/articles/audit-named"
    _, engine, _ = console
    with Session(engine) as session:
        entry = session.exec(select(AuditEntry).where(
            AuditEntry.target_id == "audit-named")).one()
    page = sessions["viewer"].client.get("/admin/audit", params={"action": "article.create"})
    assert entry.actor in page.text or "Dana (support lead)" in page.text
    row = next(line for line in page.text.split("<tr>") if "audit-named" in line)
    assert "Dana (support lead)" in row and "editor" in row


def test_evaluation_runs_their_report_and_a_comparison(console, sessions, tmp_path):
    _, engine, _ = console
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    records = [
        {"id": "q1", "question": "How long is the return window?", "answerable": True,
         "gold_article_ids": ["t-returns"], "answer": "45 days. [1]", "fallback": None,
         "citations": [{"n": 1, "article_id": "t-returns"}]},
        {"id": "q2", "question": "What is the capital of France?", "answerable": False,
         "gold_article_ids": [], "answer": "Paris. [1]", "fallback": None,
         "citations": [{"n": 1, "article_id": "t-plans"}]},
    ]
    (run_dir / "run.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n",
                                       encoding="utf-8")
    (run_dir / "gates.json").write_text(json.dumps([{"metric": "false_answer_rate",
                                                     "passed": False}]), encoding="utf-8")
    with Session(engine) as session:
        first = EvalRun(name="smoke", dataset="sample", run_dir=str(run_dir), questions=2,
                        gates_passed=False, metrics={"false_answer_rate": 0.5})
        second = EvalRun(name="smoke", dataset="sample", run_dir="", questions=2,
                         gates_passed=True, metrics={"false_answer_rate": 0.25})
        session.add_all([first, second])
        session.commit()
        ids = (first.id, second.id)
    viewer = sessions["viewer"].client
    page = viewer.get(f"/admin/evaluation/{ids[0]}", params={"failures": "true"})
    assert page.status_code == 200 and "false answer" in page.text
    assert "capital of France" in page.text and "return window" not in page.text
    assert "false_answer_rate" in page.text  # its gates
    page = viewer.get(f"/admin/evaluation/{ids[1]}")
    assert "not on this machine" in page.text
    page = viewer.get("/admin/evaluation", params={"a": ids[0], "b": ids[1]})
    assert "-0.2500" in page.text


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(console, sessions):
    admin = sessions["admin"]
    r = admin.client.post("/admin/keys", data={"csrf_token": admin.csrf, "name": "Night shift",
                                                "scope": "viewer"})
    assert r.status_code == 200 and "shown once" in r.text
    raw = re.search(r'<code class="key-secret">(glv_[^<]+)</code>', r.text)
    assert raw is not None
    listing = admin.client.get("/admin/keys").text
    assert "Night shift" in listing and raw.group(1) not in listing  # never shown again
    night = sign_in(console[0], raw.group(1))
    assert night.client.get("/admin").status_code == 200
    ids = re.findall(r'/admin/keys/(key_[0-9a-f]+)/revoke', listing)
    with Session(console[1]) as session:
        night_id = session.exec(select(ApiKey.id).where(ApiKey.name == "Night shift")).one()
    assert night_id in ids
    r = admin.client.post(f"/admin/keys/{night_id}/revoke", data={"csrf_token": admin.csrf})
    assert r.status_code == 303
    assert night.client.get("/admin").status_code == 303  # its session ended with it


def test_a_gap_is_ignored_and_opened_again(console, sessions):
    _, engine, _ = console
    with Session(engine) as session:
        session.add(Conversation(id="c_gap_ignore"))
        session.add(Message(id="u_gap_ignore", conversation_id="c_gap_ignore", role="user",
                            text="Can I bring my hub to the moon?"))
        session.add(Message(id="a_gap_ignore", conversation_id="c_gap_ignore",
                            role="assistant", text="", fallback=json.dumps(
                                {"reason": "off_topic", "message": "I'd rather not guess."})))
        session.commit()
    editor = sessions["editor"]
    page = editor.client.get("/admin/gaps").text
    assert "Can I bring my hub to the moon?" in page and "rather not guess" in page
    gap_id = re.search(r'data-gap="(gap_[0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    r = editor.client.post(f"/admin/gaps/{gap_id}/ignore", data={"csrf_token": editor.csrf})
    assert r.status_code == 303
    assert "moon" not in editor.client.get("/admin/gaps").text
    assert "moon" in editor.client.get("/admin/gaps", params={"tab": "ignored"}).text
    editor.client.post(f"/admin/gaps/{gap_id}/reopen", data={"csrf_token": editor.csrf})
    assert "moon" in editor.client.get("/admin/gaps").text


def test_an_admin_redelivers_handoffs(sessions):
    admin = sessions["admin"]
    r = admin.client.post("/admin/handoffs/redeliver", data={"csrf_token": admin.csrf})
    assert r.status_code == 303 and "/admin/handoffs?notice=" in r.headers["location"]
    assert admin.client.get(r.headers["location"]).status_code == 200
