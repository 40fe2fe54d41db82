"""connections: how each signs in (client credentials, password, JWT bearer), and what the JWT bearer flow needs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 10:00:00.000000

`auth_kind` is the grant a connection signs in with; rows written before it say it the old way (a username
variable meant the password grant), and keep meaning the same. The JWT bearer flow names the variable holding the
private key, the subject (a username) and, optionally, the audience; it needs no client secret, which becomes
optional. The values are spelled out here, not imported: a migration records the schema as it was at this revision.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AUTH_KINDS = ("CLIENT_CREDENTIALS", "PASSWORD", "JWT_BEARER")


def upgrade() -> None:
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auth_kind", sa.String(length=20), nullable=False,
                                      server_default="CLIENT_CREDENTIALS"))
        batch_op.add_column(sa.Column("private_key_env", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True))
        batch_op.add_column(sa.Column("jwt_subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.add_column(sa.Column("jwt_audience", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
    op.execute("UPDATE connection SET auth_kind = 'PASSWORD' WHERE username_env IS NOT NULL")
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.alter_column("auth_kind", server_default=None)
        batch_op.alter_column("client_secret_env", existing_type=sqlmodel.sql.sqltypes.AutoString(length=100),
                              nullable=True)
        batch_op.create_check_constraint("ck_connection_auth_kind", sa.column("auth_kind").in_(AUTH_KINDS))


def downgrade() -> None:
    # A JWT bearer connection cannot be said without these columns: the operator changes or removes it first.
    jwt = op.get_bind().execute(sa.text("SELECT count(*) FROM connection WHERE auth_kind = 'JWT_BEARER'")).scalar()
    if jwt:
        raise RuntimeError(f"{jwt} connections sign in with JWT bearer: change or remove them before downgrading")
    with op.batch_alter_table("connection", schema=None) as batch_op:
        batch_op.drop_constraint("ck_connection_auth_kind", type_="check")
        batch_op.alter_column("client_secret_env", existing_type=sqlmodel.sql.sqltypes.AutoString(length=100),
                              nullable=False)
        batch_op.drop_column("jwt_audience")
        batch_op.drop_column("jwt_subject")
        batch_op.drop_column("private_key_env")
        batch_op.drop_column("auth_kind")
