"""reconciliation jobs: a connection's window, progress and summary

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 12:00:00.000000

The states are spelled out here, not imported: a migration records the schema as it was at this revision.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JOB_STATES = ("RUNNING", "DONE", "FAILED", "INTERRUPTED")


def upgrade() -> None:
    op.create_table(
        "reconcile_job",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("connection", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("state", sa.Enum(*JOB_STATES, native_enum=False, create_constraint=True, length=12,
                                   name="ck_reconcile_job_state"), nullable=False),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("reconcile_job")
