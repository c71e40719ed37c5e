"""builder: drafts, numbered versions and shipped bases of packs edited in the builder (builder/tables.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tessera_builder_drafts",
        sa.Column("pack_id", sa.String(100), primary_key=True),
        sa.Column("documents", sa.JSON, nullable=False),
        sa.Column("workflows", sa.JSON, nullable=False),
        sa.Column("base_version", sa.Integer),
        sa.Column("updated_by", sa.String(100)),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "tessera_builder_versions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("pack_id", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("pack_version", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("author", sa.String(100)),
        sa.Column("author_id", sa.BigInteger),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("documents", sa.JSON, nullable=False),
        sa.Column("workflows", sa.JSON, nullable=False),
        sa.Column("deployment_id", sa.BigInteger),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("pack_id", "number", name="uq_tessera_builder_versions_number"),
    )
    op.create_table(
        "tessera_builder_bases",
        sa.Column("pack_id", sa.String(100), primary_key=True),
        sa.Column("pack_version", sa.String(100), nullable=False),
        sa.Column("documents", sa.JSON, nullable=False),
        sa.Column("workflows", sa.JSON, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tessera_builder_bases")
    op.drop_table("tessera_builder_versions")
    op.drop_table("tessera_builder_drafts")
