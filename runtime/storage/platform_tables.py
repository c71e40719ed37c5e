"""Platform tables as SQLAlchemy Core objects, for queries.

Their DDL is owned by the alembic migrations in `migrations/versions`; a test checks that the
migrated database matches these definitions so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

packs = sa.Table(
    "tessera_packs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("documents", sa.JSON, nullable=False),
    sa.Column("deployed_at", sa.DateTime, nullable=False),
    sa.Column("deployed_by", sa.String(100)),
)

deployments = sa.Table(
    "tessera_deployments",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("pack_id", sa.String(40), nullable=False, index=True),
    sa.Column("from_version", sa.String(40)),
    sa.Column("to_version", sa.String(40), nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Column("deployed_at", sa.DateTime, nullable=False),
    sa.Column("deployed_by", sa.String(100)),
)

archived_columns = sa.Table(
    "tessera_archived_columns",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(100), nullable=False),
    sa.Column("field_name", sa.String(40), nullable=False),
    sa.Column("column_name", sa.String(63), nullable=False),
    sa.Column("field_spec", sa.JSON, nullable=False),
    sa.Column("archived_at", sa.DateTime, nullable=False),
    sa.Column("deployment_id", sa.BigInteger),
    sa.Column("purged_at", sa.DateTime),
)

option_overrides = sa.Table(
    "tessera_option_overrides",
    metadata,
    sa.Column("option_set_id", sa.String(40), primary_key=True),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", sa.BigInteger),
)

sequences = sa.Table(
    "tessera_sequences",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

files = sa.Table(
    "tessera_files",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("created_by", sa.BigInteger),
)

departments = sa.Table(
    "tessera_departments",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("parent_id", sa.BigInteger, index=True),
    sa.Column("code", sa.String(40)),
    sa.Column("organisation", sa.String(100)),
    sa.Column("sort", sa.Integer, nullable=False, server_default="0"),
)

users = sa.Table(
    "tessera_users",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(255)),
    sa.Column("email", sa.String(254)),
    sa.Column("department_id", sa.BigInteger),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("language", sa.String(8), nullable=False, default="zh"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("organisation", sa.String(100)),
    sa.Column("phone", sa.String(32)),
    sa.Column("notify_channels", sa.JSON),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime),
    sa.Column("password_changed_at", sa.DateTime),
    sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_login_at", sa.DateTime),
)

roles = sa.Table(
    "tessera_roles",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("label", sa.JSON, nullable=False),
    sa.Column("parent_id", sa.String(40)),
    sa.Column("pack_id", sa.String(40)),
    sa.Column("permissions", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

user_roles = sa.Table(
    "tessera_user_roles",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True),
    sa.Column("role_id", sa.String(40), primary_key=True),
)

api_tokens = sa.Table(
    "tessera_api_tokens",
    metadata,
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

login_attempts = sa.Table(
    "tessera_login_attempts",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("ip", sa.String(64)),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("success", sa.Boolean, nullable=False),
)

password_resets = sa.Table(
    "tessera_password_resets",
    metadata,
    sa.Column("token_hash", sa.String(128), primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),
    sa.Column("used_at", sa.DateTime),
)

audit = sa.Table(
    "tessera_audit",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.BigInteger, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("request_id", sa.String(64)),
    sa.Column("changes", sa.JSON, nullable=False),
    sa.Index("ix_tessera_audit_record", "entity", "record_id"),
)

oplog = sa.Table(
    "tessera_oplog",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("kind", sa.String(40), nullable=False, index=True),
    sa.Column("actor_id", sa.BigInteger),
    sa.Column("username", sa.String(64)),
    sa.Column("ip", sa.String(64)),
    sa.Column("request_id", sa.String(64)),
    sa.Column("detail", sa.JSON, nullable=False),
)

errors = sa.Table(
    "tessera_errors",
    metadata,
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

params = sa.Table(
    "tessera_params",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("updated_by", sa.BigInteger),
)

# workflows (runtime/workflows): specs, instances, the task inbox, timers, message routing, history ---------

wf_specs = sa.Table(
    "tessera_wf_specs",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("process_id", sa.String(100), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("bpmn", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("process_id", "version", name="uq_tessera_wf_specs_version"),
    sa.UniqueConstraint("process_id", "sha256", name="uq_tessera_wf_specs_sha"),
)

wf_instances = sa.Table(
    "tessera_wf_instances",
    metadata,
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
    sa.Index("ix_tessera_wf_instances_record", "entity", "record_id"),
)

WF_TASK_OPEN = "status IN ('ready', 'claimed')"
"""runtime.workflows.store.OPEN as SQL (a partial index predicate is fixed text)."""
WF_TASK_COMPLETED = "completed_by IS NOT NULL"


def _where(predicate: str) -> dict[str, Any]:
    """A partial index's predicate for both backends."""
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


wf_tasks = sa.Table(
    "tessera_wf_tasks",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.BigInteger, nullable=False),
    sa.Column("spiff_id", sa.String(36), nullable=False),
    sa.Column("element_id", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("lane", sa.String(100)),
    sa.Column("role", sa.String(40)),
    sa.Column("assignee_id", sa.BigInteger),
    sa.Column("pool", sa.Boolean, nullable=False),
    sa.Column("form_id", sa.String(40)),
    sa.Column("due_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("completed_by", sa.BigInteger),
    sa.Column("completed_at", sa.DateTime),
    sa.Column("outcome", sa.String(40)),
    sa.Column("comment", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("instance_id", "spiff_id", name="uq_tessera_wf_tasks_spiff"),
    # Only open tasks are looked up by assignee or role (the inbox), and only completed ones by who completed
    # them (the done list): partial indexes keep a status change from touching index entries nobody reads.
    # The unique (instance_id, spiff_id) serves every per-instance lookup.
    sa.Index("ix_tessera_wf_tasks_open_assignee", "assignee_id", **_where(WF_TASK_OPEN)),
    sa.Index("ix_tessera_wf_tasks_open_role", "role", **_where(WF_TASK_OPEN)),
    sa.Index("ix_tessera_wf_tasks_completed_by", "completed_by", "completed_at", **_where(WF_TASK_COMPLETED)),
)

wf_timers = sa.Table(
    "tessera_wf_timers",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.BigInteger, nullable=False),
    sa.Column("spiff_id", sa.String(36), nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False, index=True),
    sa.UniqueConstraint("instance_id", "spiff_id", name="uq_tessera_wf_timers_spiff"),
)

wf_messages = sa.Table(
    "tessera_wf_messages",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("correlation_key", sa.String(200), nullable=False),
    sa.Column("instance_id", sa.BigInteger, nullable=False, index=True),
    sa.Index("ix_tessera_wf_messages_route", "name", "correlation_key"),
)

wf_events = sa.Table(
    "tessera_wf_events",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("instance_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("actor_id", sa.BigInteger),
    sa.Column("element_id", sa.String(100)),
    sa.Column("detail", sa.JSON, nullable=False),
)

wf_effects = sa.Table(
    "tessera_wf_effects",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("result", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

notifications = sa.Table(
    "tessera_notifications",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("body", sa.Text),
    sa.Column("link", sa.String(500)),
    sa.Column("source", sa.String(120), unique=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("read_at", sa.DateTime),
)
