"""scores pools: score explanations, grade history, pool events, round-robin cursors
(runtime/automation/scores/tables.py, runtime/automation/pools/tables.py)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_score_explanations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("score_id", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("grade", sa.String(40)),
        sa.Column("components", sa.JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("score_id", "record_id", name="uq_tessera_score_explanations_record"),
    )
    op.create_table(
        "tessera_grade_history",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("score_id", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("from_grade", sa.String(40)),
        sa.Column("to_grade", sa.String(40)),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tessera_grade_history_record", "tessera_grade_history", ["score_id", "record_id"])
    op.create_table(
        "tessera_pool_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("pool_id", sa.String(100), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.BigInteger),
        sa.Column("user_id", sa.BigInteger),
        sa.Column("previous_owner_id", sa.BigInteger),
        sa.Column("detail", sa.JSON),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tessera_pool_events_record", "tessera_pool_events", ["pool_id", "record_id", "action"])
    op.create_index("ix_tessera_pool_events_actor", "tessera_pool_events", ["pool_id", "actor_id", "action", "at"])
    op.create_table(
        "tessera_assignment_cursors",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tessera_assignment_cursors")
    op.drop_table("tessera_pool_events")
    op.drop_table("tessera_grade_history")
    op.drop_table("tessera_score_explanations")
