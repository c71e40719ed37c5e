"""The HIS message log: every message received, with its outcome, the reply sent and the raw text.

It is also what makes processing idempotent: a message whose control id was already applied (or found
stale) is answered with the stored reply and changes nothing. The raw text holds patient data, so only
administrators see it (runtime/api/routes_his.py, ui/his_pages.py).
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OUTCOMES = ("applied", "duplicate", "stale", "rejected", "error")

his_messages = sa.Table(
    "tessera_his_messages",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime, nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),  # mllp, http, fhir
    sa.Column("control_id", sa.String(200), index=True),
    sa.Column("message_type", sa.String(40), nullable=False, index=True),
    sa.Column("patient_key", sa.String(100), index=True),
    sa.Column("event_time", sa.DateTime),
    sa.Column("outcome", sa.String(16), nullable=False, index=True),
    sa.Column("error", sa.Text),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("reply", sa.Text),
    sa.Column("detail", sa.JSON),
)
