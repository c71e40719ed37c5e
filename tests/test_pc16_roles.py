"""PC-16: the rights of each role of the patient CRM over real HTTP: enter, modify, delete, view, analyse,
print, import and export, with the data scope of each level.

Demo organisation: 市场一组 (pc.supervisor1, officers pc.officer1/2), 市场二组 (pc.supervisor2, pc.officer3),
pc.manager over both, pc.director, pc.president, pc.analyst (统计室), it.admin (administrator).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.patient_crm import ADMIN, Crm, crm_fixture, ok

crm = crm_fixture()
API = "/api/v1/records"
PHONE = "13912345678"
ID_NUMBER = "11010519900307451X"  # fictional, valid check digit: a man born 1990-03-07


@pytest.fixture(scope="module")
def patients(crm: Crm) -> dict[str, dict[str, Any]]:
    """One patient in the charge of pc.officer1 (市场一组) and one of pc.officer3 (市场二组)."""
    out = {}
    for n, (officer, team) in enumerate((("pc.officer1", "DEV-MKT-1"), ("pc.officer3", "DEV-MKT-2"))):
        out[officer] = crm.create(
            "patient",
            {
                "name": f"权限测试{n}",
                "gender": "male",
                "birth_date": "1990-03-07",
                "id_number": ID_NUMBER if n == 0 else None,
                "phone": PHONE,
                "address": "滨海市测试路 1 号",
                "responsible_staff": crm.uid(officer),
                "department": crm.department(team),
                "ward": "orthopedics",
                "admitted_at": "2026-11-20T10:00:00",
            },
        )
    return out


def test_pc16_officer_enters_and_edits_own_patients_sees_masked_phone_cannot_delete_or_export(
    crm: Crm, patients: dict[str, dict[str, Any]]
) -> None:
    officer = crm.client("pc.officer1")
    mine = ok(officer.get(f"{API}/patient/{patients['pc.officer1']['id']}"))
    assert mine["phone"] != PHONE and "*" in mine["phone"] and mine["phone"].endswith(PHONE[-4:])
    assert "*" in mine["id_number"] and "*" in mine["address"]
    assert officer.get(f"{API}/patient/{patients['pc.officer3']['id']}").status_code == 404
    edited = ok(officer.patch(f"{API}/patient/{mine['id']}", json={"bed": "12", "version": mine["version"]}))
    assert edited["bed"] == "12"
    created = ok(officer.post(f"{API}/patient", json={"name": "新录入", "gender": "female", "source": "walk_in"}), 201)
    assert created["responsible_staff"] in (None, crm.uid("pc.officer1"))
    assert officer.delete(f"{API}/patient/{created['id']}").status_code == 403
    assert officer.get(f"{API}/patient/export").status_code == 403
    assert officer.get(f"{API}/followup_call/export").status_code == 403
    assert officer.post(f"{API}/patient/import", files={"file": ("p.csv", b"name\n")}).status_code == 403
    assert officer.get(f"/r/patient/{mine['id']}/print").status_code == 200
    # HIS identity fields are not the officer's to change
    refused = officer.patch(f"{API}/patient/{mine['id']}", json={"his_patient_id": "H1", "version": edited["version"]})
    assert refused.status_code in (403, 422) and "his_patient_id" in refused.text


def test_pc16_supervisor_sees_the_team_only_with_phone_in_full(crm: Crm, patients: dict[str, dict[str, Any]]) -> None:
    supervisor = crm.client("pc.supervisor1")
    team = ok(supervisor.get(f"{API}/patient/{patients['pc.officer1']['id']}"))
    assert team["phone"] == PHONE and "*" in team["id_number"]
    assert supervisor.get(f"{API}/patient/{patients['pc.officer3']['id']}").status_code == 404
    # the same scope holds for the new entities: an appointment handled by the other team's officer
    theirs = crm.create(
        "appointment",
        {
            "patient": patients["pc.officer3"]["id"],
            "channel": "phone",
            "scheduled_at": "2026-11-30T09:00:00",
            "staff": crm.uid("pc.officer3"),
        },
    )
    ours = crm.create(
        "appointment",
        {
            "patient": patients["pc.officer1"]["id"],
            "channel": "web",
            "scheduled_at": "2026-11-30T10:00:00",
            "staff": crm.uid("pc.officer2"),
        },
    )
    listed = {a["id"] for a in ok(supervisor.get(f"{API}/appointment", params={"limit": 200}))["items"]}
    assert ours["id"] in listed and theirs["id"] not in listed
    assert supervisor.delete(f"{API}/appointment/{ours['id']}").status_code == 403
    assert supervisor.get(f"{API}/patient/export").status_code == 403


def test_pc16_manager_and_director_see_everything_delete_and_export(
    crm: Crm, patients: dict[str, dict[str, Any]]
) -> None:
    manager = crm.client("pc.manager")
    for p in patients.values():
        assert ok(manager.get(f"{API}/patient/{p['id']}"))["phone"] == PHONE
    export = manager.get(f"{API}/patient/export", params={"format": "csv"})
    assert export.status_code == 200 and PHONE in export.text
    director = crm.client("pc.director")
    doomed = crm.create("points_entry", {"patient": patients["pc.officer3"]["id"], "points": 10, "reason": "adjust"})
    assert director.delete(f"{API}/points_entry/{doomed['id']}").status_code in (200, 204)


def test_pc16_analyst_analyses_and_exports_masked_but_cannot_edit(
    crm: Crm, patients: dict[str, dict[str, Any]]
) -> None:
    analyst = crm.client("pc.analyst")
    one = ok(analyst.get(f"{API}/patient/{patients['pc.officer3']['id']}"))
    assert "*" in one["phone"] and "*" in one["name"]
    assert analyst.patch(f"{API}/patient/{one['id']}", json={"bed": "9", "version": one["version"]}).status_code == 403
    assert (
        analyst.post(f"{API}/opinion", json={"category": "other", "grade": "normal", "content": "x"}).status_code == 403
    )
    export = analyst.get(f"{API}/patient/export", params={"format": "csv"})
    assert export.status_code == 200 and PHONE not in export.text
    report = analyst.get("/api/v1/reports/pc_satisfaction_shares")
    assert report.status_code == 200, report.text
    assert analyst.get(f"/r/patient/{one['id']}/print").status_code == 200


def test_pc16_president_views_analyses_exports_but_does_not_enter(
    crm: Crm, patients: dict[str, dict[str, Any]]
) -> None:
    president = crm.client("pc.president")
    assert ok(president.get(f"{API}/patient/{patients['pc.officer1']['id']}"))["phone"] == PHONE
    assert president.post(f"{API}/patient", json={"name": "院长录入", "gender": "male"}).status_code == 403
    assert president.get(f"{API}/opinion/export").status_code == 200
    assert president.get("/api/v1/reports/pc_opinions_by_category").status_code == 200


def test_pc16_nurse_and_officer_cannot_analyse_what_they_may_not(crm: Crm) -> None:
    crm.ward_department("WARD-ORTHO", "骨科病区")
    crm.create_user("pc.t.nurse16", ["nurse"], "WARD-ORTHO")
    nurse = crm.client("pc.t.nurse16")
    assert nurse.get("/api/v1/reports/pc_satisfaction_shares").status_code == 403
    assert nurse.get(f"{API}/points_entry").status_code == 403
    assert nurse.get(f"{API}/patient/export").status_code == 403


def test_pc16_every_role_of_the_brief_exists_with_zh_and_en_labels(crm: Crm) -> None:
    roles = crm.app.registry.roles
    wanted = {
        "president",
        "development_director",
        "development_manager",
        "development_supervisor",
        "development_officer",
        "data_analyst",
        "administrator",
        "doctor",
        "nurse",
        "mdt_coordinator",
    }
    assert wanted <= set(roles)
    for rid in wanted:
        assert roles[rid].label["zh"] and roles[rid].label["en"], rid
    assert crm.app.permissions.can(ADMIN, crm.app.registry.entity("patient"), "delete")
