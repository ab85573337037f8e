"""A real Groundline server for admin tests: a private copy of a built index and database,
the real embedding model, extractive answers, and an admin key from ``ADMIN_API_KEY``."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, select

from app.db import make_engine
from app.main import create_app
from app.models import Article
from app.rag.factory import expected_manifest, make_answer_service
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState
from tests.servers import serve

ADMIN_KEY = "gla_test-admin-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def settings_for(var: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "var_dir": var, "index": {"dir": var / "index"},
        "answer": {"threshold_file": var / "threshold.json"},
        "retrieval": {"reranker": "none"}, "admin_api_key": ADMIN_KEY,
        # One wrong key per admin route in the key tests: more than the default 20 failures.
        "admin": {"watch_interval_s": 0.5, "auth_failure_limit": 1000},
    }
    for key, value in overrides.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    return Settings(**base)


def build_index(var: Path, kb: list[Path], embedder: Any) -> None:
    """Ingest ``kb`` into ``var`` with the real builder and the session's embedder."""
    from ingest.pipeline import ingest_paths, make_builder

    settings = settings_for(var)
    engine = make_engine(settings.resolved_database_url)
    builder = make_builder(settings)
    builder._embedder = embedder
    ingest_paths(kb, settings=settings, engine=engine, builder=builder)
    engine.dispose()
    (var / "database_url").write_text(settings.resolved_database_url, encoding="utf-8")


def copy_catalogue(source_url: str, engine: Any) -> None:
    """Copy the article catalogue into another database (PostgreSQL runs: one per test)."""
    source = make_engine(source_url)
    with Session(source) as read, Session(engine) as write:
        for row in read.exec(select(Article)).all():
            write.add(Article.model_validate(row.model_dump()))
        write.commit()
    source.dispose()


@dataclass
class Server:
    url: str
    state: AppState
    settings: Settings
    var: Path

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**AUTH, **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=120, **kwargs)

    def wait(self, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.call("GET", f"/v1/admin/jobs/{job_id}").json()
            if job["status"] not in ("queued", "running"):
                return job  # type: ignore[no-any-return]
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish in {timeout_s} s")

    def reindex(self, **body: Any) -> dict[str, Any]:
        r = self.call("POST", "/v1/admin/reindex", json=body)
        assert r.status_code == 202, r.text
        return self.wait(r.json()["id"])

    def chat(self, message: str) -> dict[str, Any]:
        r = self.call("POST", "/v1/chat", json={"message": message})
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def make_state(settings: Settings, embedder: Any) -> AppState:
    engine = make_engine(settings.resolved_database_url)
    state = AppState(engine=engine, store=IndexStore(settings.index.dir), embedder=embedder,
                     expected=expected_manifest(settings, dimension=embedder.dimension))
    state.service = make_answer_service(settings, embedder=embedder)
    try:
        state.reload_active()
    except Exception as exc:  # a mismatching index: the server starts not ready
        state.not_ready_reason = str(exc)
    return state


@contextmanager
def admin_server(golden: Path, target: Path, embedder: Any, **overrides: Any) -> Iterator[Server]:
    """Serve a private copy of the index and database in ``golden``."""
    shutil.copytree(golden, target)
    settings = settings_for(target, **overrides)
    state = make_state(settings, embedder)
    if settings.database_url:  # not the copied SQLite file: bring the catalogue along
        copy_catalogue((golden / "database_url").read_text(encoding="utf-8"), state.engine)
    with serve(create_app(settings, state=state)) as url:
        yield Server(url=url, state=state, settings=settings, var=target)
    state.engine.dispose()
