"""The builder's tables: one draft per pack, the numbered versions, and the shipped base of each pack.

They live on the platform metadata (runtime.storage.platform_tables.metadata) so that the drift test
of the platform tables also checks them against migration 0010 whenever the builder is imported.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

drafts = sa.Table(
    "tessera_builder_drafts",
    metadata,
    sa.Column("pack_id", sa.String(100), primary_key=True),
    sa.Column("documents", sa.JSON, nullable=False),  # rel path -> JSON document
    sa.Column("workflows", sa.JSON, nullable=False),  # rel path -> BPMN XML
    sa.Column("base_version", sa.Integer),  # the version number the draft was started from
    sa.Column("updated_by", sa.String(100)),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

versions = sa.Table(
    "tessera_builder_versions",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("pack_id", sa.String(100), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("pack_version", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # deploy, publish, rollback, upgrade
    sa.Column("author", sa.String(100)),
    sa.Column("author_id", sa.BigInteger),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("documents", sa.JSON, nullable=False),
    sa.Column("workflows", sa.JSON, nullable=False),
    sa.Column("deployment_id", sa.BigInteger),  # tessera_deployments row that made this version live
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("pack_id", "number", name="uq_tessera_builder_versions_number"),
)

bases = sa.Table(
    "tessera_builder_bases",
    metadata,
    sa.Column("pack_id", sa.String(100), primary_key=True),
    sa.Column("pack_version", sa.String(100), nullable=False),
    sa.Column("documents", sa.JSON, nullable=False),  # the shipped pack as deployed or upgraded from disk
    sa.Column("workflows", sa.JSON, nullable=False),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
)
