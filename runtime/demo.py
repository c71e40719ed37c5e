"""Demo data shipped in packs (demo/*.json), loaded through the records service like any import.

Records may refer to each other as "@entity:key" where key is the value of the field named by the
demo file's "key". Loading is skipped for an entity that already has records, so running the demo
twice never duplicates data.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Pack
from runtime.records import Context
from runtime.services import Tessera

DEMO_CONTEXT = Context(channel="system", lang="en", is_admin=True)


def _resolve(value: Any, keys: dict[tuple[str, str], int]) -> Any:
    if isinstance(value, str) and value.startswith("@") and ":" in value:
        entity, key = value[1:].split(":", 1)
        if (entity, key) not in keys:
            raise ValueError(f"demo reference {value} does not match any loaded record")
        return keys[(entity, key)]
    if isinstance(value, list):
        return [_resolve(v, keys) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, keys) for k, v in value.items()}
    return value


def load_demo(app: Tessera, pack: Pack, ctx: Context = DEMO_CONTEXT) -> dict[str, int]:
    """Create the pack's demo records; returns how many were created per entity."""
    keys: dict[tuple[str, str], int] = {}
    created: dict[str, int] = {}
    for doc in pack.demo:
        entity = doc["entity"]
        table = app.registry.tables[entity].main
        key_field = doc.get("key")
        with app.db.read() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                if key_field:  # already loaded (or hand-made data): later files may still refer to these
                    rows = conn.execute(sa.select(table.c.id, table.c[key_field])).all()
                    keys.update({(entity, str(row[1])): row.id for row in rows})
                continue
        for raw in doc["records"]:
            record = app.records.create(entity, _resolve(raw, keys), ctx)
            if key_field:
                keys[(entity, str(raw[key_field]))] = record["id"]
            created[entity] = created.get(entity, 0) + 1
    return created
