"""Schema migrations on SQLite and PostgreSQL: adopting create_all databases, fresh databases,
concurrent starts, and the guard that every model change ships a revision."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from app import models
from app.db import make_engine
from app.migrate import main as migrate_main
from app.migrations import (
    BASELINE,
    BASELINE_TABLES,
    alembic_config,
    current_revision,
    head_revision,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PG_URL = (os.environ.get("GROUNDLINE_TEST_DATABASE_URL")
          or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The prefix conftest.py drops at the end of a session, should a run be interrupted.
SCHEMA_PREFIX = "gl_test_"
T0 = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
FIRST_RELEASE_TABLES = ("article", "chunk", "index_build", "conversation", "message", "feedback")


def _libpq(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)


@contextmanager
def _pg_schema() -> Iterator[str]:
    """A URL whose connections work in a schema of their own, dropped afterwards."""
    import psycopg

    try:
        admin = psycopg.connect(_libpq(PG_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_URL} ({exc}); start it, or set "
                    "GROUNDLINE_TEST_DATABASE_URL to one that is")
    schema = SCHEMA_PREFIX + "mig_" + uuid.uuid4().hex[:10]
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in PG_URL else "?"
        try:
            yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
        finally:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A function that gives the URL of another empty database of the parametrised kind."""
    with ExitStack() as stack:

        def new() -> str:
            if request.param == "sqlite":
                return f"sqlite:///{tmp_path / uuid.uuid4().hex[:8]}.db"
            return stack.enter_context(_pg_schema())

        yield new


def _previous_release(url: str, tables: tuple[str, ...] | None = None) -> Engine:
    """A database as the release before migrations made it: create_all on the models."""
    engine = make_engine(url, upgrade=False)
    chosen = None if tables is None else [SQLModel.metadata.tables[t] for t in tables]
    SQLModel.metadata.create_all(engine, tables=chosen)
    return engine


def _rows() -> list[SQLModel]:
    return [
        models.Article(id="kb-1", title="Reset the hub", product="hub", body="Hold reset.",
                       content_hash="a" * 64, created=T0, modified=T0),
        models.ChunkRecord(chunk_id="kb-1#0", article_id="kb-1", ordinal=0, char_start=0,
                           char_end=11, n_tokens=3, text="Hold reset.", index_version="v1"),
        models.IndexBuild(version="v1", status="succeeded", started_at=T0, chunks=1,
                          seconds=1.5),
        models.Conversation(id="conv-1", created=T0, customer='{"tier": "plus"}'),
        models.Message(id="msg-1", conversation_id="conv-1", role="user", text="reset?",
                       created=T0),
        models.Message(id="msg-2", conversation_id="conv-1", role="assistant",
                       text="Hold reset.", citations='[{"id": "kb-1"}]', created=T0,
                       trace='{"format": 1, "query": "reset?"}'),
        models.Feedback(message_id="msg-2", rating="up", created=T0),
        models.ConversationKey(conversation_id="conv-1", api_key_id="key-1"),
        models.Handoff(id="ho-1", conversation_id="conv-1", reason="customer_request",
                       summary="wants a person", created=T0),
        models.ApiKey(id="key-1", name="site", scope="widget", key_hash="b" * 64,
                      prefix="gl_w_abc", allowed_origins=["https://help.example.com"],
                      created_at=T0),
        models.AuditEntry(at=T0, actor="cli", action="key.create", target_type="key",
                          target_id="key-1", detail={"scope": "widget"}),
        models.ReindexJob(id="job-1", status="succeeded", rebuild=True, created_at=T0,
                          result={"chunks": 1}),
        models.ArticleClaim(article_id="kb-1", deleted=True, file_path="data/kb/reset.md",
                            actor="key-1", claimed_at=T0),
        models.EvalRun(name="smoke", dataset="sample", questions=60, gates_passed=True,
                       metrics={"recall@5": 0.9}, config={"k": 5}, created_at=T0),
    ]


def _insert(engine: Engine) -> None:
    with Session(engine) as session:
        for row in _rows():  # one by one: the foreign keys see their targets
            session.add(row)
            session.flush()
        session.commit()


