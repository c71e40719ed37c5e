"""HIS message log: inbound HL7 v2 / FHIR messages with outcome and reply (runtime/his/tables.py)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_his_messages",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("control_id", sa.String(200)),
        sa.Column("message_type", sa.String(40), nullable=False),
        sa.Column("patient_key", sa.String(100)),
        sa.Column("event_time", sa.DateTime),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("reply", sa.Text),
        sa.Column("detail", sa.JSON),
    )
    for column in ("received_at", "control_id", "message_type", "patient_key", "outcome"):
        op.create_index(f"ix_tessera_his_messages_{column}", "tessera_his_messages", [column])


def downgrade() -> None:
    op.drop_table("tessera_his_messages")
