"""PL-14 / PC-15 / RN-10: the workflow host on SpiffWorkflow, driven directly (SQLite and PostgreSQL).

People (departments: hospital > ward):  mgr (manager, hospital), dir (director, hospital), req (ward),
s1..s3 (specialists, ward), coord (mdt_coordinator, hospital), legal (legal, hospital), other (ward, no role).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.errors import Forbidden, RecordInvalid
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from runtime.workflows.errors import SpecInvalid, WorkflowError
from tests.conftest import ADMIN_PASSWORD

PACK = "workflow_pack"
APPROVAL = Path(__file__).resolve().parent.parent / "workflows" / "approval.bpmn"


@dataclass
class Org:
    tessera: Tessera
    users: dict[str, int] = field(default_factory=dict)

    def ctx(self, who: str) -> Context:
        user = self.tessera.users.get(self.users[who])
        assert user is not None
        return Context(
            user_id=user.id, channel="api", lang="en", is_admin=user.is_admin, department_id=user.department_id
        )

    @property
    def wf(self):  # noqa: ANN201
        return self.tessera.workflows

    def inbox(self, who: str) -> list[dict]:
        from runtime.workflows.views import inbox

        return inbox(self.wf, self.ctx(who))

    def only_task(self, who: str) -> dict:
        tasks = self.inbox(who)
        assert len(tasks) == 1, tasks
        return tasks[0]

    def notifications(self, user: str | None = None) -> list[dict]:
        q = sa.select(pt.notifications).order_by(pt.notifications.c.id)
        if user:
            q = q.where(pt.notifications.c.user_id == self.users[user])
        with self.tessera.db.read() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


def build_org(tessera: Tessera) -> Org:
    admin = PeopleAdmin(tessera.db, tessera.registry, tessera.permissions, clock=tessera.clock)
    org = Org(tessera)
    tessera.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    org.users["admin"] = tessera.users.by_username("admin").id  # type: ignore[union-attr]
    hospital = admin.create_department({"name": "Hospital", "code": "H"})["id"]
    ward = admin.create_department({"name": "Ward", "code": "W", "parent_id": hospital})["id"]
    people = [
        ("mgr", ["manager"], hospital),
        ("dir", ["director"], hospital),
        ("dir2", ["director"], hospital),
        ("req", ["doctor"], ward),
        ("s1", ["doctor"], ward),
        ("s2", ["doctor"], ward),
        ("s3", ["doctor"], ward),
        ("coord", ["mdt_coordinator"], hospital),
        ("legal", ["legal"], hospital),
        ("other", [], ward),
    ]
    for username, roles, dept in people:
        user = admin.create_user(
            {
                "username": username,
                "display_name": username.upper(),
                "department_id": dept,
                "roles": roles,
                "language": "en",
            }
        )
        org.users[username] = user["id"]
    return org


@pytest.fixture
def org(make_tessera: Callable[..., Tessera]) -> Org:
    return build_org(make_tessera(PACK))


def approve(org: Org, who: str, outcome: str = "approve", comment: str | None = None, **data) -> dict:
    task = org.only_task(who)
    if comment is None and outcome == "reject":  # a rejection must say why
        comment = "not agreed"
    return org.wf.complete(task["id"], data, org.ctx(who), outcome=outcome, comment=comment)


def test_pl14_two_level_approval_is_approved_and_the_requester_told(org: Org) -> None:
    started = org.wf.start(
        "approval", {"amount": 50000, "type": "equipment", "title": "CT scanner", "signoff": "none"}, org.ctx("req")
    )
    assert started["status"] == "running"
    assert [t["element_id"] for t in started["current"]] == ["manager_review"]
    assert started["current"][0]["assignee_id"] == org.users["mgr"]  # requester_manager: the ward's parent dept
    assert started["current"][0]["due_at"] == "2026-11-25T09:30:00"  # PT48H from the clock
    approve(org, "mgr", comment="fine")
    pool = org.inbox("dir")
    assert [t["element_id"] for t in pool] == ["director_review"] and pool[0]["pool"] is True
    assert org.inbox("dir2")[0]["id"] == pool[0]["id"]  # a pool: every director sees it
    with pytest.raises(Forbidden, match="claim it first"):
        org.wf.complete(pool[0]["id"], {}, org.ctx("dir"), outcome="approve")
    org.wf.claim(pool[0]["id"], org.ctx("dir"))
    assert org.inbox("dir2") == []
    done = approve(org, "dir", approved_amount=48000)
    assert done["status"] == "completed"
    kinds = [e["kind"] for e in org.wf.instance(done["id"], org.ctx("admin"))["history"]]
    assert kinds == ["started", "task_completed", "task_claimed", "task_completed", "completed"]
    told = org.notifications("req")
    assert [n["title"] for n in told] == ["Approval approved: CT scanner"]


def test_pl14_a_worker_log_carries_no_spiff_state_lines_and_no_task_data(
    org: Org, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # lower than a worker's INFO
    org.wf.start("approval", {"amount": 500, "type": "supplies", "title": "Patient Zhang", "signoff": "none"},
                 org.ctx("req"))  # fmt: skip
    assert approve(org, "mgr")["status"] == "completed"
    spiff = [r for r in caplog.records if r.name.startswith("spiff")]
    assert spiff == []  # SpiffWorkflow logged a line per task state change, with the task's data attached
    assert not any("Patient Zhang" in repr(vars(r)) for r in caplog.records)


def test_pl14_small_request_skips_the_second_level(org: Org) -> None:
    org.wf.start("approval", {"amount": 500, "type": "supplies", "title": "Gloves", "signoff": "none"}, org.ctx("req"))
    assert approve(org, "mgr")["status"] == "completed"
    assert org.inbox("dir") == []


def test_pl14_rejected_back_to_the_requester_with_the_comment(org: Org) -> None:
    org.wf.start("approval", {"amount": 20000, "type": "capital", "title": "Ward", "signoff": "none"}, org.ctx("req"))
    approve(org, "mgr", outcome="reject", comment="Add a quote from a second supplier")
    task = org.only_task("req")
    assert task["element_id"] == "revise"
    from runtime.workflows.views import task_view

    view = task_view(org.wf, task["id"], org.ctx("req"))
    assert view["data"]["_outcome_comment"] == "Add a quote from a second supplier"
    assert view["form_id"] == "approval_revise"
    done = approve(org, "req", outcome="abandon", comment="withdrawn")
    assert done["status"] == "completed"
    assert org.notifications("req")[-1]["title"] == "Approval rejected: Ward"


def test_pl14_outcome_and_form_are_validated_with_per_field_errors(org: Org) -> None:
    org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    task = org.only_task("mgr")
    with pytest.raises(RecordInvalid) as bad:
        org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="maybe")
    assert bad.value.errors[0].field == "outcome"
    with pytest.raises(RecordInvalid) as bad:
        org.wf.complete(task["id"], {"approved_amount": "lots", "colour": "red"}, org.ctx("mgr"), outcome="approve")
    assert {e.field for e in bad.value.errors} == {"approved_amount", "colour"}
    assert org.only_task("mgr")["status"] == "ready"  # nothing half-done


def test_pl14_only_the_assignee_may_complete(org: Org) -> None:
    org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    task = org.only_task("mgr")
    with pytest.raises(Forbidden):
        org.wf.complete(task["id"], {}, org.ctx("other"), outcome="approve")
    with pytest.raises(Forbidden):
        org.wf.complete(task["id"], {}, org.ctx("req"), outcome="approve")
    org.wf.delegate(task["id"], org.users["dir"], org.ctx("mgr"))
    with pytest.raises(Forbidden):
        org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="approve")
    assert approve(org, "dir")["status"] == "completed"


@pytest.mark.parametrize(
    ("kind", "outcomes", "result"),
    [
        ("all", ["approve", "reject", "approve"], "rejected"),
        ("all", ["approve", "approve", "approve"], "approved"),
        ("any", ["reject", "approve"], "approved"),
        ("any", ["reject", "reject", "reject"], "rejected"),
    ],
)
def test_pl14_parallel_sign_off_all_must_agree_or_any_may_agree(org: Org, kind, outcomes, result) -> None:
    signers = ["s1", "s2", "s3"]
    org.wf.start(
        "approval",
        {"amount": 10, "type": "x", "title": "Policy", "signoff": kind, "signers": [org.users[s] for s in signers]},
        org.ctx("req"),
    )
    approve(org, "mgr")
    for who, outcome in zip(signers, outcomes, strict=False):
        approve(org, who, outcome=outcome)
    view = org.wf.instance(org.inbox and _only_instance(org), org.ctx("admin"))
    assert view["status"] == "completed"
    assert org.notifications("req")[-1]["title"] == f"Approval {result}: Policy"
    if kind == "any" and result == "approved":
        assert org.inbox("s3") == []  # the third signer's step was cancelled once someone agreed
        assert [t["status"] for t in view["tasks"]].count("cancelled") == 1


def _only_instance(org: Org) -> int:
    with org.tessera.db.read() as conn:
        return conn.execute(sa.select(sa.func.max(pt.wf_instances.c.id))).scalar_one()


def test_pl14_withdraw_cancels_a_running_approval(org: Org) -> None:
    started = org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    with pytest.raises(Forbidden):
        org.wf.withdraw(started["id"], org.ctx("mgr"))
    done = org.wf.withdraw(started["id"], org.ctx("req"))
    assert done["status"] == "cancelled" and org.inbox("mgr") == []


def test_pc15_mdt_with_a_late_specialist_reminds_and_escalates(org: Org, clock: FixedClock) -> None:
    case = org.tessera.records.create("mdt_case", {"patient": "Zhang San"}, org.ctx("admin"))
    specialists = [org.users[s] for s in ("s1", "s2", "s3")]
    started = org.wf.start(
        "mdt_consultation",
        {"patient": "Zhang San", "specialists": specialists, "coordinator": org.users["coord"]},
        org.ctx("req"),
        record=("mdt_case", case["id"]),
    )
    assert sorted(t["assignee_id"] for t in started["current"]) == sorted(specialists)
    approve(org, "s1", outcome=None, opinion="Surgery")
    approve(org, "s2", outcome=None, opinion="Chemotherapy first")
    clock.advance(hours=23)
    assert org.wf.tick(clock.now()) == 0
    clock.advance(hours=2)
    assert org.wf.tick(clock.now()) == 1
    assert org.wf.tick(clock.now()) == 0  # idempotent: nothing due any more
    assert [n["title"] for n in org.notifications("s3")] == ["MDT opinion overdue: Zhang San"]
    assert [n["body"] for n in org.notifications("coord")] == ["A specialist has not answered within 24 hours"]
    assert org.notifications("s1") == []
    late = org.only_task("s3")
    assert late["overdue"] is True
    approve(org, "s3", outcome=None, opinion="Watch and wait")
    done = approve(org, "coord", outcome=None, conclusion="Surgery after one cycle")
    assert done["status"] == "completed"
    assert org.tessera.records.get("mdt_case", case["id"], org.ctx("admin"))["conclusion"] == "Surgery after one cycle"
    told = org.notifications("req")
    assert told[-1]["title"] == "MDT conclusion ready: Zhang San" and told[-1]["body"] == "Surgery after one cycle"
    assert "timer_fired" in [e["kind"] for e in org.wf.instance(done["id"], org.ctx("admin"))["history"]]


def test_pl14_sandbox_escapes_in_gateway_conditions_are_refused(org: Org) -> None:
    xml = APPROVAL.read_text("utf-8")
    original = "amount &gt; 10000 or type == 'capital'"
    assert original in xml
    for escape in [
        "__import__('os').system('true')",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "amount.__class__",
        "9 ** 9 ** 9",
    ]:
        bad = xml.replace(original, escape.replace("<", "&lt;").replace(">", "&gt;"))
        with pytest.raises(SpecInvalid) as refused:
            org.wf.register_bpmn(bad, "evil.bpmn")
        assert "process 'approval', element 'gw_level2'" in str(refused.value), str(refused.value)


def test_pl14_a_condition_failing_at_run_time_names_process_and_element(org: Org) -> None:
    xml = APPROVAL.read_text("utf-8")
    org.wf.ensure_repo_specs()
    org.wf.register_bpmn(xml.replace("amount &gt; 10000 or type == 'capital'", "amount &gt; 'ten'"), "v2.bpmn")
    org.wf.start("approval", {"amount": 5, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    task = org.only_task("mgr")
    with pytest.raises(WorkflowError, match="process 'approval', element 'gw_level2'"):
        org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="approve")
    assert org.only_task("mgr")["status"] == "ready"  # rolled back: the step can be retried after a fix


def test_pl14_a_failing_step_rolls_back_its_side_effects_and_runs_once_on_retry(org: Org) -> None:
    """Killed mid-run: the notify action writes its notification, then the process dies before the commit."""
    real = org.wf.actions.get("notify")
    calls = {"n": 0}

    def dies_after_the_side_effect(call):  # noqa: ANN001, ANN202
        result = real(call)
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("worker killed")
        return result

    org.wf.actions.register("notify", dies_after_the_side_effect)
    org.wf.start("approval", {"amount": 1, "type": "x", "title": "Crash", "signoff": "none"}, org.ctx("req"))
    task = org.only_task("mgr")
    with pytest.raises(WorkflowError, match="worker killed"):
        org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="approve")
    assert org.notifications("req") == []  # the side effect went with the failed step
    assert org.only_task("mgr")["status"] == "ready"
    done = org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="approve")
    assert done["status"] == "completed"
    assert len(org.notifications("req")) == 1


def test_pl14_an_abandoned_process_resumes_from_the_last_commit(org: Org, make_tessera, clock: FixedClock) -> None:
    org.wf.start(
        "mdt_consultation",
        {"patient": "Li Si", "specialists": [org.users["s1"]], "coordinator": org.users["coord"]},
        org.ctx("req"),
    )
    approve(org, "s1", outcome=None, opinion="Fine")
    # the first process dies here (its Tessera is dropped); a new one opens the same database
    second = Org(make_tessera(), org.users)
    clock.advance(hours=30)
    assert second.wf.tick(clock.now()) == 0  # the answered specialist's timer was removed in the same commit
    done = approve(second, "coord", outcome=None, conclusion="Done")
    assert done["status"] == "completed"
    assert len(second.notifications("req")) == 1 and second.notifications("s1") == []


def test_rn10_a_message_reaches_the_right_one_of_two_contracts(org: Org) -> None:
    ids, instances = [], []
    for name in ("Contract A", "Contract B"):
        record = org.tessera.records.create("contract", {"name": name, "status": "draft"}, org.ctx("admin"))
        ids.append(record["id"])
        instances.append(org.wf.start("contract_signing", {}, org.ctx("req"), record=("contract", record["id"]))["id"])

    def step(who: str, instance: int, data: dict, outcome: str | None = None, claim: bool = False) -> None:
        task = next(t for t in org.inbox(who) if t["instance_id"] == instance)
        if claim:
            org.wf.claim(task["id"], org.ctx(who))
        org.wf.complete(task["id"], data, org.ctx(who), outcome=outcome)

    for instance in instances:
        step("req", instance, {"name": "Signed name"})
        step("legal", instance, {}, "approve", claim=True)
        step("mgr", instance, {}, "approve")
        step("req", instance, {"signed_on": "2026-11-24"})
    assert org.tessera.records.get("contract", ids[0], org.ctx("admin"))["signed_on"] == "2026-11-24"
    delivered = org.wf.send_message("contract_countersigned", f"contract:{ids[1]}", {"by": "partner"}, org.ctx("admin"))
    statuses = [org.tessera.records.get("contract", i, org.ctx("admin"))["status"] for i in ids]
    assert statuses == ["draft", "active"]
    assert org.wf.instance(delivered[0], org.ctx("admin"))["status"] == "completed"
    from runtime.errors import NotFound

    with pytest.raises(NotFound):
        org.wf.send_message("contract_countersigned", "contract:999", {}, org.ctx("admin"))


def test_pl14_running_instance_migrates_to_a_new_version(org: Org) -> None:
    started = org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    assert started["spec_version"] == 1
    xml = APPROVAL.read_text("utf-8")
    v2 = xml.replace('name="Manager review"', 'name="Line manager review"').replace("PT48H", "PT24H")
    org.wf.register_bpmn(v2, "approval_v2.bpmn")
    assert org.wf.instance(started["id"], org.ctx("admin"))["spec_version"] == 1  # stays on its version
    preview = org.wf.preview_migration(started["id"], 2)
    assert preview["possible"] is True and "manager_review" in preview["changed"]
    moved = org.wf.migrate(started["id"], 2, org.ctx("admin"))
    assert moved["spec_version"] == 2 and moved["history"][-1]["kind"] == "migrated"
    assert approve(org, "mgr")["status"] == "completed"
    assert (
        org.wf.start("approval", {"amount": 1, "type": "x", "title": "n", "signoff": "none"}, org.ctx("req"))[
            "spec_version"
        ]
        == 2
    )


def test_pl14_managers_reassign_tasks_and_others_may_not(org: Org) -> None:
    org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    task = org.only_task("mgr")
    with pytest.raises(Forbidden):
        org.wf.reassign(task["id"], org.users["other"], org.ctx("req"))
    with pytest.raises(RecordInvalid):
        org.wf.reassign(task["id"], 99999, org.ctx("mgr"))
    org.wf.reassign(task["id"], org.users["dir"], org.ctx("mgr"))
    assert org.inbox("mgr") == [] and org.only_task("dir")["id"] == task["id"]
    kinds = [e["kind"] for e in org.wf.instance(task["instance_id"], org.ctx("admin"))["history"]]
    assert kinds[-1] == "task_reassigned"


MESSAGE_START = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://t">
  <bpmn:message id="m_referral" name="referral_received"/>
  <bpmn:process id="referral_intake" isExecutable="true">
    <bpmn:startEvent id="received"><bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="starter_roles" value="doctor"/>
      </spiffworkflow:properties></bpmn:extensionElements><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:messageEventDefinition messageRef="m_referral"/></bpmn:startEvent>
    <bpmn:userTask id="triage" name="Triage">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="assignee" value="dept_mdt_coordinator"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="received" targetRef="triage"/>
    <bpmn:sequenceFlow id="f2" sourceRef="triage" targetRef="done"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_pl14_a_message_starts_the_process_listening_for_it(org: Org) -> None:
    org.wf.register_bpmn(MESSAGE_START, "referral_intake.bpmn")
    [started] = org.wf.send_message("referral_received", "HIS-42", {"patient": "Zhao Liu"}, org.ctx("req"))
    view = org.wf.instance(started, org.ctx("admin"))
    assert view["process_id"] == "referral_intake" and view["correlation"] == ["HIS-42"]
    assert view["current"][0]["assignee_id"] == org.users["coord"]  # dept_<role>: nearest holder upwards


def test_pl14_only_people_allowed_to_start_a_process_may_message_it(org: Org) -> None:
    """The message rule: administrators, the platform, and holders of the receiving process's starter_roles."""
    org.wf.register_bpmn(MESSAGE_START, "referral_intake.bpmn")
    with pytest.raises(Forbidden, match="referral_intake"):
        org.wf.send_message("referral_received", "HIS-7", {}, org.ctx("other"))  # no doctor role
    [first] = org.wf.send_message("referral_received", "HIS-7", {}, org.ctx("admin"))
    assert org.wf.send_message("referral_received", "HIS-8", {}, Context(user_id=None, channel="workflow"))
    assert org.wf.instance(first, org.ctx("admin"))["started_by"] == org.users["admin"]


