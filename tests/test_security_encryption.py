"""PL-21 encryption at rest of sensitive fields (phone, ID number), and PL-23 migrations that encrypt
existing data: on SQLite and PostgreSQL, through real HTTP where HTTP is the channel.

The all_fields pack's `specimen` has `phone` (phone, sensitive) and `id_number` (cn_id, sensitive,
unique); the database must never hold their plaintext, yet every channel reads plaintext, exact-match
search and unique checks keep working through the blind index, and keys can be rotated.
"""

from __future__ import annotations

import base64
import json
import logging
import stat
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from runtime.cli import app as cli
from runtime.config import Settings
from runtime.errors import RecordInvalid
from runtime.fields.formats import cn_resident_id_check_char
from runtime.records import Context, ListQuery
from runtime.records.query import Filter
from runtime.services import Tessera
from runtime.storage.deploy import DeployRefused, plan_deploy
from tests.support.packs import field_named, pack_variant

ALL_FIELDS = Path(__file__).parent / "packs" / "all_fields"
SPECIMEN = "entities/specimen.json"
CTX = Context(channel="api", lang="en", is_admin=True)
PHONE = "13800138000"
ID_NUMBER = "11010519491231002" + cn_resident_id_check_char("11010519491231002")
OTHER_ID = "44030519900101123" + cn_resident_id_check_char("44030519900101123")
KEY1 = "k1:" + base64.b64encode(b"1" * 32).decode()
KEY2 = "k2:" + base64.b64encode(b"2" * 32).decode()
INDEX_KEY = base64.b64encode(b"i" * 32).decode()


def raw_values(app: Tessera, table: str, *columns: str) -> list[tuple]:
    with app.db.read() as conn:
        quoted = ", ".join(f'"{c}"' for c in columns)
        return [tuple(r) for r in conn.execute(sa.text(f'SELECT {quoted} FROM "{table}" ORDER BY id'))]


def sqlite_bytes(app: Tessera) -> bytes:
    """The database file and its WAL, after a checkpoint: everything SQLite keeps on disk."""
    with app.db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    path = Path(app.db.engine.url.database)
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def keyed_tessera(database_url: str, tmp_path: Path, clock, **keys: str) -> Tessera:  # noqa: ANN001
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key="s" * 40, **keys)
    return Tessera(settings, clock=clock)


# what the database holds --------------------------------------------------------------------------
def test_pl21_database_holds_no_plaintext_phone_or_id_number(api: httpx.Client, tessera: Tessera, backend: str) -> None:
    r = api.post(
        "/api/v1/records/specimen",
        json={
            "title": "Encrypted",
            "phone": PHONE,
            "id_number": ID_NUMBER,
            "contacts": [{"name": "A", "mobile": "13911112222"}],
        },
    )
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["phone"] == PHONE and record["id_number"] == ID_NUMBER

    ((phone, id_number, phone_bidx, id_bidx),) = raw_values(
        tessera, "e_specimen", "phone", "id_number", "phone__bidx", "id_number__bidx"
    )
    assert phone.startswith("v1:k1:") and id_number.startswith("v1:k1:")
    for stored in (phone, id_number, phone_bidx, id_bidx):
        assert PHONE not in stored and ID_NUMBER not in stored and ID_NUMBER[-6:] not in stored
    assert len(phone_bidx) == 32 and len(id_bidx) == 32
    again = api.post("/api/v1/records/specimen", json={"title": "Same phone", "phone": PHONE}).json()
    (other_phone,) = raw_values(tessera, "e_specimen", "phone")[1]
    assert other_phone != phone, "a fresh nonce per value: equal phones do not show as equal ciphertext"
    assert api.get(f"/api/v1/records/specimen/{again['id']}").json()["phone"] == PHONE

    if backend == "sqlite":
        disk = sqlite_bytes(tessera)
        assert b"Encrypted" in disk, "the scan does see plain columns"
        assert PHONE.encode() not in disk and ID_NUMBER.encode() not in disk
    else:
        with tessera.db.read() as conn:
            dump = conn.execute(sa.text("SELECT e_specimen::text FROM e_specimen")).scalars().all()
        assert dump and not any(PHONE in row or ID_NUMBER in row for row in dump)
        types = {c["name"]: str(c["type"]) for c in sa.inspect(tessera.db.engine).get_columns("e_specimen")}
        assert types["phone"] == "TEXT" and types["phone__bidx"] == "VARCHAR(64)"


