"""workflows: specs, instances, task inbox, timers, message routing, history, idempotent effects, notifications

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_wf_specs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("process_id", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("bpmn", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("process_id", "sha256", name="uq_tessera_wf_specs_sha"),
        sa.UniqueConstraint("process_id", "version", name="uq_tessera_wf_specs_version"),
    )
    op.create_table(
        "tessera_wf_instances",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("spec_id", sa.BigInteger, nullable=False),
        sa.Column("process_id", sa.String(100), nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("entity", sa.String(40)),
        sa.Column("record_id", sa.BigInteger),
        sa.Column("started_by", sa.BigInteger),
        sa.Column("correlation", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tessera_wf_instances_record", "tessera_wf_instances", ["entity", "record_id"])
    op.create_table(
        "tessera_wf_tasks",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("spiff_id", sa.String(36), nullable=False),
        sa.Column("element_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("lane", sa.String(100)),
        sa.Column("role", sa.String(40), index=True),
        sa.Column("assignee_id", sa.BigInteger, index=True),
        sa.Column("pool", sa.Boolean, nullable=False),
        sa.Column("form_id", sa.String(40)),
        sa.Column("due_at", sa.DateTime, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("completed_by", sa.BigInteger),
        sa.Column("completed_at", sa.DateTime),
        sa.Column("outcome", sa.String(40)),
        sa.Column("comment", sa.Text),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("instance_id", "spiff_id", name="uq_tessera_wf_tasks_spiff"),
    )
    op.create_table(
        "tessera_wf_timers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.BigInteger, nullable=False),
        sa.Column("spiff_id", sa.String(36), nullable=False),
        sa.Column("due_at", sa.DateTime, nullable=False, index=True),
        sa.UniqueConstraint("instance_id", "spiff_id", name="uq_tessera_wf_timers_spiff"),
    )
    op.create_table(
        "tessera_wf_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("correlation_key", sa.String(200), nullable=False),
        sa.Column("instance_id", sa.BigInteger, nullable=False, index=True),
    )
    op.create_index("ix_tessera_wf_messages_route", "tessera_wf_messages", ["name", "correlation_key"])
    op.create_table(
        "tessera_wf_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor_id", sa.BigInteger),
        sa.Column("element_id", sa.String(100)),
        sa.Column("detail", sa.JSON, nullable=False),
    )
    op.create_table(
        "tessera_wf_effects",
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("result", sa.JSON),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "tessera_notifications",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("link", sa.String(500)),
        sa.Column("source", sa.String(120), unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("read_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("tessera_notifications")
    op.drop_table("tessera_wf_effects")
    op.drop_table("tessera_wf_events")
    op.drop_table("tessera_wf_messages")
    op.drop_table("tessera_wf_timers")
    op.drop_table("tessera_wf_tasks")
    op.drop_table("tessera_wf_instances")
    op.drop_table("tessera_wf_specs")
