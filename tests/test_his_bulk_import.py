"""PC-17 bulk HIS import (runtime/his/bulk_import.py): the archive's initial load of patients from a CSV
file, keyed by his_patient_id, on SQLite (executemany upsert) and PostgreSQL (COPY into a staging table,
one INSERT ... ON CONFLICT). Every row is validated first and reported by file, line and field; one bad
row writes nothing; sensitive fields are encrypted at rest and still found by exact search; one audit
summary entry; a re-run changes nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.bench_his import COLUMNS, PACK_DIR, PatientMaker
from runtime.errors import BadRequest, Forbidden
from runtime.his.bulk_import import bulk_import
from runtime.records.context import Context
from runtime.records.query import Filter, ListQuery
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

CTX = Context(channel="system", lang="en", is_admin=True)


def _pack(make_tessera: Callable[..., Tessera]) -> Tessera:
    return make_tessera(str(PACK_DIR))


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _patients(n: int, seed: int = 7) -> list[dict[str, str]]:
    maker = PatientMaker(seed)
    return [maker.make(i) for i in range(n)]


def _count(app: Tessera) -> int:
    table = app.registry.tables["patient"].main
    with app.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_pc17_bulk_import_loads_patients_encrypted_searchable_and_audited_once(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    rows = _patients(60)
    report = bulk_import(app, "patient", _write(tmp_path / "archive.csv", rows), key="his_patient_id")
    assert report.committed and report.error_count == 0, [e.as_dict(report.file) for e in report.errors]
    assert (report.rows, report.created, report.updated, report.unchanged) == (60, 60, 0, 0)
    assert _count(app) == 60

    table = app.registry.tables["patient"].main
    with app.db.read() as conn:
        raw = (
            conn.execute(sa.select(table).where(table.c.his_patient_id == rows[10]["his_patient_id"])).mappings().one()
        )
    assert raw["phone"].startswith("v1:") and rows[10]["phone"] not in raw["phone"], "phone encrypted at rest"
    assert raw["id_number"].startswith("v1:") and raw["address"].startswith("v1:")
    assert raw["version"] == 1 and raw["age"] is not None, "system columns and the computed age are filled"

    record = app.records.get("patient", raw["id"], CTX)
    for name in ("name", "gender", "birth_date", "id_number", "phone", "address", "ward", "disease", "diagnosis"):
        assert record[name] == rows[10][name], name
    assert record["follow_up_status"] == "pending" and record["birthday_greetings"] is True, "field defaults"

    found = app.records.list("patient", ListQuery(filters=[Filter("phone", "eq", rows[10]["phone"])]), CTX).items
    assert [r["id"] for r in found] == [raw["id"]], "the blind index of an encrypted field serves exact search"

    with app.db.read() as conn:
        entries = conn.execute(sa.select(pt.audit).where(pt.audit.c.entity == "patient")).mappings().all()
        oplog = conn.execute(sa.select(pt.oplog).where(pt.oplog.c.kind == "import")).mappings().all()
    assert len(entries) == 1 and entries[0]["action"] == "bulk_import" and entries[0]["channel"] == "import"
    summary = entries[0]["changes"]["bulk_import"][1]
    assert summary["created"] == 60 and summary["file"] == "archive.csv"
    assert len(oplog) == 1 and oplog[0]["detail"]["committed"] is True and oplog[0]["detail"]["create"] == 60


def test_pc17_bulk_import_reports_every_bad_row_by_file_line_and_field_and_writes_nothing(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    rows = _patients(8)
    rows[1]["phone"] = "12345"  # line 3: not a phone number
    rows[2]["gender"] = "robot"  # line 4: not an option
    rows[3]["name"] = ""  # line 5: required
    rows[4]["his_patient_id"] = rows[0]["his_patient_id"]  # line 6: the key twice in the file
    rows[5]["birth_date"] = "1990-01-01"  # line 7: does not match the ID number (the entity's validation)
    rows[6]["id_number"] = rows[7]["id_number"]  # lines 8 and 9: a unique field twice
    rows[6]["birth_date"], rows[6]["gender"] = rows[7]["birth_date"], rows[7]["gender"]
    report = bulk_import(app, "patient", _write(tmp_path / "bad.csv", rows), key="his_patient_id")
    assert not report.committed
    got = {(e["line"], e["field"]) for e in (x.as_dict(report.file) for x in report.errors)}
    assert {(3, "phone"), (4, "gender"), (5, "name"), (6, "his_patient_id"), (7, "birth_date")} <= got, got
    assert (8, "id_number") in got or (9, "id_number") in got, got
    assert all(e.as_dict(report.file)["file"] == "bad.csv" and e.message for e in report.errors)
    assert _count(app) == 0, "all or nothing: the good rows are not written either"
    with app.db.read() as conn:
        oplog = conn.execute(sa.select(pt.oplog.c.detail).where(pt.oplog.c.kind == "import")).scalars().all()
        audits = conn.execute(sa.select(sa.func.count()).select_from(pt.audit)).scalar_one()
    assert len(oplog) == 1 and oplog[0]["committed"] is False and oplog[0]["error"] == report.error_count
    assert audits == 0


def test_pc17_bulk_import_updates_by_his_id_keeps_empty_cells_and_a_rerun_changes_nothing(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    rows = _patients(5)
    first = rows[0]
    existing = app.records.create(
        "patient",
        {k: first[k] for k in ("his_patient_id", "name", "gender", "birth_date", "id_number", "phone")}
        | {"remarks": "entered by hand"},
        CTX,
    )
    rows[0] = {**first, "phone": "", "address": "虚构市新地址路 8 号"}  # empty phone: the stored one stays
    path = _write(tmp_path / "update.csv", rows)
    report = bulk_import(app, "patient", path, key="his_patient_id")
    assert report.committed and (report.created, report.updated, report.unchanged) == (4, 1, 0)
    after = app.records.get("patient", existing["id"], CTX)
    assert after["phone"] == first["phone"] and after["address"] == "虚构市新地址路 8 号"
    assert after["remarks"] == "entered by hand" and after["version"] == existing["version"] + 1
    assert after["ward"] == first["ward"]

    again = bulk_import(app, "patient", path, key="his_patient_id")
    assert again.committed and (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert app.records.get("patient", existing["id"], CTX)["version"] == after["version"], "a re-run changes nothing"
    assert _count(app) == 5


def test_pc17_bulk_import_refuses_a_unique_value_of_another_stored_patient(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    rows = _patients(3)
    other = app.records.create(
        "patient",
        {
            "his_patient_id": "MRN-OTHER",
            "name": "王小明",
            "gender": rows[1]["gender"],
            "id_number": rows[1]["id_number"],
        },
        CTX,
    )
    report = bulk_import(app, "patient", _write(tmp_path / "clash.csv", rows), key="his_patient_id")
    assert not report.committed
    assert [(e.line, e.field, e.code) for e in report.errors] == [(3, "id_number", "unique")]
    assert _count(app) == 1 and app.records.get("patient", other["id"], CTX)["name"] == "王小明"


def test_pc17_bulk_import_accepts_labels_and_gb18030_and_names_a_missing_key_column(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    row = _patients(1)[0]
    zh = {"his_patient_id": "HIS 患者号", "name": "姓名", "gender": "性别", "ward": "病区"}
    labels = {f.name: f.label_in("zh") for f in app.registry.entity("patient").fields}
    header = [labels[c] if c in zh else c for c in ("his_patient_id", "name", "gender", "birth_date", "id_number")]
    gender_zh = "男" if row["gender"] == "male" else "女"
    text = (
        ",".join(header)
        + "\n"
        + ",".join([row["his_patient_id"], row["name"], gender_zh, row["birth_date"], row["id_number"]])
    )
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gb18030"))
    report = bulk_import(app, "patient", path, key="his_patient_id")
    assert report.committed and report.created == 1, [e.as_dict(report.file) for e in report.errors]
    stored = app.records.list("patient", ListQuery(), CTX).items[0]
    assert stored["gender"] == row["gender"] and stored["name"] == row["name"]

    no_key = tmp_path / "nokey.csv"
    no_key.write_text("name,gender\n王五,男\n", encoding="utf-8")
    with pytest.raises(BadRequest, match="no column for the key 'his_patient_id'"):
        bulk_import(app, "patient", no_key, key="his_patient_id")


def test_pc17_bulk_initial_load_rebuilds_the_indexes_it_dropped(
    make_tessera: Callable[..., Tessera], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large first load of an empty table drops the secondary indexes and builds them again
    after the insert; the table ends with exactly the indexes it had, and they serve searches."""
    import runtime.his.bulk_import as bulk

    monkeypatch.setattr(bulk, "REBUILD_MIN_ROWS", 10)  # the path a 100,000-row load takes, on 30 rows
    app = _pack(make_tessera)
    table = app.registry.tables["patient"].main.name

    def indexes() -> set[tuple[str, tuple[str, ...], bool]]:
        found = sa.inspect(app.db.engine).get_indexes(table)
        return {(i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found}

    before = indexes()
    rows = _patients(30)
    report = bulk_import(app, "patient", _write(tmp_path / "first.csv", rows), key="his_patient_id")
    assert report.committed and report.created == 30
    assert indexes() == before
    found = app.records.list("patient", ListQuery(filters=[Filter("id_number", "eq", rows[7]["id_number"])]), CTX)
    assert [r["his_patient_id"] for r in found.items] == [rows[7]["his_patient_id"]]
    more = _patients(45)[30:]
    second = bulk_import(app, "patient", _write(tmp_path / "second.csv", more), key="his_patient_id")
    assert second.committed and second.created == 15 and _count(app) == 45 and indexes() == before


def test_pc17_cli_his_import_patients_loads_a_file_and_lists_bad_lines(
    make_tessera: Callable[..., Tessera], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from runtime.cli import app as cli

    app = _pack(make_tessera)
    for name, value in (
        ("TESSERA_DATABASE_URL", app.settings.database_url),
        ("TESSERA_DATA_DIR", str(app.settings.data_dir)),
        ("TESSERA_SECRET_KEY", app.settings.secret_key),
    ):
        monkeypatch.setenv(name, value)
    rows = _patients(12)
    bad = [dict(r) for r in rows]
    bad[2]["phone"] = "12345"
    runner = CliRunner()
    refused = runner.invoke(cli, ["his", "import-patients", str(_write(tmp_path / "bad.csv", bad))])
    assert refused.exit_code == 1, refused.output
    assert "bad.csv:4: phone:" in refused.output and "nothing written" in refused.output, refused.output
    assert _count(app) == 0

    dry = runner.invoke(cli, ["his", "import-patients", "--dry-run", str(_write(tmp_path / "ok.csv", rows))])
    assert dry.exit_code == 0 and "12 rows checked (dry run)" in dry.output, dry.output
    assert _count(app) == 0
    done = runner.invoke(cli, ["his", "import-patients", str(tmp_path / "ok.csv")])
    assert done.exit_code == 0 and "12 rows loaded" in done.output and "12 created" in done.output, done.output
    assert _count(app) == 12


def test_pc17_bulk_import_never_overwrites_newer_his_data_and_is_for_administrators(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    rows = _patients(2)
    newer, older = rows
    kept = {"name", "gender", "birth_date", "id_number", "his_patient_id"}
    fresh = app.records.create(  # the live HIS stream applied a later event to this patient already
        "patient", {k: newer[k] for k in kept} | {"ward": "oncology", "his_updated_at": "2026-11-22T08:00:00"}, CTX
    )
    stale = app.records.create(
        "patient", {k: older[k] for k in kept} | {"ward": "oncology", "his_updated_at": "2020-01-01T08:00:00"}, CTX
    )
    path = _write(tmp_path / "archive.csv", rows)
    report = bulk_import(app, "patient", path, key="his_patient_id", stamp="his_updated_at")
    assert report.committed and (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert app.records.get("patient", fresh["id"], CTX)["ward"] == "oncology", "newer HIS data kept"
    assert app.records.get("patient", stale["id"], CTX)["ward"] == older["ward"], "older data replaced"

    officer = Context(channel="ui", lang="en", user_id=1, is_admin=False)
    with pytest.raises(Forbidden):
        bulk_import(app, "patient", path, key="his_patient_id", ctx=officer)


def test_pc17_bulk_import_answers_bad_files_with_a_clear_error(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    app = _pack(make_tessera)
    header_only = tmp_path / "empty.csv"
    header_only.write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    report = bulk_import(app, "patient", header_only, key="his_patient_id")
    assert report.committed and report.rows == 0 and _count(app) == 0
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x80\x81\xfe")
    with pytest.raises(BadRequest, match="neither UTF-8 nor GB18030"):
        bulk_import(app, "patient", binary, key="his_patient_id")
    nothing = tmp_path / "nothing.csv"
    nothing.write_bytes(b"")
    with pytest.raises(BadRequest, match="the file is empty"):
        bulk_import(app, "patient", nothing, key="his_patient_id")
    with pytest.raises(BadRequest, match="must be a unique, not encrypted field"):
        bulk_import(app, "patient", header_only, key="phone")
    with pytest.raises(BadRequest, match="is not a field of patient"):
        bulk_import(app, "patient", header_only, key="mrn")


def test_pc17_bulk_import_checked_in_several_processes_reports_and_stores_the_same(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    """A large archive is checked in forked worker processes (runtime/his/parallel.py): the errors (in file
    order, with their lines) and the stored rows are those of a check in one process."""
    app = _pack(make_tessera)
    rows = _patients(40)
    rows[2]["phone"] = "12345"  # line 4, in the first process's slice
    rows[31]["birth_date"] = "1990-01-01"  # line 33, in a worker's slice
    rows[37]["gender"] = "robot"  # line 39
    bad = _write(tmp_path / "bad.csv", rows)
    one = bulk_import(app, "patient", bad, key="his_patient_id", workers=1)
    three = bulk_import(app, "patient", bad, key="his_patient_id", workers=3)
    assert [e.as_dict("f") for e in three.errors] == [e.as_dict("f") for e in one.errors]
    assert sorted((e.line, e.field) for e in three.errors) == [(4, "phone"), (33, "birth_date"), (39, "gender")]
    assert not three.committed and _count(app) == 0

    good = _patients(40, seed=8)
    report = bulk_import(app, "patient", _write(tmp_path / "good.csv", good), key="his_patient_id", workers=3)
    assert report.committed and report.created == 40 and _count(app) == 40
    table = app.registry.tables["patient"].main
    with app.db.read() as conn:
        stored = {r.his_patient_id: r for r in conn.execute(sa.select(table))}
    for row in (good[0], good[20], good[39]):  # one from each process's slice, sealed and readable
        raw = stored[row["his_patient_id"]]
        assert raw.phone.startswith("v1:") and raw.age is not None
        assert app.records.get("patient", raw.id, CTX)["phone"] == row["phone"]
    found = app.records.list("patient", ListQuery(filters=[Filter("phone", "eq", good[39]["phone"])]), CTX).items
    assert [r["his_patient_id"] for r in found] == [good[39]["his_patient_id"]], "blind index from a worker"

    good[30]["phone"] = "13900000030"  # an update checked (merged with the decrypted stored record) in a worker
    again = bulk_import(app, "patient", _write(tmp_path / "again.csv", good), key="his_patient_id", workers=3)
    assert (again.committed, again.created, again.updated, again.unchanged) == (True, 0, 1, 39)
    raw = stored[good[30]["his_patient_id"]]
    assert app.records.get("patient", raw.id, CTX)["phone"] == "13900000030"