def test_pl21_key_file_is_generated_once_with_owner_only_access(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("all_fields")
    path = app.settings.data_dir / "field-keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["current"] == "k1" and set(doc) == {"current", "keys", "index_key"}
    assert not path.resolve().is_relative_to(Path(__file__).parent.parent / "runtime"), "never inside the code"
    before = path.read_text()
    make_tessera()  # a second process on the same data dir uses the same key
    assert path.read_text() == before


# reading and searching ----------------------------------------------------------------------------
def test_pl21_exact_match_search_works_and_other_searches_are_refused(api: httpx.Client) -> None:
    made = api.post("/api/v1/records/specimen", json={"title": "Findable", "phone": PHONE, "id_number": ID_NUMBER})
    api.post("/api/v1/records/specimen", json={"title": "Other", "phone": "13900139000"})
    api.post("/api/v1/records/specimen", json={"title": "No phone"})
    rid = made.json()["id"]

    def ids(**params: str) -> list[int]:
        r = api.get("/api/v1/records/specimen", params=params)
        assert r.status_code == 200, r.text
        return [item["id"] for item in r.json()["items"]]

    assert ids(phone=PHONE) == [rid]
    assert ids(phone="138 0013 8000") == [rid] and ids(phone="138-0013-8000") == [rid]
    assert ids(id_number=ID_NUMBER) == [rid] and ids(id_number=ID_NUMBER[:6] + " " + ID_NUMBER[6:]) == [rid]
    assert ids(phone__in=f"{PHONE},13700000000") == [rid]
    assert len(ids(phone__ne=PHONE)) == 2 and len(ids(phone__empty="true")) == 1
    items = api.get("/api/v1/records/specimen", params={"phone": PHONE}).json()["items"]
    assert items[0]["phone"] == PHONE and items[0]["id_number"] == ID_NUMBER, "lists return plaintext"

    for params in ({"phone__contains": "138"}, {"id_number__contains": "1101"}, {"phone__gt": "1"}):
        r = api.get("/api/v1/records/specimen", params=params)
        assert r.status_code == 400, r.text
        name = next(iter(params)).split("__")[0]
        assert r.json()["error"]["message"] == f"{name} is encrypted: only exact-match search is possible"
    r = api.get("/api/v1/records/specimen", params={"sort": "-phone"})
    assert r.status_code == 400 and "phone is encrypted" in r.json()["error"]["message"]


def test_pl21_service_search_matches_encrypted_search_fields_exactly(tessera: Tessera) -> None:
    made = tessera.records.create("specimen", {"title": "By phone", "phone": PHONE}, CTX)
    tessera.records.create("specimen", {"title": "138 not this one"}, CTX)
    found = tessera.records.list("specimen", ListQuery(search="138-0013-8000", search_fields=["phone", "title"]), CTX)
    assert [r["id"] for r in found.items] == [made["id"]]
    partial = tessera.records.list("specimen", ListQuery(search="138", search_fields=["phone"]), CTX)
    assert partial.items == []
    by_filter = tessera.records.list("specimen", ListQuery(filters=[Filter("phone", "eq", PHONE)]), CTX)
    assert [r["id"] for r in by_filter.items] == [made["id"]]


def test_pl21_unique_sensitive_field_is_still_refused(api: httpx.Client, tessera: Tessera) -> None:
    first = api.post("/api/v1/records/specimen", json={"title": "First", "id_number": ID_NUMBER[:-1] + "X"})
    if ID_NUMBER[-1] != "X":  # only an X check character has a lower-case twin
        first = api.post("/api/v1/records/specimen", json={"title": "First", "id_number": ID_NUMBER})
    assert first.status_code == 201, first.text
    r = api.post("/api/v1/records/specimen", json={"title": "Twin", "id_number": first.json()["id_number"].lower()})
    assert r.status_code == 422
    errors = r.json()["error"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("id_number", "unique")]
    assert errors[0]["message"] in ("该值已被另一条记录使用", "is already used by another record"), "no record id leaks"
    other = api.post("/api/v1/records/specimen", json={"title": "Other", "id_number": OTHER_ID})
    assert other.status_code == 201
    moved = api.patch(
        f"/api/v1/records/specimen/{other.json()['id']}", json={"id_number": first.json()["id_number"], "version": 1}
    )
    assert moved.status_code == 422 and moved.json()["error"]["errors"][0]["field"] == "id_number"
    with tessera.db.read() as conn:  # the database enforces it too, on the blind index
        indexes = {i["name"]: i for i in sa.inspect(conn).get_indexes("e_specimen")}
    assert indexes["ux_e_specimen_id_number"]["column_names"] == ["id_number__bidx"]
    assert indexes["ux_e_specimen_id_number"]["unique"]


def test_pl21_tampered_ciphertext_reads_as_empty_and_is_logged(
    api: httpx.Client, tessera: Tessera, caplog: pytest.LogCaptureFixture
) -> None:
    made = api.post("/api/v1/records/specimen", json={"title": "Tampered", "phone": PHONE, "id_number": ID_NUMBER})
    rid = made.json()["id"]
    (phone, id_number) = raw_values(tessera, "e_specimen", "phone", "id_number")[0]
    flipped = phone[:-2] + ("A" if phone[-2] != "A" else "B") + phone[-1]
    with tessera.db.write() as conn:  # an altered value, and a ciphertext moved to another column
        conn.execute(sa.text("UPDATE e_specimen SET phone = :p, title = 'T'"), {"p": flipped})
        conn.execute(sa.text("UPDATE e_specimen SET id_number = :p"), {"p": phone})
    with caplog.at_level(logging.ERROR, logger="tessera.security"):
        r = api.get(f"/api/v1/records/specimen/{rid}")
        listed = api.get("/api/v1/records/specimen")
    assert r.status_code == 200 and listed.status_code == 200
    assert r.json()["phone"] is None and r.json()["id_number"] is None and r.json()["title"] == "T"
    assert listed.json()["items"][0]["phone"] is None
    messages = [rec.getMessage() for rec in caplog.records]
    assert any("e_specimen.phone" in m and f"#{rid}" in m and "authentication failed" in m for m in messages)
    assert any("e_specimen.id_number" in m for m in messages)
    assert not any(PHONE in m or id_number in m for m in messages)


# keys ---------------------------------------------------------------------------------------------
def _cli_env(monkeypatch: pytest.MonkeyPatch, app: Tessera, **extra: str) -> None:
    monkeypatch.setenv("TESSERA_DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("TESSERA_DATA_DIR", str(app.settings.data_dir))
    monkeypatch.setenv("TESSERA_SECRET_KEY", app.settings.secret_key)
    for name in ("TESSERA_FIELD_KEY", "TESSERA_FIELD_KEYS_OLD", "TESSERA_FIELD_INDEX_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def test_pl21_key_rotation_reencrypts_every_value_and_the_old_key_can_go(
    make_tessera: Callable[..., Tessera], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    ids = [
        app.records.create(
            "specimen",
            {"title": f"R{i}", "phone": f"1380013800{i}", "contacts": [{"name": "C", "mobile": PHONE}]},
            CTX,
        )["id"]
        for i in range(3)
    ]
    app.records.create("specimen", {"title": "Holder", "id_number": ID_NUMBER}, CTX)
    _archive_variant = pack_variant(ALL_FIELDS, tmp_path / "v2", _drop_phone)
    app.deploy(app.load_pack(_archive_variant))  # phone is archived, still encrypted under k1
    archived = next(c for c in sa.inspect(app.db.engine).get_columns("e_specimen") if c["name"].startswith("arch_"))
    _cli_env(monkeypatch, app)
    runner = CliRunner()

    status = runner.invoke(cli, ["keys", "status"])
    assert status.exit_code == 0, status.output
    assert "current k1" in status.output and "values per key: k1 11" in status.output, status.output
    assert "tessera_audit.changes: k1 4" in status.output, "the audit trail's encrypted before/after values count"
    assert (
        "e_specimen__contacts.mobile: k1 3" in status.output and f"e_specimen.{archived['name']}: k1 3" in status.output
    )
    refused = runner.invoke(cli, ["keys", "retire", "k1"])
    assert refused.exit_code == 2 and "still encrypts values" in refused.output

    rotated = runner.invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    assert "new current key k2" in rotated.output and "e_specimen.id_number: 1 re-encrypted" in rotated.output
    stored = raw_values(app, "e_specimen", "id_number", archived["name"])
    assert all(v is None or v.startswith("v1:k2:") for row in stored for v in row)
    assert sum(v is not None for _, v in stored) == 3, "the archived column was rotated too"
    assert "values per key: k2 11" in runner.invoke(cli, ["keys", "status"]).output

    retired = runner.invoke(cli, ["keys", "retire", "k1"])
    assert retired.exit_code == 0, retired.output
    assert set(json.loads((app.settings.data_dir / "field-keys.json").read_text())["keys"]) == {"k2"}
    fresh = make_tessera()  # a new process that never saw k1
    holder = fresh.records.list("specimen", ListQuery(filters=[Filter("id_number", "eq", ID_NUMBER)]), CTX)
    assert [r["title"] for r in holder.items] == ["Holder"], "blind indexes survive the rotation"
    assert fresh.records.get("specimen", ids[0], CTX)["contacts"][0]["mobile"] == PHONE
    with fresh.db.read() as conn:
        plain = conn.execute(sa.text(f'SELECT "{archived["name"]}" FROM e_specimen ORDER BY id')).scalars().first()
    assert fresh.cipher.decrypt(plain, "e_specimen.phone") == "13800138000"
    with fresh.db.read() as conn:
        audit = sa.text("SELECT changes FROM tessera_audit WHERE record_id = :r AND action = 'create'")
        changes = conn.execute(audit, {"r": holder.items[0]["id"]}).scalar_one()
    changes = json.loads(changes) if isinstance(changes, str) else changes
    assert json.loads(fresh.cipher.decrypt(changes["id_number"]["after"])) == ID_NUMBER, "audit history too"


def _drop_phone(docs: dict) -> None:
    docs["pack.json"]["version"] = "1.1.0"
    docs[SPECIMEN]["fields"] = [f for f in docs[SPECIMEN]["fields"] if f["name"] != "phone"]
    field_named(docs[SPECIMEN], "contacts")["fields"][1]["sensitive"] = True
    for tab in docs["forms/specimen_form.json"]["tabs"]:
        for section in tab["sections"]:
            section["fields"] = [n for n in section["fields"] if n != "phone"]


def test_pl21_rotation_with_keys_from_the_environment(
    database_url: str,
    tmp_path: Path,
    clock,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    app = keyed_tessera(database_url, tmp_path, clock, field_key=KEY1, field_index_key=INDEX_KEY)
    app.deploy(app.load_pack(ALL_FIELDS))
    made = app.records.create("specimen", {"title": "Env", "phone": PHONE, "id_number": ID_NUMBER}, CTX)
    assert not (tmp_path / "data" / "field-keys.json").exists(), "no key file when the keys come from the environment"
    assert raw_values(app, "e_specimen", "phone")[0][0].startswith("v1:k1:")

    _cli_env(monkeypatch, app, TESSERA_FIELD_KEY=KEY2, TESSERA_FIELD_KEYS_OLD=KEY1, TESSERA_FIELD_INDEX_KEY=INDEX_KEY)
    result = CliRunner().invoke(cli, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "remove TESSERA_FIELD_KEYS_OLD" in result.output
    assert all(v.startswith("v1:k2:") for v in raw_values(app, "e_specimen", "phone", "id_number")[0])

    only_new = keyed_tessera(database_url, tmp_path, clock, field_key=KEY2, field_index_key=INDEX_KEY)
    again = only_new.records.get("specimen", made["id"], CTX)
    assert again["phone"] == PHONE and again["id_number"] == ID_NUMBER
    found = only_new.records.list("specimen", ListQuery(filters=[Filter("phone", "eq", PHONE)]), CTX)
    assert [r["id"] for r in found.items] == [made["id"]]
    only_new.close()
    app.close()


def test_pl21_bad_key_settings_are_refused_in_plain_words(tmp_path: Path, clock) -> None:  # noqa: ANN001
    from runtime.security.keys import KeyConfigError

    url = f"sqlite:///{tmp_path / 'k.sqlite3'}"
    with pytest.raises(KeyConfigError, match="32 random bytes"):
        keyed_tessera(url, tmp_path, clock, field_key="k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(KeyConfigError, match="not base64"):
        keyed_tessera(url, tmp_path, clock, field_key="k1:%%%")
    with pytest.raises(KeyConfigError, match="without TESSERA_FIELD_KEY"):
        keyed_tessera(url, tmp_path, clock, field_keys_old=KEY1)


# migrations ---------------------------------------------------------------------------------------
def test_pl23_making_a_field_sensitive_encrypts_existing_values_in_the_deploy(
    make_tessera: Callable[..., Tessera], tmp_path: Path, backend: str
) -> None:
    app = make_tessera("all_fields")
    a = app.records.create("specimen", {"title": "A", "email": "Ward.Nurse@example.cn"}, CTX)
    app.records.create("specimen", {"title": "B", "email": "b@example.cn"}, CTX)
    app.records.create("specimen", {"title": "C"}, CTX)

    def sensitive_email(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.1.0"
        field_named(docs[SPECIMEN], "email")["sensitive"] = True
        field_named(docs[SPECIMEN], "email")["unique"] = True

    v2 = app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", sensitive_email))
    with app.db.read() as conn:
        text = "\n".join(plan_deploy(conn, v2).describe())
    assert "encrypt column e_specimen.email (2 values) and add its blind index email__bidx" in text
    assert "build unique index ux_e_specimen_email on e_specimen(email__bidx)" in text
    assert "changed (no database change)" not in text

    app.deploy(v2)
    stored = [v for (v,) in raw_values(app, "e_specimen", "email")]
    assert stored[2] is None and all(v.startswith("v1:k1:") for v in stored[:2])
    assert app.records.get("specimen", a["id"], CTX)["email"] == "Ward.Nurse@example.cn"
    found = app.records.list("specimen", ListQuery(filters=[Filter("email", "eq", "ward.nurse@example.cn")]), CTX)
    assert [r["id"] for r in found.items] == [a["id"]], "e-mail addresses match case-insensitively"

    def plain_again(docs: dict) -> None:
        sensitive_email(docs)
        docs["pack.json"]["version"] = "1.2.0"
        field_named(docs[SPECIMEN], "email")["sensitive"] = False

    v3 = app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v3", plain_again))
    result = app.deploy(v3)
    assert any("decrypt column e_specimen.email (2 values)" in line for line in result.plan.describe())
    assert [v for (v,) in raw_values(app, "e_specimen", "email")][:2] == ["Ward.Nurse@example.cn", "b@example.cn"]
    columns = {c["name"]: str(c["type"]) for c in sa.inspect(app.db.engine).get_columns("e_specimen")}
    assert "email__bidx" not in columns
    if backend == "postgresql":
        assert columns["email"] == "VARCHAR(254)"
    assert app.records.list("specimen", ListQuery(filters=[Filter("email", "contains", "Nurse")]), CTX).items


def test_pl23_a_child_table_field_made_sensitive_is_encrypted_too(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    made = app.records.create("specimen", {"title": "Kids", "contacts": [{"name": "A", "mobile": PHONE}]}, CTX)

    def sensitive_mobile(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.1.0"
        field_named(docs[SPECIMEN], "contacts")["fields"][1]["sensitive"] = True
        new = {"name": "guardian_id", "type": "cn_id", "label": "Guardian", "sensitive": True, "unique": True}
        docs[SPECIMEN]["fields"].append(new)

    result = app.deploy(app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", sensitive_mobile)))
    text = "\n".join(result.plan.describe())
    assert "encrypt column e_specimen__contacts.mobile (1 value)" in text
    assert "add column e_specimen.guardian_id (cn_id, 'Guardian', encrypted at rest, with blind index" in text
    guardian = app.records.create("specimen", {"title": "G", "guardian_id": ID_NUMBER}, CTX)
    assert app.records.get("specimen", guardian["id"], CTX)["guardian_id"] == ID_NUMBER
    assert raw_values(app, "e_specimen", "guardian_id")[-1][0].startswith("v1:")
    with pytest.raises(RecordInvalid):
        app.records.create("specimen", {"title": "G2", "guardian_id": ID_NUMBER}, CTX)
    (mobile,) = raw_values(app, "e_specimen__contacts", "mobile")[0]
    assert mobile.startswith("v1:")
    assert app.records.get("specimen", made["id"], CTX)["contacts"][0]["mobile"] == PHONE
    updated = app.records.update(
        "specimen",
        made["id"],
        {"contacts": [{"name": "B", "mobile": "13900139000"}, {"name": "C"}]},
        CTX,
        expected_version=1,
    )
    assert [c["mobile"] for c in updated["contacts"]] == ["13900139000", None]
    assert all(v is None or v.startswith("v1:") for (v,) in raw_values(app, "e_specimen__contacts", "mobile"))


def test_pl23_a_sensitive_field_that_cannot_be_encrypted_is_refused(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")

    def sensitive_beds(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.1.0"
        field_named(docs[SPECIMEN], "beds")["sensitive"] = True

    with pytest.raises(DeployRefused) as info:
        app.deploy(app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", sensitive_beds)))
    assert "'specimen.beds' is sensitive, but a integer field cannot be encrypted" in info.value.problems[0]


def test_pl23_a_deploy_with_an_undecryptable_value_changes_nothing(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    app.records.create("specimen", {"title": "Broken", "phone": PHONE}, CTX)
    with app.db.write() as conn:
        conn.execute(sa.text("UPDATE e_specimen SET phone = 'v1:k9:AAAA'"))

    def plain_phone(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.1.0"
        field_named(docs[SPECIMEN], "phone")["sensitive"] = False

    with pytest.raises(DeployRefused) as info:
        app.deploy(app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", plain_phone)))
    assert "cannot be decrypted" in info.value.problems[0] and "'k9' is not available" in info.value.problems[0]
    assert raw_values(app, "e_specimen", "phone") == [("v1:k9:AAAA",)]
    assert "phone__bidx" in {c["name"] for c in sa.inspect(app.db.engine).get_columns("e_specimen")}


def test_pl23_an_encrypted_field_changing_type_gets_its_blind_index_rebuilt(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = make_tessera("all_fields")
    made = app.records.create("specimen", {"title": "Retyped", "phone": "010-12345678"}, CTX)

    def phone_as_text(docs: dict) -> None:
        docs["pack.json"]["version"] = "1.1.0"
        field_named(docs[SPECIMEN], "phone")["type"] = "text"

    result = app.deploy(app.load_pack(pack_variant(ALL_FIELDS, tmp_path / "v2", phone_as_text)))
    text = "\n".join(result.plan.describe())
    assert "rebuild the blind index phone__bidx of encrypted column e_specimen.phone (1 value)" in text
    assert "no database change" not in text

    def ids(value: str) -> list[int]:
        found = app.records.list("specimen", ListQuery(filters=[Filter("phone", "eq", value)]), CTX)
        return [r["id"] for r in found.items]

    assert ids("010-12345678") == [made["id"]]
    assert ids("01012345678") == [], "text is compared as typed: phone-number normalisation no longer applies"


def test_pl21_rotation_covers_tables_archived_with_a_removed_entity(tessera: Tessera) -> None:
    """A removed entity's table is renamed arch_<stamp>_<table>; its ciphertext must not outlive its key."""
    from runtime.security.keys import add_key, encrypted_columns, key_usage, rotate_values

    sealed = tessera.cipher.encrypt("13700137000", "e_ghost.mobile")
    with tessera.db.write() as conn:
        conn.execute(sa.text('CREATE TABLE "arch_20260101000000_e_ghost" (id INTEGER PRIMARY KEY, mobile TEXT)'))
        conn.execute(sa.text('INSERT INTO "arch_20260101000000_e_ghost" VALUES (1, :m), (2, NULL)'), {"m": sealed})
    add_key(tessera.cipher.keys.key_file)
    tessera.cipher.keys.reload()
    with tessera.db.read() as conn:
        columns = encrypted_columns(conn, tessera.registry.entities.values())
    assert "arch_20260101000000_e_ghost.mobile" in [c.name for c in columns]
    counts = rotate_values(tessera.db, columns, tessera.cipher)
    assert counts["arch_20260101000000_e_ghost.mobile"].rotated == 1
    with tessera.db.read() as conn:
        assert key_usage(conn, columns)["arch_20260101000000_e_ghost.mobile"] == {"k2": 1}
    (value,) = raw_values(tessera, "arch_20260101000000_e_ghost", "mobile")[0]
    assert tessera.cipher.decrypt(value, "e_ghost.mobile") == "13700137000"


def test_pl21_bulk_sealer_stores_what_seal_stores(tessera: Tessera) -> None:
    """The bulk import seals through TableCrypt.sealer: its ciphertext opens to the value under the field's
    associated data, and its blind index is the one seal() and every search compute."""
    table = tessera.registry.tables["specimen"].main.name
    crypt = tessera.cipher.for_table(table)
    phone = tessera.registry.entity("specimen").field("phone")
    seal_one = crypt.sealer(phone)
    token, index = seal_one(" 138-0013-8000 ")
    sealed = crypt.seal(phone, "13800138000")
    assert index == sealed["phone__bidx"], "a search for the normalised number finds the bulk-loaded value"
    assert token != sealed["phone"] and token.startswith("v1:")
    assert crypt.open(phone, token) == " 138-0013-8000 "
    assert crypt.open(tessera.registry.entity("specimen").field("id_number"), token) is None, "bound to its column"
