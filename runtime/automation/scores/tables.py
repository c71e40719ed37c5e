"""Tables of scores and grades: the explanation of each record's current score and the grade history.

The score value itself lives in a field of the record (written through the records service); these
tables keep what the value is made of (shown on the record page) and when the grade changed.
DDL: migration 0007_scores_pools.
"""

from __future__ import annotations

import sqlalchemy as sa

from runtime.storage.platform_tables import ID, metadata

score_explanations = sa.Table(
    "tessera_score_explanations",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("score_id", sa.String(100), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("grade", sa.String(40)),
    sa.Column("components", sa.JSON, nullable=False),
    sa.Column("computed_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("score_id", "record_id", name="uq_tessera_score_explanations_record"),
)

grade_history = sa.Table(
    "tessera_grade_history",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("score_id", sa.String(100), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("record_id", sa.BigInteger, nullable=False),
    sa.Column("from_grade", sa.String(40)),
    sa.Column("to_grade", sa.String(40)),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_tessera_grade_history_record", "score_id", "record_id"),
)
