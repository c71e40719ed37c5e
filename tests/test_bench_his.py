"""The HIS bench (bench/bench_his.py, `python -m bench --only his`) on a small file, both backends: the
measured code is correct (every row stored once, values read back equal through the records service,
sensitive fields ciphertext at rest and decrypting, the re-run changes nothing, both sides of each
comparison measured). Timing is never asserted here (bench/README.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bench.bench_his import (
    ENTITY,
    LIKE_TABLE,
    PACK_DIR,
    PLAIN_TABLE,
    run_his_import,
    run_hl7_rate,
    verify,
    write_patients_csv,
)
from runtime.records.context import Context
from runtime.records.query import ListQuery
from runtime.services import Tessera

N = 500
CTX = Context(channel="system", lang="en", is_admin=True)


def test_pc17_bench_his_import_stores_every_row_equal_and_encrypted(
    make_tessera: Callable[..., Tessera], backend: str, tmp_path: Path
) -> None:
    app = make_tessera(str(PACK_DIR))
    results = {r.name: r for r in run_his_import(app, backend, N, tmp_path)}
    expected = {"his_bulk_import", "his_bulk_import_vs_file", "his_bulk_reimport"}
    assert set(results) == expected | ({"his_bulk_db_write"} if backend == "postgresql" else set())

    first = results["his_bulk_import"]
    assert first.details["same_rows"] is True, first.details["problems"]
    assert first.details["created"] == N and first.ours > 0 and first.baseline > 0
    again = results["his_bulk_reimport"]
    assert again.details["unchanged"] == N and again.details["updated"] == 0 and again.details["same_rows"] is True

    rows = write_patients_csv(tmp_path / "again.csv", N)  # the same seeded rows the bench generated
    assert verify(app, rows, sample=N) == [], "every row reads back equal, phone encrypted at rest"
    table = app.registry.tables[ENTITY].main
    with app.db.read() as conn:
        plain = conn.execute(sa.text(f"SELECT count(*) FROM {PLAIN_TABLE}")).scalar_one()
        sealed = conn.execute(sa.select(table.c.id_number, table.c.address).limit(5)).all()
    assert plain == N, "the baseline loaded the same rows"
    with app.db.read() as conn:
        like = conn.execute(sa.text(f"SELECT count(*), count(DISTINCT id_number__bidx) FROM {LIKE_TABLE}")).one()
    assert tuple(like) == (N, N), "the headline baseline stored the same sealed rows in a copy of the entity table"
    assert _index_names(app, LIKE_TABLE) >= _index_names(app, table.name) - 1, "with the entity table's indexes"
    assert first.target == (">= 0.25x" if backend == "postgresql" else "report")
    assert all(v.startswith("v1:") for row in sealed for v in row)
    record = app.records.list(ENTITY, ListQuery(), CTX)
    assert all(r["id_number"] and not r["id_number"].startswith("v1:") for r in record.items), "decrypted on read"
    if backend == "postgresql":
        db = results["his_bulk_db_write"]
        assert db.ours > 0 and db.baseline > 0 and db.details["indexes"] > 1


def test_pc17_bench_hl7_rate_processes_every_message(
    make_tessera: Callable[..., Tessera], backend: str, tmp_path: Path
) -> None:
    app = make_tessera(str(PACK_DIR))
    result = run_hl7_rate(app, backend, 40)
    if result is None:  # the HIS inbound processor is not installed in this checkout
        return
    assert result.details["messages"] == 40 and sum(result.details["outcomes"].values()) == 40
    if (PACK_DIR / "his").is_dir():  # the pack declares its HIS mapping: every message is applied (or a replay)
        assert set(result.details["outcomes"]) <= {"applied", "duplicate", "stale"}, result.details["outcomes"]
        assert result.passed
    assert result.ours > 0 and result.baseline > 0
    with app.db.read() as conn:
        plain = conn.execute(sa.text("SELECT count(*) FROM bench_plain_adt")).scalar_one()
    assert plain == 40


def _index_names(app: Tessera, table: str) -> int:
    """How many indexes the table has (names differ between the copy and the entity table)."""
    return len(sa.inspect(app.db.engine).get_indexes(table))
