"""HIS test helpers: a deployed his_pack, a user with the 'his' right and its API token, HL7 builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.identity.tokens import ApiTokens
from runtime.records import Context, ListQuery
from runtime.records.query import Filter
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

ADMIN = Context(channel="system", lang="en", is_admin=True)


def his_app(make_tessera: Callable[..., Tessera], pack: str = "his_pack") -> tuple[Tessera, str, str]:
    """(app, the HIS interface's token, a clerk's token without the 'his' right)."""
    app = make_tessera(pack)
    app.users.create("admin", "Admin", "Adm1n-pass-for-tests", is_admin=True)
    tokens = ApiTokens(app.db, app.clock)
    out = []
    for username, role in (("his_feed", "his_interface"), ("clerk", "clerk")):
        user = app.users.create(username, username, "Pass-word-2026!")
        with app.db.write() as conn:
            conn.execute(sa.insert(pt.user_roles).values(user_id=user.id, role_id=role))
        raw, _ = tokens.create(user.id, f"{username} token", is_admin=False)
        out.append(raw)
    return app, out[0], out[1]


def find(app: Tessera, entity: str, **where: Any) -> list[dict[str, Any]]:
    filters = [Filter(k, "eq", v) for k, v in where.items()]
    return app.records.list(entity, ListQuery(filters=filters, limit=200, count="none"), ADMIN).items


def adt(
    event: str,
    control: str,
    mrn: str,
    *,
    when: str = "20261123080000",
    name: tuple[str, str] = ("张", "三"),
    birth: str = "19850312",
    sex: str = "M",
    phone: str = "13800000001",
    visit: str | None = "V001",
    ward: str = "W01",
    bed: str = "12",
    admitted: str = "20261123080000",
    discharged: str = "",
    diagnosis: str = "原发性高血压",
    merge_from: str | None = None,
    pid3: str | None = None,
) -> str:
    """An ADT message as a HIS sends it (segments end with CR)."""
    structure = {"A40": "ADT_A39", "A03": "ADT_A03"}.get(event, "ADT_A01")
    segments = [
        f"MSH|^~\\&|HIS|FICT_HOSP|TESSERA|CRM|{when}||ADT^{event}^{structure}|{control}|P|2.5",
        f"EVN|{event}|{when}",
        f"PID|1||{mrn if pid3 is None else pid3}^^^HIS^MR||{name[0]}^{name[1]}||{birth}|{sex}|||||{phone}",
    ]
    if merge_from is not None:
        segments.append(f"MRG|{merge_from}^^^HIS^MR")
    elif visit is not None:
        pv1 = [""] * 46
        pv1[1], pv1[2], pv1[3], pv1[7], pv1[19] = "1", "I", f"{ward}^^{bed}", "D100^李^医生", visit
        pv1[44], pv1[45] = admitted, discharged
        segments.append("PV1|" + "|".join(pv1[1:]))
        segments.append(f"DG1|1||I10^{diagnosis}^ICD10|{diagnosis}")
    return "\r".join(segments) + "\r"


def msa(ack: str) -> list[str]:
    """MSA fields of an ACK: [code, control id, text]."""
    for segment in ack.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA|"):
            return (segment.split("|")[1:] + ["", "", ""])[:3]
    raise AssertionError(f"no MSA segment in {ack!r}")


def err(ack: str) -> str:
    return next((s for s in ack.replace("\n", "\r").split("\r") if s.startswith("ERR|")), "")


def log_rows(app: Tessera) -> list[dict[str, Any]]:
    from runtime.his.tables import his_messages

    with app.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(his_messages).order_by(his_messages.c.id))]


def advance(clock: FixedClock, minutes: int = 1) -> None:
    clock.advance(minutes=minutes)
