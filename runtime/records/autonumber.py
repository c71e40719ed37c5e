"""Auto-numbers such as HOS-202611-0007: a per-pattern counter incremented in the write transaction.

The counter key includes the rendered date part, so a monthly pattern restarts every month. The
upsert takes a row lock (PostgreSQL) or the database write lock (SQLite), so two concurrent
creates never get the same number.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from runtime.storage.platform_tables import sequences

SEQ = re.compile(r"\{seq(?::(\d))?\}")


def _render_dates(fmt: str, now: datetime) -> str:
    return (
        fmt.replace("{yyyy}", f"{now.year:04d}")
        .replace("{yy}", f"{now.year % 100:02d}")
        .replace("{mm}", f"{now.month:02d}")
        .replace("{dd}", f"{now.day:02d}")
    )


def next_number(conn: Connection, entity_id: str, field_name: str, fmt: str, now: datetime) -> str:
    dated = _render_dates(fmt, now)
    key = f"{entity_id}.{field_name}:{SEQ.sub('#', dated)}"[:120]
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = (
        insert(sequences)
        .values(key=key, value=1)
        .on_conflict_do_update(index_elements=["key"], set_={"value": sequences.c.value + 1})
        .returning(sequences.c.value)
    )
    value = conn.execute(stmt).scalar_one()
    return SEQ.sub(lambda m: f"{value:0{int(m.group(1) or 1)}d}", dated)
