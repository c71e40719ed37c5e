"""Tables of the notification feature: the delivery log and per-user channel preferences.

The in-app store is the platform's ``tessera_notifications`` (workflows write it too), so the
notification centre shows every notification whatever wrote it. Migration: 0005_notifications.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

deliveries = sa.Table(
    "tessera_deliveries",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("user_id", sa.BigInteger, nullable=False),  # 0: a group channel (webhook robot), not a person
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # queued / sent / failed / skipped
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("target", sa.String(500)),  # address, phone number or webhook URL at send time
    sa.Column("message", sa.JSON, nullable=False),  # rendered subject/text/html, fixed when notified
    sa.Column("notification_id", sa.BigInteger),
    sa.Column("provider_id", sa.String(200)),  # Message-ID, gateway message id...
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("sent_at", sa.DateTime),
    sa.UniqueConstraint("key", "user_id", "channel", name="uq_tessera_deliveries_key"),
)

notify_prefs = sa.Table(
    "tessera_notify_prefs",
    metadata,
    sa.Column("user_id", sa.BigInteger, primary_key=True),
    sa.Column("kind", sa.String(100), primary_key=True),  # a template id / notification kind, or "*"
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
