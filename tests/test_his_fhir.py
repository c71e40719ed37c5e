"""PC-17 / PL-17: FHIR R4 Patient and Encounter over HTTP, single and in a batch Bundle whose bad entry gets
an OperationOutcome naming the element path while the other entries are applied (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from runtime.api import create_app
from runtime.services import Tessera
from tests.support.his import find, his_app, log_rows
from tests.support.server import live_server


def patient(mrn: str, *, birth: str = "1990-05-06", updated: str = "2026-11-23T08:00:00+08:00") -> dict:
    return {
        "resourceType": "Patient",
        "id": mrn,
        "meta": {"versionId": "1", "lastUpdated": updated},
        "identifier": [{"system": "urn:fict-hosp:mrn", "value": mrn}],
        "name": [{"family": "王", "given": ["小红"]}],
        "gender": "female",
        "birthDate": birth,
        "telecom": [{"system": "email", "value": "wang@example.cn"}, {"system": "phone", "value": "13655556666"}],
    }


def encounter(visit: str, mrn: str, *, status: str = "in-progress", end: str | None = None) -> dict:
    period = {"start": "2026-11-23T08:30:00+08:00", **({"end": end} if end else {})}
    return {
        "resourceType": "Encounter",
        "id": visit,
        "meta": {"lastUpdated": end or "2026-11-23T08:30:00+08:00"},
        "identifier": [{"value": visit}],
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{mrn}"},
        "period": period,
        "location": [{"location": {"identifier": {"value": "W05"}, "display": "内分泌科病区"}}],
        "reasonCode": [{"text": "2型糖尿病"}],
    }


@pytest.fixture
def client(make_tessera: Callable[..., Tessera]) -> Iterator[tuple[Tessera, httpx.Client]]:
    app, token, _ = his_app(make_tessera)
    with live_server(create_app(app, extensions=[])) as url, httpx.Client(base_url=url, timeout=30) as http:
        http.headers["Authorization"] = f"Bearer {token}"
        yield app, http


def test_pc17_fhir_single_patient_and_encounter(client: tuple[Tessera, httpx.Client]) -> None:
    app, http = client
    r = http.post("/api/v1/his/fhir", json=patient("F100"))
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    [p] = find(app, "patient", his_patient_id="F100")
    assert (p["name"], p["gender"], p["birth_date"], p["phone"]) == ("王小红", "female", "1990-05-06", "13655556666")
    assert http.post("/api/v1/his/fhir", json=patient("F100")).status_code == 200  # replay: nothing changes
    assert find(app, "patient", his_patient_id="F100") == [p]

    r = http.post("/api/v1/his/fhir", json=encounter("E100", "F100"))
    assert r.status_code == 201, r.text
    [stay] = find(app, "admission", visit_no="E100")
    assert (stay["patient"], stay["ward"], stay["status"], stay["admitted_at"]) == (
        p["id"],
        "endocrinology",
        "admitted",
        "2026-11-23T00:30:00",
    )
    r = http.post(
        "/api/v1/his/fhir", json=encounter("E100", "F100", status="finished", end="2026-11-26T10:00:00+08:00")
    )
    assert r.status_code == 200, r.text
    [stay] = find(app, "admission", visit_no="E100")
    assert (stay["status"], stay["discharged_at"]) == ("discharged", "2026-11-26T02:00:00")
    [p] = find(app, "patient", his_patient_id="F100")
    assert (p["ward"], p["discharged_at"]) == ("endocrinology", "2026-11-26T02:00:00")

    bad = http.post("/api/v1/his/fhir", json=patient("F101", birth="1990-13-45"))
    assert bad.status_code == 422
    issue = bad.json()["issue"][0]
    assert bad.json()["resourceType"] == "OperationOutcome" and issue["expression"] == ["Patient.birthDate"]
    unknown = http.post("/api/v1/his/fhir", json=encounter("E101", "NOPE"))
    assert unknown.status_code == 422 and "subject.reference" in unknown.json()["issue"][0]["diagnostics"]
    ward = encounter("E102", "F100")
    ward["location"][0]["location"]["identifier"]["value"] = "W99"
    wrong = http.post("/api/v1/his/fhir", json=ward)
    assert wrong.status_code == 422
    assert wrong.json()["issue"][0]["expression"] == ["Encounter.location[0].location.identifier.value"]
    assert "'W99' is not a known code" in wrong.json()["issue"][0]["diagnostics"]
    assert http.post("/api/v1/his/fhir", json={"resourceType": "Observation"}).status_code == 400
    assert http.post("/api/v1/his/fhir", content=b"[1, 2]").status_code == 400


def test_pc17_fhir_batch_bundle_with_one_bad_entry(client: tuple[Tessera, httpx.Client]) -> None:
    app, http = client
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "resource": patient("F200"),
                "request": {"method": "PUT", "url": "Patient/F200"},
            },
            {"fullUrl": "urn:uuid:p2", "resource": patient("F201", birth="not-a-date")},
            {"fullUrl": "urn:uuid:e1", "resource": encounter("E200", "F200")},
        ],
    }
    r = http.post("/api/v1/his/fhir", json=bundle)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "batch-response"
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "422 Unprocessable Entity", "201 Created"]
    outcome = body["entry"][1]["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Bundle.entry[1].resource.birthDate"]
    assert len(find(app, "patient", his_patient_id="F200")) == 1
    assert find(app, "patient", his_patient_id="F201") == []
    assert len(find(app, "admission", visit_no="E200")) == 1
    assert [r["outcome"] for r in log_rows(app)] == ["applied", "rejected", "applied"]
    # the same bundle again: applied entries are duplicates, nothing changes
    again = http.post("/api/v1/his/fhir", json=bundle).json()
    assert [e["response"]["status"] for e in again["entry"]] == ["200 OK", "422 Unprocessable Entity", "200 OK"]
    assert len(find(app, "patient")) == 1
    assert http.post("/api/v1/his/fhir", json={"resourceType": "Bundle", "type": "document"}).status_code == 400
