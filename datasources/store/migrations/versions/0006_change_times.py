"""mirrors and intents: indexes on their update time, for the catch-up of live updates after a gap

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20 10:00:00.000000

A listener that lost its connection replays what changed since it last heard (datasources/store/changes.py): mirror
rows and finished intents by `updated_at`, without reading the whole tables.
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mirror_updated_at", "mirror", ["updated_at"])
    op.create_index("ix_intent_updated_at", "intent", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_intent_updated_at", table_name="intent")
    op.drop_index("ix_mirror_updated_at", table_name="mirror")
