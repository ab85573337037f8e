"""Customer erasure: a conversation's customer reference and a handoff's contact fields.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-13

Adds ``conversation.customer_ref`` (the SHA-256 of the optional ``customer.id`` a widget
sends) and ``handoff.contact``, ``handoff.contact_key`` and ``handoff.order_number`` (what a
customer gives for a handoff, in fields of their own), so that an admin can erase one
customer's data by either (``POST /v1/admin/conversations/erase``). Existing rows have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = {
    "conversation": [sa.Column("customer_ref", sa.String(length=64), nullable=True)],
    "handoff": [sa.Column("contact", sa.String(length=200), nullable=True),
                sa.Column("contact_key", sa.String(length=64), nullable=True),
                sa.Column("order_number", sa.String(length=64), nullable=True)],
}
INDEXES = {"conversation": "customer_ref", "handoff": "contact_key"}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, columns in COLUMNS.items():
        # A database that create_all made from models that already had them has them.
        present = {c["name"] for c in inspector.get_columns(table)}
        for column in columns:
            if column.name not in present:
                op.add_column(table, column)
        indexes = {i["name"] for i in inspector.get_indexes(table)}
        name = f"ix_{table}_{INDEXES[table]}"
        if name not in indexes:
            op.create_index(name, table, [INDEXES[table]])


def downgrade() -> None:
    for table, columns in COLUMNS.items():
        op.drop_index(f"ix_{table}_{INDEXES[table]}", table_name=table)
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column.name)
