"""What is live for a pack: its stored documents (tessera_packs) and its BPMN files (tessera_wf_specs).

The runtime stores a pack's JSON documents at each deploy but registers its BPMN files as workflow
specs keyed by "<pack>/<rel>"; the newest spec of each source file is the deployed XML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.storage import platform_tables as pt


@dataclass
class Deployed:
    pack_id: str
    version: str
    documents: dict[str, Any]
    workflows: dict[str, str]
    deployed_at: datetime
    deployed_by: str | None
    deployment_id: int | None


def deployed_pack(conn: Connection, pack_id: str) -> Deployed | None:
    """The live pack, or None when no pack of that id is deployed."""
    row = conn.execute(sa.select(pt.packs).where(pt.packs.c.id == pack_id)).first()
    if row is None:
        return None
    dep = conn.execute(sa.select(sa.func.max(pt.deployments.c.id)).where(pt.deployments.c.pack_id == pack_id)).scalar()
    return Deployed(
        pack_id, row.version, row.documents, deployed_workflows(conn, pack_id), row.deployed_at, row.deployed_by, dep
    )


def deployed_workflows(conn: Connection, pack_id: str) -> dict[str, str]:
    """rel path ("workflows/x.bpmn") -> the XML of its newest registered spec."""
    t = pt.wf_specs
    prefix = f"{pack_id}/"
    rows = conn.execute(
        sa.select(t.c.source, t.c.bpmn, t.c.id).where(t.c.source.startswith(prefix, autoescape=True)).order_by(t.c.id)
    ).all()
    found: dict[str, str] = {}
    for source, xml, _id in rows:  # ascending ids: the last one wins
        found[source[len(prefix) :]] = xml
    return found


def deployed_ids(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(pt.packs.c.id).order_by(pt.packs.c.id)).scalars())
