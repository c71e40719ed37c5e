"""PL-21: the audit trail of record changes — written in the write transaction for every channel,
read back as a record's timeline and through the administrator's audit viewer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa

from runtime.audit import AuditFilter, compute_changes, search, timeline
from runtime.clock import FixedClock
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage.platform_tables import audit
from tests.conftest import ADMIN_PASSWORD

NURSE_PASSWORD = "Nurse-pass-for-tests-1"


@contextmanager
def sign_in(server: str, username: str, password: str) -> Iterator[httpx.Client]:
    """A signed-in client that sends the session's CSRF token on writes (when the server issues one)."""
    with httpx.Client(base_url=server, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        token = r.json().get("csrf_token")
        if token:
            client.headers["X-CSRF-Token"] = token
        yield client


@pytest.fixture
def admin(server: str) -> Iterator[httpx.Client]:
    with sign_in(server, "admin", ADMIN_PASSWORD) as client:
        yield client


def audit_rows(tessera: Tessera, record_id: int, entity: str = "specimen") -> list[dict]:
    with tessera.db.read() as conn:
        q = sa.select(audit).where(audit.c.entity == entity, audit.c.record_id == record_id).order_by(audit.c.id)
        return [dict(r) for r in conn.execute(q).mappings()]


def admin_id(tessera: Tessera) -> int:
    user = tessera.users.by_username("admin")
    assert user is not None
    return user.id


def test_pl21_update_leaves_audit_entry_with_exact_before_and_after(admin: httpx.Client, tessera: Tessera) -> None:
    created = admin.post("/api/v1/records/specimen", json={"title": "协和医院", "beds": 100})
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    url = f"/api/v1/records/specimen/{rid}"

    patched = admin.patch(url, json={"beds": 150, "version": 1})
    assert patched.status_code == 200, patched.text

    rows = audit_rows(tessera, rid)
    assert [r["action"] for r in rows] == ["create", "update"]
    create, update = rows
    assert update["changes"] == {"beds": [100, 150]}, "only the changed field, with its exact old and new value"
    assert update["actor_id"] == admin_id(tessera)
    assert update["channel"] == "api"
    assert update["request_id"] == patched.headers["x-request-id"]
    assert update["at"] == tessera.clock.now()
    assert create["request_id"] == created.headers["x-request-id"] and create["channel"] == "api"
    assert create["changes"]["title"] == [None, "协和医院"] and create["changes"]["beds"] == [None, 100]
    assert "notes" not in create["changes"], "a create snapshot holds the values that were set"

    # a write that fails validation leaves no audit row: the hook runs in the same transaction
    bad = admin.patch(url, json={"beds": "many", "version": 2})
    assert bad.status_code == 422
    stale = admin.patch(url, json={"beds": 1, "version": 1})
    assert stale.status_code == 409
    assert len(audit_rows(tessera, rid)) == 2

    # a save that changes nothing is not a change
    assert admin.patch(url, json={"beds": 150, "version": 2}).status_code == 200
    assert len(audit_rows(tessera, rid)) == 2

    # the other channels: a workflow writing through the records service is recorded as such
    workflow = Context(channel="workflow", request_id="wf0001", lang="en", is_admin=True)
    tessera.records.update("specimen", rid, {"notes": "auto"}, workflow, expected_version=None)
    last = audit_rows(tessera, rid)[-1]
    assert (last["channel"], last["actor_id"], last["request_id"]) == ("workflow", None, "wf0001")
    assert last["changes"] == {"notes": [None, "auto"]}

    version = admin.get(url).json()["version"]
    deleted = admin.delete(url, params={"version": version})
    assert deleted.status_code == 204
    gone = audit_rows(tessera, rid)[-1]
    assert gone["action"] == "delete" and gone["request_id"] == deleted.headers["x-request-id"]
    assert gone["changes"]["beds"] == [150, None] and gone["changes"]["title"] == ["协和医院", None]
    assert gone["changes"]["notes"] == ["auto", None]


def test_pl21_sensitive_values_never_reach_the_audit_table_in_plain_text(tessera: Tessera) -> None:
    ctx = Context(channel="ui", user_id=None, lang="en", is_admin=True)
    rec = tessera.records.create("specimen", {"title": "A", "phone": "13800138000"}, ctx)
    tessera.records.update("specimen", rec["id"], {"phone": "13900139000"}, ctx, expected_version=None)
    create, update = audit_rows(tessera, rec["id"])
    assert create["changes"]["phone"]["changed"] is True and update["changes"]["phone"]["changed"] is True
    text = json.dumps([create["changes"], update["changes"]])
    assert "13800138000" not in text and "13900139000" not in text
    cipher = getattr(tessera, "cipher", None)
    if cipher is not None:  # field encryption is installed: the audit keeps the values, encrypted
        assert create["changes"]["phone"]["before"] is None
        assert json.loads(cipher.decrypt(update["changes"]["phone"]["before"])) == "13800138000"
        assert json.loads(cipher.decrypt(update["changes"]["phone"]["after"])) == "13900139000"
    else:
        assert update["changes"]["phone"] == {"changed": True}


def test_pl21_child_tables_are_diffed_as_lists_without_row_ids(tessera: Tessera) -> None:
    ctx = Context(channel="import", lang="en", is_admin=True)
    rows = [{"name": "王医生", "mobile": "13800138000"}]
    rec = tessera.records.create("specimen", {"title": "A", "contacts": rows}, ctx)
    tessera.records.update("specimen", rec["id"], {"contacts": rows}, ctx, expected_version=None)
    more = [*rows, {"name": "李护士"}]
    tessera.records.update("specimen", rec["id"], {"contacts": more}, ctx, expected_version=None)
    trail = audit_rows(tessera, rec["id"])
    assert [r["action"] for r in trail] == ["create", "update"], "re-sending the same rows changes nothing"
    before, after = trail[1]["changes"]["contacts"]
    assert before == [{"name": "王医生", "mobile": "13800138000", "is_primary": None}]
    assert after == [before[0], {"name": "李护士", "mobile": None, "is_primary": None}]
    assert trail[1]["channel"] == "import"


def test_pl21_sensitive_child_columns_and_cipher_are_used_when_available(tessera: Tessera) -> None:
    """compute_changes on its own: redacts sensitive child cells and stores ciphertext when a cipher exists."""
    import copy

    from runtime.blueprints.model import Field

    entity = copy.deepcopy(tessera.registry.entity("specimen"))
    contacts = entity.field("contacts")
    assert contacts is not None
    contacts.children = [
        Field(c.name, c.type, c.label, {**c.raw, "sensitive": c.name == "mobile"}) for c in contacts.children
    ]

    class Rot13:
        def encrypt(self, plaintext: str) -> str:
            import codecs

            return "enc:" + codecs.encode(plaintext, "rot13")

    before = {"title": "A", "phone": "13800138000", "contacts": [{"id": 7, "name": "王", "mobile": "139"}]}
    after = {"title": "A", "phone": "13900139000", "contacts": [{"id": 9, "name": "王", "mobile": "137"}]}
    changes = compute_changes(entity, "update", before, after, Rot13())
    assert changes["phone"] == {"changed": True, "before": 'enc:"13800138000"', "after": 'enc:"13900139000"'}
    assert changes["contacts"] == [[{"name": "王", "mobile": {"redacted": True}}]] * 2
    assert compute_changes(entity, "update", before, before) == {}


def test_pl21_record_history_is_a_timeline_newest_first(admin: httpx.Client, tessera: Tessera) -> None:
    rid = admin.post("/api/v1/records/specimen", json={"title": "T", "beds": 1}).json()["id"]
    url = f"/api/v1/records/specimen/{rid}"
    for version, beds in ((1, 2), (2, 3)):
        assert admin.patch(url, json={"beds": beds, "version": version}).status_code == 200

    r = admin.get(f"{url}/history")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["action"] for i in items] == ["update", "update", "create"]
    assert [i["changes"].get("beds") for i in items] == [[2, 3], [1, 2], [None, 1]]
    assert items[0]["actor"] == {"id": admin_id(tessera), "username": "admin", "display_name": "Admin"}
    assert items[0]["channel"] == "api" and items[0]["at"] == "2026-11-23T09:30:00"
    assert r.json()["next_before_id"] is None

    first = admin.get(f"{url}/history", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_before_id"] == first["items"][-1]["id"]
    rest = admin.get(f"{url}/history", params={"limit": 2, "before_id": first["next_before_id"]}).json()
    assert [i["action"] for i in rest["items"]] == ["create"] and rest["next_before_id"] is None

    # what the reader may see of the record is what they see of its history (masking, hidden fields)
    def transform(entity: object, ctx: object, record: dict) -> dict:
        out = {k: v for k, v in record.items() if k != "notes"}
        if out.get("beds") is not None:
            out["beds"] = -1
        return out

    admin.patch(url, json={"notes": "secret", "phone": "13800138000", "version": 3})
    tessera.hooks.read_transform.append(transform)
    try:
        masked = admin.get(f"{url}/history").json()["items"]
    finally:
        tessera.hooks.read_transform.remove(transform)
    assert masked[0]["changes"] == {"phone": {"changed": True}}, "hidden field left out, no ciphertext shown"
    assert masked[1]["changes"] == {"beds": [-1, -1]}
    audit_view = admin.get("/api/v1/admin/audit", params={"entity": "specimen", "record_id": rid}).json()
    assert audit_view["items"][0]["changes"]["phone"] == {"changed": True}

    assert admin.get("/api/v1/records/specimen/999999/history").status_code == 404
    assert admin.get("/api/v1/records/ghost/1/history").status_code == 404
    assert admin.get(f"{url}/history", params={"limit": "lots"}).status_code == 400
    version = admin.get(url).json()["version"]
    assert admin.delete(url, params={"version": version}).status_code == 204
    assert admin.get(f"{url}/history").status_code == 404, "a deleted record's trail is for the admin viewer"
    viewer = admin.get("/api/v1/admin/audit", params={"entity": "specimen", "record_id": rid}).json()
    assert [i["action"] for i in viewer["items"]] == ["delete", "update", "update", "update", "create"]


def test_pl21_admin_audit_viewer_filters(admin: httpx.Client, tessera: Tessera, clock: FixedClock) -> None:
    nurse = tessera.users.create("nurse", "Nurse", NURSE_PASSWORD)
    system = Context(channel="system", lang="en", is_admin=True)
    as_nurse = Context(channel="ui", user_id=nurse.id, lang="en", is_admin=True)
    clock.set(datetime(2026, 11, 1, 8, 0))
    office = tessera.records.create("region_office", {"name": "华东"}, system)
    a = tessera.records.create("specimen", {"title": "A"}, as_nurse)
    clock.set(datetime(2026, 11, 2, 8, 0))
    tessera.records.update("specimen", a["id"], {"beds": 5}, as_nurse, expected_version=None)
    clock.set(datetime(2026, 11, 3, 8, 0))
    tessera.records.update("region_office", office["id"], {"name": "华南"}, system, expected_version=None)

    def ids(**params: object) -> list[tuple[str, str]]:
        r = admin.get("/api/v1/admin/audit", params=params)
        assert r.status_code == 200, r.text
        return [(i["entity"], i["action"]) for i in r.json()["items"]]

    assert ids() == [
        ("region_office", "update"),
        ("specimen", "update"),
        ("specimen", "create"),
        ("region_office", "create"),
    ]
    assert ids(entity="specimen") == [("specimen", "update"), ("specimen", "create")]
    assert ids(actor_id=nurse.id) == [("specimen", "update"), ("specimen", "create")]
    assert ids(action="update") == [("region_office", "update"), ("specimen", "update")]
    assert ids(channel="system") == [("region_office", "update"), ("region_office", "create")]
    assert ids(since="2026-11-02", until="2026-11-02") == [("specimen", "update")], "until is the end of that day"
    assert ids(since="2026-11-02T00:00:00", until="2026-11-03T08:00:00") == [("specimen", "update")]
    assert ids(entity="specimen", action="create", actor_id=nurse.id) == [("specimen", "create")]
    assert admin.get("/api/v1/admin/audit", params={"action": "explode"}).status_code == 400
    assert admin.get("/api/v1/admin/audit", params={"since": "yesterday"}).status_code == 400
    page = admin.get("/api/v1/admin/audit", params={"limit": 3}).json()
    assert len(page["items"]) == 3 and page["next_before_id"] is not None
    tail = admin.get("/api/v1/admin/audit", params={"limit": 3, "before_id": page["next_before_id"]}).json()
    assert [(i["entity"], i["action"]) for i in tail["items"]] == [("region_office", "create")]
    assert page["items"][1]["actor"]["username"] == "nurse"

    # the same through the Python API
    assert [r["action"] for r in timeline(tessera.db, "specimen", a["id"]).items] == ["update", "create"]
    found = search(tessera.db, AuditFilter(since=datetime(2026, 11, 3), channel="system"))
    assert [(r["entity"], r["action"]) for r in found.items] == [("region_office", "update")]


def test_pl21_admin_endpoints_refuse_non_admins(server: str, tessera: Tessera) -> None:
    tessera.users.create("nurse", "Nurse", NURSE_PASSWORD)
    paths = [
        "/api/v1/admin/audit",
        "/api/v1/admin/oplog",
        "/api/v1/admin/errors",
        "/api/v1/admin/errors/1",
        "/api/v1/admin/params",
        "/api/v1/admin/params/site.name",
        "/api/v1/admin/modules",
        "/api/v1/admin/modules/all_fields",
    ]
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        for path in paths:
            assert anonymous.get(path).status_code == 401, path
    with sign_in(server, "nurse", NURSE_PASSWORD) as nurse:
        for path in paths:
            r = nurse.get(path)
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", path
        assert nurse.put("/api/v1/admin/params", json={"site.name": "x"}).status_code == 403
        assert nurse.put("/api/v1/admin/modules/all_fields", json={"enabled": False}).status_code == 403
    assert tessera.params.get("site.name") == "Tessera" and tessera.params.module_enabled("all_fields")
