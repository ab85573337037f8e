"""Database engine and sessions (SQLite by default, any SQLAlchemy URL by setting).

The schema is managed by the Alembic revisions in ``app.migrations``: every engine made here
upgrades its database to the newest revision before it is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine


def make_engine(url: str, *, upgrade: bool = True) -> Engine:
    """Create an engine and bring its database to the newest schema revision.

    SQLite gets WAL, so readers don't block the writer, and foreign keys.

    Args:
        url: A SQLAlchemy URL.
        upgrade: Run the pending migrations (one process at a time; see ``app.migrations``).
            ``python -m app.migrate`` turns it off to look at a database without changing it.

    Returns:
        The engine.

    Raises:
        app.migrations.MigrationError: A migration failed; the database is left as it was.
    """
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(conn, _record):  # type: ignore[no-untyped-def]
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if upgrade:
        from app.migrations import upgrade_to_head

        upgrade_to_head(engine)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