def _dump(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with Session(engine) as session:
        return {cls.__name__: sorted((row.model_dump() for row in session.exec(select(cls))),
                                     key=repr)
                for cls in {type(row) for row in _rows()}}


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)  # type: ignore[no-any-return]


def _schema(engine: Engine) -> dict[str, Any]:
    """Everything reflection sees of the tables: columns, keys, indexes, unique constraints."""
    inspector = sa.inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        schema[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
                        for c in inspector.get_columns(table)],
            "pk": inspector.get_pk_constraint(table),
            "fks": sorted(map(repr, inspector.get_foreign_keys(table))),
            "indexes": sorted(map(repr, inspector.get_indexes(table))),
            "unique": sorted(map(repr, inspector.get_unique_constraints(table))),
        }
    if engine.dialect.name == "sqlite":
        # Whitespace aside: SQLite's ALTER TABLE ADD COLUMN writes the new column into the
        # stored CREATE TABLE without the line break and tab that create_all puts before it.
        with engine.connect() as connection:
            schema["sqlite_master"] = sorted(
                (kind, name, " ".join(sql.split()) if sql else sql)
                for kind, name, sql in connection.exec_driver_sql(
                    "SELECT type, name, sql FROM sqlite_master "
                    "WHERE tbl_name != 'alembic_version'").all())
    return schema


def test_a_create_all_database_is_adopted_and_upgraded_with_its_data(new_url):
    url = new_url()
    engine = _previous_release(url)
    _insert(engine)
    before = _dump(engine)
    engine.dispose()

    engine = make_engine(url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    assert _dump(engine) == before
    assert _differences(engine) == []
    with Session(engine) as session:  # the serial keys go on where they were
        session.add(models.AuditEntry(actor="cli", action="key.revoke", target_type="key",
                                      target_id="key-1"))
        session.commit()
        assert [e.id for e in session.exec(select(models.AuditEntry))] == [1, 2]
    engine.dispose()


def test_an_older_release_database_gets_the_tables_it_lacked(new_url):
    url = new_url()
    engine = _previous_release(url, FIRST_RELEASE_TABLES)
    with Session(engine) as session:
        session.add(models.Article(id="kb-1", title="t", body="b", content_hash="c" * 64))
        session.commit()
    engine.dispose()

    engine = make_engine(url)
    assert set(sa.inspect(engine).get_table_names()) == BASELINE_TABLES | {
        "article_claim", "console_session", "knowledge_gap", "content_approval",  # 0003, 0004
        "stored_object", "stored_part", "store_pointer",  # 0006
        "alembic_version"}
    assert _differences(engine) == []
    with Session(engine) as session:
        assert session.get(models.Article, "kb-1") is not None
    engine.dispose()


def test_a_fresh_database_at_head_is_what_create_all_makes(new_url):
    migrated = make_engine(new_url())
    reference = _previous_release(new_url())
    assert _differences(migrated) == []
    assert _schema(migrated) == _schema(reference)
    migrated.dispose()
    reference.dispose()


def test_every_model_change_ships_a_migration(new_url):
    engine = make_engine(new_url())
    differences = _differences(engine)
    engine.dispose()
    assert differences == [], (
        "app/models.py differs from the newest revision in app/migrations/versions: run "
        "`python -m app.migrate revision -m '<what changed>' --autogenerate`, read the file it "
        f"writes, and commit it. Differences: {differences}")


def test_the_guard_sees_a_column_and_a_type_the_revisions_lack(new_url):
    engine = make_engine(new_url())
    changed = sa.MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["message"].append_column(sa.Column("language", sa.String(16)))
    changed.tables["api_key"].c.name.type = sa.String(300)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, changed)
    engine.dispose()
    kinds = [d[0] if isinstance(d, tuple) else d[0][0] for d in differences]
    assert sorted(kinds) == ["add_column", "modify_type"], differences


