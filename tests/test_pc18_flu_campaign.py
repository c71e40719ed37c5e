"""PC-18: the flu vaccination campaign (seed 002): the audience is selected from data (segment of patients aged
60 or over), the campaign has a budget and a staged price (early price until a date, then the regular price),
launching it sends the invitation to every patient of the segment as a contact (SMS through the gateway, with
an unsubscribe link), opted-out patients get nothing, and the feedback is recorded and counted by response.
The unsubscribe link (a generic platform feature) sets the patient's opt-out. The shipped patient_crm pack on
SQLite and PostgreSQL, real HTTP as the demo users, rule jobs through app.jobs.run_pending()."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.patient_crm import ADMIN, Crm, crm_fixture, ok
from tests.test_notify_support import HttpRecorder, http_recorder

crm = crm_fixture()
API = "/api/v1/records"


@pytest.fixture(scope="module")
def gateway(crm: Crm) -> Iterator[HttpRecorder]:
    """The hospital's SMS gateway (a recording HTTP server: the one outside system faked)."""
    with http_recorder() as recorder:
        crm.app.params.set("notify.sms.url", recorder.url)
        yield recorder


@pytest.fixture(scope="module")
def campaign(crm: Crm, gateway: HttpRecorder) -> dict[str, Any]:
    """Four elderly patients (one opted out, one without a phone), one young patient; the manager plans the
    campaign over HTTP, approves it, the supervisor launches it (启动) and sends it (发送)."""

    def patient(name: str, born: str, phone: str | None, **extra: Any) -> dict[str, Any]:
        values = {"name": name, "gender": "male", "birth_date": born, "phone": phone, **extra}
        return crm.create("patient", values)

    people = {
        "elder1": patient("王德胜", "1948-05-12", "13700001801", disease="hypertension"),
        "elder2": patient("李桂珍", "1955-09-30", "13700001802", disease="diabetes"),
        "opted": patient("张万福", "1950-01-20", "13700001803", contact_opt_out=True),
        "nophone": patient("刘素芬", "1952-07-07", None),
        "young": patient("陈晓东", "1992-03-15", "13700001805"),
    }
    manager = crm.client("pc.manager")
    body = {
        "name": "2026 冬季老年人流感疫苗接种",
        "kind": "flu_vaccination",
        "segment": "pc_elderly_60",
        "template": "pc_campaign_invitation",
        "channel": "sms",
        "budget": 20000,
        "early_price": 39,
        "regular_price": 69,
        "early_until": "2026-12-15",
        "starts_on": "2026-11-25",
        "ends_on": "2027-01-31",
        "owner": crm.uid("pc.supervisor1"),
        "description": "65 岁以上及慢病人群优先，本院预防接种门诊接种。",
    }
    made = ok(manager.post(f"{API}/campaign", json=body), 201)
    ok(manager.post(f"{API}/campaign/{made['id']}/actions/approve", json={}))
    supervisor = crm.client("pc.supervisor1")
    launched = ok(supervisor.post(f"{API}/campaign/{made['id']}/actions/launch", json={}))
    assert launched["status"] == "running"
    crm.app.jobs.run_pending()
    assert crm.every("campaign_contact", campaign=made["id"]) == [], "launching alone sends nothing"
    queued = ok(supervisor.post(f"{API}/campaign/{made['id']}/actions/send", json={}), 202)  # 发送: a background job
    assert queued["action_queued"]["action"] == "send"
    assert crm.every("campaign_contact", campaign=made["id"]) == [], "the request only queues the sending"
    crm.app.jobs.run_pending()  # the job runner sends it
    return {"campaign": crm.get("campaign", made["id"]), "people": people}


def contacts(crm: Crm, campaign_id: int) -> dict[int, dict[str, Any]]:
    return {c["patient"]: c for c in crm.every("campaign_contact", campaign=campaign_id)}


def test_pc18_launch_selects_the_audience_from_the_segment(crm: Crm, campaign: dict) -> None:
    people, cid = campaign["people"], campaign["campaign"]["id"]
    rows = contacts(crm, cid)
    elderly = {people[k]["id"] for k in ("elder1", "elder2", "opted", "nophone")}
    assert elderly <= set(rows), "every patient aged 60 or over is a contact"
    assert people["young"]["id"] not in rows, "the 34-year-old is not in the segment"
    assert all(r["sent_at"] is not None and r["response"] == "no_response" for r in rows.values())
    assert rows[people["elder1"]["id"]]["delivery"] == "sent"
    assert rows[people["opted"]["id"]]["delivery"] == "opted_out"
    assert rows[people["nophone"]["id"]]["delivery"] == "failed"
    sent = sum(1 for r in rows.values() if r["delivery"] == "sent")
    assert campaign["campaign"]["sent_count"] == sent >= 2


