"""platform tables: packs, deployments, archived columns, option overrides, sequences, files, users

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_packs",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("documents", sa.JSON, nullable=False),
        sa.Column("deployed_at", sa.DateTime, nullable=False),
        sa.Column("deployed_by", sa.String(100)),
    )
    op.create_table(
        "tessera_deployments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("pack_id", sa.String(40), nullable=False, index=True),
        sa.Column("from_version", sa.String(40)),
        sa.Column("to_version", sa.String(40), nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
        sa.Column("deployed_at", sa.DateTime, nullable=False),
        sa.Column("deployed_by", sa.String(100)),
    )
    op.create_table(
        "tessera_archived_columns",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("table_name", sa.String(100), nullable=False),
        sa.Column("field_name", sa.String(40), nullable=False),
        sa.Column("column_name", sa.String(63), nullable=False),
        sa.Column("field_spec", sa.JSON, nullable=False),
        sa.Column("archived_at", sa.DateTime, nullable=False),
        sa.Column("deployment_id", sa.BigInteger),
        sa.Column("purged_at", sa.DateTime),
    )
    op.create_table(
        "tessera_option_overrides",
        sa.Column("option_set_id", sa.String(40), primary_key=True),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by", sa.BigInteger),
    )
    op.create_table(
        "tessera_sequences",
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tessera_files",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("created_by", sa.BigInteger),
    )
    op.create_table(
        "tessera_departments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("parent_id", sa.BigInteger, index=True),
    )
    op.create_table(
        "tessera_users",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("email", sa.String(254)),
        sa.Column("department_id", sa.BigInteger),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "tessera_users",
        "tessera_departments",
        "tessera_files",
        "tessera_sequences",
        "tessera_option_overrides",
        "tessera_archived_columns",
        "tessera_deployments",
        "tessera_packs",
    ):
        op.drop_table(table)
