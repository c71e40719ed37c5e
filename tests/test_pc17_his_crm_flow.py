"""PC-17 with PC-02/PC-05 end to end on the shipped patient CRM pack: HL7 ADT over a real MLLP socket and a
FHIR bundle over HTTP create the patient and the stay; the stay gets its 24-hour bedside visit task, and
after discharge the 72-hour call and the disease/surgery follow-up template's steps appear. Replays
create nothing twice."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from runtime.api import create_app
from runtime.automation.followups.tables import followup_plans, followup_steps
from runtime.his.mllp import MllpThread
from runtime.identity.tokens import ApiTokens
from runtime.services import Tessera
from tests.support.his import adt, find, msa
from tests.support.server import live_server

REPO = Path(__file__).parent.parent
END = b"\x1c\x0d"


@pytest.fixture
def crm(make_tessera: Callable[..., Tessera]) -> Iterator[tuple[Tessera, int, str]]:
    app = make_tessera(str(REPO / "blueprints" / "patient_crm"))
    admin = app.users.create("his_admin", "HIS 接口", "Adm1n-pass-for-tests", is_admin=True)
    token, _ = ApiTokens(app.db, app.clock).create(admin.id, "HIS", is_admin=True)
    listener = MllpThread(app, "127.0.0.1", 0).start()
    try:
        yield app, listener.port, token
    finally:
        listener.stop()


def send(port: int, *messages: str) -> list[str]:
    acks = []
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for message in messages:
            sock.sendall(b"\x0b" + message.encode("utf-8") + END)
            buffer = b""
            while END not in buffer:
                buffer += sock.recv(65536)
            acks.append(buffer[1 : buffer.index(END)].decode("utf-8"))
    return acks


def with_procedure(message: str, code: str) -> str:
    return message + f"PR1|1||{code}^全膝关节置换术^ICD9CM3||20261123100000\r"


def plans(app: Tessera, stay_id: int) -> dict[str, list[str]]:
    app.jobs.run_pending()
    with app.db.read() as conn:
        rows = conn.execute(
            sa.select(followup_plans.c.plan_id, followup_steps.c.step_id)
            .join(followup_steps, followup_steps.c.plan_instance_id == followup_plans.c.id)
            .where(followup_plans.c.entity == "admission", followup_plans.c.record_id == stay_id)
            .order_by(followup_steps.c.due_at)
        ).all()
    out: dict[str, list[str]] = {}
    for plan_id, step_id in rows:
        out.setdefault(plan_id, []).append(step_id)
    return out


def calls(app: Tessera, stay_id: int) -> dict[str, str]:
    app.jobs.run_pending()  # the pack's rules run as background jobs (runtime/jobs)
    return {c["type"]: c["due_at"] for c in find(app, "followup_call", admission=stay_id)}


def test_pc17_hl7_admission_gets_visit_task_and_discharge_gets_call_and_template(
    crm: tuple[Tessera, int, str],
) -> None:
    app, port, _ = crm
    admit = with_procedure(
        adt(
            "A01", "K1", "MRN8001", visit="V8001", ward="W08", admitted="20261123080000", diagnosis="膝关节骨关节炎"
        ).replace("I10^", "M17.1^"),
        "81.54",
    )
    ack = send(port, admit)[0]
    assert msa(ack)[0] == "AA", ack
    [patient] = find(app, "patient", his_patient_id="MRN8001")
    [stay] = find(app, "admission", visit_no="V8001")
    assert (stay["patient"], stay["ward"], stay["disease"], stay["surgery"]) == (
        patient["id"],
        "orthopedics",
        "osteoarthritis",
        "joint_replacement",
    )
    assert calls(app, stay["id"]) == {"admission_visit": "2026-11-24T00:00:00"}  # 24 hours after admission

    discharge = with_procedure(
        adt(
            "A03",
            "K2",
            "MRN8001",
            when="20261123160000",
            visit="V8001",
            ward="W08",
            admitted="20261123080000",
            discharged="20261123160000",
            diagnosis="膝关节骨关节炎",
        ).replace("I10^", "M17.1^"),
        "81.54",
    )
    acks = send(port, discharge, discharge)  # the second one is a replay
    assert [msa(a)[0] for a in acks] == ["AA", "AA"] and acks[0] == acks[1]
    assert calls(app, stay["id"]) == {
        "admission_visit": "2026-11-24T00:00:00",
        "discharge_call": "2026-11-26T08:00:00",  # 72 hours after the discharge (16:00 in Shanghai)
    }
    steps = plans(app, stay["id"])
    assert list(steps) == ["pc_joint_replacement"] and len(steps["pc_joint_replacement"]) >= 3
    assert len(find(app, "followup_call", patient=patient["id"])) == 2


def test_pc17_fhir_bundle_admission_and_discharge_on_the_crm(crm: tuple[Tessera, int, str]) -> None:
    app, _, token = crm
    patient = {
        "resourceType": "Patient",
        "id": "MRN8100",
        "meta": {"versionId": "1", "lastUpdated": "2026-11-23T08:00:00+08:00"},
        "identifier": [{"value": "MRN8100"}],
        "name": [{"family": "赵", "given": ["明"]}],
        "gender": "male",
        "birthDate": "1962-04-18",
        "telecom": [{"system": "phone", "value": "13566667777"}],
    }

    def encounter(status: str, end: str | None, updated: str) -> dict:
        return {
            "resourceType": "Encounter",
            "id": "E8100",
            "meta": {"lastUpdated": updated},
            "identifier": [{"value": "E8100"}],
            "status": status,
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/MRN8100"},
            "period": {"start": "2026-11-23T09:00:00+08:00", **({"end": end} if end else {})},
            "location": [{"location": {"identifier": {"value": "W05"}}}],
            "reasonCode": [
                {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}], "text": "2型糖尿病"}
            ],
        }

    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:p", "resource": patient},
            {"fullUrl": "urn:uuid:e", "resource": encounter("in-progress", None, "2026-11-23T09:00:00+08:00")},
        ],
    }
    with live_server(create_app(app, extensions=[])) as url, httpx.Client(base_url=url, timeout=60) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        r = http.post("/api/v1/his/fhir", json=bundle)
        assert r.status_code == 200 and r.json()["type"] == "batch-response"
        assert [e["response"]["status"] for e in r.json()["entry"]] == ["201 Created"] * 2
        [stay] = find(app, "admission", visit_no="E8100")
        assert (stay["ward"], stay["disease"], stay["status"]) == ("endocrinology", "diabetes", "admitted")
        assert calls(app, stay["id"]) == {"admission_visit": "2026-11-24T01:00:00"}
        done = encounter("finished", "2026-11-23T15:00:00+08:00", "2026-11-23T15:00:00+08:00")
        assert http.post("/api/v1/his/fhir", json=done).status_code == 200
    [stay] = find(app, "admission", visit_no="E8100")
    assert (stay["status"], stay["discharged_at"]) == ("discharged", "2026-11-23T07:00:00")
    assert calls(app, stay["id"])["discharge_call"] == "2026-11-26T07:00:00"
    assert list(plans(app, stay["id"])) == ["pc_diabetes"]
