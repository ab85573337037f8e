"""One source of truth per article: what an admin edits or deletes through the admin API stays
so when ``make run`` ingests the help center files again, until the admin releases it
(``python -m ingest --no-progress`` as the Makefile runs it, the admin API through TestClient)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import make_engine
from app.main import create_app
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_KB = ROOT / "tests" / "fixtures" / "kb"
ADMIN_KEY = "gla_test-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
EDITED = "You can return any hardware within 90 days of delivery, no questions asked."


def make_run_ingest(data: Path, var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """What ``make run`` runs before serving: ``python -m ingest --no-progress`` on data/."""
    env = {**os.environ, "GROUNDLINE_DATA_DIR": str(data), "GROUNDLINE_VAR_DIR": str(var),
           "GROUNDLINE_INDEX__DIR": str(var / "index")}
    result = subprocess.run([sys.executable, "-m", "ingest", "--no-progress", *args], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(FIXTURE_KB, folder / "kb")
    (folder / "tickets").mkdir()
    return folder


def call(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    r = client.request(method, path, headers=AUTH, **kwargs)
    assert r.status_code < 300, r.text
    return r.json()


def test_admin_edits_and_deletions_survive_make_run_until_released(data, tmp_path):
    var = tmp_path / "var"
    make_run_ingest(data, var)
    with _admin(var) as client:
        call(client, "PUT", "/v1/admin/articles/t-returns",
             json={"title": "Return policy", "body": EDITED, "tags": ["returns"]})
        call(client, "DELETE", "/v1/admin/articles/t-shipping")

    again = make_run_ingest(data, var)
    with _admin(var) as client:
        returns = call(client, "GET", "/v1/admin/articles/t-returns")
        assert returns["body"] == EDITED
        assert client.get("/v1/admin/articles/t-shipping", headers=AUTH).status_code == 404
        assert returns["owner"] == "api"
        assert call(client, "GET", "/v1/admin/articles/t-plans")["owner"] == "file"
    assert "added 0, updated 0" in again.stdout, again.stdout
    assert "kept 2 articles edited or deleted through the admin API" in again.stderr
    assert "t-returns, t-shipping" in again.stderr
    assert "/v1/admin/articles/{id}/release" in again.stderr

    with _admin(var) as client:
        for article_id in ("t-returns", "t-shipping"):
            released = call(client, "POST", f"/v1/admin/articles/{article_id}/release")
            assert released["results"][0]["result"] == "released"
        missing = client.post("/v1/admin/articles/t-plans/release", headers=AUTH)
        assert missing.status_code == 404, missing.text

    restored = make_run_ingest(data, var)
    assert "added 1, updated 1" in restored.stdout, restored.stdout
    assert "through the admin API" not in restored.stderr
    with _admin(var) as client:
        returns = call(client, "GET", "/v1/admin/articles/t-returns")
        assert "45 days" in returns["body"] and returns["owner"] == "file"
        assert returns["source_path"] == str(data / "kb" / "returns.md")
        shipping = call(client, "GET", "/v1/admin/articles/t-shipping")
        assert "Standard shipping" in shipping["body"]
    summary = json.loads(make_run_ingest(data, var, "--json").stdout.strip().splitlines()[-1])
    assert (summary["kept"], summary["updated"], summary["unchanged"]) == (0, 0, 6)


def _admin(var: Path) -> TestClient:
    """The admin API on ``var``'s database; no models load (nothing here answers chats)."""
    settings = Settings(var_dir=var, index={"dir": var / "index"},  # type: ignore[arg-type]
                        admin_api_key=ADMIN_KEY)
    state = AppState(engine=make_engine(settings.resolved_database_url),
                     store=IndexStore(settings.index.dir))
    return TestClient(create_app(settings, state=state))
