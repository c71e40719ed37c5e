"""What the /admin/jobs page shows: counts per status and the newest jobs of one status, errors included."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from runtime.jobs.tables import DONE, FAILED, HANDED, QUEUED, RUNNING, jobs
from runtime.storage.database import Database

STATUSES = (QUEUED, HANDED, RUNNING, FAILED, DONE)


def status_counts(db: Database) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(sa.select(jobs.c.status, sa.func.count()).group_by(jobs.c.status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return counts


def list_jobs(db: Database, statuses: list[str], *, limit: int = 50) -> list[dict[str, Any]]:
    """Waiting jobs soonest first; finished ones newest first."""
    waiting = set(statuses) <= {QUEUED, HANDED, RUNNING}
    order = (jobs.c.run_at, jobs.c.id) if waiting else (jobs.c.id.desc(),)
    with db.read() as conn:
        rows = conn.execute(sa.select(jobs).where(jobs.c.status.in_(statuses)).order_by(*order).limit(limit)).all()
    return [dict(r._mapping) for r in rows]


def get_job(db: Database, job_id: int) -> dict[str, Any] | None:
    with db.read() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
    return dict(row._mapping) if row is not None else None
