"""notifications: delivery log and per-user channel preferences (runtime/notify/tables.py)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("target", sa.String(500)),
        sa.Column("message", sa.JSON, nullable=False),
        sa.Column("notification_id", sa.BigInteger),
        sa.Column("provider_id", sa.String(200)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("key", "user_id", "channel", name="uq_tessera_deliveries_key"),
    )
    op.create_table(
        "tessera_notify_prefs",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(100), primary_key=True),
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tessera_notify_prefs")
    op.drop_table("tessera_deliveries")