def test_pl14_starting_a_process_is_a_permission(org: Org) -> None:
    """mdt_consultation names starter_roles=doctor; a process without the property only administrators start."""
    data = {"patient": "P", "specialists": [org.users["s1"]], "coordinator": org.users["coord"]}
    with pytest.raises(Forbidden, match="mdt_consultation"):
        org.wf.start("mdt_consultation", data, org.ctx("other"))
    assert org.wf.may_start("mdt_consultation", org.ctx("req")) and not org.wf.may_start(
        "mdt_consultation", org.ctx("mgr")
    )
    assert org.wf.start("mdt_consultation", data, org.ctx("req"))["status"] == "running"
    assert org.wf.start("mdt_consultation", data, org.ctx("admin"))["status"] == "running"  # administrators always
    org.wf.register_bpmn(MESSAGE_START.replace('value="doctor"', 'value=""'), "referral_v2.bpmn")
    assert not org.wf.may_start("referral_intake", org.ctx("req")) and org.wf.may_start(
        "referral_intake", org.ctx("admin")
    )
    assert org.wf.may_start("approval", org.ctx("other"))  # starter_roles="*": every signed-in user


def test_pl14_a_rejection_needs_a_comment_and_a_form_field_named_comment_is_kept(org: Org) -> None:
    org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none"}, org.ctx("req"))
    task = org.only_task("mgr")
    for blank in (None, "", "   "):
        with pytest.raises(RecordInvalid) as refused:
            org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="reject", comment=blank)
        assert [e.field for e in refused.value.errors] == ["comment"] and refused.value.status == 422
    assert org.only_task("mgr")["status"] == "ready"
    done = org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="reject", comment="Two quotes, please")
    assert done["current"][0]["element_id"] == "revise"
    from runtime.workflows.views import task_view

    data = task_view(org.wf, done["current"][0]["id"], org.ctx("req"))["data"]
    assert data["_outcome_comment"] == "Two quotes, please" and "comment" not in data
    assert org.notifications("req") == []  # still in revision
    history = org.wf.instance(done["id"], org.ctx("admin"))["history"]
    assert history[-1]["detail"] == {"task_id": task["id"], "outcome": "reject", "comment": "Two quotes, please"}


