"""PL-14 / PL-19: BPMN files in a pack's workflows/ folder are checked when the pack loads (file, element id,
plain message) and versioned by content when it deploys; the bench's workflow comparison runs at tiny scale."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from runtime.services import Tessera
from tests.conftest import PACKS

BPMN = PACKS / "workflow_pack" / "workflows" / "one_step_approval.bpmn"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "workflow_pack"
    shutil.copytree(PACKS / "workflow_pack", target)
    return target


def test_pl14_a_pack_bpmn_with_a_refused_condition_names_file_and_element(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    xml = BPMN.read_text("utf-8").replace('value="approver"', "value=\"__import__('os')\"")
    (pack / "workflows" / "one_step_approval.bpmn").write_text(xml, "utf-8")
    (pack / "workflows" / "broken.bpmn").write_text("<bpmn:definitions", "utf-8")
    (pack / "workflows" / "notes.txt").write_text("hello", "utf-8")
    with pytest.raises(PackInvalid) as refused:
        load_pack(pack)
    problems = {e.file: e.message for e in refused.value.errors}
    assert "element 'approve'" in problems["workflows/one_step_approval.bpmn"]
    assert "'__import__' is not allowed" in problems["workflows/one_step_approval.bpmn"]
    assert "not well-formed XML" in problems["workflows/broken.bpmn"]
    assert "only .bpmn files" in problems["workflows/notes.txt"]


def test_pl14_deploying_a_pack_stores_its_bpmn_once_and_a_change_as_a_new_version(
    make_tessera: Callable[..., Tessera], tmp_path: Path
) -> None:
    t = make_tessera("workflow_pack")
    rows = {r.process_id: r for r in t.workflows.spec_rows()}
    assert rows["one_step_approval"].version == 1 and rows["one_step_approval"].source.startswith("workflow_pack/")
    assert {"approval", "mdt_consultation", "contract_signing"} <= set(rows)
    t.deploy(t.load_pack(PACKS / "workflow_pack"))  # same content: no new version
    assert {r.process_id: r.version for r in t.workflows.spec_rows()}["one_step_approval"] == 1
    pack = _copy(tmp_path)
    changed = BPMN.read_text("utf-8").replace('value="PT8H"', 'value="PT4H"')
    (pack / "workflows" / "one_step_approval.bpmn").write_text(changed, "utf-8")
    pack_doc = pack / "pack.json"
    pack_doc.write_text(pack_doc.read_text("utf-8").replace('"1.0.0"', '"1.0.1"'), "utf-8")
    t.deploy(t.load_pack(pack))
    assert {r.process_id: r.version for r in t.workflows.spec_rows()}["one_step_approval"] == 2


def test_pl14_bench_compares_host_and_bare_spiffworkflow(tmp_path: Path) -> None:
    from bench.bench_workflow import run_workflow
    from bench.setup_data import bench_tessera

    with bench_tessera("sqlite", tmp_path) as tessera:
        result = run_workflow(tessera, "sqlite", 4, rounds=2, warmup=1)
    assert result.name == "workflow_approval" and result.unit == "rows/s"
    assert result.ours > 0 and result.baseline > 0 and result.ratio > 0
