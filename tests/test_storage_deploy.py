"""PL-23/PL-19: typed tables per entity, migration plans shown before deploy, transactional deploys,
and no data loss when a field is removed. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.records import Context
from runtime.services import Tessera
from runtime.storage.deploy import DeployRefused, plan_deploy
from tests.support.packs import field_named, pack_variant

ALL_FIELDS = Path(__file__).parent / "packs" / "all_fields"
SPECIMEN = "entities/specimen.json"
CTX = Context(channel="api", lang="en", is_admin=True)


def columns(app: Tessera, table: str) -> dict[str, str]:
    return {c["name"]: str(c["type"]).upper() for c in sa.inspect(app.db.engine).get_columns(table)}


def index_names(app: Tessera, table: str) -> set[str]:
    return {i["name"] for i in sa.inspect(app.db.engine).get_indexes(table)}


def test_pl23_every_field_type_gets_a_typed_column(make_tessera: Callable[..., Tessera], backend: str) -> None:
    app = make_tessera("all_fields")
    cols = columns(app, "e_specimen")
    json_type = "JSONB" if backend == "postgresql" else "JSON"
    expected = {
        "title": "VARCHAR(100)",
        "notes": "TEXT",
        "beds": "BIGINT",
        "ratio": "NUMERIC(20, 3)",
        "price": "NUMERIC(18, 2)",
        "discount": "NUMERIC(9, 2)",
        "visit_date": "DATE",
        "opens_at": "TIME",
        "level": "VARCHAR(64)",
        "specialties": json_type,
        "tags": json_type,
        "region": json_type,
        "attachments": json_type,
        "extra": json_type,
        "office": "BIGINT",
        "liaison": "BIGINT",
        "dept": "BIGINT",
        "email": "VARCHAR(254)",
        "phone": "TEXT",  # sensitive: ciphertext, plus a keyed blind index for exact-match search
        "phone__bidx": "VARCHAR(64)",
        "id_number": "TEXT",
        "id_number__bidx": "VARCHAR(64)",
        "stars": "SMALLINT",
        "nps": "SMALLINT",
        "net_price": "NUMERIC(20, 2)",
        "code": "VARCHAR(64)",
    }
    for name, sql_type in expected.items():
        assert cols[name] == sql_type, f"{name}: {cols[name]}"
    assert cols["visited_at"] in ("DATETIME", "TIMESTAMP")
    assert cols["active"] == "BOOLEAN"
    assert {"id", "version", "created_at", "updated_at", "owner_id", "department_id"} <= set(cols)
    assert "contacts" not in cols, "a child table is a table of its own"
    child = columns(app, "e_specimen__contacts")
    assert {"parent_id", "position", "name", "mobile", "is_primary"} <= set(child)
    assert {"ux_e_specimen_code", "ix_e_specimen_beds", "ux_e_specimen_id_number"} <= index_names(app, "e_specimen")


def _upgrade(docs: dict) -> None:
    """v1.1: add a field and an index, remove a field, relabel a field, widen a text field."""
    docs["pack.json"]["version"] = "1.1.0"
    entity = docs[SPECIMEN]
    entity["fields"].append({"name": "website", "type": "text", "label": {"zh": "网址", "en": "Website"}})
    entity["fields"] = [f for f in entity["fields"] if f["name"] != "notes"]
    field_named(entity, "title")["label"] = {"zh": "名称", "en": "Name"}
    field_named(entity, "title")["max_length"] = 200
    field_named(entity, "price")["indexed"] = True
    for form in docs["forms/specimen_form.json"]["tabs"]:
        for section in form["sections"]:
            section["fields"] = [n for n in section["fields"] if n != "notes"]


def test_pl23_upgrade_plan_is_shown_then_applied_keeping_every_record(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    first = app.records.create("specimen", {"title": "Old", "notes": "keep me", "price": 12.5}, CTX)
    second = app.records.create("specimen", {"title": "Older", "notes": "me too"}, CTX)
    v2 = app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", _upgrade))
    with app.db.read() as conn:
        plan = plan_deploy(conn, v2)
    text = "\n".join(plan.describe())
    assert "upgrade 1.0.0 -> 1.1.0" in text
    assert "add column e_specimen.website" in text
    assert "archive column e_specimen.notes" in text and "data is kept" in text
    assert "widen column e_specimen.title from text up to 100 characters to text up to 200 characters" in text
    assert "build index ix_e_specimen_price on e_specimen(price)" in text
    assert "field 'specimen.title': label changed (no database change)" in text

    app.deploy(v2)
    cols = columns(app, "e_specimen")
    assert "website" in cols and "notes" not in cols
    archived = [c for c in cols if c.startswith("arch_notes_")]
    assert len(archived) == 1, cols
    with app.db.read() as conn:
        kept = dict(conn.execute(sa.text(f'SELECT id, "{archived[0]}" FROM e_specimen')).all())
    assert kept == {first["id"]: "keep me", second["id"]: "me too"}
    assert "ix_e_specimen_price" in index_names(app, "e_specimen")
    again = app.records.get("specimen", first["id"], CTX)
    assert again["title"] == "Old" and again["price"] == 12.5 and "notes" not in again
    updated = app.records.update(
        "specimen",
        first["id"],
        {"website": "https://a.example", "title": "x" * 150},
        CTX,
        expected_version=again["version"],
    )
    assert updated["website"] == "https://a.example" and len(updated["title"]) == 150


def test_pl19_failed_deploy_leaves_the_database_exactly_as_it_was(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    app.records.create("specimen", {"title": "Twin"}, CTX)
    app.records.create("specimen", {"title": "Twin"}, CTX)

    def unique_title(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.2.0"
        docs[SPECIMEN]["fields"].append({"name": "fresh", "type": "integer", "label": "Fresh"})
        field_named(docs[SPECIMEN], "title")["unique"] = True

    before_cols, before_idx = columns(app, "e_specimen"), index_names(app, "e_specimen")
    bad = app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "bad", unique_title))
    with pytest.raises(sa.exc.IntegrityError):
        app.deploy(bad)  # the unique index cannot be built over two identical titles
    assert columns(app, "e_specimen") == before_cols, "the added column was rolled back"
    assert index_names(app, "e_specimen") == before_idx
    with app.db.read() as conn:
        version = conn.execute(sa.text("SELECT version FROM tessera_packs WHERE id = 'all_fields'")).scalar_one()
    assert version == "1.0.0"


def test_pl23_a_change_that_would_lose_data_is_refused_in_plain_words(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")

    def narrow(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.3.0"
        field_named(docs[SPECIMEN], "notes")["type"] = "integer"

    with pytest.raises(DeployRefused) as info:
        app.deploy(app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "narrow", narrow)))
    assert "'specimen.notes' cannot change from long_text (long text) to integer" in info.value.problems[0]
    assert columns(app, "e_specimen")["notes"] == "TEXT"


def test_pl23_removing_a_whole_entity_archives_its_table(make_tessera: Callable[..., Tessera], tmp_path: Path) -> None:
    app = make_tessera("all_fields")
    app.records.create("region_office", {"name": "East"}, CTX)

    def drop_office(docs: dict) -> None:
        docs["pack.json"]["version"] = "2.0.0"
        del docs["entities/region_office.json"], docs["views/office_list.json"], docs["demo/offices.json"]
        docs[SPECIMEN]["fields"] = [f for f in docs[SPECIMEN]["fields"] if f["name"] != "office"]
        docs["forms/specimen_form.json"]["tabs"][1]["sections"][0]["fields"].remove("office")
        docs["menus.json"]["menus"][0]["items"].pop()

    app.deploy(app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", drop_office)))
    tables = sa.inspect(app.db.engine).get_table_names()
    assert "e_region_office" not in tables
    archived = [t for t in tables if t.startswith("arch_") and t.endswith("e_region_office")]
    with app.db.read() as conn:
        assert conn.execute(sa.text(f'SELECT name FROM "{archived[0]}"')).scalars().all() == ["East"]
    assert "region_office" not in app.registry.entities


def test_pl23_tessera_db_upgrade_creates_platform_tables_through_alembic(make_tessera: Callable[..., Tessera]) -> None:
    from runtime.storage import migrate
    from runtime.storage.platform_tables import metadata

    app = make_tessera()
    assert migrate.current_revision(app.db) == migrate.head_revision()
    inspector = sa.inspect(app.db.engine)
    for table in metadata.sorted_tables:
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == set(table.columns.keys()), f"{table.name} drifted from its migration"
        live_indexes = {i["name"] for i in inspector.get_indexes(table.name) if not i.get("duplicates_constraint")}
        declared = {i.name for i in table.indexes}
        assert live_indexes == declared, f"{table.name}: indexes drifted from the migrations"


def test_pl19_a_deploy_by_another_process_reaches_a_running_server(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    serving = make_tessera("all_fields")
    deployer = make_tessera()  # a second process on the same database, e.g. `tessera pack deploy`

    def add_field(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.0.1"
        docs[SPECIMEN]["fields"].append({"name": "website", "type": "text", "label": "Website"})

    deployer.deploy(deployer.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v101", add_field)))
    assert serving.registry.entity("specimen").field("website") is None
    assert serving.registry.refresh_if_changed(min_interval=0) is True
    assert serving.registry.entity("specimen").field("website") is not None
    assert serving.registry.refresh_if_changed(min_interval=0) is False, "nothing changed since"
    record = serving.records.create("specimen", {"title": "A", "website": "https://x.example"}, CTX)
    assert record["website"] == "https://x.example"