def test_pl14_the_host_keeps_a_form_field_named_comment(org: Org) -> None:
    xml = (Path(__file__).parent / "packs" / PACK / "workflows" / "one_step_approval.bpmn").read_text("utf-8")
    xml = xml.replace('<spiffworkflow:property name="form" value="approval_decision"/>', "")
    org.wf.register_bpmn(xml.replace("one_step_approval", "one_step_plain"), "plain.bpmn")
    started = org.wf.start(
        "one_step_plain", {"approver": org.users["mgr"], "comment": "from the request"}, org.ctx("req")
    )
    task = started["current"][0]
    org.wf.complete(task["id"], {"comment": "field value"}, org.ctx("mgr"), outcome="approve", comment="outcome words")
    with org.tessera.db.read() as conn:
        instance = dict(
            conn.execute(sa.select(pt.wf_instances).where(pt.wf_instances.c.id == started["id"])).mappings().one()
        )
        wf = org.wf.load_state(conn, instance)
    assert wf.data["comment"] == "field value" and wf.data["_outcome_comment"] == "outcome words"


def test_pl14_serve_runs_the_timer_job_in_process(org: Org, clock: FixedClock) -> None:
    from runtime.api import create_app

    app = create_app(org.tessera, extensions=[])
    jobs = app.state.jobs
    assert "workflow_timers" in jobs.jobs and jobs.enabled is False  # only `tessera serve` enables the loop
    org.wf.start(
        "mdt_consultation",
        {"patient": "P", "specialists": [org.users["s1"]], "coordinator": org.users["coord"]},
        org.ctx("req"),
    )
    clock.advance(hours=25)
    assert "workflow_timers" in jobs.run_due()  # other features register their own periodic jobs too
    assert len(org.notifications("coord")) == 1


