"""mirrors: since when each has been waiting, so the backlog's age counts retries in

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:00:00.000000

Rows already pending start from their last update (the best that was kept); later ones from when they turned PENDING.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mirror", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE mirror SET pending_since = updated_at WHERE state = 'PENDING'")


def downgrade() -> None:
    with op.batch_alter_table("mirror", schema=None) as batch_op:
        batch_op.drop_column("pending_since")
