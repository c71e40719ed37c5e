"""jobs: the tessera_jobs outbox (runtime/jobs/tables.py) and, on PostgreSQL, procrastinate's schema

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_jobs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False, unique=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_at", sa.DateTime, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("locked_by", sa.String(200)),
        sa.Column("heartbeat_at", sa.DateTime),
        sa.Column("engine_job_id", sa.BigInteger),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("started_at", sa.DateTime),
        sa.Column("finished_at", sa.DateTime),
    )
    op.create_index("ix_tessera_jobs_due", "tessera_jobs", ["status", "run_at"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # procrastinate (the PostgreSQL job engine, pinned in pyproject) ships its schema as one SQL script
        from procrastinate.schema import SchemaManager

        bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    op.drop_index("ix_tessera_jobs_due", table_name="tessera_jobs")
    op.drop_table("tessera_jobs")
