"""The database version store and re-index job leases, for several hosts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-14

Adds ``stored_object``, ``stored_part`` and ``store_pointer`` (``app.cluster.store``: index
versions and the decision calibration published into the database, so that hosts without a
shared disk serve the same version), and ``reindex_job.claimed_by``, ``lease_until`` and
``attempts`` (``app.cluster.lease``: a job runs on one host at a time and is retried by
another when its host stops renewing the lease). Existing jobs have no claim.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

JOB_COLUMNS: list[sa.Column[Any]] = [
    sa.Column("claimed_by", sa.String(length=120), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
]


def _create_tables(existing: set[str]) -> None:
    if "stored_object" not in existing:
        op.create_table(
            "stored_object",
            sa.Column("key", sa.String(length=200), nullable=False),
            sa.Column("kind", sa.String(length=20), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.Column("parts", sa.Integer(), nullable=False),
            sa.Column("manifest", sa.JSON(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("key"),
        )
    if "stored_part" not in existing:
        op.create_table(
            "stored_part",
            sa.Column("key", sa.String(length=200), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.PrimaryKeyConstraint("key", "seq"),
        )
    if "store_pointer" not in existing:
        op.create_table(
            "store_pointer",
            sa.Column("name", sa.String(length=40), nullable=False),
            sa.Column("value", sa.String(length=200), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    # A database that create_all made from models that already had them has them.
    _create_tables(set(inspector.get_table_names()))
    present = {c["name"] for c in inspector.get_columns("reindex_job")}
    for column in JOB_COLUMNS:
        if column.name not in present:
            op.add_column("reindex_job", column)


def downgrade() -> None:
    with op.batch_alter_table("reindex_job") as batch:
        for column in reversed(JOB_COLUMNS):
            batch.drop_column(column.name)
    for table in ("store_pointer", "stored_part", "stored_object"):
        op.drop_table(table)
