"""Workflow task indexes: partial indexes for the inbox (open tasks by assignee or role) and the done list
(completed tasks by who completed them) instead of five full single-column indexes. Every task status change
touched all seven index entries of its row; most of them indexed values no query reads
(runtime/storage/platform_tables.py wf_tasks; bench/README.md, workflow approval on PostgreSQL).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE = "tessera_wf_tasks"
OPEN = "status IN ('ready', 'claimed')"
COMPLETED = "completed_by IS NOT NULL"
FULL = ("instance_id", "role", "assignee_id", "due_at", "status")


def _where(predicate: str) -> dict:
    return {"postgresql_where": sa.text(predicate), "sqlite_where": sa.text(predicate)}


def upgrade() -> None:
    for column in FULL:
        op.drop_index(f"ix_{TABLE}_{column}", table_name=TABLE)
    op.create_index(f"ix_{TABLE}_open_assignee", TABLE, ["assignee_id"], **_where(OPEN))
    op.create_index(f"ix_{TABLE}_open_role", TABLE, ["role"], **_where(OPEN))
    op.create_index(f"ix_{TABLE}_completed_by", TABLE, ["completed_by", "completed_at"], **_where(COMPLETED))


def downgrade() -> None:
    for name in ("open_assignee", "open_role", "completed_by"):
        op.drop_index(f"ix_{TABLE}_{name}", table_name=TABLE)
    for column in FULL:
        op.create_index(f"ix_{TABLE}_{column}", TABLE, [column])
