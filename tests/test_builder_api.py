"""PL-18/PL-19 over HTTP: the builder API under /api/v1/builder, for designers only, with errors that name the
file and JSON pointer, a zip export, an upgrade from an uploaded zip, and no server error under fuzzing.
Every test runs on SQLite and PostgreSQL against a real server."""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import builder.api
from runtime.api import create_app
from runtime.permissions.admin import PeopleAdmin
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD
from tests.support.packs import field_named, pack_variant
from tests.support.server import live_server

PACKS = Path(__file__).parent / "packs"
OFFICE = "entities/region_office.json"
SPECIMEN = "entities/specimen.json"
BASE = "/api/v1/builder/packs"
PASSWORD = "Designer-pass-42"


@dataclass
class Site:
    app: Tessera
    url: str

    @contextmanager
    def client(self, username: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            yield client


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    app = make_tessera("all_fields", "workflow_pack")
    app.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    people = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    people.create_role({"id": "form_designer", "label": {"zh": "设计员", "en": "Designer"}, "rights": ["designer"]})
    designer = app.users.create("dora", "Dora", PASSWORD)
    people.set_user_roles(designer.id, ["form_designer"])
    app.users.create("nina", "Nina", PASSWORD)
    with live_server(create_app(app, extensions=[builder.api.install])) as url:
        yield Site(app, url)


@pytest.fixture
def dora(site: Site) -> Iterator[httpx.Client]:
    with site.client("dora") as client:
        yield client


def office_with(client: httpx.Client, **field: object) -> dict:
    doc = copy.deepcopy(client.get(f"{BASE}/all_fields/draft").json()["documents"][OFFICE])
    doc["fields"].append(field)
    return doc


def test_pl18_only_designers_and_admins_reach_the_builder(site: Site, dora: httpx.Client) -> None:
    listed = dora.get(BASE)
    assert listed.status_code == 200
    assert {p["id"] for p in listed.json()["items"]} == {"all_fields", "workflow_pack"}
    with site.client("admin", ADMIN_PASSWORD) as admin:
        assert admin.get(BASE).status_code == 200
    with site.client("nina") as nina:
        for r in (
            nina.get(BASE),
            nina.get(f"{BASE}/all_fields/draft"),
            nina.put(f"{BASE}/all_fields/documents/{OFFICE}", json={}),
            nina.post(f"{BASE}/all_fields/publish", json={}),
        ):
            assert r.status_code == 403, r.text
            assert r.json()["error"]["code"] == "forbidden"
    with httpx.Client(base_url=site.url) as anonymous:
        assert anonymous.get(BASE).status_code == 401


def test_pl18_a_designer_edits_checks_previews_and_publishes_over_http(site: Site, dora: httpx.Client) -> None:
    doc = office_with(dora, name="phone", type="text", label={"zh": "电话", "en": "Phone"})
    saved = dora.put(f"{BASE}/all_fields/documents/{OFFICE}", json=doc)
    assert saved.status_code == 200 and saved.json() == {"warnings": []}
    draft = dora.get(f"{BASE}/all_fields/draft").json()
    assert draft["dirty"] is True and draft["updated_by"] == "dora"
    assert dora.get(f"{BASE}/all_fields/check").json() == {"problems": []}
    preview = dora.get(f"{BASE}/all_fields/preview").json()
    assert [s["action"] for s in preview["steps"]] == ["add_column"]
    changes = dora.get(f"{BASE}/all_fields/diff", params={"a": 1, "b": "draft"}).json()["changes"]
    assert [c["summary"]["zh"] for c in changes] == ["实体 region_office：新增字段 phone（电话）"]

    published = dora.post(f"{BASE}/all_fields/publish", json={"comment": "office phone"})
    assert published.status_code == 200, published.text
    assert published.json()["number"] == 2 and published.json()["author"] == "dora"
    assert site.app.registry.entity("region_office").field("phone") is not None
    versions = dora.get(f"{BASE}/all_fields/versions").json()["items"]
    assert [(v["number"], v["kind"]) for v in versions] == [(2, "publish"), (1, "deploy")]
    one = dora.get(f"{BASE}/all_fields/versions/1").json()
    assert len(one["documents"][OFFICE]["fields"]) == 1

    rolled = dora.post(f"{BASE}/all_fields/rollback", json={"number": 1, "comment": "undo"})
    assert rolled.status_code == 200 and rolled.json()["kind"] == "rollback"
    assert site.app.registry.entity("region_office").field("phone") is None


def test_pl18_bad_documents_get_422_with_file_and_pointer_and_nothing_is_stored(dora: httpx.Client) -> None:
    doc = office_with(dora, name="phone", type="telephone", label="Phone")
    r = dora.put(f"{BASE}/all_fields/documents/{OFFICE}", json=doc)
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "pack_invalid"
    assert {"file": OFFICE, "pointer": "/fields/1/type"}.items() <= error["errors"][0].items()
    assert dora.get(f"{BASE}/all_fields/draft").json()["dirty"] is False
    assert dora.put(f"{BASE}/all_fields/documents/{OFFICE}", content=b"{not json").status_code == 400
    assert dora.put(f"{BASE}/all_fields/documents/elsewhere/x.json", json={}).status_code == 422
    assert dora.get(f"{BASE}/No-Such/draft").status_code == 404
    assert dora.get(f"{BASE}/nosuch/draft").status_code == 404
    assert dora.get(f"{BASE}/all_fields/versions/99").status_code == 404
    assert dora.get(f"{BASE}/all_fields/versions/99999999999999999999").status_code == 400
    assert dora.get(f"{BASE}/all_fields/diff", params={"a": "x"}).status_code == 400
    assert dora.post(f"{BASE}/all_fields/publish", json={}).status_code == 400, "nothing to publish"
    assert dora.post(f"{BASE}/all_fields/rollback", json={"number": "1"}).status_code == 400


def test_pl19_a_publish_that_would_lose_data_is_a_409_with_the_reason(dora: httpx.Client) -> None:
    doc = copy.deepcopy(dora.get(f"{BASE}/all_fields/draft").json()["documents"][SPECIMEN])
    field_named(doc, "title")["max_length"] = 20
    assert dora.put(f"{BASE}/all_fields/documents/{SPECIMEN}", json=doc).status_code == 200
    r = dora.post(f"{BASE}/all_fields/publish", json={"comment": "narrow"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "deploy_refused"
    assert r.json()["error"]["problems"]


def test_pl18_workflows_are_saved_as_bpmn_text(dora: httpx.Client) -> None:
    rel = "workflows/one_step_approval.bpmn"
    xml = dora.get(f"{BASE}/workflow_pack/draft").json()["workflows"][rel]
    bad = dora.put(f"{BASE}/workflow_pack/workflows/one_step_approval.bpmn", json={"xml": "<definitions"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["file"] == rel
    assert dora.put(f"{BASE}/workflow_pack/workflows/x.txt", json={"xml": xml}).status_code == 400
    ok = dora.put(f"{BASE}/workflow_pack/workflows/copy.bpmn", json={"xml": xml.replace("\n", "\n ")})
    assert ok.status_code == 200, ok.text
    assert "workflows/copy.bpmn" in dora.get(f"{BASE}/workflow_pack/draft").json()["workflows"]
    assert dora.delete(f"{BASE}/workflow_pack/documents/workflows/copy.bpmn").status_code == 200
    assert dora.post(f"{BASE}/workflow_pack/discard").json() == {"discarded": True}


def test_pl19_export_download_and_upgrade_from_an_uploaded_zip(site: Site, dora: httpx.Client, tmp_path: Path) -> None:
    doc = copy.deepcopy(dora.get(f"{BASE}/all_fields/draft").json()["documents"][SPECIMEN])
    field_named(doc, "notes")["help"] = {"zh": "本院说明", "en": "our help"}
    dora.put(f"{BASE}/all_fields/documents/{SPECIMEN}", json=doc)
    assert dora.post(f"{BASE}/all_fields/publish", json={"comment": "help"}).status_code == 200

    exported = dora.get(f"{BASE}/all_fields/export")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    assert "all_fields-1.0.0+local.2.zip" in exported.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(exported.content)) as zf:
        assert "all_fields/pack.json" in zf.namelist()

    def ship(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.0.1"
        field_named(docs[SPECIMEN], "notes")["help"] = {"zh": "新版说明", "en": "new help"}
        docs[OFFICE]["fields"].append({"name": "city", "type": "text", "label": {"zh": "城市", "en": "City"}})

    folder = pack_variant(PACKS / "all_fields", tmp_path / "all_fields", ship)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in folder.rglob("*.json"):
            zf.write(path, path.relative_to(folder).as_posix())
    upload = {"file": ("all_fields-1.0.1.zip", buf.getvalue(), "application/zip")}

    preview = dora.post(f"{BASE}/all_fields/upgrade/preview", files=upload)
    assert preview.status_code == 200, preview.text
    conflicts = preview.json()["conflicts"]
    assert [c["pointer"] for c in conflicts] == ["/fields/2/help"]
    unresolved = dora.post(f"{BASE}/all_fields/upgrade", files=upload)
    assert unresolved.status_code == 422 and conflicts[0]["id"] in unresolved.text
    wrong = dora.post(f"{BASE}/all_fields/upgrade", files=upload, data={"resolutions": '{"x": "mine"}'})
    assert wrong.status_code == 400
    done = dora.post(
        f"{BASE}/all_fields/upgrade", files=upload, data={"resolutions": f'{{"{conflicts[0]["id"]}": "ours"}}'}
    )
    assert done.status_code == 200, done.text
    assert done.json()["kind"] == "upgrade"
    assert site.app.registry.entity("specimen").field("notes").opt("help")["en"] == "our help"
    assert site.app.registry.entity("region_office").field("city") is not None
    not_zip = dora.post(f"{BASE}/all_fields/upgrade/preview", files={"file": ("x.zip", b"junk", "application/zip")})
    assert not_zip.status_code == 422
    assert dora.post(f"{BASE}/all_fields/upgrade/preview", content=b"x").status_code == 400


def test_pl18_the_builder_api_is_in_the_openapi_document_and_fuzzing_finds_no_server_error(
    site: Site,
) -> None:
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    schema = schemathesis.openapi.from_url(f"{site.url}/api/v1/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations() if r.ok().path.startswith("/api/v1/builder")]
    assert len(operations) >= 14
    session = requests.Session()
    r = session.post(f"{site.url}/api/v1/auth/login", json={"username": "dora", "password": PASSWORD})
    session.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for operation in operations:

            @settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: schemathesis.Case) -> None:
                response = case.call(base_url=site.url, session=session)
                assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:300]}"

            try:
                run()
            except Unsatisfiable:
                continue
