"""mirrors: the W3C traceparent of the span that planned the latest change

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 14:00:00.000000

Nullable: rows planned before, or while tracing is off, have none, and their delivery starts a trace without a link.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mirror", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trace_parent", sqlmodel.sql.sqltypes.AutoString(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mirror", schema=None) as batch_op:
        batch_op.drop_column("trace_parent")
