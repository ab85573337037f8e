"""Admin console: sessions, knowledge gaps and approvals of held content.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12

Adds ``console_session`` (``app.models.ConsoleSession``: the hash of a console session
cookie, its key, CSRF token and expiry) and ``knowledge_gap`` (``app.models.KnowledgeGap``:
groups of unanswered questions with their state and the article written for them) and
``content_approval`` (``app.models.ContentApproval``: held content an editor approved, by
the content hash it was approved with). Key
scopes ``editor`` and ``viewer`` fit the existing ``api_key.scope`` column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tables = set(sa.inspect(op.get_bind()).get_table_names())
    if "console_session" not in tables:
        op.create_table(
            "console_session",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("key_id", sa.String(length=40), nullable=False),
            sa.Column("csrf_token", sa.String(length=64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        op.create_index("ix_console_session_key_id", "console_session", ["key_id"])
        op.create_index("ix_console_session_expires_at", "console_session", ["expires_at"])
    if "knowledge_gap" not in tables:
        op.create_table(
            "knowledge_gap",
            sa.Column("id", sa.String(length=40), nullable=False),
            sa.Column("label", sa.Text(), nullable=False),
            sa.Column("kind", sa.String(length=20), nullable=False),
            sa.Column("status", sa.String(length=20), nullable=False),
            sa.Column("article_id", sa.String(length=200), nullable=True),
            sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("message_ids", sa.JSON(), nullable=False),
            sa.Column("questions", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
        for column in ("kind", "status", "article_id"):
            op.create_index(f"ix_knowledge_gap_{column}", "knowledge_gap", [column])
    if "content_approval" not in tables:
        op.create_table(
            "content_approval",
            sa.Column("article_id", sa.String(length=200), nullable=False),
            sa.Column("content_hash", sa.String(length=64), nullable=False),
            sa.Column("actor", sa.String(length=40), nullable=False),
            sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("article_id"),
        )


def downgrade() -> None:
    op.drop_table("content_approval")
    op.drop_table("knowledge_gap")
    op.drop_table("console_session")