def test_pl14_task_data_stays_json_friendly(org: Org) -> None:
    from datetime import date

    from runtime.errors import BadRequest

    started = org.wf.start(
        "approval",
        {"amount": 1, "type": "x", "title": "t", "signoff": "none", "needed_by": date(2026, 12, 1)},
        org.ctx("req"),
    )
    from runtime.workflows.views import task_view

    assert task_view(org.wf, started["current"][0]["id"], org.ctx("mgr"))["data"]["needed_by"] == "2026-12-01"
    for bad in ({"tags": {"a", "b"}}, {"nested": {"typename": "x"}}):
        with pytest.raises(BadRequest):
            org.wf.start("approval", {"amount": 1, "type": "x", "title": "t", "signoff": "none", **bad}, org.ctx("req"))


def test_pl15_inbox_rows_carry_record_process_and_starter(org: Org) -> None:
    contract = org.tessera.records.create("contract", {"name": "Partner B"}, org.ctx("admin"))
    org.wf.start("contract_signing", {}, org.ctx("req"), record=("contract", contract["id"]))
    [row] = org.inbox("req")
    assert row["entity"] == "contract" and row["record_id"] == contract["id"]
    assert row["record_title"] == "Partner B" and row["process_label"] and row["process_id"] == "contract_signing"
    assert row["started_by"] == org.users["req"] and row["started_by_name"] == "REQ"


