"""identity, permissions, tokens, audit trail, operation and error logs, system parameters

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("tessera_users") as batch:
        batch.add_column(sa.Column("organisation", sa.String(100)))
        batch.add_column(sa.Column("phone", sa.String(32)))
        batch.add_column(sa.Column("notify_channels", sa.JSON))
        batch.add_column(sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime))
        batch.add_column(sa.Column("password_changed_at", sa.DateTime))
        batch.add_column(sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_login_at", sa.DateTime))
    with op.batch_alter_table("tessera_departments") as batch:
        batch.add_column(sa.Column("code", sa.String(40)))
        batch.add_column(sa.Column("organisation", sa.String(100)))
        batch.add_column(sa.Column("sort", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "tessera_roles",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("parent_id", sa.String(40)),
        sa.Column("pack_id", sa.String(40)),
        sa.Column("permissions", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "tessera_user_roles",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("role_id", sa.String(40), primary_key=True),
    )
    op.create_table(
        "tessera_api_tokens",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime),
        sa.Column("last_used_at", sa.DateTime),
        sa.Column("revoked_at", sa.DateTime),
    )
    op.create_table(
        "tessera_login_attempts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, index=True),
        sa.Column("ip", sa.String(64)),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("success", sa.Boolean, nullable=False),
    )
    op.create_table(
        "tessera_password_resets",
        sa.Column("token_hash", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("used_at", sa.DateTime),
    )
    op.create_table(
        "tessera_audit",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.BigInteger, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(64)),
        sa.Column("changes", sa.JSON, nullable=False),
    )
    op.create_index("ix_tessera_audit_record", "tessera_audit", ["entity", "record_id"])
    op.create_table(
        "tessera_oplog",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("actor_id", sa.BigInteger),
        sa.Column("username", sa.String(64)),
        sa.Column("ip", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "tessera_errors",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime, nullable=False, index=True),
        sa.Column("request_id", sa.String(64), index=True),
        sa.Column("method", sa.String(10)),
        sa.Column("path", sa.String(500)),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("error_type", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("traceback", sa.Text, nullable=False),
    )
    op.create_table(
        "tessera_params",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.BigInteger),
    )


def downgrade() -> None:
    for table in (
        "tessera_params",
        "tessera_errors",
        "tessera_oplog",
        "tessera_audit",
        "tessera_password_resets",
        "tessera_login_attempts",
        "tessera_api_tokens",
        "tessera_user_roles",
        "tessera_roles",
    ):
        op.drop_table(table)
    with op.batch_alter_table("tessera_departments") as batch:
        for column in ("sort", "organisation", "code"):
            batch.drop_column(column)
    with op.batch_alter_table("tessera_users") as batch:
        for column in (
            "last_login_at",
            "session_epoch",
            "password_changed_at",
            "locked_until",
            "failed_logins",
            "notify_channels",
            "phone",
            "organisation",
        ):
            batch.drop_column(column)
