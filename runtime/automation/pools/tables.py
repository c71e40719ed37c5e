"""Tables of pools and assignment: the pool event log (claim, release, assign, recycle, warn) and the
round-robin cursors. DDL: migration 0007_scores_pools.

The event log is also the memory of the rules: claims today (claim cap), the last claim (protection),
the last recycle and its previous owner (no re-claim during protection), warnings sent per cycle.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import ID, metadata

pool_events = sa.Table(
    "tessera_pool_events",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("pool_id", sa.String(100), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.BigInteger),
    sa.Column("user_id", sa.BigInteger),
    sa.Column("previous_owner_id", sa.BigInteger),
    sa.Column("detail", sa.JSON),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_tessera_pool_events_record", "pool_id", "record_id", "action"),
    sa.Index("ix_tessera_pool_events_actor", "pool_id", "actor_id", "action", "at"),
)

assignment_cursors = sa.Table(
    "tessera_assignment_cursors",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)
