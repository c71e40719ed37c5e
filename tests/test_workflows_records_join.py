"""PL-14: the records service joins an outer transaction, so a workflow step and the record changes it
causes commit together or not at all (runtime.records.service.joined_transaction)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from runtime.records import Context
from runtime.records.service import joined_transaction
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

ADMIN = Context(channel="workflow", lang="en")


def _count(t: Tessera, entity: str) -> int:
    table = t.registry.tables[entity].main
    with t.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _audits(t: Tessera) -> list[str]:
    with t.db.read() as conn:
        return list(conn.execute(sa.select(pt.audit.c.channel)).scalars())


def test_pl14_record_writes_inside_a_joined_transaction_roll_back_with_it(make_tessera: Callable[..., Tessera]) -> None:
    t = make_tessera("workflow_pack")
    with pytest.raises(RuntimeError), t.db.write() as conn, joined_transaction(conn):
        created = t.records.create("contract", {"name": "Joined"}, ADMIN)
        assert t.records.get("contract", created["id"], ADMIN)["name"] == "Joined"  # visible inside
        t.records.update("contract", created["id"], {"status": "active"}, ADMIN, expected_version=None)
        raise RuntimeError("the step failed after the write")
    assert _count(t, "contract") == 0 and _audits(t) == []


def test_pl14_record_writes_inside_a_joined_transaction_commit_with_it(make_tessera: Callable[..., Tessera]) -> None:
    t = make_tessera("workflow_pack")
    with t.db.write() as conn, joined_transaction(conn):
        created = t.records.create("contract", {"name": "Joined"}, ADMIN)
        conn.execute(sa.insert(pt.wf_effects).values(key="k", result={}, created_at=t.clock.now()))
    assert t.records.get("contract", created["id"], ADMIN)["name"] == "Joined"
    assert _audits(t) == ["workflow"]  # audited in the same transaction, with the workflow channel
    created = t.records.create("contract", {"name": "Outside"}, ADMIN)  # no join: its own transaction as before
    assert _count(t, "contract") == 2
