"""PL-18/PL-19: before publishing, a designer sees what the change does to the data; afterwards the history
reads as sentences, any version can be restored, the pack can be taken away as files, and a new shipped
version merges with the local edits. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from builder.workspace import Workspace
from runtime.blueprints.errors import PackInvalid
from runtime.cli import app as cli
from runtime.records import Context
from runtime.services import Tessera
from tests.support.databases import fresh_database
from tests.support.packs import field_named, pack_variant

PACKS = Path(__file__).parent / "packs"
ALL_FIELDS = PACKS / "all_fields"
OFFICE = "entities/region_office.json"
SPECIMEN = "entities/specimen.json"
FORM = "forms/specimen_form.json"
CTX = Context(channel="api", lang="en", is_admin=True)


def edit(ws: Workspace, rel: str, change: Callable[[dict], None], pack: str = "all_fields") -> list[dict]:
    doc = copy.deepcopy(ws.draft(pack).documents[rel])
    change(doc)
    return ws.save_document(pack, rel, doc, user="designer")


def add_field(name: str, zh: str, en: str, **extra: object) -> Callable[[dict], None]:
    return lambda doc: doc["fields"].append({"name": name, "type": "text", "label": {"zh": zh, "en": en}, **extra})


def publish(ws: Workspace, comment: str = "") -> dict:
    return ws.publish("all_fields", user="designer", user_id=None, comment=comment)


# preview ----------------------------------------------------------------------------------------------
def test_pl19_preview_names_the_schema_steps_and_the_records_the_new_rules_refuse(
    make_tessera: Callable[..., Tessera],
) -> None:
    app = make_tessera("all_fields")
    for name in ("East", "West", "North"):
        app.records.create("region_office", {"name": name}, CTX)
    app.records.create("specimen", {"title": "Small", "beds": 5}, CTX)
    app.records.create("specimen", {"title": "Large", "beds": 50}, CTX)
    ws = Workspace(app)
    edit(ws, OFFICE, add_field("phone", "电话", "Phone", required=True))
    edit(ws, SPECIMEN, lambda d: field_named(d, "beds").update(min=10))

    preview = ws.preview("all_fields", lang="en")
    assert preview["errors"] == [] and preview["problems"] == []
    assert any(s["action"] == "add_column" and s["column"] == "phone" for s in preview["steps"])
    assert all(s["description"] for s in preview["steps"])
    invalid = {r["entity"]: r for r in preview["invalid_records"]}
    office = invalid["region_office"]
    assert office["count"] == 3 and office["label"]["zh"] == "区域办事处"
    assert [s["title"] for s in office["samples"]] == ["East", "West", "North"]
    assert office["samples"][0]["errors"] == [{"field": "phone", "message": "is required"}]
    specimen = invalid["specimen"]
    assert specimen["count"] == 1 and specimen["samples"][0]["title"] == "Small"
    assert specimen["samples"][0]["errors"][0]["field"] == "beds"
    assert app.registry.entity("region_office").field("phone") is None, "a preview applies nothing"


def test_pl19_preview_of_a_broken_draft_lists_its_errors_instead_of_a_plan(
    make_tessera: Callable[..., Tessera],
) -> None:
    ws = Workspace(make_tessera("all_fields"))
    edit(ws, FORM, lambda d: d.update(entity="nowhere"))
    preview = ws.preview("all_fields")
    assert preview["steps"] == [] and preview["errors"][0]["file"] == FORM


def test_pl19_preview_shows_at_most_five_samples_but_counts_every_record(
    make_tessera: Callable[..., Tessera],
) -> None:
    app = make_tessera("all_fields")
    for i in range(12):
        app.records.create("specimen", {"title": f"S{i:02}"}, CTX)
    ws = Workspace(app)
    edit(ws, SPECIMEN, lambda d: field_named(d, "notes").update(required=True))
    report = ws.preview("all_fields")["invalid_records"][0]
    assert report["count"] == 12 and len(report["samples"]) == 5
    assert report["samples"][0]["errors"] == [{"field": "notes", "message": "必填"}]


# diff -------------------------------------------------------------------------------------------------
def test_pl19_diff_reads_as_sentences_and_identifies_fields_by_name(make_tessera: Callable[..., Tessera]) -> None:
    ws = Workspace(make_tessera("all_fields"))
    edit(ws, OFFICE, add_field("blood_type", "血型", "Blood type"))

    def reorder_and_require(doc: dict) -> None:
        doc["fields"][1], doc["fields"][2] = doc["fields"][2], doc["fields"][1]
        field_named(doc, "notes")["required"] = True

    edit(ws, SPECIMEN, reorder_and_require)
    ws.delete_document("all_fields", "views/specimen_calendar.json", user="designer")

    changes = ws.diff("all_fields", 1, "draft")
    by_summary = {c["summary"]["en"]: c for c in changes}
    added = by_summary["Entity region_office: field blood_type (Blood type) added"]
    assert added["file"] == OFFICE and added["pointer"] == "/fields/1" and added["change"] == "added"
    assert added["summary"]["zh"] == "实体 region_office：新增字段 blood_type（血型）"
    moved = [c for c in changes if c["change"] == "moved"]
    assert len(moved) == 1 and moved[0]["file"] == SPECIMEN, "a swap is one move, not two changed fields"
    required = by_summary["Entity specimen: field notes (Notes): required set to yes"]
    assert required["pointer"].endswith("/required") and required["after"] is True
    assert by_summary["View specimen_calendar removed"]["change"] == "removed"
    assert len(changes) == 4


def test_pl19_a_field_dragged_to_another_form_section_reads_as_moved(make_tessera: Callable[..., Tessera]) -> None:
    ws = Workspace(make_tessera("all_fields"))

    def drag(doc: dict) -> None:  # 'code' from the section Overview to the section Times
        sections = doc["tabs"][0]["sections"]
        sections[1]["fields"].append(sections[0]["fields"].pop(0))

    edit(ws, FORM, drag)
    changes = ws.diff("all_fields", 1, "draft")
    assert [c["change"] for c in changes] == ["moved"], changes
    assert (
        changes[0]["pointer"] == "/tabs/0/sections/1/fields/3" and changes[0]["from"] == "/tabs/0/sections/0/fields/0"
    )
    assert changes[0]["summary"]["en"] == (
        "Form specimen_form: tab 'Basics': section 'Times': field code (Code) moved here"
    )
    assert changes[0]["summary"]["zh"] == "表单 specimen_form：标签页“基本信息”：分区“时间”：移入字段 code（编号）"


# rollback ---------------------------------------------------------------------------------------------
def test_pl19_rollback_publishes_an_earlier_version_as_a_new_one(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    edit(ws, OFFICE, lambda d: d.update(label={"zh": "办事处", "en": "Office"}))
    publish(ws, "rename")
    assert app.registry.entity("region_office").label["zh"] == "办事处"
    restored = ws.rollback("all_fields", 1, user="designer", user_id=None, comment="")
    assert restored["number"] == 3 and restored["kind"] == "rollback" and "1" in restored["comment"]
    assert restored["pack_version"] == "1.0.0+local.3"
    assert app.registry.entity("region_office").label["zh"] == "区域办事处"
    assert ws.diff("all_fields", 1, 3) == [c for c in ws.diff("all_fields", 1, 3) if c["file"] == "pack.json"], (
        "only the version string differs"
    )


# export -----------------------------------------------------------------------------------------------
def _cli_env(monkeypatch: pytest.MonkeyPatch, url: str, data: Path) -> None:
    monkeypatch.setenv("TESSERA_DATABASE_URL", url)
    monkeypatch.setenv("TESSERA_DATA_DIR", str(data))
    monkeypatch.setenv("TESSERA_SECRET_KEY", "test-secret-key-" + "y" * 32)


@pytest.mark.parametrize("as_zip", [False, True])
def test_pl19_an_exported_pack_validates_and_deploys_into_an_empty_database(
    make_tessera: Callable[..., Tessera],
    backend: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    as_zip: bool,
) -> None:
    app = make_tessera("all_fields", "workflow_pack")
    ws = Workspace(app)
    edit(ws, OFFICE, add_field("phone", "电话", "Phone"))
    publish(ws)
    exported = ws.export("all_fields", tmp_path / "out", as_zip=as_zip)
    flow = ws.export("workflow_pack", tmp_path / "out", as_zip=as_zip)
    if as_zip:
        assert exported.name == "all_fields.zip" and zipfile.is_zipfile(exported)
        for z in (exported, flow):
            with zipfile.ZipFile(z) as zf:
                zf.extractall(tmp_path / "unzipped")
        exported, flow = tmp_path / "unzipped" / "all_fields", tmp_path / "unzipped" / "workflow_pack"
    assert json.loads((exported / OFFICE).read_text("utf-8"))["fields"][1]["label"]["zh"] == "电话"
    assert (flow / "workflows" / "one_step_approval.bpmn").is_file()
    with pytest.raises(FileExistsError):
        ws.export("all_fields", tmp_path / "out", as_zip=as_zip)

    runner = CliRunner()
    with fresh_database(backend, tmp_path / "empty") as url:
        _cli_env(monkeypatch, url, tmp_path / "empty-data")
        for pack in (exported, flow):
            checked = runner.invoke(cli, ["pack", "validate", str(pack)])
            assert checked.exit_code == 0, checked.output
            deployed = runner.invoke(cli, ["pack", "deploy", str(pack)])
            assert deployed.exit_code == 0, deployed.output
        listed = runner.invoke(cli, ["pack", "list"])
        assert "all_fields 1.0.0+local.2" in listed.output and "workflow_pack" in listed.output


def test_pl19_tessera_pack_export_writes_the_pack_from_the_command_line(
    make_tessera: Callable[..., Tessera], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tessera("all_fields")
    _cli_env(monkeypatch, database_url, tmp_path / "data")
    runner = CliRunner()
    done = runner.invoke(cli, ["pack", "export", "all_fields", str(tmp_path / "x"), "--zip"])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "x" / "all_fields.zip").is_file()
    unknown = runner.invoke(cli, ["pack", "export", "nope", str(tmp_path / "y")])
    assert unknown.exit_code == 1 and "no pack 'nope'" in unknown.output


# upgrade ----------------------------------------------------------------------------------------------
def shipped_101(tmp_path: Path, change: Callable[[dict], None] | None = None) -> Path:
    def ship(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.0.1"
        field_named(docs[SPECIMEN], "notes")["help"] = {"zh": "新版说明", "en": "new help"}
        docs[OFFICE]["fields"].append({"name": "city", "type": "text", "label": {"zh": "城市", "en": "City"}})
        if change:
            change(docs)

    return pack_variant(ALL_FIELDS, tmp_path / "shipped" / "all_fields", ship)


def test_pl19_upgrade_keeps_local_edits_and_shipped_changes_to_different_fields(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    edit(ws, SPECIMEN, lambda d: field_named(d, "beds").update(max=20000))  # the local edit
    edit(ws, OFFICE, add_field("fax", "传真", "Fax"))
    publish(ws, "local")
    shipped = shipped_101(tmp_path)

    preview = ws.upgrade_preview("all_fields", shipped)
    assert preview["conflicts"] == [] and preview["version"] == "1.0.1+local.3", "shipped 1.0.1 plus local edits"
    merged = preview["merged_documents"]
    assert field_named(merged[SPECIMEN], "beds")["max"] == 20000, "local edit kept"
    assert field_named(merged[SPECIMEN], "notes")["help"]["en"] == "new help", "shipped change taken"
    assert [f["name"] for f in merged[OFFICE]["fields"]] == ["name", "fax", "city"]
    assert {"file": SPECIMEN, "taken": "theirs"}.items() <= next(
        a for a in preview["auto"] if a["file"] == SPECIMEN and a["taken"] == "theirs"
    ).items()

    version = ws.upgrade("all_fields", shipped, resolutions={}, user="it", user_id=None)
    assert version["kind"] == "upgrade" and version["pack_version"] == "1.0.1+local.3"
    assert app.registry.entity("region_office").field("city") is not None
    assert app.registry.entity("region_office").field("fax") is not None
    assert app.registry.entity("specimen").field("beds").opt("max") == 20000
    again = ws.upgrade_preview("all_fields", shipped)
    assert again["changes"] == [] and again["conflicts"] == [], "the shipped version is the new base"


@pytest.mark.parametrize("choice", ["ours", "theirs"])
def test_pl19_upgrade_touching_the_same_field_is_a_conflict_the_administrator_settles(
    make_tessera: Callable[..., Tessera], tmp_path: Path, choice: str
) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    edit(ws, SPECIMEN, lambda d: field_named(d, "notes").update(help={"zh": "本院说明", "en": "our help"}))
    publish(ws)
    shipped = shipped_101(tmp_path)

    conflicts = ws.upgrade_preview("all_fields", shipped)["conflicts"]
    assert len(conflicts) == 1
    conflict = conflicts[0]
    assert conflict["file"] == SPECIMEN and conflict["pointer"].endswith("/help")
    assert conflict["ours"]["en"] == "our help" and conflict["theirs"]["en"] == "new help"
    assert conflict["base"] == {"zh": "可选", "en": "optional"}
    with pytest.raises(PackInvalid) as unresolved:
        ws.upgrade("all_fields", shipped, resolutions={}, user="it", user_id=None)
    assert conflict["id"] in str(unresolved.value)
    assert [v["number"] for v in ws.versions("all_fields")] == [2, 1], "nothing published"

    ws.upgrade("all_fields", shipped, resolutions={conflict["id"]: choice}, user="it", user_id=None)
    help_text = app.registry.entity("specimen").field("notes").opt("help")["en"]
    assert help_text == {"ours": "our help", "theirs": "new help"}[choice]
    assert app.registry.entity("region_office").field("city") is not None


def test_pl19_a_bpmn_file_changed_on_both_sides_is_one_whole_file_conflict(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("workflow_pack")
    ws = Workspace(app)
    rel = "workflows/one_step_approval.bpmn"
    xml = ws.draft("workflow_pack").workflows[rel]
    ws.save_workflow("workflow_pack", rel, xml + "\n<!-- local -->\n", user="designer")
    ws.publish("workflow_pack", user="designer", user_id=None, comment="")
    shipped = tmp_path / "shipped" / "workflow_pack"
    pack_variant(PACKS / "workflow_pack", shipped, lambda docs: docs["pack.json"].update(version="1.1.0"))
    (shipped / rel).write_text(xml + "\n<!-- shipped -->\n", "utf-8")
    conflicts = ws.upgrade_preview("workflow_pack", shipped)["conflicts"]
    assert [(c["file"], c["pointer"]) for c in conflicts] == [(rel, "/")]
    ws.upgrade("workflow_pack", shipped, resolutions={conflicts[0]["id"]: "theirs"}, user="it", user_id=None)
    assert ws.draft("workflow_pack").workflows[rel].endswith("<!-- shipped -->\n")


def test_pl19_tessera_pack_upgrade_lists_conflicts_and_takes_the_choice(
    make_tessera: Callable[..., Tessera], database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_tessera("all_fields")
    ws = Workspace(app)
    edit(ws, SPECIMEN, lambda d: field_named(d, "notes").update(help={"zh": "本院说明", "en": "our help"}))
    publish(ws)
    shipped = shipped_101(tmp_path)
    _cli_env(monkeypatch, database_url, tmp_path / "data")
    runner = CliRunner()
    listed = runner.invoke(cli, ["pack", "upgrade", "all_fields", str(shipped)])
    assert listed.exit_code == 3, listed.output
    conflict_id = f"{SPECIMEN}#/fields/2/help"
    assert conflict_id in listed.output and "our help" in listed.output and "new help" in listed.output
    done = runner.invoke(cli, ["pack", "upgrade", "all_fields", str(shipped), "--take", f"{conflict_id}=theirs"])
    assert done.exit_code == 0, done.output
    assert "upgraded" in done.output
    assert [v["kind"] for v in ws.versions("all_fields")][0] == "upgrade"


def test_pl19_an_upgrade_from_another_pack_or_a_broken_zip_is_refused(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    ws = Workspace(make_tessera("all_fields"))
    with pytest.raises(PackInvalid):
        ws.upgrade_preview("all_fields", PACKS / "workflow_pack")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip")
    with pytest.raises(PackInvalid):
        ws.upgrade_preview("all_fields", junk)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../pack.json", "{}")
    with pytest.raises(PackInvalid):
        ws.upgrade_preview("all_fields", evil)
