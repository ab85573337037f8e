"""Baseline: the schema that ``SQLModel.metadata.create_all`` made before migrations.

Revision ID: 0001
Revises:
Create Date: 2026-12-06

It creates each table that does not exist yet and leaves existing ones alone, so that it adopts
a database an earlier release made with create_all (older releases had fewer tables); on an
empty database it creates everything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _str(name: str, length: int | None = None, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _int(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Integer(), nullable=False)


def _indexes(table: str, *columns: str, unique: tuple[str, ...] = ()) -> None:
    for column in (*columns, *unique):
        op.create_index(f"ix_{table}_{column}", table, [column], unique=column in unique)


def _article() -> None:
    op.create_table(
        "article",
        _str("id", 200), _str("title"), _str("url"), _str("product"), _str("locale"),
        _str("status"), _str("source_type"), _str("updated_at"), _str("tags"),
        sa.Column("body", sa.Text(), nullable=False),
        _str("source_path"), _str("content_hash", 64), _ts("created"), _ts("modified"),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("article", "product", "locale", "status", "source_type", "content_hash")


def _chunk() -> None:
    op.create_table(
        "chunk",
        _str("chunk_id", 220), _str("article_id", 200), _int("ordinal"), _str("heading_path"),
        _str("url"), _int("char_start"), _int("char_end"), _int("n_tokens"),
        sa.Column("text", sa.Text(), nullable=False),
        _str("index_version"),
        sa.PrimaryKeyConstraint("chunk_id"),
    )
    _indexes("chunk", "article_id", "index_version")


def _index_build() -> None:
    op.create_table(
        "index_build",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("version", nullable=True), _str("status"), _ts("started_at"),
        _ts("finished_at", nullable=True),
        _int("added"), _int("updated"), _int("unchanged"), _int("removed"), _int("failed"),
        _int("chunks"), _int("embedded"),
        sa.Column("seconds", sa.Float(), nullable=False),
        _str("error", nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("index_build", "status")


def _conversation() -> None:
    op.create_table(
        "conversation",
        _str("id", 40), _ts("created"), _str("customer"),
        sa.PrimaryKeyConstraint("id"),
    )


def _message() -> None:
    op.create_table(
        "message",
        _str("id", 40), _str("conversation_id", 40), _str("role"),
        sa.Column("text", sa.Text(), nullable=False),
        _str("query"), _str("citations"), _str("fallback", nullable=True),
        _str("index_version"), _str("generator"), _str("timings"), _ts("created"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("message", "conversation_id", "created")


def _feedback() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("message_id", 40), _str("rating"), _str("reason", nullable=True),
        _str("comment", nullable=True), _ts("created"),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("feedback", "message_id")


def _conversation_key() -> None:
    op.create_table(
        "conversation_key",
        _str("conversation_id", 40), _str("api_key_id", 40),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    _indexes("conversation_key", "api_key_id")


def _handoff() -> None:
    op.create_table(
        "handoff",
        _str("id", 40), _str("conversation_id", 40), _str("reason", 40),
        sa.Column("summary", sa.Text(), nullable=False),
        _str("citations"), _str("api_key_id", 40, nullable=True), _str("delivery_status"),
        _int("attempts"), _str("last_error", nullable=True), _ts("created"),
        _ts("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("handoff", "conversation_id", "delivery_status", "created")


def _api_key() -> None:
    op.create_table(
        "api_key",
        _str("id", 40), _str("name", 200), _str("scope", 20), _str("key_hash", 64),
        _str("prefix", 16),
        sa.Column("allowed_origins", sa.JSON(), nullable=False),
        _ts("created_at"), _ts("revoked_at", nullable=True),
        _str("created_by", 40, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("api_key", "scope", unique=("key_hash",))


def _audit_log() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _ts("at"), _str("actor", 40), _str("action", 40), _str("target_type", 20),
        _str("target_id", 220),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("audit_log", "at", "actor", "action", "target_id")


def _reindex_job() -> None:
    op.create_table(
        "reindex_job",
        _str("id", 40), _str("status"), _str("requested_by", 40),
        sa.Column("rebuild", sa.Boolean(), nullable=False),
        _ts("created_at"), _ts("started_at", nullable=True), _ts("finished_at", nullable=True),
        _str("phase"), _int("done"), _int("total"), _str("version", nullable=True),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("reindex_job", "status", "created_at")


def _eval_run() -> None:
    op.create_table(
        "eval_run",
        sa.Column("id", sa.Integer(), nullable=False),
        _str("name", 200), _str("dataset", 200), _str("index_version", 200), _str("run_dir"),
        _int("questions"),
        sa.Column("gates_passed", sa.Boolean(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    _indexes("eval_run", "name", "dataset", "index_version", "created_at")


# In dependency order: a table comes after the tables its foreign keys point to.
TABLES: dict[str, Callable[[], None]] = {
    "article": _article, "chunk": _chunk, "index_build": _index_build,
    "conversation": _conversation, "message": _message, "feedback": _feedback,
    "conversation_key": _conversation_key, "handoff": _handoff, "api_key": _api_key,
    "audit_log": _audit_log, "reindex_job": _reindex_job, "eval_run": _eval_run,
}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)  # its indexes go with it
