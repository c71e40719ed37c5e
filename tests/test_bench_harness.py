"""The benchmark harness at tiny scale: every benchmark runs and yields well-formed results.

Correctness of the harness only (both sides measured, same rows on both sides); no timing
assertions, speed is judged by `python -m bench` against its baselines.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.bench_create import run_create
from bench.bench_list import run_list
from bench.bench_validate import run_validate
from bench.harness import Result, format_table
from bench.setup_data import ENTITY, bench_tessera, bulk_load
from runtime.services import Tessera


@pytest.fixture
def sqlite_bench(tmp_path: Path) -> Iterator[Tessera]:
    with bench_tessera("sqlite", tmp_path) as tessera:
        yield tessera


def _well_formed(r: Result) -> None:
    for value in (r.ours, r.baseline, r.ratio):
        assert isinstance(value, float) and math.isfinite(value) and value > 0, r
    assert r.target and r.unit and isinstance(r.passed, bool)


def test_create_measures_both_sides(sqlite_bench: Tessera) -> None:
    r = run_create(sqlite_bench, "sqlite", 50, rounds=2, warmup=5)
    _well_formed(r)
    assert r.name == "create" and r.unit == "rows/s"
    assert r.details["records_per_side"] == 50
    assert r.details["rows_in_table"] == 2 * (50 + 5)  # both sides really wrote their rows
    assert r.ratio == pytest.approx(r.ours / r.baseline)


def test_list_returns_the_same_rows_on_both_sides(backend: str, tmp_path: Path) -> None:
    with bench_tessera(backend, tmp_path) as tessera:
        bulk_load(tessera, 2_000, quiet=True)
        deep, first = run_list(tessera, backend, repeats=5, deep=100)
    for r in (deep, first):
        _well_formed(r)
        assert r.unit == "ms" and r.ratio == pytest.approx(r.baseline / r.ours)
        assert r.details["same_rows"] is True
        assert r.details["ours_ids"] == r.details["baseline_ids"]
        assert len(r.details["ours_ids"]) == 25
        assert r.details["plans"], "the statements the service sent were captured and explained"
    assert deep.details["ours_total"] is None  # cursor pages are never counted
    assert first.details["ours_total"] == first.details["baseline_total"] == first.details["filtered_rows"]
    assert deep.details["position"] == min(100, deep.details["filtered_rows"] * 4 // 5)
    assert min(deep.details["ours_ids"]) > max(first.details["ours_ids"])  # the deep page is further on


def test_validate_measures_valid_records(sqlite_bench: Tessera) -> None:
    r = run_validate(sqlite_bench, 200, passes=1, reference_n=50)
    _well_formed(r)
    assert r.unit == "us/record" and r.backend == "-"
    assert r.details["fields_per_record"] == 30 == len(sqlite_bench.registry.entity(ENTITY).fields)
    assert r.details["ours_valid"] == 200 and r.details["reference_valid"] == 50
    assert r.details["rejects_invalid"] is True
    assert r.details["plain_jsonschema_us"] > 0


def test_cli_writes_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results.json"
    argv = ["--backend", "sqlite", "--rows", "2000", "--creates", "20", "--validations", "200", "--approvals", "5"]
    small_his = ["--his-patients", "60", "--hl7-messages", "6"]
    main([*argv, "--repeats", "3", "--deep", "100", *small_his, "--output", str(out)])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    names = [(r["name"], r["backend"]) for r in data["results"]]
    assert names == [
        ("validate", "-"),
        ("create", "sqlite"),
        ("list_page_deep", "sqlite"),
        ("list_page_first_count", "sqlite"),
        ("report_yoy", "sqlite"),
        ("his_bulk_import", "sqlite"),
        ("his_bulk_import_vs_file", "sqlite"),
        ("his_bulk_reimport", "sqlite"),
        ("hl7_adt_messages", "sqlite"),
        ("workflow_approval", "sqlite"),
    ]
    assert data["environment"]["rows"] == 2000
    for name, _ in names:
        assert name in printed
    assert "higher is better" in format_table([])
