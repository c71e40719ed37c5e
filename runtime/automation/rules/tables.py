"""Tables of the rules engine: the run log (what ran, what failed and why) and the scan bookkeeping
that makes date-relative and cron rules fire exactly once per (rule, record, date) or occurrence."""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

rule_runs = sa.Table(
    "tessera_rule_runs",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("rule_id", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # rule | webhook | loop
    sa.Column("entity", sa.String(40)),
    sa.Column("record_id", sa.BigInteger),
    sa.Column("status", sa.String(16), nullable=False),  # ok | failed | skipped
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("payload", sa.JSON),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_tessera_rule_runs_rule", "rule_id", "updated_at"),
    sa.Index("ix_tessera_rule_runs_status", "status", "updated_at"),
)

rule_marks = sa.Table(
    "tessera_rule_marks",
    metadata,
    sa.Column("rule_id", sa.String(100), primary_key=True),
    # date rules: fire times up to here were scanned; cron rules: the last occurrence handled
    sa.Column("watermark", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

rule_fired = sa.Table(
    "tessera_rule_fired",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("rule_id", sa.String(100), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("date_value", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("rule_id", "record_id", "date_value", name="uq_tessera_rule_fired"),
)
