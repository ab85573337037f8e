"""Alembic environment: runs revisions on the connection the caller hands over.

``app.migrations.upgrade_to_head`` and ``python -m app.migrate`` put an open connection in
``config.attributes["connection"]``; this module never reads settings or creates engines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

import app.models  # noqa: F401 - registers the tables on SQLModel.metadata

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write SQLModel's column types as the SQLAlchemy types they stand for.

    Revisions then import only SQLAlchemy and keep working whatever SQLModel becomes.
    """
    if type_ != "type":
        return False
    if isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection: Connection) -> None:
    """Run the revisions the command asked for on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_item=render_item,
        # SQLite alters most columns only by copying the table: revisions are written in batch
        # mode, which SQLite runs as such a copy and PostgreSQL as plain ALTERs.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run them on a database")
run_migrations(context.config.attributes["connection"])
