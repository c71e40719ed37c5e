"""segments: list filters saved by users, personal or shared with a role (runtime/segments/tables.py)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_segments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(100), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("search", sa.String(200)),
        sa.Column("view", sa.String(100)),
        sa.Column("shared_role", sa.String(100)),
        sa.Column("owner_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tessera_segments_entity", "tessera_segments", ["entity"])
    op.create_index("ix_tessera_segments_owner_id", "tessera_segments", ["owner_id"])


def downgrade() -> None:
    op.drop_table("tessera_segments")
