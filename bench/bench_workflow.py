"""`workflow`: start and complete a one-step approval through the workflow host (sandboxed engine, state,
inbox task, history and timers persisted in one transaction per step) against bare SpiffWorkflow with its
default engine and an in-memory serialize/deserialize between the two steps, in the same run.

Both sides use the same BPMN (tests/packs/workflow_pack/workflows/one_step_approval.bpmn without its
form, since the bench pack has none) parsed once; the host's spec cache makes that fair. The host's steps
return their lean result (status and open tasks; the API reads the full view separately); the bare side
keeps SpiffWorkflow's default serializer, which writes the spec into every state, while the host's state
leaves it out and loads the cached spec (runtime/workflows/state.py). On PostgreSQL the host's step statements
are prepared once per session (runtime/storage/prepared.py). Target: ours at least 0.3x the bare rate.
"""

from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

from bench.harness import Result, clock, throughput_result
from runtime.records.context import Context
from runtime.services import Tessera
from runtime.workflows.specs import parse_bpmn

TARGET = 0.3
BPMN = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "packs"
    / "workflow_pack"
    / "workflows"
    / "one_step_approval.bpmn"
)
PROCESS = "one_step_approval"


def _xml() -> str:
    return BPMN.read_text("utf-8").replace('<spiffworkflow:property name="form" value="approval_decision"/>', "")


def run_workflow(tessera: Tessera, backend: str, n: int = 300, *, rounds: int = 4, warmup: int = 10) -> Result:
    xml = _xml()
    tessera.workflows.register_bpmn(xml, "bench/one_step_approval.bpmn")
    user = tessera.users.create("bench_approver", "Bench approver", None)
    ctx = Context(user_id=user.id, channel="api", lang="en")
    parsed = parse_bpmn(xml, "bench.bpmn")[PROCESS]
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    host = tessera.workflows
    host._repo_loaded = True  # only the bench process is needed

    def ours(count: int) -> float:
        start = clock()
        for i in range(count):
            started = host.start(PROCESS, {"approver": user.id, "title": f"request {i}"}, ctx)
            host.complete(started["current"][0]["id"], {}, ctx, outcome="approve")
        return clock() - start

    def bare(count: int) -> float:
        start = clock()
        for i in range(count):
            wf = BpmnWorkflow(parsed.spec, parsed.subprocesses)
            for task in wf.get_tasks(state=TaskState.READY):
                task.data.update(approver=user.id, title=f"request {i}", requester=user.id)
            wf.do_engine_steps()
            state = serializer.serialize_json(wf)
            wf = serializer.deserialize_json(state)
            task = next(t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual)
            task.data.update(outcome="approve", _outcome_comment=None)
            task.run()
            wf.do_engine_steps()
            serializer.serialize_json(wf)
        return clock() - start

    ours(warmup)
    bare(warmup)
    ours_s = base_s = 0.0
    per_round = max(1, n // rounds)
    for r in range(rounds):
        if r % 2 == 0:
            ours_s += ours(per_round)
            base_s += bare(per_round)
        else:
            base_s += bare(per_round)
            ours_s += ours(per_round)
    count = per_round * rounds
    return throughput_result(
        "workflow_approval",
        backend,
        count,
        ours_s,
        base_s,
        TARGET,
        ours_ms_per_approval=ours_s / count * 1e3,
        bare_ms_per_approval=base_s / count * 1e3,
    )
