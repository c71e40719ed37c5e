"""Tables of work items and follow-up plan instances (DDL: migration 0008_followups).

Defined on the platform metadata so the migration drift test compares them with the migrated database.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

work_items = sa.Table(
    "tessera_work_items",
    metadata,
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
    sa.Index("ix_tessera_work_items_record", "entity", "record_id"),
)

followup_plans = sa.Table(
    "tessera_followup_plans",
    metadata,
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
    sa.Index("ix_tessera_followup_plans_record", "entity", "record_id"),
)

followup_steps = sa.Table(
    "tessera_followup_steps",
    metadata,
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