def test_pc18_invitation_sms_has_the_staged_price_and_an_unsubscribe_link(
    crm: Crm, campaign: dict, gateway: HttpRecorder
) -> None:
    by_phone = {r.body["to"]: r.body["text"] for r in gateway.requests}
    text = by_phone["13700001801"]
    assert "王德胜" in text and "2026 冬季老年人流感疫苗接种" in text
    assert "39" in text and "69" in text, "early and regular price"
    assert "/unsubscribe/" in text
    assert "13700001803" not in by_phone, "the opted-out patient gets nothing"
    assert "13700001805" not in by_phone, "not in the audience"
    # sending again reaches only new members of the segment: nobody is invited twice
    ok(crm.client("pc.supervisor1").post(f"{API}/campaign/{campaign['campaign']['id']}/actions/send", json={}), 202)
    crm.app.jobs.run_pending()
    assert len([p for p in (r.body["to"] for r in gateway.requests) if p == "13700001801"]) == 1


def test_pc18_unsubscribe_link_sets_the_patients_opt_out(crm: Crm, campaign: dict, gateway: HttpRecorder) -> None:
    text = next(r.body["text"] for r in gateway.requests if r.body["to"] == "13700001802")
    path = re.search(r"(/unsubscribe/[A-Za-z0-9_.\-]+)", text)
    assert path, text
    with httpx.Client(base_url=crm.url, timeout=30) as anonymous:  # the patient: no account, no session
        page = anonymous.get(path.group(1))
        assert page.status_code == 200 and "确认退订" in page.text
        assert crm.get("patient", campaign["people"]["elder2"]["id"])["contact_opt_out"] is False, "GET changes nothing"
        done = anonymous.post(path.group(1))
        assert done.status_code == 200 and "已退订" in done.text
        assert crm.get("patient", campaign["people"]["elder2"]["id"])["contact_opt_out"] is True
        again = anonymous.post(path.group(1))
        assert again.status_code == 200, "a second click is harmless"
        forged = anonymous.post(path.group(1)[:-3] + "abc")
        assert forged.status_code == 400 and "链接无效" in forged.text
        assert anonymous.get("/unsubscribe/not-a-token").status_code == 400


def test_pc18_feedback_recorded_and_counted_by_response(crm: Crm, campaign: dict) -> None:
    people, cid = campaign["people"], campaign["campaign"]["id"]
    rows = contacts(crm, cid)
    manager = crm.client("pc.manager")  # the campaign's answers are entered by the development department
    answers = {"elder1": "vaccinated", "elder2": "interested", "nophone": "declined"}
    for key, response in answers.items():
        row = rows[people[key]["id"]]
        body = {"response": response, "responded_at": "2026-11-27T10:00:00", "version": row["version"]}
        ok(manager.patch(f"{API}/campaign_contact/{row['id']}", json=body))
    crm.app.jobs.run_pending()
    effect = Counter(r["response"] for r in contacts(crm, cid).values())
    assert effect["vaccinated"] == 1 and effect["interested"] == 1 and effect["declined"] == 1
    assert effect["no_response"] == len(rows) - 3
    assert crm.get("campaign", cid)["response_count"] == 3
    # a changed answer (interested -> vaccinated) is not a new response
    row = contacts(crm, cid)[people["elder2"]["id"]]
    crm.app.records.update("campaign_contact", row["id"], {"response": "vaccinated"}, ADMIN, expected_version=None)
    crm.app.jobs.run_pending()
    assert crm.get("campaign", cid)["response_count"] == 3


def test_pc18_the_sender_is_told_when_the_background_sending_is_done(crm: Crm, campaign: dict) -> None:
    inbox = ok(crm.client("pc.supervisor1").get("/api/v1/notifications", params={"limit": 100}))["items"]
    told = [n for n in inbox if n["link"] == f"/r/campaign/{campaign['campaign']['id']}"]
    assert told and told[0]["title"] == "“发送”已完成：2026 冬季老年人流感疫苗接种", told


def test_pc18_a_draft_campaign_cannot_be_sent(crm: Crm, campaign: dict) -> None:
    body = {"name": "2027 春季健康讲座", "kind": "health_lecture", "segment": "pc_elderly_60", "channel": "sms",
            "starts_on": "2027-03-01", "ends_on": "2027-03-31"}  # fmt: skip
    draft = ok(crm.client("pc.manager").post(f"{API}/campaign", json=body), 201)
    r = crm.client("pc.manager").post(f"{API}/campaign/{draft['id']}/actions/send", json={})
    assert r.status_code in (409, 422) and "进行中" in r.text, r.text
    assert crm.every("campaign_contact", campaign=draft["id"]) == []
