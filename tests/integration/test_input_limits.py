"""Bad input to the admin API gets a clear 4xx, and admin keys cannot lock admins out: size
limits for every format, request bodies over the limit, lone surrogates, pagination bounds,
the id pattern, key revocation rules, failed-authentication limits and OpenAPI example ids
(the app through TestClient, SQLite, no models)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.admin.schemas import ID_PATTERN
from app.auth import KeyConflictError, check_revocation, create_key
from app.db import make_engine
from app.main import create_app
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "gla_test-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
MB = 1_000_000


def make_client(var: Path, client: tuple[str, int] = ("testclient", 50000),
                **overrides: Any) -> TestClient:
    settings = Settings(var_dir=var, index={"dir": var / "index"},  # type: ignore[arg-type]
                        admin_api_key=ADMIN_KEY, **overrides)
    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    return TestClient(create_app(settings, state=state), client=client)


@pytest.fixture()
def client(tmp_path):
    with make_client(tmp_path / "var") as c:
        yield c


def post_json(client: TestClient, path: str, text: str) -> Any:
    """Send ``text`` as it is (escapes such as \\ud800 reach the server unchanged)."""
    return client.post(path, content=text.encode(),
                       headers={**AUTH, "content-type": "application/json"})


def article(article_id: str = "size-001", body: str = "Some text.") -> dict[str, Any]:
    return {"id": article_id, "title": "Sizes", "body": body}


# 1. The per-article size limit (GROUNDLINE_MAX_FILE_BYTES) holds for every format and route.

@pytest.mark.parametrize("fmt", ["json", "markdown", "html", "zendesk"])
def test_an_article_over_the_size_limit_is_refused_in_every_format(client, fmt):
    big = "word " * (MB // 5 + 100)  # just over 1 MB
    item: dict[str, Any] = {
        "json": article(body=big),
        "markdown": {"format": "markdown", "content": f"---\nid: size-001\ntitle: T\n---\n{big}"},
        "html": {"format": "html", "content": f'<meta name="kb:id" content="size-001"><p>{big}'},
        "zendesk": {"format": "zendesk", "article": {"id": "size-001", "title": "T",
                                                     "body": f"<p>{big}</p>"}},
    }[fmt]
    r = client.post("/v1/admin/articles", json={"articles": [item]}, headers=AUTH)
    assert r.status_code == 422, r.text[:300]
    assert "limit of 1,000,000 bytes" in r.json()["errors"][0]["message"]
    if fmt in ("json", "zendesk"):
        body = item if fmt == "json" else item["article"]
        r = client.put("/v1/admin/articles/size-001", json=body if fmt == "json" else item,
                       headers=AUTH)
        assert r.status_code == 422, r.text[:300]
        assert "limit of 1,000,000 bytes" in r.json()["errors"][0]["message"]
    assert client.get("/v1/admin/articles/size-001", headers=AUTH).status_code == 404


def test_a_ticket_over_the_size_limit_is_refused(client):
    ticket = {"id": "T-1", "customer_message": "help " * (MB // 5 + 100),
              "agent_resolution": "Done.", "resolved": True}
    r = client.post("/v1/admin/tickets", json={"tickets": [ticket]}, headers=AUTH)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["errors"][0]["index"] == 0
    assert "limit of 1,000,000 bytes" in r.json()["errors"][0]["message"]


def test_an_article_under_the_limit_is_accepted(client):
    r = client.put("/v1/admin/articles/size-001", json=article(body="word " * 150_000),
                   headers=AUTH)
    assert r.status_code == 201, r.text[:300]


# 2. Request bodies over GROUNDLINE_MAX_REQUEST_BYTES get 413 before they are read.

def test_a_body_over_the_request_limit_gets_413_not_415(tmp_path):
    with make_client(tmp_path / "var", max_request_bytes=2 * MB) as c:
        r = c.put("/v1/admin/articles/big", content=b"x" * (3 * MB),
                  headers={**AUTH, "content-type": "application/xml"})
        assert r.status_code == 413, r.text[:300]
        assert r.json() == {"detail": "request body too large: the limit is 2,000,000 bytes "
                                      "(GROUNDLINE_MAX_REQUEST_BYTES)"}
        r = c.post("/v1/admin/keys", content=b"{" + b" " * (3 * MB) + b"}",
                   headers={"content-type": "application/json"})  # before authentication
        assert r.status_code == 413
        small = c.put("/v1/admin/articles/big", content=b"x",
                      headers={**AUTH, "content-type": "application/xml"})
        assert small.status_code == 415


def test_the_default_request_limit_fits_one_article_of_the_largest_size():
    settings = Settings()
    assert settings.max_request_bytes >= 2 * settings.max_file_bytes


# 3. A lone surrogate is not text: 422 naming the field, never 500.

@pytest.mark.parametrize(("path", "text", "field"), [
    ("/v1/admin/articles", '{"articles": [{"id": "a-1", "title": "T\\ud800", "body": "x"}]}',
     "articles.0.title"),
    ("/v1/admin/articles", '{"articles": [{"id": "a-1", "title": "T", "body": "x", '
                           '"tags": ["ok", "\\udfff"]}]}', "articles.0.tags.1"),
    ("/v1/admin/tickets", '{"tickets": [{"id": "1", "customer_message": "T\\ud800", '
                          '"agent_resolution": "x", "resolved": true}]}',
     "tickets.0.customer_message"),
    ("/v1/admin/tickets", '{"tickets": [{"id": "1", "customer_message": "T", '
                          '"agent_resolution": "x", "resolved": true, "\\ud800": 1}]}',
     "tickets.0"),
    ("/v1/admin/keys", '{"name": "site", "scope": "widget", "allowed_origins": '
                       '["https://a.example\\ud800"]}', "allowed_origins.0"),
])
def test_a_lone_surrogate_gets_422_naming_the_field(client, path, text, field):
    r = post_json(client, path, text)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"] == "invalid request"
    assert [e["field"] for e in body["errors"]] == [field]
    assert "lone surrogate" in body["errors"][0]["message"]


def test_a_lone_surrogate_in_a_put_body_gets_422(client):
    r = client.put("/v1/admin/articles/a-1", content=b'{"title": "T", "body": "\\ud800"}',
                   headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["body"]


# 4. Pagination parameters are bounded in the query schema.

@pytest.mark.parametrize("path", ["/v1/admin/articles", "/v1/admin/audit"])
@pytest.mark.parametrize("query", ["offset=9223372036854775808", "offset=-1",
                                   "limit=9223372036854775808", "limit=0"])
def test_out_of_range_pagination_gets_422(client, path, query):
    r = client.get(f"{path}?{query}", headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == query.split("=")[0]


def test_pagination_bounds_are_published(client):
    schema = client.get("/openapi.json").json()
    for path in ("/v1/admin/articles", "/v1/admin/audit"):
        params = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
        assert params["offset"]["maximum"] < 2**63 and params["offset"]["minimum"] == 0
        assert params["limit"]["maximum"] == 1000 and params["limit"]["minimum"] == 1


# 5. Article and ticket ids follow one pattern, after NFC normalisation.

@pytest.mark.parametrize("bad", ["../../etc/passwd", "café", "cafe\u0301", "-lead", ".hidden",
                                 "a b", "a/b", "x" * 129])
def test_ids_outside_the_pattern_are_refused(client, bad):
    r = client.post("/v1/admin/articles", json={"articles": [article(bad)]}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["index"] == 0 and ID_PATTERN in r.json()["errors"][0]["message"]
    ticket = {"id": bad, "customer_message": "Hi", "agent_resolution": "Done.", "resolved": True}
    r = client.post("/v1/admin/tickets", json={"tickets": [ticket]}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert ID_PATTERN in r.json()["errors"][0]["message"]
    assert client.get("/v1/admin/articles", headers=AUTH).json()["total"] == 0


def test_a_put_path_id_outside_the_pattern_is_refused(client):
    for bad in ("caf%C3%A9", "cafe%CC%81", "..%2E"):
        r = client.put(f"/v1/admin/articles/{bad}", json={"title": "T", "body": "x"},
                       headers=AUTH)
        assert r.status_code == 422, (bad, r.text)
        assert ID_PATTERN in r.json()["errors"][0]["message"]


def test_ids_of_the_sample_help_center_match_the_pattern():
    from ingest.sources import load_path

    pattern = re.compile(ID_PATTERN)
    ids = [d.id for p in ("data/kb", "data/tickets")
           for d in load_path(ROOT / p).documents]
    assert len(ids) > 400 and any(i.isdigit() for i in ids)
    assert [i for i in ids if not pattern.match(unicodedata.normalize("NFC", i))] == []


def test_valid_ids_can_be_written_read_and_deleted(client):
    for article_id in ("360010001", "acct-001", "ship-001-de", "a.b_c-1"):
        r = client.put(f"/v1/admin/articles/{article_id}", json=article(article_id),
                       headers=AUTH)
        assert r.status_code == 201, r.text
        assert client.get(f"/v1/admin/articles/{article_id}", headers=AUTH).status_code == 200
        assert client.delete(f"/v1/admin/articles/{article_id}",
                             headers=AUTH).status_code == 200


# 6. Keys: no self-revocation, never the last admin key; failed authentication is limited.

def test_an_admin_key_cannot_revoke_itself_or_the_last_admin_key(client, tmp_path):
    keys = client.get("/v1/admin/keys", headers=AUTH).json()
    env_id = keys[0]["id"]
    r = client.delete(f"/v1/admin/keys/{env_id}", headers=AUTH)
    assert r.status_code == 409, r.text
    assert r.json() == {"detail": "a key cannot revoke itself: revoke it with another "
                                  "admin key or `python -m app.keys revoke`"}
    other = client.post("/v1/admin/keys", json={"name": "ops", "scope": "admin"},
                        headers=AUTH).json()
    r = client.delete(f"/v1/admin/keys/{env_id}",
                      headers={"Authorization": f"Bearer {other['key']}"})
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = client.delete(f"/v1/admin/keys/{other['id']}",
                      headers={"Authorization": f"Bearer {other['key']}"})
    assert r.status_code == 409  # itself, and the last one
    assert client.get("/v1/admin/keys",
                      headers={"Authorization": f"Bearer {other['key']}"}).status_code == 200


def test_the_last_active_admin_key_cannot_be_revoked(tmp_path):
    engine = make_engine(Settings(var_dir=tmp_path).resolved_database_url)
    with Session(engine) as session:
        only, _ = create_key(session, name="ops", scope="admin")
        widget, _ = create_key(session, name="site", scope="widget")
        with pytest.raises(KeyConflictError, match="last active admin key"):
            check_revocation(session, only.id, acting_key_id=None)
        check_revocation(session, widget.id, acting_key_id=None)
        second, _ = create_key(session, name="ops 2", scope="admin")
        check_revocation(session, only.id, acting_key_id=second.id)


def test_the_cli_refuses_to_revoke_the_last_admin_key(tmp_path, monkeypatch, capsys):
    from app import keys as keys_cli
    from app.settings import get_settings

    monkeypatch.setenv("GROUNDLINE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    try:
        assert keys_cli.main(["create", "--scope", "admin", "--name", "ops", "--json"]) == 0
        created = json.loads(capsys.readouterr().out)
        assert keys_cli.main(["revoke", created["id"]]) == 1
        assert "last active admin key" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()


def test_failed_admin_authentication_is_rate_limited_per_client(tmp_path):
    var = tmp_path / "var"
    with make_client(var, client=("198.51.100.7", 1000)) as attacker:
        wrong = {"Authorization": "Bearer gla_wrong-guess"}
        statuses = [attacker.get("/v1/admin/keys", headers=wrong).status_code
                    for _ in range(25)]
        assert statuses == [401] * 20 + [429] * 5
        r = attacker.get("/v1/admin/keys", headers=wrong)
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["detail"].startswith("too many failed admin authentications from "
                                             "this address: try again in ")
        # While blocked, a right key is refused too: guessing cannot go on behind the 429s.
        assert attacker.get("/v1/admin/keys", headers=AUTH).status_code == 429
        other = TestClient(attacker.app, client=("203.0.113.9", 1000))
        assert other.get("/v1/admin/keys", headers=AUTH).status_code == 200
        assert other.get("/v1/admin/keys").status_code == 401  # no key: not a guess


def test_successful_admin_requests_are_not_limited(client):
    for _ in range(30):
        assert client.get("/v1/admin/keys", headers=AUTH).status_code == 200


# 7. OpenAPI examples use ids that cannot exist in the sample help center.

def example_ids(node: Any) -> set[str]:
    """The ids in OpenAPI examples: ``id`` fields and ``id:`` lines of front matter."""
    if isinstance(node, dict):
        found = {node["id"]} if isinstance(node.get("id"), str) else set()
        return found.union(*(example_ids(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(example_ids(v) for v in node))
    return set(re.findall(r"^id: (\S+)$", node, re.MULTILINE)) if isinstance(node, str) else set()


def test_openapi_examples_use_ids_not_in_the_sample_help_center(client):
    from ingest.sources import load_path

    schema = client.get("/openapi.json").json()
    ids = example_ids([schema["components"]["schemas"]["ArticleIn"]["examples"],
                       schema["paths"]["/v1/admin/articles/{article_id}"]["put"]])
    assert "example-article" in ids
    assert not ids & {d.id for d in load_path(ROOT / "data/kb").documents}
