"""PL-18/PL-19: a designer edits a deployed pack in a draft, checks it, publishes it as a numbered version
(through the runtime's own deploy), and the history keeps what was deployed as version 1.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from builder.workspace import Workspace
from runtime.blueprints.errors import PackInvalid
from runtime.errors import NotFound
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from runtime.storage.deploy import DeployRefused

OFFICE = "entities/region_office.json"
CTX = Context(channel="api", lang="en", is_admin=True)


def add_phone_field(ws: Workspace, pack: str = "all_fields") -> dict:
    doc = copy.deepcopy(ws.draft(pack).documents[OFFICE])
    doc["fields"].append({"name": "phone", "type": "text", "label": {"zh": "电话", "en": "Phone"}})
    return doc


def test_pl18_a_deployed_pack_opens_as_a_clean_draft_copy(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields", "workflow_pack")
    ws = Workspace(app)
    listed = {p["id"]: p for p in ws.packs()}
    assert listed["all_fields"]["label"] == {"zh": "全字段测试包", "en": "Every field type"}
    assert listed["all_fields"]["has_draft"] is False
    draft = ws.draft("all_fields")
    assert not draft.dirty and draft.updated_by is None
    assert draft.documents["pack.json"]["version"] == "1.0.0"
    assert OFFICE in draft.documents
    assert list(ws.draft("workflow_pack").workflows) == ["workflows/one_step_approval.bpmn"]
    with pytest.raises(NotFound):
        ws.draft("no_such_pack")


def test_pl18_saving_a_field_keeps_it_in_the_draft_until_published(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    warnings = ws.save_document("all_fields", OFFICE, add_phone_field(ws), user="alice")
    assert warnings == []
    draft = ws.draft("all_fields")
    assert draft.dirty and draft.updated_by == "alice" and draft.base_version == 1
    assert {p["id"]: p for p in ws.packs()}["all_fields"]["has_draft"] is True
    assert app.registry.entity("region_office").field("phone") is None, "nothing is live before publishing"

    version = ws.publish("all_fields", user="alice", user_id=None, comment="office phone")
    assert version["number"] == 2 and version["kind"] == "publish" and version["comment"] == "office phone"
    assert version["pack_version"] == "1.0.0+local.2", "a later shipped 1.0.1 still compares greater"
    assert app.registry.entity("region_office").field("phone") is not None
    record = app.records.create("region_office", {"name": "East", "phone": "021-1234"}, CTX)
    assert record["phone"] == "021-1234"
    assert not ws.draft("all_fields").dirty
    assert [(v["number"], v["kind"]) for v in ws.versions("all_fields")] == [(2, "publish"), (1, "deploy")]
    first = ws.version("all_fields", 1)
    assert first["pack_version"] == "1.0.0" and len(first["documents"][OFFICE]["fields"]) == 1


def test_pl18_a_schema_invalid_document_is_refused_with_file_and_pointer(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    doc = add_phone_field(ws)
    doc["fields"][1]["type"] = "telephone"
    with pytest.raises(PackInvalid) as caught:
        ws.save_document("all_fields", OFFICE, doc, user="alice")
    errors = [e.as_dict() for e in caught.value.errors]
    assert errors and errors[0]["file"] == OFFICE and errors[0]["pointer"] == "/fields/1/type"
    assert not ws.draft("all_fields").dirty, "nothing half-written"
    with pytest.raises(PackInvalid):
        ws.save_document("all_fields", "../evil.json", {}, user="alice")
    with pytest.raises(PackInvalid):
        manifest = {**ws.draft("all_fields").documents["pack.json"], "id": "renamed"}
        ws.save_document("all_fields", "pack.json", manifest, user="alice")


def test_pl18_cross_file_problems_are_warnings_and_block_publishing(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    form = copy.deepcopy(ws.draft("all_fields").documents["forms/specimen_form.json"])
    form["entity"] = "no_such_entity"
    warnings = ws.save_document("all_fields", "forms/specimen_form.json", form, user="alice")
    assert warnings[0]["file"] == "forms/specimen_form.json" and warnings[0]["pointer"] == "/entity"
    assert {"file", "pointer", "message", "line"} <= set(warnings[0])
    assert ws.check("all_fields") == warnings
    with pytest.raises(PackInvalid):
        ws.publish("all_fields", user="alice", user_id=None, comment="broken")
    assert [v["number"] for v in ws.versions("all_fields")] == [1], "a refused publish leaves no version"
    ws.discard("all_fields", user="alice")
    assert not ws.draft("all_fields").dirty and ws.check("all_fields") == []


def test_pl18_deleting_a_document_and_adding_a_workflow(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields", "workflow_pack")
    ws = Workspace(app)
    ws.delete_document("all_fields", "views/specimen_calendar.json", user="alice")
    assert "views/specimen_calendar.json" not in ws.draft("all_fields").documents
    with pytest.raises(NotFound):
        ws.delete_document("all_fields", "views/specimen_calendar.json", user="alice")
    with pytest.raises(PackInvalid):
        ws.delete_document("all_fields", "pack.json", user="alice")
    xml = ws.draft("workflow_pack").workflows["workflows/one_step_approval.bpmn"]
    with pytest.raises(PackInvalid) as caught:
        ws.save_workflow("workflow_pack", "workflows/broken.bpmn", "<definitions", user="alice")
    assert caught.value.errors[0].file == "workflows/broken.bpmn" and "XML" in caught.value.errors[0].message
    assert (
        ws.save_workflow("workflow_pack", "workflows/one_step_approval.bpmn", xml.replace("\n", "\n "), user="a") == []
    )
    assert ws.draft("workflow_pack").dirty


def test_pl19_a_publish_that_would_lose_data_is_refused_and_changes_nothing(
    make_tessera: Callable[..., Tessera],
) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    doc = copy.deepcopy(ws.draft("all_fields").documents["entities/specimen.json"])
    title = next(f for f in doc["fields"] if f["name"] == "title")
    title["max_length"] = 20  # narrowing a column can cut existing values
    ws.save_document("all_fields", "entities/specimen.json", doc, user="alice")
    with pytest.raises(DeployRefused):
        ws.publish("all_fields", user="alice", user_id=None, comment="narrow")
    assert [v["number"] for v in ws.versions("all_fields")] == [1]
    assert ws.draft("all_fields").dirty, "the draft survives a refused publish"
    with app.db.read() as conn:
        assert conn.execute(sa.select(pt.packs.c.version).where(pt.packs.c.id == "all_fields")).scalar() == "1.0.0"


def test_pl19_a_deploy_from_disk_outside_the_builder_becomes_a_deploy_version(
    make_tessera: Callable[..., Tessera],
) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    ws.save_document("all_fields", OFFICE, add_phone_field(ws), user="alice")
    ws.publish("all_fields", user="alice", user_id=None, comment="")
    from tests.conftest import PACKS

    app.deploy(app.load_pack(PACKS / "all_fields"), actor="ops")  # IT redeploys the shipped files
    versions = ws.versions("all_fields")
    assert [(v["number"], v["kind"], v["author"]) for v in versions][0] == (3, "deploy", "ops")


def test_pl19_drafts_and_versions_live_in_tables_made_by_migration_0010(
    make_tessera: Callable[..., Tessera],
) -> None:
    from builder.tables import bases, drafts, versions
    from runtime.storage import migrate

    app = make_tessera()
    assert migrate.current_revision(app.db) == migrate.head_revision()
    assert migrate.head_revision() >= "0010", "the builder's tables arrived with migration 0010"
    inspector = sa.inspect(app.db.engine)
    for table in (drafts, versions, bases):
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == set(table.columns.keys()), f"{table.name} drifted from its migration"


def test_pl18_the_designer_right_opens_the_builder_and_nothing_else_does(make_tessera: Callable[..., Tessera]) -> None:
    from builder.access import is_designer, require_designer
    from runtime.errors import Forbidden
    from runtime.permissions.admin import PeopleAdmin

    app = make_tessera("all_fields")
    people = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    people.create_role({"id": "designers", "label": "Designers", "rights": ["designer"]})
    dora = app.users.create("dora", "Dora", "Dora-pass-1234")
    nina = app.users.create("nina", "Nina", "Nina-pass-1234")
    people.set_user_roles(dora.id, ["designers"])
    assert is_designer(app, Context(user_id=dora.id, channel="ui"))
    assert is_designer(app, CTX)
    with pytest.raises(Forbidden):
        require_designer(app, Context(user_id=nina.id, channel="ui"))


def test_pl18_a_workflow_file_deleted_in_the_builder_stays_deleted_after_publishing(
    make_tessera: Callable[..., Tessera],
) -> None:
    app = make_tessera("workflow_pack")
    ws = Workspace(app)
    rel = "workflows/one_step_approval.bpmn"
    xml = ws.draft("workflow_pack").workflows[rel]
    ws.save_workflow("workflow_pack", "workflows/copy.bpmn", xml.replace("\n", "\n "), user="alice")
    ws.publish("workflow_pack", user="alice", user_id=None, comment="copy")
    ws.delete_document("workflow_pack", "workflows/copy.bpmn", user="alice")
    ws.publish("workflow_pack", user="alice", user_id=None, comment="no copy")
    draft = ws.draft("workflow_pack")
    assert list(draft.workflows) == [rel] and not draft.dirty
