"""Scheduled report delivery: subscriptions, and the log that keeps a retried job from mailing twice."""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

report_subscriptions = sa.Table(
    "tessera_report_subscriptions",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("report_id", sa.String(100), nullable=False, index=True),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("frequency", sa.String(16), nullable=False),  # daily, weekly, monthly
    sa.Column("channels", sa.JSON, nullable=False),  # ["email", "in_app"]
    sa.Column("user_ids", sa.JSON, nullable=False),
    sa.Column("roles", sa.JSON, nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("next_run_at", sa.DateTime, nullable=False, index=True),
    sa.Column("last_sent_at", sa.DateTime),
    sa.Column("created_by", sa.BigInteger),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

report_deliveries = sa.Table(
    "tessera_report_deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("subscription_id", sa.BigInteger, nullable=False),
    sa.Column("period_key", sa.String(40), nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("sent_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("subscription_id", "period_key", "user_id", "channel", name="uq_tessera_report_deliveries"),
)
