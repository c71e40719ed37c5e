"""rules states: tables of the automation issue (see the module that owns them)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_rule_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False, unique=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("payload", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tessera_rule_runs_rule", "tessera_rule_runs", ["rule_id", "updated_at"])
    op.create_index("ix_tessera_rule_runs_status", "tessera_rule_runs", ["status", "updated_at"])
    op.create_table(
        "tessera_rule_marks",
        sa.Column("rule_id", sa.String(100), primary_key=True),
        sa.Column("watermark", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "tessera_rule_fired",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("date_value", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("rule_id", "record_id", "date_value", name="uq_tessera_rule_fired"),
    )


def downgrade() -> None:
    op.drop_table("tessera_rule_fired")
    op.drop_table("tessera_rule_marks")
    op.drop_index("ix_tessera_rule_runs_status", "tessera_rule_runs")
    op.drop_index("ix_tessera_rule_runs_rule", "tessera_rule_runs")
    op.drop_table("tessera_rule_runs")
