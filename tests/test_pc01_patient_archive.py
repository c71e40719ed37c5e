"""PC-01: the patient archive (患者档案): personal details with the sensitive ones encrypted at rest and
masked by role, the latest stay, HIS identity; the list filters by admission/discharge dates, ward,
department, follow-up status and name; the record page shows the lifelong related lists.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.patient_crm import Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"
PHONE = "13566667777"


def _patient(crm: Crm, name: str, ward: str, admitted: str, discharged: str | None, **extra: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "gender": "female",
        "ward": ward,
        "admitted_at": admitted,
        "discharged_at": discharged,
        "department": crm.department("DEV-MKT-1"),
        **extra,
    }
    return ok(crm.client("pc.manager").post(f"{API}/patient", json=body), 201)


@pytest.fixture(scope="module")
def three(crm: Crm) -> dict[str, dict[str, Any]]:
    return {
        "a": _patient(
            crm, "档案甲", "orthopedics", "2026-11-01T08:00:00", "2026-11-10T10:00:00", follow_up_status="completed"
        ),
        "b": _patient(crm, "档案乙", "orthopedics", "2026-11-15T08:00:00", None),
        "c": _patient(
            crm,
            "档案丙",
            "cardiology",
            "2026-10-01T08:00:00",
            "2026-10-05T10:00:00",
            department=crm.department("DEV-MKT-2"),
        ),
    }


def test_pc01_patient_holds_every_archive_field_with_sensitive_ones_encrypted(crm: Crm) -> None:
    body = {
        "name": "林秀英",
        "gender": "female",
        "birth_date": "1956-04-12",
        "phone": PHONE,
        "email": "lin.xiuying@example.com",
        "address": "滨海市海港区望海路 18 号",
        "inpatient_no": "ZY20260001",
        "ward": "orthopedics",
        "bed": "07",
        "diagnosis": "右膝骨关节炎",
        "disease": "osteoarthritis",
        "treatment": "右膝人工关节置换术",
        "contact_person": "王建",
        "contact_relation": "儿子",
        "contact_phone": "13600001234",
        "admitted_at": "2026-11-20T09:00:00",
        "his_patient_id": "MRN-000123",
    }
    made = ok(crm.client("pc.director").post(f"{API}/patient", json=body), 201)
    assert made["age"] == 70 and made["birthday_greetings"] is True and made["phone"] == PHONE
    table = crm.app.registry.tables["patient"].main
    with crm.app.db.read() as conn:
        raw = conn.execute(sa.select(table).where(table.c.id == made["id"])).mappings().one()
    stored = " ".join(str(v) for v in raw.values())
    for secret in (PHONE, "lin.xiuying@example.com", "望海路", "13600001234"):
        assert secret not in stored, f"{secret} is stored in clear"
    assert "林秀英" in stored  # the name is not encrypted (search), only masked for analysts
    # HIS identity is unique: a second patient with the same MRN is refused, never a 500
    again = crm.client("pc.director").post(
        f"{API}/patient", json={"name": "重复", "gender": "male", "his_patient_id": "MRN-000123"}
    )
    assert again.status_code in (409, 422), again.text
    bad = crm.client("pc.director").post(
        f"{API}/patient",
        json={
            **body,
            "his_patient_id": "MRN-9",
            "inpatient_no": "ZY2",
            "email": "not-an-email",
            "discharged_at": "2026-11-01T00:00:00",
        },
    )
    errors = field_errors(bad)
    assert {"email", "inpatient_no"} <= set(errors)
    backwards = crm.client("pc.director").post(
        f"{API}/patient",
        json={**body, "his_patient_id": "MRN-9", "inpatient_no": "ZY20260009", "discharged_at": "2026-11-01T00:00:00"},
    )
    assert "出院时间不能早于入院时间" in field_errors(backwards)["discharged_at"]


def test_pc01_list_filters_by_dates_ward_department_status_and_name(crm: Crm, three: dict[str, dict[str, Any]]) -> None:
    manager = crm.client("pc.manager")

    def names(**params: str) -> set[str]:
        r = manager.get(f"{API}/patient", params={"limit": 200, **params})
        return {p["name"] for p in ok(r)["items"]} & {"档案甲", "档案乙", "档案丙"}

    assert names(admitted_at__gte="2026-11-01T00:00:00", admitted_at__lte="2026-11-30T23:59:59") == {"档案甲", "档案乙"}
    assert names(discharged_at__between="2026-10-01T00:00:00,2026-10-31T23:59:59") == {"档案丙"}
    assert names(ward="orthopedics") == {"档案甲", "档案乙"}
    assert names(department=str(crm.department("DEV-MKT-2"))) == {"档案丙"}
    assert names(follow_up_status="completed") == {"档案甲"}
    assert names(name__contains="乙") == {"档案乙"}
    assert names(discharged_at__empty="true", ward="orthopedics") == {"档案乙"}
    bad = manager.get(f"{API}/patient", params={"admitted_at__gte": "yesterday"})
    assert bad.status_code in (400, 422) and "admitted_at" in bad.text
    page = manager.get("/v/patient_list", params={"ward": "orthopedics"})
    assert page.status_code == 200 and "档案甲" in page.text and "档案丙" not in page.text
    view = crm.app.registry.view("patient_list")
    assert {"name", "ward", "department", "follow_up_status", "admitted_at", "discharged_at"} <= set(
        view.opt("quick_filters")
    )
    # the list's from-to day filters: a bare date as the upper bound includes that whole day
    assert names(admitted_at__gte="2026-11-01", admitted_at__lte="2026-11-15") == {"档案甲", "档案乙"}
    ranged = manager.get("/v/patient_list", params={"admitted_at__gte": "2026-11-01", "admitted_at__lte": "2026-11-14"})
    assert (
        ranged.status_code == 200
        and 'name="admitted_at__gte"' in ranged.text
        and 'name="discharged_at__lte"' in ranged.text
    )
    assert "档案甲" in ranged.text and "档案乙" not in ranged.text and "档案丙" not in ranged.text
    inpatients = manager.get("/v/patient_ward_inpatients")
    assert inpatients.status_code == 200 and "档案乙" in inpatients.text and "档案甲" not in inpatients.text


def test_pc01_record_page_shows_the_lifelong_related_lists(crm: Crm, three: dict[str, dict[str, Any]]) -> None:
    pid = three["a"]["id"]
    crm.create(
        "admission",
        {
            "visit_no": "V-PC01-1",
            "patient": pid,
            "ward": "orthopedics",
            "admitted_at": "2026-11-01T08:00:00",
            "discharged_at": "2026-11-10T10:00:00",
            "status": "discharged",
            "surgery": "joint_replacement",
        },
    )
    crm.create(
        "health_record",
        {"patient": pid, "kind": "outpatient", "record_date": "2025-06-01", "summary": "门诊复查：膝关节疼痛"},
    )
    crm.create(
        "exam_report",
        {"patient": pid, "exam_type": "膝关节 X 线", "exam_date": "2026-11-02", "conclusion": "关节间隙变窄"},
    )
    crm.create("points_entry", {"patient": pid, "points": 100, "reason": "admission"})
    page = crm.client("pc.director").get(f"/r/patient/{pid}")
    assert page.status_code == 200
    for label in ("住院记录", "健康档案", "检查报告", "积分流水", "V-PC01-1", "膝关节 X 线"):
        assert label in page.text, label
    stay = crm.every("admission", visit_no="V-PC01-1")[0]
    assert stay["length_of_stay"] == 9


def test_pc01_admission_validates_its_times_and_status(crm: Crm, three: dict[str, dict[str, Any]]) -> None:
    director = crm.client("pc.director")
    pid = three["b"]["id"]
    early = director.post(
        f"{API}/admission",
        json={
            "visit_no": "V-PC01-2",
            "patient": pid,
            "admitted_at": "2026-11-10T08:00:00",
            "discharged_at": "2026-11-09T08:00:00",
            "status": "discharged",
        },
    )
    assert "出院时间不能早于入院时间" in field_errors(early)["discharged_at"]
    open_ended = director.post(
        f"{API}/admission",
        json={"visit_no": "V-PC01-3", "patient": pid, "admitted_at": "2026-11-10T08:00:00", "status": "discharged"},
    )
    assert "discharged_at" in field_errors(open_ended)
    ok(
        director.post(
            f"{API}/admission", json={"visit_no": "V-PC01-4", "patient": pid, "admitted_at": "2026-11-10T08:00:00"}
        ),
        201,
    )
    dup = director.post(
        f"{API}/admission", json={"visit_no": "V-PC01-4", "patient": pid, "admitted_at": "2026-11-11T08:00:00"}
    )
    assert dup.status_code in (409, 422), dup.text
