"""PL-21/PL-22: operation log, error log, system parameters, module switches, /healthz and /metrics."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime

import httpx
import pytest
import sqlalchemy as sa

from runtime import oplog
from runtime.api import create_app
from runtime.errorlog import get_error, query_errors, record_error
from runtime.errors import NotFound, RecordInvalid
from runtime.params import Params
from runtime.services import Tessera
from runtime.storage.platform_tables import errors as errors_table
from tests.conftest import ADMIN_PASSWORD, PACKS
from tests.support.server import live_server
from tests.test_audit import sign_in


@pytest.fixture
def admin(server: str) -> Iterator[httpx.Client]:
    with sign_in(server, "admin", ADMIN_PASSWORD) as client:
        yield client


# operation log ------------------------------------------------------------------------------------
def test_pl21_pack_deploys_are_in_the_operation_log(make_tessera: Callable[..., Tessera]) -> None:
    t = make_tessera("all_fields")
    first = oplog.query_operations(t.db, oplog.OpFilter(kind="pack_deploy"))
    assert len(first) == 1
    entry = first[0]
    assert entry["username"] == "cli" and entry["at"] == t.clock.now()
    detail = entry["detail"]
    assert detail["ok"] is True and detail["pack_id"] == "all_fields"
    assert detail["from_version"] is None and detail["to_version"] == "1.0.0" and detail["steps"] > 0
    assert detail["summary"][0] == "Pack all_fields: first install of 1.0.0"

    t.deploy(t.load_pack(PACKS / "all_fields"), actor="admin", actor_id=7, request_id="abc123")
    again = oplog.query_operations(t.db, oplog.OpFilter(kind="pack_deploy"))[0]
    assert (again["username"], again["actor_id"], again["request_id"]) == ("admin", 7, "abc123")
    assert again["detail"]["from_version"] == "1.0.0" and again["detail"]["steps"] == 0
    assert again["detail"]["summary"] == ["Pack all_fields: upgrade 1.0.0 -> 1.0.0", "  no changes"]

    pack = t.load_pack(PACKS / "all_fields")
    pack.manifest["platform"] = ">=99"
    with pytest.raises(Exception):  # noqa: B017 - whatever the deploy raises, the attempt is logged
        t.deploy(pack)
    failed = oplog.query_operations(t.db, oplog.OpFilter(kind="pack_deploy"))[0]
    assert failed["detail"]["ok"] is False and "platform" in failed["detail"]["error"]


def test_pl21_operation_log_records_and_filters(tessera: Tessera) -> None:
    at = datetime(2026, 11, 20, 8, 0)
    oplog.record_operation(tessera.db, "login", actor_id=1, username="admin", ip="10.0.0.1", at=at)
    oplog.record_operation(
        tessera.db, "login_failed", username="mallory", ip="10.0.0.9", detail={"reason": "password"}, at=at
    )
    with tessera.db.write() as conn:
        oplog.record_operation(conn, "export", actor_id=1, detail={"entity": "specimen", "when": at}, at=at)
    try:
        with tessera.db.write() as conn:
            oplog.record_operation(conn, "import", actor_id=1, at=at)
            raise RuntimeError("the import failed")
    except RuntimeError:
        pass
    with pytest.raises(ValueError, match="unknown operation kind"):
        oplog.record_operation(tessera.db, "dance")

    ops = oplog.query_operations(tessera.db, oplog.OpFilter(kind=("login", "login_failed", "export", "import")))
    assert [o["kind"] for o in ops] == ["export", "login_failed", "login"], "the import rolled back with its work"
    assert ops[0]["detail"] == {"entity": "specimen", "when": "2026-11-20T08:00:00"}
    assert [o["kind"] for o in oplog.query_operations(tessera.db, oplog.OpFilter(actor_id=1))] == ["export", "login"]
    assert [o["username"] for o in oplog.query_operations(tessera.db, oplog.OpFilter(ip="10.0.0.9"))] == ["mallory"]
    assert oplog.query_operations(tessera.db, oplog.OpFilter(username="mallory"))[0]["detail"] == {"reason": "password"}
    assert oplog.query_operations(tessera.db, oplog.OpFilter(until=at)) == []
    mine = oplog.OpFilter(since=at, kind=("login", "login_failed", "export"))
    page = oplog.query_operations(tessera.db, mine, limit=2)
    older = oplog.query_operations(tessera.db, mine, limit=2, before_id=page[-1]["id"])
    assert [o["kind"] for o in page + older] == ["export", "login_failed", "login"]

    # typed-in names can hold anything; PostgreSQL text cannot hold NUL
    oplog.record_operation(tessera.db, "login_failed", username="nul\x00name", detail={"k\x00": "v\x00"}, at=at)
    nul = oplog.query_operations(tessera.db, oplog.OpFilter(kind="login_failed"), limit=1)[0]
    assert nul["username"] == "nul\\0name" and nul["detail"] == {"k\\0": "v\\0"}


def test_pl21_operation_log_viewer(admin: httpx.Client, tessera: Tessera) -> None:
    oplog.record_operation(tessera.db, "permission_change", actor_id=1, username="admin", detail={"role": "x"})
    r = admin.get("/api/v1/admin/oplog", params={"kind": "pack_deploy"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(i["kind"] == "pack_deploy" for i in items)
    assert items[0]["detail"]["pack_id"] == "all_fields" and isinstance(items[0]["at"], str)
    changes = admin.get("/api/v1/admin/oplog", params={"kind": "permission_change"}).json()["items"]
    assert [c["detail"] for c in changes] == [{"role": "x"}]
    assert admin.get("/api/v1/admin/oplog", params={"kind": "dance"}).status_code == 400
    one = admin.get("/api/v1/admin/oplog", params={"limit": 1}).json()
    assert len(one["items"]) == 1 and one["next_before_id"] == one["items"][0]["id"]


# error log ----------------------------------------------------------------------------------------
def test_pl21_unhandled_exception_is_logged_with_its_request_id(tessera: Tessera) -> None:
    app = create_app(tessera, extensions=[])

    @app.get("/api/v1/test-only/explode")
    def explode() -> dict:  # a route of this test only, never of the product
        raise ZeroDivisionError("the test route divided by zero")

    with live_server(app) as url, sign_in(url, "admin", ADMIN_PASSWORD) as client:
        r = client.get("/api/v1/test-only/explode")
        assert r.status_code == 500
        body = r.json()["error"]
        assert body["code"] == "internal" and "Traceback" not in r.text and "divided" not in r.text
        rid = body["request_id"]
        assert rid in body["message"] and r.headers["x-request-id"] == rid

        with tessera.db.read() as conn:
            row = conn.execute(sa.select(errors_table).where(errors_table.c.request_id == rid)).mappings().one()
        assert row["error_type"] == "ZeroDivisionError" and row["message"] == "the test route divided by zero"
        assert row["method"] == "GET" and row["path"] == "/api/v1/test-only/explode"
        assert row["user_id"] == tessera.users.by_username("admin").id  # type: ignore[union-attr]
        assert "Traceback (most recent call last)" in row["traceback"] and "in explode" in row["traceback"]

        listed = client.get("/api/v1/admin/errors").json()["items"]
        assert [e["request_id"] for e in listed] == [rid] and "traceback" not in listed[0]
        assert client.get("/api/v1/admin/errors", params={"request_id": "nope"}).json()["items"] == []
        assert client.get("/api/v1/admin/errors", params={"error_type": "\x00"}).status_code == 400
        assert client.get("/api/v1/admin/errors", params={"path": "/api/v1/test-only"}).json()["items"]
        detail = client.get(f"/api/v1/admin/errors/{listed[0]['id']}")
        assert detail.status_code == 200 and detail.json()["traceback"] == row["traceback"]
        assert client.get("/api/v1/admin/errors/424242").status_code == 404


def test_pl21_error_log_never_raises(tessera: Tessera) -> None:
    try:
        raise ValueError("with a NUL \x00 inside")
    except ValueError as exc:
        error_id = record_error(tessera.db, exc, request_id="r1", method="POST", path="/x", user_id=None)
    assert error_id is not None
    stored = get_error(tessera.db, error_id)
    assert stored is not None and stored["message"] == "with a NUL \\0 inside"
    assert [e["id"] for e in query_errors(tessera.db)] == [error_id]
    broken = type(tessera.db)("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    assert record_error(broken, RuntimeError("x")) is None


# system parameters --------------------------------------------------------------------------------
def test_pl22_system_parameters_get_and_set_with_validation(admin: httpx.Client, tessera: Tessera) -> None:
    r = admin.get("/api/v1/admin/params")
    assert r.status_code == 200
    by_key = {p["key"]: p for p in r.json()["items"]}
    assert by_key["login.max_failures"]["value"] == 5 and by_key["login.max_failures"]["type"] == "integer"
    assert by_key["login.lockout_minutes"]["default"] == 15 and by_key["site.name"]["value"] == "Tessera"

    wrong_type = admin.put("/api/v1/admin/params/login.max_failures", json={"value": "ten"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["errors"][0]["code"] == "type"
    assert admin.put("/api/v1/admin/params/login.max_failures", json={"value": True}).status_code == 422
    assert admin.put("/api/v1/admin/params/login.max_failures", json={"value": 5.5}).status_code == 422
    too_small = admin.put("/api/v1/admin/params/login.max_failures", json={"value": 0})
    assert too_small.status_code == 422 and too_small.json()["error"]["errors"][0]["code"] == "minimum"
    assert admin.put("/api/v1/admin/params/no.such", json={"value": 1}).status_code == 404

    ok = admin.put("/api/v1/admin/params/login.max_failures", json={"value": 8})
    assert ok.status_code == 200 and ok.json()["value"] == 8 and ok.json()["updated_by"] is not None
    assert tessera.params.get("login.max_failures") == 8

    bulk_bad = admin.put("/api/v1/admin/params", json={"site.name": "协和医联体", "login.lockout_minutes": "x"})
    assert bulk_bad.status_code == 422
    assert [e["field"] for e in bulk_bad.json()["error"]["errors"]] == ["login.lockout_minutes"]
    assert tessera.params.get("site.name") == "Tessera", "nothing is stored when one value is wrong"
    bulk = admin.put("/api/v1/admin/params", json={"site.name": "协和医联体", "login.lockout_minutes": 30})
    assert bulk.status_code == 200
    assert tessera.params.get("site.name") == "协和医联体" and tessera.params.get("login.lockout_minutes") == 30

    logged = oplog.query_operations(tessera.db, oplog.OpFilter(kind="param_change"))
    assert [e["detail"]["params"] for e in logged] == [
        {"site.name": ["Tessera", "协和医联体"], "login.lockout_minutes": [15, 30]},
        {"login.max_failures": [5, 8]},
    ]


def test_pl22_parameters_are_cached_and_seen_by_other_workers(tessera: Tessera) -> None:
    other = Params(tessera.db, clock=tessera.clock, ttl=0)  # another worker process, re-reading every time
    slow = Params(tessera.db, clock=tessera.clock, ttl=3600)
    assert slow.get("login.max_failures") == 5
    tessera.params.set("login.max_failures", 3, actor_id=1)
    assert tessera.params.get("login.max_failures") == 3, "a change is visible at once in its own process"
    assert other.get("login.max_failures") == 3
    assert slow.get("login.max_failures") == 5, "cached until its ttl passes or it is invalidated"
    slow.invalidate()
    assert slow.get("login.max_failures") == 3
    tessera.params.reset("login.max_failures")
    assert tessera.params.get("login.max_failures") == 5
    with pytest.raises(RecordInvalid):
        tessera.params.set("login.lockout_minutes", 100000)
    with pytest.raises(NotFound):
        tessera.params.get("nothing.here")


# module switches ----------------------------------------------------------------------------------
def test_pl22_switched_off_module_disappears_from_the_api(admin: httpx.Client, tessera: Tessera) -> None:
    rid = admin.post("/api/v1/records/specimen", json={"title": "T"}).json()["id"]
    modules = admin.get("/api/v1/admin/modules").json()["items"]
    assert [(m["pack_id"], m["enabled"]) for m in modules] == [("all_fields", True)]
    assert "specimen" in modules[0]["entities"]
    assert tessera.params.enabled_menus(tessera.registry) == tessera.registry.menus()

    off = admin.put("/api/v1/admin/modules/all_fields", json={"enabled": False})
    assert off.status_code == 200 and off.json()["enabled"] is False
    for path in (
        "/api/v1/records/specimen",
        f"/api/v1/records/specimen/{rid}",
        f"/api/v1/records/specimen/{rid}/history",
    ):
        r = admin.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["request_id"] == r.headers["x-request-id"]
    assert admin.post("/api/v1/records/region_office", json={"name": "x"}).status_code == 404
    assert admin.get("/api/v1/entities/specimen").status_code == 404
    assert tessera.params.enabled_menus(tessera.registry) == []
    assert not tessera.params.module_enabled("all_fields")

    on = admin.put("/api/v1/admin/modules/all_fields", json={"enabled": True})
    assert on.status_code == 200 and on.json()["enabled"] is True
    assert admin.get("/api/v1/records/specimen").status_code == 200
    assert admin.get(f"/api/v1/records/specimen/{rid}").status_code == 200

    assert admin.put("/api/v1/admin/modules/all_fields", json={"enabled": "no"}).status_code == 422
    assert admin.put("/api/v1/admin/modules/ghost", json={"enabled": False}).status_code == 404
    switches = oplog.query_operations(tessera.db, oplog.OpFilter(kind="param_change"))
    assert [s["detail"] for s in switches] == [
        {"module": "all_fields", "enabled": [False, True]},
        {"module": "all_fields", "enabled": [True, False]},
    ]


# health and metrics -------------------------------------------------------------------------------
def test_pl22_healthz_answers_ok(server: str) -> None:
    r = httpx.get(f"{server}/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["database"] == "ok"


def test_pl22_metrics_in_prometheus_text_format(admin: httpx.Client) -> None:
    rid = admin.post("/api/v1/records/specimen", json={"title": "T"}).json()["id"]
    admin.get("/api/v1/records/specimen")
    admin.get(f"/api/v1/records/specimen/{rid}")
    admin.get("/api/v1/records/specimen/987654")
    admin.get("/no/such/page/12345")

    r = admin.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert "tessera_http_requests_total{" in text
    assert re.search(
        r'tessera_http_requests_total\{method="GET",route="/api/v1/records/\{entity\}",status="200"\} 1\.0', text
    )
    assert re.search(r'route="/api/v1/records/\{entity\}/\{rid\}",status="404"\} 1\.0', text)
    assert 'route="<unmatched>",status="404"' in text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert not [r for r in routes if re.search(r"/\d+(/|$)", r)], "raw ids never become labels"
    assert "987654" not in text and "/no/such" not in text
    assert "# TYPE tessera_http_request_duration_seconds histogram" in text
    lines = text.splitlines()
    buckets = [x for x in lines if x.startswith("tessera_http_request_duration_seconds_bucket{")]
    assert any('route="/api/v1/records/{entity}"' in x and 'le="+Inf"' in x and x.endswith(" 1.0") for x in buckets)
    assert any(x.startswith("tessera_http_request_duration_seconds_count{") for x in lines)
    assert re.search(r"tessera_db_pool_size\{dialect=\"(sqlite|postgresql)\"\} \d", text)
    assert "tessera_db_pool_checked_out{" in text
    assert "tessera_job_queue_depth 0.0" in text
    assert "process_resident_memory_bytes" in text and "tessera_info{" in text
