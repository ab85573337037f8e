"""Message trace: the answer's trace (``app.rag.trace.Trace``) kept with the assistant turn.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08

Adds the nullable ``message.trace`` text column (a JSON object). Messages stored before have
none; the admin API answers 404 for their trace.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that create_all made from models that already had the column, and that 0001
    # adopted, has it: leave it alone.
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("message")}
    if "trace" in columns:
        return
    with op.batch_alter_table("message") as batch_op:
        batch_op.add_column(sa.Column("trace", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch_op:
        batch_op.drop_column("trace")
