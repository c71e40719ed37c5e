"""Segments saved by users from a list page (pack segments live in the pack, not here)."""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import metadata

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

user_segments = sa.Table(
    "tessera_segments",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("entity", sa.String(100), nullable=False, index=True),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("filters", sa.JSON, nullable=False),
    sa.Column("search", sa.String(200)),
    sa.Column("view", sa.String(100)),
    sa.Column("shared_role", sa.String(100)),  # None: personal
    sa.Column("owner_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
