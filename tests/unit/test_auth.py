"""API keys: hashing, scopes, revocation, the env bootstrap, the admin dependency and the CLI."""

from __future__ import annotations

import json
import logging
import os

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app import keys as keys_cli
from app.auth import (
    ENV_KEY_NAME,
    KeyNotFoundError,
    create_key,
    ensure_env_admin_key,
    find_key,
    hash_key,
    revoke_key,
)
from app.db import make_engine
from app.errors import ConfigurationError
from app.main import create_app
from app.models import ApiKey, AuditEntry
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState


@pytest.fixture()
def db(tmp_path):
    return make_engine(Settings(var_dir=tmp_path).resolved_database_url)


def test_created_key_is_stored_only_as_its_hash(db):
    with Session(db) as session:
        row, raw = create_key(session, name="ops", scope="admin")
        session.commit()
        stored = session.exec(select(ApiKey)).one()
    assert raw.startswith("gla_") and len(raw) == 4 + 32
    assert stored.key_hash == hash_key(raw) and raw not in stored.model_dump_json()
    assert stored.prefix == raw[:10] and stored.id.startswith("key_") and len(stored.id) == 16
    assert stored.created_at is not None and stored.revoked_at is None


def test_widget_key_format_and_origins(db):
    with Session(db) as session:
        row, raw = create_key(session, name="site", scope="widget",
                              allowed_origins=["https://help.example.com/"], created_by="key_x")
        session.commit()
        found = find_key(session, raw)
    assert raw.startswith("glw_") and len(raw) == 4 + 24
    assert found is not None and found.scope == "widget"
    assert found.allowed_origins == ["https://help.example.com"] and found.created_by == "key_x"


def test_keys_are_unique_and_random(db):
    with Session(db) as session:
        raws = {create_key(session, name=f"k{i}", scope="admin")[1] for i in range(20)}
    assert len(raws) == 20


def test_find_key_rejects_unknown_empty_and_revoked(db):
    with Session(db) as session:
        row, raw = create_key(session, name="ops", scope="admin")
        assert find_key(session, raw) is not None
        assert find_key(session, raw + "x") is None
        assert find_key(session, "") is None
        revoked = revoke_key(session, row.id)
        first = revoked.revoked_at
        assert first is not None and find_key(session, raw) is None
        assert revoke_key(session, row.id).revoked_at == first  # idempotent
        with pytest.raises(KeyNotFoundError):
            revoke_key(session, "key_missing")


def test_bad_scope_and_empty_name_are_refused(db):
    with Session(db) as session:
        with pytest.raises(ValueError, match="scope"):
            create_key(session, name="x", scope="root")
        with pytest.raises(ValueError, match="name"):
            create_key(session, name="  ", scope="admin")


def test_env_admin_key_is_registered_once(db):
    raw = "env-secret-0123456789abcdef"
    with Session(db) as session:
        first = ensure_env_admin_key(session, raw)
        session.commit()
        again = ensure_env_admin_key(session, raw)
        session.commit()
        assert first.id == again.id and first.name == ENV_KEY_NAME
        assert len(session.exec(select(ApiKey)).all()) == 1
        assert find_key(session, raw).scope == "admin"
        revoke_key(session, first.id)
        ensure_env_admin_key(session, raw)  # a restart must not undo a revocation
        assert find_key(session, raw) is None
    with Session(db) as session, pytest.raises(ConfigurationError, match="ADMIN_API_KEY"):
        ensure_env_admin_key(session, "short")


@pytest.fixture()
def client(tmp_path, db):
    settings = Settings(var_dir=tmp_path / "var", index={"dir": tmp_path / "index"},
                        admin_api_key="env-secret-0123456789abcdef")
    state = AppState(engine=db, store=IndexStore(tmp_path / "index"))
    with TestClient(create_app(settings, state=state)) as c:
        yield c


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_admin_dependency_statuses(client, db, caplog):
    caplog.set_level(logging.DEBUG)
    env = bearer("env-secret-0123456789abcdef")
    r = client.get("/v1/admin/keys")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.get("/v1/admin/keys", headers=bearer("gla_wrong"))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = client.get("/v1/admin/keys", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401
    r = client.post("/v1/admin/keys", json={"name": "site", "scope": "widget",
                                            "allowed_origins": ["https://a.example"]},
                    headers=env)
    assert r.status_code == 201, r.text
    widget = r.json()
    assert widget["key"].startswith("glw_") and widget["created_by"].startswith("key_")
    r = client.get("/v1/admin/keys", headers=bearer(widget["key"]))
    assert r.status_code == 403 and r.json()["detail"] == "admin key required"
    r = client.post("/v1/admin/keys", json={"name": "ops", "scope": "admin"}, headers=env)
    admin = r.json()
    listed = client.get("/v1/admin/keys", headers=bearer(admin["key"])).json()
    assert {k["id"] for k in listed} >= {widget["id"], admin["id"]}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    assert client.delete(f"/v1/admin/keys/{admin['id']}", headers=env).status_code == 200
    assert client.get("/v1/admin/keys", headers=bearer(admin["key"])).status_code == 401
    assert client.delete("/v1/admin/keys/key_nothere", headers=env).status_code == 404
    assert admin["key"] not in caplog.text and widget["key"] not in caplog.text
    actions = [e["action"] for e in client.get("/v1/admin/audit", headers=env).json()]
    assert actions == ["key.revoke", "key.create", "key.create"]


def test_cli_create_list_revoke(tmp_path, monkeypatch, capsys):
    url = os.environ.get("GROUNDLINE_DATABASE_URL") or f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GROUNDLINE_DATABASE_URL", url)
    from app.settings import get_settings

    get_settings.cache_clear()
    try:
        assert keys_cli.main(["create", "--scope", "widget", "--name", "site",
                              "--origin", "https://a.example", "--json"]) == 0
        created = json.loads(capsys.readouterr().out)
        assert keys_cli.main(["list", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [k["id"] for k in listed] == [created["id"]]
        assert created["key"] not in json.dumps(listed)
        assert keys_cli.main(["revoke", created["id"]]) == 0
        assert keys_cli.main(["revoke", "key_missing"]) == 1
        capsys.readouterr()
        keys_cli.main(["list", "--json"])
        assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None
        engine = make_engine(url)
        with Session(engine) as session:
            assert find_key(session, created["key"]) is None
            actors = {e.actor for e in session.exec(select(AuditEntry)).all()}
        assert actors == {"cli"}
    finally:
        get_settings.cache_clear()
