"""Demo data goes through the records service and never duplicates; references resolve to what exists."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from runtime.blueprints import PackInvalid, load_pack
from runtime.demo import demo_login_lines, demo_logins, demo_password, load_demo
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.records.query import ListQuery, parse_query_params
from runtime.services import Tessera
from tests.support.packs import pack_variant

CTX = Context(channel="api", lang="en", is_admin=True)


def test_demo_loads_once_and_resolves_references(tessera: Tessera) -> None:
    pack = tessera.registry.packs["all_fields"]
    assert load_demo(tessera, pack) == {"region_office": 2, "specimen": 2}
    assert load_demo(tessera, pack) == {}, "a second run creates nothing"
    entity = tessera.registry.entity("specimen")
    [sample] = tessera.records.list("specimen", parse_query_params(entity, [("title", "示例一")]), CTX).items
    office = tessera.records.get("region_office", sample["office"], CTX)
    assert office["name"] == "华东办事处"


def test_demo_references_reach_records_that_were_already_there(tessera: Tessera) -> None:
    east = tessera.records.create("region_office", {"name": "华东办事处"}, CTX)
    tessera.records.create("region_office", {"name": "华南办事处"}, CTX)
    assert load_demo(tessera, tessera.registry.packs["all_fields"]) == {"specimen": 2}
    offices = {s["title"]: s["office"] for s in tessera.records.list("specimen", ListQuery(), CTX).items}
    assert offices["示例一"] == east["id"]


# the demo organisation: departments, users and '@user:' / '@department:' references -----------------
ALL_FIELDS = Path(__file__).parent / "packs" / "all_fields"
TEAM = {
    "departments": [
        {"code": "H", "name": "示例医院", "organisation": "示例医院"},
        {"code": "H-OUT", "name": "外联部", "parent": "H"},
    ],
    "users": [
        {
            "username": "demo.keeper",
            "display_name": "王联络",
            "department": "H-OUT",
            "roles": ["keeper"],
            "title": "联络员",
        }
    ],
}
KEEPER_ROLE = {
    "id": "keeper",
    "label": {"zh": "联络员", "en": "Keeper"},
    "permissions": [{"entity": "specimen", "actions": ["read"], "scope": "own"}],
}


def _with_people(docs: dict[str, Any]) -> None:
    docs["demo/00_people.json"] = TEAM
    docs["roles/keeper.json"] = KEEPER_ROLE
    docs["entities/specimen.json"]["owner_field"] = "liaison"
    for record in docs["demo/specimens.json"]["records"]:
        record.update(liaison="@user:demo.keeper", dept="@department:H-OUT")


def test_pl20_demo_users_own_the_records_that_name_them(make_tessera: Callable[..., Tessera], tmp_path: Path) -> None:
    pack_dir = pack_variant(ALL_FIELDS, tmp_path / "all_fields", _with_people)
    app = make_tessera(str(pack_dir))
    pack = app.registry.packs["all_fields"]
    assert load_demo(app, pack) == {"region_office": 2, "specimen": 2}
    keeper = app.users.by_username("demo.keeper")
    assert keeper is not None and keeper.display_name == "王联络"
    specimens = app.records.list("specimen", ListQuery(), CTX).items
    assert {s["liaison"] for s in specimens} == {keeper.id}
    departments = {d["code"]: d for d in PeopleAdmin(app.db, app.registry, app.permissions).list_departments()}
    assert {s["dept"] for s in specimens} == {departments["H-OUT"]["id"]}
    assert departments["H-OUT"]["parent_id"] == departments["H"]["id"]
    # the shared password is kept in the data directory (never in the pack) and signs the user in
    password, logins = demo_logins(app)
    assert password and password not in json.dumps(TEAM) and demo_password(app) == password
    assert [(x.username, x.display_name, x.department, x.roles) for x in logins] == [
        ("demo.keeper", "王联络", "外联部", "联络员")
    ]
    assert app.users.authenticate("demo.keeper", password) is not None
    assert any("demo.keeper" in line for line in demo_login_lines(app)) and password in demo_login_lines(app)[0]
    # the keeper sees the demo records assigned to them: the 'own' scope follows the owner field
    ctx = Context(channel="api", lang="en", user_id=keeper.id, department_id=keeper.department_id)
    assert len(app.records.list("specimen", ListQuery(), ctx).items) == 2
    # a second run creates neither people nor records, and keeps the password
    assert load_demo(app, pack) == {}
    assert demo_logins(app) == (password, logins)
    assert len(departments) == len(PeopleAdmin(app.db, app.registry, app.permissions).list_departments())


def test_pl02_demo_references_to_undeclared_people_are_named(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        _with_people(docs)
        docs["demo/specimens.json"]["records"][1]["liaison"] = "@user:nobody"
        docs["demo/00_people.json"]["users"][0]["roles"] = ["ghost"]
        docs["demo/00_people.json"]["departments"][1]["parent"] = "NOPE"

    with pytest.raises(PackInvalid) as info:
        load_pack(pack_variant(ALL_FIELDS, tmp_path / "all_fields", change))
    found = {(e.file, e.pointer, e.message) for e in info.value.errors}
    assert found == {
        ("demo/specimens.json", "/records/1/liaison", "no demo user 'nobody' is declared in this pack"),
        ("demo/00_people.json", "/users/0/roles/0", "the role 'ghost' does not exist in this pack"),
        ("demo/00_people.json", "/departments/1/parent", "no demo department 'NOPE' is declared"),
    }


def test_pl02_owner_and_department_fields_must_have_the_right_type(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["entities/specimen.json"].update(owner_field="dept", department_field="ghost")

    with pytest.raises(PackInvalid) as info:
        load_pack(pack_variant(ALL_FIELDS, tmp_path / "all_fields", change))
    found = {(e.pointer, e.message) for e in info.value.errors}
    assert found == {
        ("/owner_field", "'dept' is not a user field of this entity"),
        ("/department_field", "'ghost' is not a department field of this entity"),
    }


# relative dates: the demo never ages ------------------------------------------------------------------
def _with_relative_dates(docs: dict[str, Any]) -> None:
    first, second = docs["demo/specimens.json"]["records"][:2]
    first.update(visit_date="@date:-30", visited_at="@datetime:-1 14:30")
    second.update(visit_date="@month:-13", visited_at="@datetime:+2 08:05")


def test_pl20_demo_dates_are_relative_to_the_day_it_loads(
    make_tessera: Callable[..., Tessera], tmp_path: Path, clock: Any
) -> None:
    """A demo loaded a year after it was written still shows last month's visits as last month's."""
    clock.set(datetime(2027, 3, 1, 17, 0))  # already the 2nd in Shanghai: dates follow today() (the 1st), as
    # validations do, and only the time of day is local
    app = make_tessera(str(pack_variant(ALL_FIELDS, tmp_path / "all_fields", _with_relative_dates)))
    load_demo(app, app.registry.packs["all_fields"])
    rows = {s["title"]: s for s in app.records.list("specimen", ListQuery(), CTX).items}
    first, second = (
        rows[r["title"]] for r in json.loads((ALL_FIELDS / "demo/specimens.json").read_text())["records"][:2]
    )
    assert first["visit_date"] == "2027-01-30"
    assert first["visited_at"].startswith("2027-02-28T06:30"), "14:30 in Shanghai is stored as 06:30 UTC"
    assert second["visit_date"] == "2026-02-01"
    assert second["visited_at"].startswith("2027-03-03T00:05")


def test_pl02_malformed_relative_demo_dates_are_named(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["demo/specimens.json"]["records"][0]["visit_date"] = "@date:yesterday"

    with pytest.raises(PackInvalid) as info:
        load_pack(pack_variant(ALL_FIELDS, tmp_path / "all_fields", change))
    assert [(e.file, e.pointer, e.message) for e in info.value.errors] == [
        (
            "demo/specimens.json",
            "/records/0/visit_date",
            "'@date:yesterday' is not a relative date: use @date:-30, @datetime:-3 14:30 or @month:-5",
        )
    ]