def test_a_database_at_the_baseline_gets_message_trace_keeping_its_messages(new_url):
    url = new_url()
    engine = make_engine(url, upgrade=False)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), BASELINE)
    with engine.begin() as connection:
        assert "trace" not in {c["name"] for c in sa.inspect(connection).get_columns("message")}
        connection.execute(sa.text("INSERT INTO conversation (id, created, customer) "
                                   "VALUES ('conv-1', :t, '{}')"), {"t": T0})
        connection.execute(sa.text(
            "INSERT INTO message (id, conversation_id, role, text, query, citations, "
            "index_version, generator, timings, created) VALUES "
            "('msg-1', 'conv-1', 'assistant', 'Hold reset.', 'reset?', '[]', 'v1', "
            "'extractive', '{}', :t)"), {"t": T0})
    engine.dispose()

    engine = make_engine(url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
        trace = {c["name"]: c for c in sa.inspect(connection).get_columns("message")}["trace"]
    assert trace["nullable"] and isinstance(trace["type"], sa.Text)
    assert _differences(engine) == []
    with Session(engine) as session:
        old = session.get(models.Message, "msg-1")
        assert old is not None and old.text == "Hold reset." and old.trace is None
        old.trace = '{"format": 1}'
        session.commit()
        session.refresh(old)
        assert old.trace == '{"format": 1}'
    engine.dispose()


def test_a_database_at_0002_gets_claims_for_the_articles_the_api_wrote(new_url):
    url = new_url()
    engine = make_engine(url, upgrade=False)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    with engine.begin() as connection:
        assert "article_claim" not in sa.inspect(connection).get_table_names()
        for article_id, source in [("kb-1", "data/kb/reset.md"), ("kb-2", "api")]:
            connection.execute(sa.text(
                "INSERT INTO article (id, title, url, product, locale, status, source_type, "
                "updated_at, tags, body, source_path, content_hash, created, modified) VALUES "
                "(:id, 't', '', 'hub', 'en-US', 'published', 'article', '', '[]', 'b', "
                ":source, :hash, :t, :t)"), {"id": article_id, "source": source,
                                             "hash": "c" * 64, "t": T0})
    engine.dispose()

    engine = make_engine(url)
    with engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    assert _differences(engine) == []
    with Session(engine) as session:
        claims = session.exec(select(models.ArticleClaim)).all()
        assert [(c.article_id, c.deleted, c.file_path) for c in claims] == [("kb-2", False, "")]
        assert claims[0].actor == "migration"
        assert {a.id for a in session.exec(select(models.Article))} == {"kb-1", "kb-2"}
    engine.dispose()


def test_concurrent_starts_migrate_once(new_url):
    url = new_url()
    start_at = time.time() + 4  # all processes have imported everything by then
    script = (
        "import logging, sys, time\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')\n"
        "import alembic.command, app.migrations, app.models\n"
        "from app.db import make_engine\n"
        f"time.sleep(max(0.0, {start_at} - time.time()))\n"
        "make_engine(sys.argv[1])\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, url], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(outputs)
    migrated = [o for o in outputs if "upgrading the database schema" in o]
    assert len(migrated) == 1, "\n".join(outputs)
    engine = make_engine(url, upgrade=False)
    with engine.connect() as connection:
        versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    assert versions == [(head_revision(),)]
    assert _differences(engine) == []
    engine.dispose()


def test_migrate_command_reports_and_upgrades(new_url, capsys):
    url = new_url()
    _previous_release(url).dispose()
    assert migrate_main(["--database-url", url, "current"]) == 0
    out = capsys.readouterr().out
    assert "database: none (made before migrations)" in out
    assert migrate_main(["--database-url", url, "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"upgraded from none to {head_revision()}"
    assert migrate_main(["--database-url", url, "current"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"database: {head_revision()}"


def test_a_database_at_head_opens_while_another_process_writes(tmp_path):
    path = tmp_path / "groundline.db"
    make_engine(f"sqlite:///{path}").dispose()
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # as an ingest run in the middle of writing chunks
    try:
        started = time.monotonic()
        engine = make_engine(f"sqlite:///{path}")
        assert time.monotonic() - started < 5  # no wait for the write lock: nothing to migrate
        engine.dispose()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
