"""RN-17 / PC-16: the roles the shipped packs declare, exercised over real HTTP as the demo users.

Both packs are deployed with their demo data (the demo organisation included) once per database and
module; each test signs in as demo users with the shared demo password from the data directory, the way
a person trying the demo would. Referral network: liaisons rn.liaison1..5 (拓展一组, manager rn.manager1)
and rn.liaison6..10 (拓展二组, manager rn.manager2), leader rn.leader; the records waiting in a pool (leads
in the lead pool, hospitals without liaison) are visible to every liaison and manager, who may claim them.
Patient CRM: officers pc.officer1/2
(市场一组, supervisor pc.supervisor1) and pc.officer3 (市场二组, supervisor pc.supervisor2), manager
pc.manager over both groups, director, president, analyst. it.admin holds the administrator role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.config import Settings
from runtime.demo import demo_logins, load_demo
from runtime.permissions.model import ACTIONS
from runtime.records import Context, ListQuery
from runtime.services import Tessera
from tests.support.databases import fresh_database, require_backend
from tests.support.server import live_server

BLUEPRINTS = Path(__file__).parent.parent / "blueprints"
SHIPPED = ("referral_network", "patient_crm")
ADMIN = Context(channel="system", lang="en", is_admin=True)
API = "/api/v1/records"


@dataclass
class Demo:
    """The shipped packs with demo data behind a live server; clients signed in as demo users."""

    app: Tessera
    url: str
    password: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, username: str) -> httpx.Client:
        if username not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
            r = client.post("/api/v1/auth/login", json={"username": username, "password": self.password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[username] = client
        return self.clients[username]

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def ctx(self, username: str) -> Context:
        """The records context the API builds for this user (for rights no endpoint exercises yet)."""
        user = self.app.users.by_username(username)
        assert user is not None
        return Context(user_id=user.id, channel="api", lang="en", department_id=user.department_id)

    def every(self, entity: str) -> list[dict[str, Any]]:
        """All records of an entity as the platform sees them (the expected answers)."""
        items: list[dict[str, Any]] = []
        query = ListQuery(limit=200, count="none")
        while True:
            page = self.app.records.list(entity, query, ADMIN)
            items += page.items
            if not page.next_cursor:
                return items
            query = ListQuery(limit=200, count="none", cursor=page.next_cursor)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_backend(request.param)
    tmp = tmp_path_factory.mktemp(f"shipped-roles-{request.param}")
    with fresh_database(request.param, tmp) as url:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="test-secret-key-" + "x" * 32)
        app = Tessera(settings, clock=FixedClock(datetime(2026, 11, 23, 9, 30, 0)))
        for pack_id in SHIPPED:  # as `tessera serve --demo` does: each pack deployed, then its demo data
            app.deploy(app.load_pack(BLUEPRINTS / pack_id))
            load_demo(app, app.registry.packs[pack_id])
        password, _ = demo_logins(app)
        assert password
        with live_server(create_app(app, extensions=[])) as server:
            found = Demo(app, server, password)
            yield found
            for client in found.clients.values():
                client.close()
        app.close()


def listed(client: httpx.Client, entity: str, **params: Any) -> list[dict[str, Any]]:
    """Every record the signed-in user gets from the list API, page by page."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 200, **params}
    while True:
        r = client.get(f"{API}/{entity}", params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if not body.get("next_cursor"):
            return items
        query = {**query, "cursor": body["next_cursor"]}


def ids(items: list[dict[str, Any]]) -> set[int]:
    return {item["id"] for item in items}


def owned_by(demo: Demo, entity: str, owner: str, *usernames: str) -> set[int]:
    wanted = {demo.uid(u) for u in usernames}
    return {r["id"] for r in demo.every(entity) if r[owner] in wanted}


def pooled(demo: Demo, entity: str) -> set[int]:
    """The records of an entity waiting in one of its pools (readable by those who may claim them)."""
    pools = demo.app.pools.of_entity(entity)
    return {r["id"] for r in demo.every(entity) if any(demo.app.pools.in_pool(p, r) for p in pools)}


TEAM1 = tuple(f"rn.liaison{i}" for i in range(1, 6))
TEAM2 = tuple(f"rn.liaison{i}" for i in range(6, 11))


def rights(demo: Demo, username: str, entity: str) -> set[str]:
    return {a for a in ACTIONS if demo.app.permissions.can(demo.ctx(username), entity, a)}


# the demo organisation ---------------------------------------------------------------------------------
def test_rn17_pc16_every_shipped_role_has_a_demo_user_who_can_sign_in(demo: Demo) -> None:
    _, logins = demo_logins(demo.app)
    roles = set(demo.app.registry.roles)
    assert roles == {
        "liaison",
        "outreach_manager",
        "network_leader",
        "administrator",
        "manager",
        "legal",
        "development_officer",
        "development_supervisor",
        "development_manager",
        "development_director",
        "president",
        "data_analyst",
        "doctor",
        "nurse",
        "mdt_coordinator",
        "department_head",
    }
    labels = {demo.app.registry.roles[r].label_in("zh") for r in roles}
    assert labels <= {label for x in logins for label in x.roles.split("、")}, "one demo user per role at least"
    for login in logins:
        me = demo.client(login.username).get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["display_name"] == login.display_name
    assert demo.password not in "".join(p.read_text("utf-8") for p in BLUEPRINTS.rglob("*.json"))


# referral network (RN-17) -----------------------------------------------------------------------------
def test_rn17_liaison_lists_only_the_hospitals_leads_and_follow_ups_in_their_charge(demo: Demo) -> None:
    client = demo.client("rn.liaison1")
    for entity, owner in (("partner_hospital", "liaison"), ("coop_lead", "owner"), ("follow_up", "follower")):
        mine = owned_by(demo, entity, owner, "rn.liaison1")
        assert mine, f"the demo gives liaison 1 some {entity} records"
        assert ids(listed(client, entity)) == mine | pooled(demo, entity), entity
    total = client.get(f"{API}/partner_hospital", params={"count": "exact"}).json()["total"]
    visible = owned_by(demo, "partner_hospital", "liaison", "rn.liaison1") | pooled(demo, "partner_hospital")
    assert total == len(visible) < len(demo.every("partner_hospital"))
    # tender intelligence is shared with every liaison
    assert len(listed(client, "bidding_record")) == len(demo.every("bidding_record"))


def test_rn17_liaison_cannot_reach_another_liaisons_hospital_or_lead_by_id_or_filter(demo: Demo) -> None:
    client = demo.client("rn.liaison1")
    other = demo.uid("rn.liaison3")
    for entity, owner in (("partner_hospital", "liaison"), ("coop_lead", "owner")):
        theirs = sorted(owned_by(demo, entity, owner, "rn.liaison3"))[0]
        for response in (
            client.get(f"{API}/{entity}/{theirs}"),
            client.patch(f"{API}/{entity}/{theirs}", json={"version": 1, "notes": "taken"}),
            client.delete(f"{API}/{entity}/{theirs}"),
        ):
            assert response.status_code == 404, response.text
        assert listed(client, entity, id=theirs) == []
        assert listed(client, entity, **{owner: other}) == []
        assert listed(client, entity, **{f"{owner}__in": f"{other},{demo.uid('rn.liaison2')}"}) == []


def test_rn17_manager_sees_the_teams_records_and_not_another_teams(demo: Demo) -> None:
    team1 = demo.client("rn.manager1")
    team2 = demo.client("rn.manager2")
    for entity, owner in (("partner_hospital", "liaison"), ("coop_lead", "owner"), ("follow_up", "follower")):
        assert ids(listed(team1, entity)) == owned_by(demo, entity, owner, *TEAM1) | pooled(demo, entity), entity
        assert ids(listed(team2, entity)) == owned_by(demo, entity, owner, *TEAM2) | pooled(demo, entity), entity
    other = sorted(owned_by(demo, "partner_hospital", "liaison", "rn.liaison6"))[0]
    assert team1.get(f"{API}/partner_hospital/{other}").status_code == 404
    assert team2.get(f"{API}/partner_hospital/{other}").status_code == 200


def test_rn17_leader_sees_every_record_and_changes_none(demo: Demo) -> None:
    leader = demo.client("rn.leader")
    for entity in ("partner_hospital", "coop_lead", "follow_up", "bidding_record"):
        assert ids(listed(leader, entity)) == ids(demo.every(entity)), entity
    hospital = demo.every("partner_hospital")[0]
    r = leader.patch(f"{API}/partner_hospital/{hospital['id']}", json={"version": hospital["version"], "remarks": "x"})
    assert r.status_code == 403, r.text
    assert leader.post(f"{API}/coop_lead", json={"hospital_name": "某县医院", "source": "visit"}).status_code == 403
    assert rights(demo, "rn.leader", "partner_hospital") == {"read", "export", "print", "analyse"}


def test_rn17_manager_appoints_a_liaison_and_the_hospital_moves_with_the_appointment(demo: Demo) -> None:
    manager = demo.client("rn.manager1")
    r = manager.post(f"{API}/partner_hospital", json={"name": "澜州市第三医院", "liaison": demo.uid("rn.liaison1")})
    assert r.status_code == 201, r.text
    hospital = r.json()
    path = f"{API}/partner_hospital/{hospital['id']}"
    assert demo.client("rn.liaison1").get(path).status_code == 200
    assert demo.client("rn.liaison2").get(path).status_code == 404
    # reassigned within the team: the new liaison sees it, the previous one no longer does
    r = manager.patch(path, json={"version": hospital["version"], "liaison": demo.uid("rn.liaison2")})
    assert r.status_code == 200, r.text
    assert demo.client("rn.liaison1").get(path).status_code == 404
    assert demo.client("rn.liaison2").get(path).status_code == 200
    # a manager cannot hand a hospital to another team (the change would take it out of their own scope):
    # it is refused and nothing changes; an administrator makes that move, and the other team takes over
    version = r.json()["version"]
    r = manager.patch(path, json={"version": version, "liaison": demo.uid("rn.liaison6")})
    assert r.status_code == 403 and "outside the records you may see" in r.json()["error"]["message"], r.text
    assert demo.app.records.get("partner_hospital", hospital["id"], ADMIN)["liaison"] == demo.uid("rn.liaison2")
    r = demo.client("it.admin").patch(path, json={"version": version, "liaison": demo.uid("rn.liaison6")})
    assert r.status_code == 200, r.text
    assert manager.get(path).status_code == 404
    assert demo.client("rn.manager2").get(path).status_code == 200
    assert demo.client("rn.liaison6").get(path).status_code == 200


def test_rn17_liaison_keeps_what_they_enter_but_cannot_reassign_delete_or_export(demo: Demo) -> None:
    liaison = demo.client("rn.liaison2")
    r = liaison.post(f"{API}/partner_hospital", json={"name": "青石镇卫生院", "beds": 60})
    assert r.status_code == 201, r.text
    hospital = r.json()
    path = f"{API}/partner_hospital/{hospital['id']}"
    assert hospital["liaison"] is None and liaison.get(path).status_code == 200, "no liaison yet: the author's"
    assert demo.client("rn.manager1").get(path).status_code == 200, "entered in team 1"
    # without a liaison it waits in the hospital pool: the other team sees it (to claim it), cannot edit it
    assert demo.client("rn.manager2").get(path).status_code == 200
    r = demo.client("rn.manager2").patch(path, json={"version": hospital["version"], "remarks": "x"})
    assert r.status_code == 403, r.text
    r = liaison.patch(path, json={"version": hospital["version"], "liaison": demo.uid("rn.liaison2")})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "liaison", r.text
    r = liaison.patch(path, json={"version": hospital["version"], "beds": 80, "remarks": "新建乡镇卫生院"})
    assert r.status_code == 200 and r.json()["beds"] == 80, r.text
    assert liaison.delete(path).status_code == 403
    assert rights(demo, "rn.liaison2", "partner_hospital") == {"create", "read", "update", "print", "analyse"}
    manager_rights = rights(demo, "rn.manager1", "partner_hospital")
    assert manager_rights == set(ACTIONS)
    assert demo.client("rn.manager1").delete(path).status_code == 204


# patient CRM (PC-16) ----------------------------------------------------------------------------------
PRIVATE = ("phone", "id_number")


def masked(record: dict[str, Any], name: str) -> bool:
    return record[name] is not None and "*" in record[name]


def test_pc16_officer_sees_only_their_patients_with_phone_and_id_masked(demo: Demo) -> None:
    officer = demo.client("pc.officer1")
    mine = owned_by(demo, "patient", "responsible_staff", "pc.officer1")
    patients = listed(officer, "patient")
    assert ids(patients) == mine and mine
    assert all(masked(p, name) for p in patients for name in PRIVATE)
    full = {p["id"]: p for p in demo.every("patient")}
    one = patients[0]
    assert one["phone"] == full[one["id"]]["phone"][:3] + "****" + full[one["id"]]["phone"][-4:]
    # another group's patient: not there by id, by filter or through a masked field
    theirs = sorted(owned_by(demo, "patient", "responsible_staff", "pc.officer3"))[0]
    assert officer.get(f"{API}/patient/{theirs}").status_code == 404
    assert listed(officer, "patient", responsible_staff=demo.uid("pc.officer3")) == []
    assert officer.get(f"{API}/patient", params={"phone": full[theirs]["phone"]}).status_code == 403
    # their calls only
    assert ids(listed(officer, "followup_call")) == owned_by(demo, "followup_call", "staff", "pc.officer1")
    assert ids(listed(officer, "referrer")) == owned_by(demo, "referrer", "officer", "pc.officer1")


def test_pc16_supervisor_sees_the_team_with_phones_but_not_id_numbers(demo: Demo) -> None:
    supervisor = demo.client("pc.supervisor1")
    team = demo.app.users.by_username("pc.supervisor1").department_id  # type: ignore[union-attr]
    expected = {p["id"] for p in demo.every("patient") if p["department"] == team}
    assert expected > owned_by(demo, "patient", "responsible_staff", "pc.officer1", "pc.officer2"), (
        "the team's patients include some without an officer yet"
    )
    patients = listed(supervisor, "patient")
    assert ids(patients) == expected
    assert not any(masked(p, "phone") for p in patients) and all(masked(p, "id_number") for p in patients)
    theirs = sorted(owned_by(demo, "patient", "responsible_staff", "pc.officer3"))[0]
    assert supervisor.get(f"{API}/patient/{theirs}").status_code == 404
    # the supervisor appoints an officer of the team; the officer then sees the patient
    unassigned = next(p for p in patients if p["responsible_staff"] is None)
    path = f"{API}/patient/{unassigned['id']}"
    assert demo.client("pc.officer2").get(path).status_code == 404
    r = supervisor.patch(path, json={"version": unassigned["version"], "responsible_staff": demo.uid("pc.officer2")})
    assert r.status_code == 200, r.text
    assert demo.client("pc.officer2").get(path).status_code == 200


def test_pc16_manager_director_and_president_see_all_patients_in_full(demo: Demo) -> None:
    everyone = ids(demo.every("patient"))
    for username in ("pc.manager", "pc.director", "pc.president"):
        patients = listed(demo.client(username), "patient")
        assert ids(patients) == everyone, username
        assert not any(masked(p, name) for p in patients for name in PRIVATE), username
    patient = demo.every("patient")[0]
    r = demo.client("pc.president").patch(f"{API}/patient/{patient['id']}", json={"version": 1, "remarks": "x"})
    assert r.status_code == 403, r.text


def test_pc16_analyst_reads_masked_data_analyses_and_exports_but_cannot_change_it(demo: Demo) -> None:
    analyst = demo.client("pc.analyst")
    patients = listed(analyst, "patient")
    assert ids(patients) == ids(demo.every("patient"))
    assert all(masked(p, name) for p in patients for name in ("name", *PRIVATE))
    assert len(listed(analyst, "followup_call")) == len(demo.every("followup_call"))
    patient = patients[0]
    path = f"{API}/patient/{patient['id']}"
    assert analyst.patch(path, json={"version": patient["version"], "remarks": "x"}).status_code == 403
    assert analyst.delete(path).status_code == 403
    assert analyst.post(f"{API}/patient", json={"name": "测试", "gender": "male"}).status_code == 403
    assert rights(demo, "pc.analyst", "patient") == {"read", "analyse", "export", "print"}


DECLARED = {
    "pc.officer1": {"create", "read", "update", "print", "analyse"},
    "pc.supervisor1": {"create", "read", "update", "print", "analyse"},
    "pc.manager": set(ACTIONS),
    "pc.director": set(ACTIONS),
    "pc.president": {"read", "export", "print", "analyse"},
    "pc.analyst": {"read", "export", "print", "analyse"},
    "it.admin": set(ACTIONS),
}


def test_pc16_each_roles_rights_behave_as_declared(demo: Demo) -> None:
    for username, declared in DECLARED.items():
        for entity in ("patient", "referrer", "followup_call", "satisfaction_survey"):
            assert rights(demo, username, entity) == declared, (username, entity)
    # over HTTP: whoever may create enters a patient; only managers and above may delete one
    for username, declared in DECLARED.items():
        client = demo.client(username)
        r = client.post(f"{API}/patient", json={"name": f"演示{username[3:]}", "gender": "female"})
        assert r.status_code == (201 if "create" in declared else 403), (username, r.text)
        if r.status_code != 201:
            continue
        created = r.json()
        assert client.get(f"{API}/patient/{created['id']}").status_code == 200, "the author sees what they entered"
        assert client.delete(f"{API}/patient/{created['id']}").status_code == (204 if "delete" in declared else 403), (
            username
        )


def test_pc16_officer_enters_a_patient_whose_private_details_they_then_see_masked(demo: Demo) -> None:
    officer = demo.client("pc.officer3")
    data = {"name": "韩梅", "gender": "female", "phone": "13912345678", "id_number": "11010519491231002X"}
    r = officer.post(f"{API}/patient", json=data)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["phone"] == "139****5678" and created["id_number"].endswith("002X") and "*" in created["id_number"]
    stored = demo.app.records.get("patient", created["id"], ADMIN)
    assert stored["phone"] == "13912345678" and stored["id_number"] == "11010519491231002X"
    # sending the masked value back keeps the stored one; writing the team field is not the officer's to do
    r = officer.patch(f"{API}/patient/{created['id']}", json={"version": 1, "phone": created["phone"], "bed": "12"})
    assert r.status_code == 200, r.text
    assert demo.app.records.get("patient", created["id"], ADMIN)["phone"] == "13912345678"
    r = officer.patch(f"{API}/patient/{created['id']}", json={"version": 2, "department": 1})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "department", r.text
