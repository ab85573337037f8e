"""Evaluation runs through the database version store on the real PostgreSQL: a run recorded by
one host's ``python -m eval run`` is listed and its report shown by another host's console,
whose var folder never saw it; with the default folder store nothing leaves the run's folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from app.cluster.runs import run_key
from app.cluster.store import DatabaseStore
from app.cluster.sync import VersionSync
from app.db import make_engine
from app.main import create_app
from app.rag.index import IndexStore
from app.settings import Settings
from app.state import AppState
from eval.store import new_run_dir, settings_dump, store_run, write_json, write_records
from tests.cluster import private_schema
from tests.console_helpers import make_scoped_keys, sign_in
from tests.public_helpers import base_settings
from tests.servers import serve

pytestmark = pytest.mark.integration

RECORDS = [
    {"id": "q1", "question": "How long is the return window?", "answerable": True,
     "gold_article_ids": ["t-returns"], "answer": "45 days. [1]", "fallback": None,
     "citations": [{"n": 1, "article_id": "t-returns"}]},
    {"id": "q2", "question": "What is the capital of France?", "answerable": False,
     "gold_article_ids": [], "answer": "Paris. [1]", "fallback": None,
     "citations": [{"n": 1, "article_id": "t-plans"}]},
]


@pytest.fixture()
def pg_engine():
    with private_schema() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def host_settings(var: Path, *, store: str) -> Settings:
    return base_settings(var, index={"dir": var / "index", "store": store},
                         admin={"watch_interval_s": 0, "run_jobs": False})


def record_run(settings: Settings, engine: Engine) -> Path:
    """What ``python -m eval run`` leaves behind on a host: a finished folder and its
    ``eval_run`` row. The host's var folder is then moved away (returned: the run's folder
    there), since another machine has no such path."""
    run_dir = new_run_dir(settings, "nightly")
    write_records(run_dir / "run.jsonl", RECORDS)
    write_json(run_dir / "metrics.json", {"questions": 2, "false_answer_rate": 0.5})
    write_json(run_dir / "gates.json", [{"metric": "false_answer_rate", "passed": False}])
    config = {"dataset": {"name": "sample"}, "index": {"version": "v1"},
              "settings": settings_dump(settings)}
    write_json(run_dir / "config.json", config)
    store_run(engine, name="nightly", run_dir=run_dir, metrics={"questions": 2},
              config=config, gates_passed=False, version_store=settings.index.store)
    elsewhere = settings.var_dir.rename(settings.var_dir.with_name("elsewhere"))
    return elsewhere / run_dir.relative_to(settings.var_dir)


@contextmanager
def console_of(settings: Settings, engine: Engine, *, shared: bool) -> Iterator[httpx.Client]:
    """A viewer's console session on a host with its own var folder and the shared database."""
    store = IndexStore(settings.index.dir)
    state = AppState(engine=engine, store=store,
                     sync=VersionSync(engine=engine, store=store) if shared else None)
    viewer = make_scoped_keys(engine).viewer
    with serve(create_app(settings, state=state)) as url:
        signed = sign_in(url, viewer)
        try:
            yield signed.client
        finally:
            signed.client.close()


def test_a_run_recorded_on_one_host_is_shown_by_another(pg_engine, tmp_path):
    a = host_settings(tmp_path / "a", store="database")
    b = host_settings(tmp_path / "b", store="database")
    run_dir = record_run(a, pg_engine)
    assert DatabaseStore(pg_engine).get(run_key(run_dir.name)) is not None
    with console_of(b, pg_engine, shared=True) as client:
        listing = client.get("/admin/evaluation")
        assert listing.status_code == 200 and "nightly" in listing.text
        run_id = listing.text.split('href="/admin/evaluation/')[1].split('"')[0]
        page = client.get(f"/admin/evaluation/{run_id}", params={"failures": "true"})
    assert page.status_code == 200 and "not on this machine" not in page.text
    assert "capital of France" in page.text and "false_answer_rate" in page.text
    copy = b.eval_runs_dir / run_dir.name
    assert sorted(p.name for p in copy.iterdir()) == sorted(p.name for p in run_dir.iterdir())
    for path in run_dir.iterdir():
        assert (copy / path.name).read_bytes() == path.read_bytes()
    assert [p.name for p in b.eval_runs_dir.parent.iterdir()] == ["runs"]  # no staging left


def test_with_the_folder_store_a_run_stays_in_its_folder(pg_engine, tmp_path):
    a = host_settings(tmp_path / "a", store="folder")
    b = host_settings(tmp_path / "b", store="folder")
    run_dir = record_run(a, pg_engine)
    assert DatabaseStore(pg_engine).keys("") == []
    with console_of(b, pg_engine, shared=False) as client:
        listing = client.get("/admin/evaluation")
        run_id = listing.text.split('href="/admin/evaluation/')[1].split('"')[0]
        page = client.get(f"/admin/evaluation/{run_id}")
    assert "not on this machine" in page.text and run_dir.name in page.text
    assert not b.eval_runs_dir.exists()
