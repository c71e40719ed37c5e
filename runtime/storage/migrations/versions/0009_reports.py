"""reports: scheduled report subscriptions and their delivery log (runtime/reports/tables.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_report_subscriptions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("report_id", sa.String(100), nullable=False, index=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("channels", sa.JSON, nullable=False),
        sa.Column("user_ids", sa.JSON, nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("next_run_at", sa.DateTime, nullable=False, index=True),
        sa.Column("last_sent_at", sa.DateTime),
        sa.Column("created_by", sa.BigInteger),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "tessera_report_deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.BigInteger, nullable=False),
        sa.Column("period_key", sa.String(40), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("subscription_id", "period_key", "user_id", "channel", name="uq_tessera_report_deliveries"),
    )


def downgrade() -> None:
    op.drop_table("tessera_report_deliveries")
    op.drop_table("tessera_report_subscriptions")
