"""The rule run log (tessera_rule_runs): one row per job key, so a retried job updates its row and the
admin page shows the last outcome, the attempts and the error of every rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.automation.rules.tables import rule_runs


def is_done(conn: Connection, key: str) -> bool:
    status = conn.execute(sa.select(rule_runs.c.status).where(rule_runs.c.key == key)).scalar()
    return status == "ok"


def record_run(
    conn: Connection,
    *,
    key: str,
    rule_id: str,
    status: str,
    now: datetime,
    kind: str = "rule",
    entity: str | None = None,
    record_id: int | None = None,
    error: str | None = None,
    payload: dict[str, Any] | None = None,
    count_attempt: bool = True,
) -> None:
    """Insert or update the row of this key (attempts + 1)."""
    row = conn.execute(sa.select(rule_runs.c.id, rule_runs.c.attempts).where(rule_runs.c.key == key)).first()
    values = {"status": status, "error": None if error is None else error[:4000], "updated_at": now}
    if payload is not None:
        values["payload"] = payload
    if row is None:
        conn.execute(
            sa.insert(rule_runs).values(
                key=key,
                rule_id=rule_id,
                kind=kind,
                entity=entity,
                record_id=record_id,
                attempts=1 if count_attempt else 0,
                created_at=now,
                **values,
            )
        )
    else:
        attempts = row.attempts + (1 if count_attempt else 0)
        conn.execute(sa.update(rule_runs).where(rule_runs.c.id == row.id).values(attempts=attempts, **values))


def runs_of(conn: Connection, *, rule_id: str | None = None, status: str | None = None, limit: int = 50) -> list[dict]:
    q = sa.select(rule_runs).order_by(rule_runs.c.updated_at.desc(), rule_runs.c.id.desc()).limit(limit)
    if rule_id is not None:
        q = q.where(rule_runs.c.rule_id == rule_id)
    if status is not None:
        q = q.where(rule_runs.c.status == status)
    return [dict(r._mapping) for r in conn.execute(q)]


def summary(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per rule: last run time, runs and failures counts."""
    q = sa.select(
        rule_runs.c.rule_id,
        sa.func.max(rule_runs.c.updated_at).label("last"),
        sa.func.count().label("runs"),
        sa.func.sum(sa.case((rule_runs.c.status == "failed", 1), else_=0)).label("failures"),
    ).group_by(rule_runs.c.rule_id)
    return {r.rule_id: {"last": r.last, "runs": r.runs, "failures": int(r.failures or 0)} for r in conn.execute(q)}