def test_pl15_done_by_me_lists_every_completed_task_paginated_also_as_administrator(org: Org) -> None:
    from runtime.workflows.views import done_by

    for n in range(7):
        org.wf.start("approval", {"amount": 1, "type": "x", "title": f"t{n}", "signoff": "none"}, org.ctx("req"))
    tasks = org.inbox("mgr")
    for task in tasks[:5]:
        org.wf.complete(task["id"], {}, org.ctx("mgr"), outcome="approve")
    for task in tasks[5:]:  # the administrator completes someone else's step
        org.wf.complete(task["id"], {}, org.ctx("admin"), outcome="approve")
    first, total = done_by(org.wf, org.ctx("mgr"), limit=3)
    second, _ = done_by(org.wf, org.ctx("mgr"), offset=3, limit=3)
    assert total == 5 and len(first) == 3 and len(second) == 2
    assert len({t["id"] for t in first + second}) == 5 and all(t["completed_by"] == org.users["mgr"] for t in first)
    admin_done, admin_total = done_by(org.wf, org.ctx("admin"))
    assert admin_total == 2 and {t["id"] for t in admin_done} == {t["id"] for t in tasks[5:]}
    assert done_by(org.wf, org.ctx("mgr"), process_id="mdt_consultation") == ([], 0)


