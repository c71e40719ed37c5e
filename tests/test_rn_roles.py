"""RN-17: who sees what in the referral network, over real HTTP as people of each role.

A liaison sees and edits the hospitals, leads, follow-ups and intents in their own charge (scope own via
the owner fields) plus the leads and hospitals waiting in the pools; an outreach manager sees their team
(their department and below); the alliance leader sees everything and changes nothing; the administrator
may do anything. Team 1 (拓展一组) is rn.liaison1..5 with rn.manager1, team 2 rn.liaison6..10 with
rn.manager2 (the demo organisation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from runtime.permissions.model import ACTIONS
from runtime.services import Tessera
from tests.test_rn_leads import API, Network, open_network


@pytest.fixture
def network(make_tessera: Callable[..., Tessera]) -> Iterator[Network]:
    yield from open_network(make_tessera)


OWNED = {  # entity -> its owner field, and a record of it for a liaison
    "partner_hospital": "liaison",
    "coop_lead": "owner",
    "follow_up": "follower",
    "coop_intent": "liaison",
    "hospital_contact": "liaison",
}


def _records_for(net: Network, username: str, tag: str) -> dict[str, int]:
    """One record of each owned entity in ``username``'s charge."""
    uid = net.uid(username)
    h = net.create("partner_hospital", {"name": f"{tag}县人民医院", "level": "2A", "liaison": uid})
    lead = net.create("coop_lead", {"hospital_name": f"{tag}县中医院", "source": "visit", "owner": uid})
    f = net.create(
        "follow_up",
        {
            "subject": f"{tag}回访",
            "hospital": h["id"],
            "method": "phone",
            "content": "例行电话回访合作情况。",
            "follower": uid,
        },
    )
    i = net.create(
        "coop_intent",
        {
            "title": f"{tag}远程会诊",
            "hospital": h["id"],
            "cooperation_types": ["remote_consultation"],
            "intent_level": 3,
            "liaison": uid,
        },
    )
    c = net.create("hospital_contact", {"hospital": h["id"], "name": f"{tag}主任", "liaison": uid})
    return {
        "partner_hospital": h["id"],
        "coop_lead": lead["id"],
        "follow_up": f["id"],
        "coop_intent": i["id"],
        "hospital_contact": c["id"],
    }


def _listed(net: Network, username: str, entity: str) -> set[int]:
    r = net.client(username).get(f"{API}/{entity}", params={"limit": 200})
    assert r.status_code == 200, r.text
    return {item["id"] for item in r.json()["items"]}


def test_rn17_liaison_sees_own_manager_sees_team_leader_sees_all(network: Network) -> None:
    team1_a = _records_for(network, "rn.liaison1", "甲")
    team1_b = _records_for(network, "rn.liaison2", "乙")
    team2 = _records_for(network, "rn.liaison6", "丙")
    pooled = network.create("coop_lead", {"hospital_name": "公海县医院", "source": "visit", "status": "pool"})["id"]
    for entity in OWNED:
        every = {team1_a[entity], team1_b[entity], team2[entity]} | ({pooled} if entity == "coop_lead" else set())
        public = {pooled} if entity == "coop_lead" else set()
        # a liaison: their own records (and the pool's), nobody else's
        assert _listed(network, "rn.liaison1", entity) == {team1_a[entity]} | public, entity
        assert _listed(network, "rn.liaison6", entity) == {team2[entity]} | public, entity
        # a manager: the team's; the other team's stay invisible
        assert _listed(network, "rn.manager1", entity) >= {team1_a[entity], team1_b[entity]}, entity
        assert team2[entity] not in _listed(network, "rn.manager1", entity), entity
        assert _listed(network, "rn.manager2", entity) >= {team2[entity]}, entity
        assert not {team1_a[entity], team1_b[entity]} & _listed(network, "rn.manager2", entity), entity
        # the leader and the administrator: everything
        assert _listed(network, "rn.leader", entity) == every, entity
        assert _listed(network, "it.admin", entity) == every, entity
        # by id: another liaison's record, even of the same team, is not there
        theirs = f"{API}/{entity}/{team1_b[entity]}"
        assert network.client("rn.liaison1").get(theirs).status_code == 404, entity
        assert network.client("rn.liaison6").get(theirs).status_code == 404, entity
        assert network.client("rn.manager1").get(theirs).status_code == 200, entity
        assert network.client("rn.manager2").get(theirs).status_code == 404, entity
    # editing: the liaison changes their own hospital, the manager their team's, the leader nothing
    hospital = network.get("partner_hospital", team1_a["partner_hospital"])
    path = f"{API}/partner_hospital/{hospital['id']}"
    r = network.client("rn.liaison1").patch(path, json={"version": hospital["version"], "remarks": "院长更换"})
    assert r.status_code == 200, r.text
    r = network.client("rn.manager1").patch(path, json={"version": r.json()["version"], "remarks": "已核实"})
    assert r.status_code == 200, r.text
    r = network.client("rn.leader").patch(path, json={"version": r.json()["version"], "remarks": "x"})
    assert r.status_code == 403, r.text
    r = network.client("rn.manager2").patch(path, json={"version": 3, "remarks": "x"})
    assert r.status_code == 404, r.text


def _grants(net: Network, role: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for grant in net.app.registry.roles[role].grants:
        names = list(net.app.registry.entities) if grant.entity == "*" else [grant.entity]
        for name in names:
            out.setdefault(name, set()).update(grant.actions)
    return out


def test_rn17_every_entity_of_the_pack_is_covered_by_each_role(network: Network) -> None:
    entities = {e for e, ent in network.app.registry.entities.items() if ent.pack_id == "referral_network"}
    assert {"partner_hospital", "coop_lead", "follow_up", "coop_intent"} <= entities
    for role in ("liaison", "outreach_manager", "network_leader", "administrator"):
        grants = _grants(network, role)
        missing = sorted(e for e in entities if "read" not in grants.get(e, set()))
        assert not missing, f"{role} cannot read {missing}"
    assert _grants(network, "administrator")["coop_intent"] == set(ACTIONS)
    leader = _grants(network, "network_leader")
    for entity in OWNED:  # the leader oversees; the records themselves are the liaisons' and managers'
        assert not {"create", "update", "delete"} & leader[entity], entity


def test_rn17_owned_entities_follow_their_owner_field(network: Network) -> None:
    """Every entity a liaison reads only in part names whose records they are (owner_field)."""
    liaison = network.app.registry.roles["liaison"]
    own = {g.entity for g in liaison.grants if g.scope == "own" and "read" in g.actions}
    shared = {g.entity for g in liaison.grants if g.scope == "all" and "read" in g.actions}
    for entity in own - shared:
        raw: dict[str, Any] = network.app.registry.entity(entity).raw
        assert raw.get("owner_field"), f"{entity}: a liaison's scope 'own' needs an owner field"
