"""The database version store and job leases on the real PostgreSQL: a version published by
one host's folder reaches another's only whole and checked; a job runs on one host at a time
and moves to another when its host stops renewing the lease."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.cluster.lease import JobLease, LeaseError
from app.cluster.store import PART_BYTES, DatabaseStore, StoreError, index_key
from app.cluster.sync import VersionSync
from app.db import make_engine, session_scope
from app.errors import IndexMismatchError
from app.models import ReindexJob, StoredPart
from app.rag.factory import make_index_builder
from app.rag.index import IndexStore, load_version
from app.settings import Settings
from ingest.sources import load_path
from tests.cluster import private_schema
from tests.fakes import HashEmbedder

pytestmark = pytest.mark.integration

FIXTURE_KB = Path(__file__).resolve().parents[1] / "fixtures" / "kb"


@pytest.fixture()
def pg_engine():
    with private_schema() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def build(root: Path, *, change: str = "") -> str:
    """A version of the fixture help center in ``root`` (hashed embeddings: fast)."""
    settings = Settings(var_dir=root)
    builder = make_index_builder(settings, embedder=HashEmbedder(), store=IndexStore(root))
    docs = list(load_path(FIXTURE_KB).documents)
    if change:
        docs = [replace(d, body=d.body + "\n\n" + change) if d.id == "t-returns" else d
                for d in docs]
    outcome = builder.build(docs)
    assert outcome.status == "built" and outcome.version is not None
    return outcome.version


def test_a_version_published_by_one_host_is_fetched_whole_by_another(pg_engine, tmp_path):
    a, b = IndexStore(tmp_path / "a"), IndexStore(tmp_path / "b")
    name = build(a.root)
    VersionSync(engine=pg_engine, store=a).push(name)
    sync_b = VersionSync(engine=pg_engine, store=b)
    assert b.active_name() is None
    assert sync_b.pull() == name and b.active_name() == name
    for path in (a.versions_dir / name).iterdir():
        assert (b.versions_dir / name / path.name).read_bytes() == path.read_bytes()
    assert load_version(b.versions_dir / name).manifest["version"] == name
    newer = build(a.root, change="Gift cards cannot be returned.")
    VersionSync(engine=pg_engine, store=a).push(newer)
    assert sync_b.pull() == newer and b.active_name() == newer


def test_a_damaged_or_mismatched_version_is_never_activated(pg_engine, tmp_path):
    a, b = IndexStore(tmp_path / "a"), IndexStore(tmp_path / "b")
    first = build(a.root)
    VersionSync(engine=pg_engine, store=a).push(first)
    sync_b = VersionSync(engine=pg_engine, store=b)
    sync_b.pull()
    second = build(a.root, change="Gift cards cannot be returned.")
    VersionSync(engine=pg_engine, store=a).push(second)
    with session_scope(pg_engine) as session:  # one flipped byte in the stored tar
        part = session.get(StoredPart, (index_key(second), 0))
        assert part is not None
        part.data = bytes([part.data[0] ^ 1]) + part.data[1:]
        session.add(part)
    with pytest.raises(StoreError, match="does not match its hash"):
        sync_b.pull()
    assert b.active_name() == first and b.versions() == [first]  # nothing half-written
    other = {"embedder": {"name": "another-model", "dimension": 8}}
    VersionSync(engine=pg_engine, store=a).push(second)  # a clean copy again
    with pytest.raises(IndexMismatchError, match="another-model"):
        sync_b.pull(expected=other)
    assert b.active_name() == first


def test_large_objects_are_stored_in_parts_and_the_calibration_travels(pg_engine, tmp_path):
    db = DatabaseStore(pg_engine)
    blob = bytes(range(256)) * (PART_BYTES // 256 * 2 + 7)
    path = tmp_path / "blob"
    path.write_bytes(blob)
    with open(path, "rb") as data:
        row = db.put("file/blob", data, kind="file")
    assert row.parts == 3 and row.size == len(blob)
    with db.read("file/blob") as back:
        assert back.read() == blob
    decision = tmp_path / "a" / "decision.json"
    decision.parent.mkdir()
    decision.write_text(json.dumps({"threshold": 0.42}))
    VersionSync(engine=pg_engine, store=IndexStore(tmp_path / "a"),
                decision_file=decision).bootstrap()
    there = tmp_path / "b" / "decision.json"
    VersionSync(engine=pg_engine, store=IndexStore(tmp_path / "b"),
                decision_file=there).bootstrap()
    assert json.loads(there.read_text()) == {"threshold": 0.42}


def add_job(engine, job_id: str) -> None:  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        session.add(ReindexJob(id=job_id, requested_by="test"))


def test_one_host_runs_a_job_and_another_takes_it_over_when_the_lease_expires(pg_engine):
    first = JobLease(pg_engine, lease_s=1, attempts=2)
    second = JobLease(pg_engine, lease_s=1, attempts=2)
    add_job(pg_engine, "job_a")
    add_job(pg_engine, "job_b")
    assert first.claim() == "job_a"
    assert second.claim() is None  # one build at a time across the cluster
    assert first.renew("job_a")
    time.sleep(1.2)  # the first host stopped renewing: its lease expires
    assert second.claim() == "job_a"
    assert not first.renew("job_a")  # the first host has lost it
    with Session(pg_engine) as session:
        row = session.get(ReindexJob, "job_a")
        assert row is not None and row.attempts == 2 and row.claimed_by == second.host
    time.sleep(1.2)  # the second host stops too: two attempts are all this job gets
    assert first.claim() is None
    with Session(pg_engine) as session:
        row = session.get(ReindexJob, "job_a")
        assert row is not None and row.status == "failed" and "2 times" in (row.error or "")
    assert first.claim() == "job_b"


def test_leases_need_postgresql(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with pytest.raises(LeaseError, match="PostgreSQL"):
        JobLease(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_ingestion_publishes_its_version_for_every_host(pg_engine, tmp_path, monkeypatch):
    from app.settings import get_settings
    from ingest.__main__ import main

    url = pg_engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("GROUNDLINE_DATABASE_URL", url)
    monkeypatch.setenv("GROUNDLINE_INDEX__STORE", "database")
    monkeypatch.setenv("GROUNDLINE_VAR_DIR", str(tmp_path / "a"))
    get_settings.cache_clear()
    try:
        assert main([str(FIXTURE_KB), "--no-progress"]) == 0
    finally:
        get_settings.cache_clear()
    local = IndexStore(tmp_path / "a" / "index").active_name()
    other = IndexStore(tmp_path / "b")
    assert local is not None and VersionSync(engine=pg_engine, store=other).pull() == local
    assert other.active_name() == local


def test_a_database_backup_restores_the_served_version(pg_engine, tmp_path):
    """pg_dump of the database alone brings back what hosts serve: versions, calibration."""
    import shutil
    import subprocess
    import uuid

    import psycopg

    from tests.cluster import PG_URL, libpq

    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump and pg_restore are not installed")
    decision = tmp_path / "a" / "decision.json"
    decision.parent.mkdir()
    decision.write_text(json.dumps({"threshold": 0.37}))
    a = IndexStore(tmp_path / "a" / "index")
    name = build(a.root)
    VersionSync(engine=pg_engine, store=a, decision_file=decision).bootstrap()
    schema = pg_engine.url.query["options"].split("=", 1)[1]
    source = libpq(PG_URL)
    dump, restored = tmp_path / "backup.dump", "gl_test_restore_" + uuid.uuid4().hex[:8]
    subprocess.run(["pg_dump", "-Fc", "-n", schema, "-f", str(dump), source], check=True)
    with psycopg.connect(source, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{restored}"')
    target = pg_engine.url.set(database=restored)
    try:
        subprocess.run(["pg_restore", "-d", libpq(target.render_as_string(hide_password=False)),
                        str(dump)], check=True)
        engine = make_engine(target.render_as_string(hide_password=False))
        b = IndexStore(tmp_path / "b" / "index")
        there = tmp_path / "b" / "decision.json"
        VersionSync(engine=engine, store=b, decision_file=there).bootstrap()
        engine.dispose()
        assert b.active_name() == name
        for path in (a.versions_dir / name).iterdir():
            assert (b.versions_dir / name / path.name).read_bytes() == path.read_bytes()
        assert json.loads(there.read_text()) == {"threshold": 0.37}
    finally:
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')


def test_a_new_calibration_is_published_from_the_command_line(pg_engine, tmp_path, monkeypatch,
                                                              capsys):
    from app.cluster.__main__ import main as cli
    from app.settings import get_settings

    def main(argv: list[str]) -> int:
        get_settings.cache_clear()  # the settings of this call's environment
        try:
            return cli(argv)
        finally:
            get_settings.cache_clear()

    decision = tmp_path / "a" / "decision.json"
    decision.parent.mkdir()
    decision.write_text(json.dumps({"threshold": 0.5}))
    monkeypatch.setenv("GROUNDLINE_DATABASE_URL",
                       pg_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("GROUNDLINE_VAR_DIR", str(tmp_path / "a"))
    assert main(["publish-decision"]) == 2  # the folder store has nothing to publish to
    monkeypatch.setenv("GROUNDLINE_INDEX__STORE", "database")
    assert main(["publish-decision"]) == 0
    decision.write_text(json.dumps({"threshold": 0.6}))  # calibrated again
    assert main(["publish-decision"]) == 0
    there = tmp_path / "b" / "decision.json"
    there.parent.mkdir()
    there.write_text(json.dumps({"threshold": 0.1}))  # a host's stale copy
    VersionSync(engine=pg_engine, store=IndexStore(tmp_path / "b"),
                decision_file=there).sync_decision()
    assert json.loads(there.read_text()) == {"threshold": 0.6}
    capsys.readouterr()
    assert main(["status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert list(status["objects"]) == ["file/decision.json"] and status["active"] is None


@pytest.mark.slow  # chunks 10,000 articles (hashed embeddings) and moves a 30 MB+ version
def test_a_10000_article_version_reaches_another_host_within_seconds(pg_engine, tmp_path):
    from app.rag.types import SourceDocument

    docs = [SourceDocument(id=f"kb-{i:05d}", title=f"Accessory {i} setup", body="\n\n".join(
        f"## Step {j}\n\nConnect accessory {i} to hub port {j} and wait {i % 90 + j} seconds "
        "for the light to turn green before you pair it in the app." for j in range(3)))
        for i in range(10_000)]
    a, b = IndexStore(tmp_path / "a"), IndexStore(tmp_path / "b")
    builder = make_index_builder(Settings(var_dir=tmp_path), embedder=HashEmbedder(384),
                                 store=a)
    name = builder.build(docs).version
    assert name is not None
    started = time.perf_counter()
    VersionSync(engine=pg_engine, store=a).push(name)
    published = time.perf_counter()
    assert VersionSync(engine=pg_engine, store=b).pull() == name
    version = load_version(b.versions_dir / name)
    fetched = time.perf_counter()
    size = DatabaseStore(pg_engine).get(index_key(name))
    assert size is not None and version.manifest["counts"]["articles"] == 10_000
    print(f"\n10,000 articles, {version.manifest['counts']['chunks']} chunks, "
          f"{size.size / 1e6:.1f} MB: publish {published - started:.2f} s, "
          f"fetch, check and load {fetched - published:.2f} s")
    version.close()
    assert fetched - started < 10


def test_start_up_says_which_store_serves_the_versions(tmp_path):
    from app.ops.summary import effective_configuration

    assert effective_configuration(Settings(var_dir=tmp_path))["index_store"] == "folder"
    shared = effective_configuration(Settings(var_dir=tmp_path, index={"store": "database"}))
    assert str(shared["index_store"]).startswith("database")
