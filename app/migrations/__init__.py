"""Alembic revisions of the database schema, and the upgrade every process runs at start.

Each process that opens the database (the server, the CLIs) upgrades it to the newest revision
before using it, one process at a time:

- PostgreSQL: a transaction-level advisory lock, keyed by database and schema, is taken before
  the revision is read; the revisions run in that transaction (PostgreSQL's DDL is
  transactional), so the lock is released by the commit and a process that waited finds the
  database at head and does nothing.
- SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock before the revision is read, and
  the revisions run in that transaction too. Another process waits for it as for any writer
  (the engine's 30-second busy timeout). Foreign keys are off while revisions run, as SQLite
  asks for schema changes that copy tables, and are checked before the commit.
- Other databases: no lock; start one process first and let it migrate.

A database already at the newest revision is only read: the lock is taken when there is
something to do.

A database made by ``create_all`` before migrations existed has the tables and no
``alembic_version`` table. Revision 0001 adopts it: it keeps the tables that exist, creates those
an older release did not have, and records revision 0001; later revisions then run as usual.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from app.errors import RagError

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)
# Alembic announces its plugins and its database dialect at INFO on every start; the
# revisions it runs are still logged (``alembic.runtime.migration`` "Running upgrade").
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

SCRIPT_LOCATION = Path(__file__).resolve().parent
BASELINE = "0001"
# The tables of revision 0001, which create_all made before there were migrations.
BASELINE_TABLES = frozenset({
    "article", "chunk", "index_build", "conversation", "message", "feedback",
    "conversation_key", "handoff", "api_key", "audit_log", "reindex_job", "eval_run",
})


class MigrationError(RagError):
    """The database schema could not be brought to the newest revision."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the revisions in this package, with no ini file.

    Args:
        connection: The connection ``env.py`` runs revisions on; commands that only read the
            revision files (``heads``, ``history``) need none.

    Returns:
        The configuration to pass to ``alembic.command`` functions.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    # 0002_add_something.py: sequential ids, so the files list in the order they run.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision in this package."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise MigrationError(f"no revisions found in {SCRIPT_LOCATION / 'versions'}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None for a database without migrations."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def made_by_create_all(connection: Connection) -> bool:
    """Whether the database holds Groundline's tables but no record of a revision."""
    tables = set(inspect(connection).get_table_names())
    return "alembic_version" not in tables and bool(tables & BASELINE_TABLES)


def upgrade_to_head(engine: Engine) -> str:
    """Bring the database to the newest revision, holding the lock described in the module.

    Args:
        engine: The engine of the database to upgrade.

    Returns:
        The revision the database was at before (``"none"`` for a new or unversioned one).

    Raises:
        MigrationError: A revision failed; the transaction is rolled back and the message says
            which revision and why.
    """
    from alembic import command

    head = head_revision()
    with engine.connect() as connection:
        if current_revision(connection) == head:  # the usual case: no lock, no write
            return head
    with _locked(engine) as connection:
        current = current_revision(connection)
        if current == head:  # another process migrated while this one waited
            return current
        if current is None and made_by_create_all(connection):
            logger.info("database made before migrations: adopting it as revision %s", BASELINE)
        logger.info("upgrading the database schema from %s to %s", current or "none", head)
        try:
            command.upgrade(alembic_config(connection), "head")
        except Exception as exc:
            raise MigrationError(
                f"upgrading the database from revision {current or 'none'} to {head} failed "
                f"({type(exc).__name__}: {exc}); the database was left as it was. Fix the "
                "cause and start again, or run `python -m app.migrate upgrade` alone") from exc
        return current or "none"


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other process migrating this database holds."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            with _sqlite_write_lock(connection):
                yield connection
        else:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                       {"key": _advisory_key(connection)})
                yield connection


def _advisory_key(connection: Connection) -> int:
    """A lock key per database and schema: separate schemas migrate independently."""
    where = connection.execute(
        text("SELECT current_database() || '.' || current_schema()")).scalar_one()
    digest = hashlib.blake2b(f"groundline.migrate:{where}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _sqlite_write_lock(connection: Connection) -> Iterator[None]:
    # The pragma is ignored inside a transaction, so it comes first; the driver runs it and
    # BEGIN IMMEDIATE as they are, and the DDL that follows joins that transaction.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    connection.exec_driver_sql("BEGIN IMMEDIATE")
    try:
        before = _dangling_references(connection)
        yield
        after = _dangling_references(connection)
        if after > before:
            raise MigrationError(
                f"the upgrade left {after - before} rows whose foreign keys point nowhere; "
                "fix the revision so that it keeps references intact")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def _dangling_references(connection: Connection) -> int:
    return len(connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall())
