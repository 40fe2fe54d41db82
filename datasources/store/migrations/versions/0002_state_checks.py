"""mirror states and intent statuses: only the enum values, enforced by the database

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 10:00:00.000000

The columns stay VARCHAR (the stored values do not change); a CHECK constraint refuses anything else, the same
on SQLite (the table is rebuilt, its rows copied) and on PostgreSQL. The values are spelled out here, not imported:
a migration records the schema as it was at this revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MIRROR_STATES = ("PENDING", "SYNCED", "FAILED", "NO_MATCH", "CONFLICT")
INTENT_STATUSES = ("pending", "done", "abandoned")


def upgrade() -> None:
    with op.batch_alter_table("mirror", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_mirror_state", sa.column("state").in_(MIRROR_STATES))
    with op.batch_alter_table("intent", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_intent_status", sa.column("status").in_(INTENT_STATUSES))


def downgrade() -> None:
    with op.batch_alter_table("intent", schema=None) as batch_op:
        batch_op.drop_constraint("ck_intent_status", type_="check")
    with op.batch_alter_table("mirror", schema=None) as batch_op:
        batch_op.drop_constraint("ck_mirror_state", type_="check")
