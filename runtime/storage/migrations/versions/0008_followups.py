"""followups: work items (tessera_work_items) and follow-up plan instances and steps (runtime/automation/followups)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_work_items",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("assignee_id", sa.BigInteger, index=True),
        sa.Column("due_at", sa.DateTime, index=True),
        sa.Column("sla_due_at", sa.DateTime, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", sa.BigInteger),
        sa.Column("form", sa.String(40)),
        sa.Column("channel", sa.String(16)),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("escalation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("result_entity", sa.String(40)),
        sa.Column("result_id", sa.BigInteger),
        sa.Column("completed_at", sa.DateTime),
        sa.Column("completed_by", sa.BigInteger),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tessera_work_items_record", "tessera_work_items", ["entity", "record_id"])
    op.create_table(
        "tessera_followup_plans",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("plan_id", sa.String(40), nullable=False),
        sa.Column("entity", sa.String(40), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("anchor_at", sa.DateTime, nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("stopped_at", sa.DateTime),
        sa.Column("stopped_by", sa.BigInteger),
        sa.UniqueConstraint("plan_id", "entity", "record_id", name="uq_tessera_followup_plans_record"),
    )
    op.create_index("ix_tessera_followup_plans_record", "tessera_followup_plans", ["entity", "record_id"])
    op.create_table(
        "tessera_followup_steps",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("plan_instance_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("step_id", sa.String(60), nullable=False),
        sa.Column("label", sa.JSON, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("form", sa.String(40)),
        sa.Column("due_at", sa.DateTime, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("moved", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("adhoc", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("assignee_id", sa.BigInteger),
        sa.Column("work_item_id", sa.BigInteger),
        sa.Column("alerts", sa.JSON, nullable=False),
        sa.Column("done_at", sa.DateTime),
        sa.UniqueConstraint("plan_instance_id", "step_id", name="uq_tessera_followup_steps_step"),
    )


def downgrade() -> None:
    op.drop_table("tessera_followup_steps")
    op.drop_table("tessera_followup_plans")
    op.drop_table("tessera_work_items")