def test_pl14_a_version_deployed_by_another_worker_is_used_by_the_next_start(org: Org, make_tessera) -> None:
    """Starts skip the "newest version" lookup (the id is cached per worker) but never start an outdated one:
    the start's insert sees the newer version, its step is undone and runs again on the newest."""
    first = org.wf.start("approval", {"amount": 1, "type": "x", "title": "v1", "signoff": "none"}, org.ctx("req"))
    assert first["spec_version"] == 1
    other_worker = make_tessera()
    xml = APPROVAL.read_text("utf-8").replace('name="Manager review"', 'name="Line manager review"')
    other_worker.workflows.register_bpmn(xml, "approval_v2.bpmn")
    second = org.wf.start("approval", {"amount": 1, "type": "x", "title": "v2", "signoff": "none"}, org.ctx("req"))
    assert second["spec_version"] == 2
    assert [t["name"] for t in second["current"]] == ["Line manager review"]
    with org.tessera.db.read() as conn:  # the undone attempt left nothing behind
        instances = conn.execute(sa.select(pt.wf_instances.c.id)).scalars().all()
        tasks = conn.execute(sa.select(pt.wf_tasks.c.instance_id)).scalars().all()
    assert sorted(instances) == sorted([first["id"], second["id"]]) and sorted(tasks) == sorted(instances)
    assert [t["name"] for t in org.inbox("mgr")] == ["Manager review", "Line manager review"]
