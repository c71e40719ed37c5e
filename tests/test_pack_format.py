"""PL-01/PL-02: the pack format is published as a JSON Schema and every error names file, pointer and problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.blueprints import PackInvalid, load_pack
from runtime.blueprints.schema import pack_schema
from tests.support.packs import field_named, pack_variant

ALL_FIELDS = Path(__file__).parent / "packs" / "all_fields"
SPECIMEN = "entities/specimen.json"


def errors_of(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(PackInvalid) as info:
        load_pack(path)
    return [(e.file, e.pointer, e.message) for e in info.value.errors]


def test_pl02_the_test_pack_with_every_field_type_is_valid() -> None:
    pack = load_pack(ALL_FIELDS)
    types = {f.type for e in pack.entities.values() for f in e.fields}
    declared = set(pack_schema()["$defs"]["field_type"]["enum"])
    assert types == declared, f"the test pack misses {declared - types}"


def test_pl02_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = pack_variant(ALL_FIELDS, tmp_path / "p", lambda d: None)
    (path / "forms" / "specimen_form.json").write_text('{\n  "id": "specimen_form",\n  "entity": specimen\n}')
    [(file, pointer, message)] = errors_of(path)
    assert file == "forms/specimen_form.json"
    assert "invalid JSON" in message and "line 3" in message


def test_pl02_unknown_field_type_is_reported_with_pointer(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        field_named(docs[SPECIMEN], "beds")["type"] = "bignum"

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    beds = [f["name"] for f in json.loads((ALL_FIELDS / SPECIMEN).read_text())["fields"]].index("beds")
    assert (SPECIMEN, f"/fields/{beds}/type", errors[0][2]) in errors
    assert "'bignum' is not one of the allowed values" in errors[0][2]


def test_pl02_dangling_reference_to_unknown_entity(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        field_named(docs[SPECIMEN], "office")["entity"] = "ghost_office"

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    office = [f["name"] for f in docs_fields()].index("office")
    assert (SPECIMEN, f"/fields/{office}/entity", "the referenced entity 'ghost_office' does not exist") in errors


def docs_fields() -> list[dict]:
    return json.loads((ALL_FIELDS / SPECIMEN).read_text())["fields"]


def test_pl02_form_naming_an_unknown_field(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["forms/specimen_form.json"]["tabs"][0]["sections"][1]["fields"].append("visit_hour")

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    assert (
        "forms/specimen_form.json",
        "/tabs/0/sections/1/fields/3",
        "the field 'visit_hour' does not exist in entity 'specimen'",
    ) in errors


def test_pl02_duplicate_ids_and_duplicate_field_names(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["views/copy_of_list.json"] = dict(docs["views/specimen_list.json"])
        docs[SPECIMEN]["fields"].append({"name": "title", "type": "text", "label": "again"})

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    messages = {(f, m) for f, _, m in errors}
    assert ("views/specimen_list.json", "the id 'specimen_list' is already used by views/copy_of_list.json") in messages
    assert any(f == SPECIMEN and m == "the field name 'title' is used twice" for f, m in messages)


def test_pl02_unknown_property_missing_required_and_bad_option_set(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["pack.json"]["colour"] = "blue"
        del docs["option_sets/specialty.json"]["label"]
        field_named(docs[SPECIMEN], "level")["option_set"] = "levels"

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    assert ("pack.json", "", "unknown property 'colour'") in errors
    assert ("option_sets/specialty.json", "", "the property 'label' is required") in errors


def test_pl05_expression_errors_are_reported_at_their_field(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        field_named(docs[SPECIMEN], "close_reason")["visible_when"] = "levle == '1'"
        field_named(docs[SPECIMEN], "net_price")["expression"] = "price.__class__"

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    by_pointer = {p: m for f, p, m in errors if f == SPECIMEN}
    names = [f["name"] for f in docs_fields()]
    assert "levle" in by_pointer[f"/fields/{names.index('close_reason')}/visible_when"]
    assert "__class__" in by_pointer[f"/fields/{names.index('net_price')}/expression"]


def test_pl02_view_and_menu_references_are_checked(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        docs["views/specimen_board.json"]["group_by"] = "beds"
        docs["views/specimen_list.json"]["sort"] = [{"field": "tags"}]
        docs["menus.json"]["menus"][0]["items"].append({"label": "x", "view": "nowhere"})

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    assert ("views/specimen_board.json", "/group_by", "kanban columns come from a select field") in errors
    assert ("views/specimen_list.json", "/sort/0/field", "a tags field cannot be sorted") in errors
    assert ("menus.json", "/menus/0/items/4/view", "the view 'nowhere' does not exist") in errors


def test_pl02_tessera_pack_validate_prints_every_error(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        field_named(docs[SPECIMEN], "beds")["type"] = "bignum"
        field_named(docs[SPECIMEN], "office")["entity"] = "ghost_office"

    path = pack_variant(ALL_FIELDS, tmp_path / "p", change)
    tessera = [sys.executable, "-m", "runtime.cli"]
    ok = subprocess.run([*tessera, "pack", "validate", str(ALL_FIELDS)], capture_output=True, text=True)
    assert ok.returncode == 0 and "all_fields 1.0.0: valid" in ok.stdout
    bad = subprocess.run([*tessera, "pack", "validate", str(path), "--json"], capture_output=True, text=True)
    assert bad.returncode == 1
    reported = json.loads(bad.stdout)
    assert {e["file"] for e in reported} == {SPECIMEN}
    assert all(e["pointer"].startswith("/fields/") for e in reported)


def test_pl02_shipped_packs_are_valid() -> None:
    shipped = [p for p in (Path(__file__).parent.parent / "blueprints").iterdir() if (p / "pack.json").exists()]
    for path in shipped:
        load_pack(path)


def test_pl02_child_table_fields_may_not_reuse_row_system_columns(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        field_named(docs[SPECIMEN], "contacts")["fields"].append({"name": "position", "type": "text", "label": "Post"})

    errors = errors_of(pack_variant(ALL_FIELDS, tmp_path / "p", change))
    contacts = [f["name"] for f in docs_fields()].index("contacts")
    assert errors == [
        (
            SPECIMEN,
            f"/fields/{contacts}/fields/3/name",
            "'position' is a system field every child-table row already has; choose another name",
        )
    ]
