"""Article claims: the articles the admin API owns, which file ingestion leaves alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10

Adds the ``article_claim`` table (``app.models.ArticleClaim``). Articles an older release
wrote through the admin API (``source_path`` ``api``: created there, or files edited there)
get a claim, so the next ``python -m ingest`` keeps them instead of putting the file's version
back. Deletions made before this revision left no trace and cannot be recovered.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that create_all made from models that already had the table, and that 0001
    # adopted, has it: only the claims of its API-written articles are added.
    if "article_claim" not in sa.inspect(op.get_bind()).get_table_names():
        op.create_table(
            "article_claim",
            sa.Column("article_id", sa.String(length=200), nullable=False),
            sa.Column("deleted", sa.Boolean(), nullable=False),
            sa.Column("file_path", sa.String(), nullable=False),
            sa.Column("actor", sa.String(length=40), nullable=False),
            sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("article_id"),
        )
    # Typed parameters: each dialect stores the flag and the time as the models' columns do.
    backfill = sa.text(
        "INSERT INTO article_claim (article_id, deleted, file_path, actor, claimed_at) "
        "SELECT id, :deleted, '', 'migration', :now FROM article WHERE source_path = 'api' "
        "AND id NOT IN (SELECT article_id FROM article_claim)"
    ).bindparams(sa.bindparam("deleted", False, type_=sa.Boolean()),
                 sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True)))
    op.get_bind().execute(backfill)


def downgrade() -> None:
    op.drop_table("article_claim")
