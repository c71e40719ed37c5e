"""PC-17 outbound: the CRM sends its updates back to the HIS (blueprints/patient_crm/rules/his_outbound_*.json).

A real local HTTP server plays the HIS: it refuses the first attempts, then accepts. A contact change made by
an officer over the API reaches it as a FHIR Patient, a completed discharge call as a FHIR
QuestionnaireResponse, each exactly once after the retries, with the token of the secret parameter
his.outbound_token and one idempotency key across attempts; the delivery log (rule runs) shows the attempts.
A change that came from the HIS (channel "his") is not echoed back. The generic pieces (nested JSON bodies,
{param:...} headers, skip_channels, sealed bodies) are checked by the pack checks and used here as a pack uses them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runtime.automation.rules.tables import rule_runs
from runtime.automation.states.service import perform
from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from runtime.jobs.tables import jobs
from runtime.records.context import Context
from tests.support.packs import pack_variant
from tests.support.patient_crm import ADMIN, PACK, Crm, crm_fixture, ok

crm = crm_fixture()
TOKEN = "his-outbound-token-fictional-42"
HIS = Context(channel="his", lang="en")
WARD_ADMIN = Context(channel="ui", lang="zh", is_admin=True)


class FakeHis:
    """The HIS endpoint: answers the queued statuses (then 200) and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        his = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                status = his.statuses.pop(0) if his.statuses else 200
                his.requests.append(
                    {
                        "body": body,
                        "status": status,
                        "key": self.headers.get("Idempotency-Key"),
                        "auth": self.headers.get("Authorization"),
                    }
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/fhir+json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"

    def accepted(self, resource: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["status"] == 200 and r["body"].get("resourceType") == resource]


@pytest.fixture
def his(crm: Crm) -> Iterator[FakeHis]:
    fake = FakeHis()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    crm.app.params.set("his.outbound_url", fake.url)
    crm.app.params.set("his.outbound_token", TOKEN)
    yield fake
    crm.app.params.set("his.outbound_url", "")
    fake.server.shutdown()


def _drain(crm: Crm, rounds: int = 6) -> None:
    """Run due jobs, then let the clock pass the retry backoff (60 s, 120 s, ...) and run them again."""
    for _ in range(rounds):
        crm.app.jobs.run_pending()
        crm.app.clock.advance(minutes=10)
    crm.app.jobs.run_pending()


def _patient(crm: Crm, his_id: str | None, phone: str) -> dict[str, Any]:
    values = {
        "name": "林晓雨",
        "gender": "female",
        "phone": phone,
        "address": "虚构市人民路 1 号",
        "responsible_staff": crm.uid("pc.officer1"),
        "department": crm.department("DEV-MKT-1"),
    }
    if his_id:
        values["his_patient_id"] = his_id
    return crm.create("patient", values)


def _runs(crm: Crm, rule: str, record_id: int, kind: str) -> list[Any]:
    with crm.app.db.read() as conn:
        q = sa.select(rule_runs).where(
            rule_runs.c.rule_id == rule, rule_runs.c.record_id == record_id, rule_runs.c.kind == kind
        )
        return list(conn.execute(q))


def test_pc17_contact_change_reaches_his_as_fhir_patient_exactly_once_after_retries(crm: Crm, his: FakeHis) -> None:
    patient = _patient(crm, "HIS-OUT-0001", "13800001111")
    his.statuses = [503, 500]  # the HIS is down for the first two attempts
    officer = crm.client("pc.officer1")
    r = officer.patch(
        f"/api/v1/records/patient/{patient['id']}",
        json={"phone": "13900002222", "address": "虚构市长江路 88 号", "version": patient["version"]},
    )
    ok(r)
    crm.app.jobs.run_pending()
    assert [q["status"] for q in his.requests] == [503], "first attempt made and refused"
    failed = _runs(crm, "his_outbound_contact", patient["id"], "webhook")
    assert failed[0].status == "failed" and "503" in failed[0].error, "the delivery log shows the failure"
    if crm.app.users.by_username("his.sysadmin") is None:
        crm.app.users.create("his.sysadmin", "System admin", crm.password, is_admin=True)
    page = crm.client("his.sysadmin", lang="en").get("/admin/rules")
    assert page.status_code == 200 and "his_outbound_contact" in page.text, page.text[:500]
    assert "503 Service Unavailable" in page.text and "webhook" in page.text, "admins see the failed delivery"
    _drain(crm)

    assert [q["status"] for q in his.requests] == [503, 500, 200], "retried with backoff until accepted, then no more"
    assert len({q["key"] for q in his.requests}) == 1, "one idempotency key across the attempts"
    assert all(q["auth"] == f"Bearer {TOKEN}" for q in his.requests)
    (sent,) = his.accepted("Patient")
    body = sent["body"]
    assert body["id"] == "HIS-OUT-0001" and body["identifier"] == [
        {"system": "urn:his:patient-id", "value": "HIS-OUT-0001"}
    ]
    assert {"system": "phone", "use": "mobile", "value": "13900002222"} in body["telecom"]
    assert body["address"][0]["text"] == "虚构市长江路 88 号" and body["name"] == [{"text": "林晓雨"}]
    assert body["meta"]["versionId"] == str(patient["version"] + 1), "the version orders updates at the HIS"
    (delivery,) = _runs(crm, "his_outbound_contact", patient["id"], "webhook")
    assert delivery.status == "ok" and delivery.attempts == 3

    with crm.app.db.read() as conn:
        stored = " ".join(json.dumps(p) for p in conn.execute(sa.select(jobs.c.payload)).scalars())
        stored += " ".join(json.dumps(p) for p in conn.execute(sa.select(rule_runs.c.payload)).scalars())
    assert "13900002222" not in stored and TOKEN not in stored, "phone and token never stored in plain text"


def test_pc17_change_from_his_channel_is_not_echoed_back(crm: Crm, his: FakeHis) -> None:
    patient = _patient(crm, "HIS-OUT-0002", "13800003333")
    crm.app.records.update(
        "patient", patient["id"], {"phone": "13700004444", "address": "虚构市黄河路 9 号"}, HIS, expected_version=None
    )
    _drain(crm, rounds=2)
    assert his.requests == [], "a change the HIS sent is not sent back to it"
    assert _runs(crm, "his_outbound_contact", patient["id"], "rule") == [], "the rule did not even start"

    crm.app.records.update("patient", patient["id"], {"contact_person": "林大海"}, ADMIN, expected_version=None)
    _drain(crm, rounds=2)
    (sent,) = his.accepted("Patient")
    assert sent["body"]["contact"][0]["name"] == {"text": "林大海"}, "a CRM change of the same patient is sent"
    assert {"system": "phone", "use": "mobile", "value": "13700004444"} in sent["body"]["telecom"]


def test_pc17_completed_discharge_call_reaches_his_as_questionnaire_response(crm: Crm, his: FakeHis) -> None:
    patient = _patient(crm, "HIS-OUT-0003", "13800005555")
    local = _patient(crm, None, "13800006666")  # known only to the CRM: nothing to tell the HIS
    his.statuses = [502]
    due = (crm.app.clock.now() + timedelta(hours=72)).isoformat()
    calls = {}
    for who in (patient, local):
        call = crm.create(
            "followup_call",
            {
                "title": "出院 72 小时回访",
                "patient": who["id"],
                "type": "discharge_call",
                "channel": "phone",
                "due_at": due,
                "staff": crm.uid("pc.officer1"),
                "department": crm.department("DEV-MKT-1"),
            },
        )
        done_at = crm.app.clock.now().isoformat(timespec="seconds")
        perform(  # the state-machine action the call form's button runs (as the ward's administrator)
            crm.app,
            "followup_call",
            call["id"],
            "complete_discharge_call",
            {"done_at": done_at, "satisfaction": "satisfied", "nps": 9, "notes": "恢复良好"},
            WARD_ADMIN,
        )
        calls[who["id"]] = call
    _drain(crm)

    assert [q["status"] for q in his.requests] == [502, 200], "one refused attempt, then delivered once"
    (sent,) = his.accepted("QuestionnaireResponse")
    body = sent["body"]
    assert body["subject"]["identifier"] == {"system": "urn:his:patient-id", "value": "HIS-OUT-0003"}
    assert body["identifier"]["value"] == str(calls[patient["id"]]["id"]) and body["status"] == "completed"
    answers = {item["linkId"]: item["answer"][0] for item in body["item"]}
    assert answers["satisfaction"] == {"valueCoding": {"code": "satisfied"}}
    assert answers["nps"] == {"valueInteger": 9} and answers["notes"] == {"valueString": "恢复良好"}
    assert answers["type"] == {"valueCoding": {"code": "discharge_call"}}
    (run,) = _runs(crm, "his_outbound_followup_result", calls[local["id"]]["id"], "rule")
    assert run.status == "ok", "the CRM-only patient's call: the rule ran and sent nothing"
    assert _runs(crm, "his_outbound_followup_result", calls[local["id"]]["id"], "webhook") == []


def test_pc17_outbound_without_configured_his_url_sends_nothing_and_says_so(crm: Crm) -> None:
    crm.app.params.set("his.outbound_url", "")
    patient = _patient(crm, "HIS-OUT-0004", "13800007777")
    crm.app.records.update("patient", patient["id"], {"phone": "13600008888"}, ADMIN, expected_version=None)
    _drain(crm, rounds=1)
    (run,) = _runs(crm, "his_outbound_contact", patient["id"], "rule")
    assert run.status == "ok" and "his.outbound_url" in run.error and "not set" in run.error
    assert _runs(crm, "his_outbound_contact", patient["id"], "webhook") == []


def test_pc17_pack_checks_refuse_unknown_parameters_and_platform_headers(tmp_path: Path) -> None:
    def broken(docs: dict) -> None:
        rule = docs["rules/his_outbound_contact.json"]
        action = rule["actions"][0]
        action["url"] = "param:his.no_such_url"
        action["headers"] = {"Content-Type": "text/plain", "X-Token": "{param:his.nope}"}
        action["body"]["telecom"][0]["value"] = "phone_number"  # not a field of patient
        rule["skip_channels"] = ["fax"]

    with pytest.raises(PackInvalid) as refused:
        load_pack(pack_variant(PACK, tmp_path / "broken", broken))
    text = "\n".join(str(e) for e in refused.value.errors)
    assert "skip_channels" in text or "fax" in text, text
    fixed_channel = tmp_path / "broken2"

    def broken_refs(docs: dict) -> None:
        broken(docs)
        docs["rules/his_outbound_contact.json"]["skip_channels"] = ["his"]

    with pytest.raises(PackInvalid) as refused:
        load_pack(pack_variant(PACK, fixed_channel, broken_refs))
    text = "\n".join(str(e) for e in refused.value.errors)
    assert "unknown system parameter 'his.no_such_url'" in text, text
    assert "'Content-Type' is set by the platform" in text and "unknown system parameter 'his.nope'" in text, text
    assert "/actions/0/body/telecom/0/value" in text and "phone_number" in text, text
