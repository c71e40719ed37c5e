"""The ``tessera_jobs`` table: transactional outbox and scheduler of every background job, on both databases.

A job row is written in the caller's transaction (so a rolled-back write leaves no job behind) and carries
its own due time in the application's clock, which is what lets tests fast-forward a FixedClock. On SQLite
the in-process runner claims the rows itself; on PostgreSQL due rows are handed to procrastinate.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

QUEUED, HANDED, RUNNING, DONE, FAILED = "queued", "handed", "running", "done", "failed"
"""queued: waiting for its run_at; handed: given to procrastinate (PostgreSQL); running; done; failed (gave up)."""

jobs = sa.Table(
    "tessera_jobs",
    metadata,
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
    sa.Index("ix_tessera_jobs_due", "status", "run_at"),
)
