"""PC-02: the development officer who makes a discharge call completes it with the action button, although the
officer's field rights do not include the call's status: a state-machine action writes its state field and its
``set`` values on its own account (runtime/permissions/enforce.py SET_BY_ACTION). Typing a status in directly
stays refused."""

from __future__ import annotations

from tests.support.patient_crm import NOW, Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"


def _discharge_call(crm: Crm) -> dict:
    officer = crm.uid("pc.officer1")
    patient = crm.create(
        "patient",
        {"name": "孙立平", "gender": "male", "responsible_staff": officer, "department": crm.department("DEV-MKT-1")},
    )
    values = {
        "title": "出院回访：孙立平",
        "patient": patient["id"],
        "type": "discharge_call",
        "channel": "phone",
        "due_at": NOW.isoformat(),
        "staff": officer,
    }
    return crm.create("followup_call", values)


def test_pc02_officer_completes_a_discharge_call_with_the_action_but_cannot_type_a_status(crm: Crm) -> None:
    call = _discharge_call(crm)
    officer = crm.client("pc.officer1")
    direct = officer.patch(f"{API}/followup_call/{call['id']}", json={"status": "done", "version": call["version"]})
    assert direct.status_code == 422 and "status" in field_errors(direct)
    done = officer.post(
        f"{API}/followup_call/{call['id']}/actions/complete_discharge_call",
        json={"input": {"done_at": NOW.isoformat(), "satisfaction": "satisfied", "nps": 9}},
    )
    ok(done)
    saved = crm.get("followup_call", call["id"])
    assert saved["status"] == "done" and saved["satisfaction"] == "satisfied" and saved["nps"] == 9
