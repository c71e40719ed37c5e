"""PC-15: an MDT consultation (多学科会诊) requested on an mdt_case runs the shared BPMN
workflows/mdt_consultation.bpmn: one specialist of each requested department gets a parallel opinion task
(cross-department work orders; progress = the process's tasks), the coordinator then writes the conclusion,
which lands in the case (status concluded), and the requesting doctor is notified. The shipped patient_crm
pack on SQLite and PostgreSQL, real HTTP as the users (doctors, specialists, coordinator), rule jobs through
app.jobs.run_pending()."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.patient_crm import Crm, crm_fixture, ok

crm = crm_fixture()
API = "/api/v1"


@pytest.fixture(scope="module")
def team(crm: Crm) -> dict[str, int]:
    """A requesting oncologist, a cardiologist and a nephrologist as specialists, the MDT coordinator."""
    for code, name in (
        ("WARD-ONCOLOGY", "肿瘤科病区"),
        ("WARD-CARDIOLOGY", "心内科病区"),
        ("WARD-NEPHROLOGY", "肾内科病区"),
    ):
        crm.ward_department(code, name)
    crm.ward_department("MED", "医务部")
    return {
        "requester": crm.create_user("pc15.onco", ["doctor"], "WARD-ONCOLOGY", "肿瘤科 许医生"),
        "cardio": crm.create_user("pc15.cardio", ["doctor"], "WARD-CARDIOLOGY", "心内科 万医生"),
        "nephro": crm.create_user("pc15.nephro", ["doctor"], "WARD-NEPHROLOGY", "肾内科 苏医生"),
        "coordinator": crm.create_user("pc15.coord", ["mdt_coordinator"], "MED", "医务部 MDT 秘书"),
    }


def tasks(crm: Crm, username: str) -> list[dict[str, Any]]:
    return ok(crm.client(username).get(f"{API}/tasks", params={"process": "mdt_consultation"}))["items"]


def test_pc15_mdt_request_parallel_opinions_conclusion_and_notice(crm: Crm, team: dict[str, int]) -> None:
    patient = crm.create("patient", {"name": "戴明远", "gender": "male"})
    requester = crm.client("pc15.onco")
    body = {
        "patient": patient["id"],
        "question": "晚期肺癌合并冠心病、肾功能不全，化疗方案与心肾风险评估",
        "departments": "WARD-CARDIOLOGY, 肾内科病区",
        "coordinator": team["coordinator"],
    }
    case = ok(requester.post(f"{API}/records/mdt_case", json=body), 201)
    crm.app.jobs.run_pending()
    started = crm.get("mdt_case", case["id"])
    assert started["status"] == "in_progress"
    assert started["requesting_doctor"] == team["requester"], "the doctor who asked is the requester"
    # parallel opinions: one task per requested department's specialist, at the same time
    cardio, nephro = tasks(crm, "pc15.cardio"), tasks(crm, "pc15.nephro")
    assert len(cardio) == 1 and len(nephro) == 1
    assert tasks(crm, "pc15.coord") == [], "the conclusion waits for the opinions"
    # the case page shows the process and its progress
    page = ok(requester.get(f"{API}/workflows/instances", params={"entity": "mdt_case", "record_id": case["id"]}))
    assert [i["process_id"] for i in page["items"]] == ["mdt_consultation"]
    for who, task, opinion in (
        ("pc15.cardio", cardio[0], "心功能 II 级，可耐受化疗，需监测心电图"),
        ("pc15.nephro", nephro[0], "肌酐清除率 45，卡铂需减量"),
    ):
        ok(crm.client(who).post(f"{API}/tasks/{task['id']}/complete", json={"data": {"opinion": opinion}}))
    crm.app.jobs.run_pending()
    [conclusion] = tasks(crm, "pc15.coord")
    assert crm.get("mdt_case", case["id"])["status"] == "in_progress"
    text = "建议减量卡铂联合培美曲塞，化疗期间心电监护，每周复查肾功能"
    ok(crm.client("pc15.coord").post(f"{API}/tasks/{conclusion['id']}/complete", json={"data": {"conclusion": text}}))
    crm.app.jobs.run_pending()
    done = crm.get("mdt_case", case["id"])
    assert done["conclusion"] == text and done["status"] == "concluded"
    notes = ok(requester.get(f"{API}/notifications", params={"limit": 50}))["items"]
    assert any("MDT conclusion ready" in (n.get("title") or "") and "戴明远" in n["title"] for n in notes)


def test_pc15_only_doctors_may_request_and_departments_are_needed(crm: Crm, team: dict[str, int]) -> None:
    patient = crm.create("patient", {"name": "葛春兰", "gender": "female"})
    r = crm.client("pc.officer1").post(
        f"{API}/records/mdt_case", json={"patient": patient["id"], "question": "会诊", "departments": "WARD-CARDIOLOGY"}
    )
    assert r.status_code == 403, r.text
    no_departments = ok(
        crm.client("pc15.onco").post(f"{API}/records/mdt_case", json={"patient": patient["id"], "question": "待定"}),
        201,
    )
    crm.app.jobs.run_pending()
    assert crm.get("mdt_case", no_departments["id"])["status"] == "requested", "no departments: not started"
