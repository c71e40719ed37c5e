"""PC-11: the lifelong health record: repeated visits (outpatient, inpatient, check-up, exam) and exam
reports per patient, entered by doctors and officers, listed on the patient's page and in their own lists.
"""

from __future__ import annotations

import pytest

from tests.support.patient_crm import Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"


@pytest.fixture(scope="module")
def doctor(crm: Crm) -> str:
    crm.ward_department("WARD-ENDO", "内分泌科病区")
    crm.create_user("pc.t.doctor11", ["doctor"], "WARD-ENDO", "内分泌科医生")
    return "pc.t.doctor11"


def test_pc11_repeated_visits_and_exam_reports_form_one_record(crm: Crm, doctor: str) -> None:
    team = crm.department("DEV-MKT-1")
    patient = crm.create("patient", {"name": "终身档案", "gender": "male", "disease": "diabetes", "department": team})
    client = crm.client(doctor)
    visits = [
        ("outpatient", "2025-03-02", "初诊 2 型糖尿病"),
        ("inpatient", "2025-09-15", "血糖控制不佳住院"),
        ("checkup", "2026-05-20", "年度体检"),
        ("outpatient", "2026-11-20", "复诊：糖化血红蛋白 6.8%"),
    ]
    for kind, day, summary in visits:
        ok(
            client.post(
                f"{API}/health_record",
                json={
                    "patient": patient["id"],
                    "kind": kind,
                    "record_date": day,
                    "ward": "endocrinology",
                    "summary": summary,
                },
            ),
            201,
        )
    ok(
        client.post(
            f"{API}/exam_report",
            json={
                "patient": patient["id"],
                "exam_type": "糖化血红蛋白",
                "exam_date": "2026-11-20",
                "conclusion": "6.8%",
                "abnormal": False,
            },
        ),
        201,
    )
    ok(
        client.post(
            f"{API}/exam_report",
            json={
                "patient": patient["id"],
                "exam_type": "眼底检查",
                "exam_date": "2026-11-20",
                "conclusion": "轻度视网膜病变",
                "abnormal": True,
            },
        ),
        201,
    )
    records = ok(client.get(f"{API}/health_record", params={"patient": patient["id"], "sort": "record_date"}))["items"]
    assert [r["record_date"] for r in records] == sorted(v[1] for v in visits)
    page = client.get(f"/r/patient/{patient['id']}")
    assert page.status_code == 200
    assert "复诊：糖化血红蛋白 6.8%" in page.text and "健康档案" in page.text
    assert "眼底检查" in page.text
    abnormal = crm.client("pc.director").get("/v/exam_report_with_abnormal")
    assert abnormal.status_code == 200 and "眼底检查" in abnormal.text and "糖化血红蛋白" not in abnormal.text


def test_pc11_abnormal_report_needs_a_conclusion_and_dates_are_not_in_the_future(crm: Crm, doctor: str) -> None:
    patient = crm.create("patient", {"name": "报告校验", "gender": "female"})
    client = crm.client(doctor)
    errors = field_errors(
        client.post(
            f"{API}/exam_report",
            json={"patient": patient["id"], "exam_type": "心电图", "exam_date": "2026-11-22", "abnormal": True},
        )
    )
    assert "异常报告必须填写结论" in errors["conclusion"]
    errors = field_errors(
        client.post(
            f"{API}/health_record",
            json={"patient": patient["id"], "kind": "outpatient", "record_date": "2026-12-01", "summary": "x"},
        )
    )
    assert "record_date" in errors
    errors = field_errors(
        client.post(
            f"{API}/health_record", json={"patient": patient["id"], "kind": "dental", "record_date": "2026-11-01"}
        )
    )
    assert {"kind", "summary"} <= set(errors)


def test_pc11_officer_cannot_see_another_officers_health_records(crm: Crm) -> None:
    patient = crm.create("patient", {"name": "隐私档案", "gender": "male"})
    mine = ok(
        crm.client("pc.officer1").post(
            f"{API}/health_record",
            json={"patient": patient["id"], "kind": "checkup", "record_date": "2026-11-01", "summary": "体检正常"},
        ),
        201,
    )
    assert crm.client("pc.officer3").get(f"{API}/health_record/{mine['id']}").status_code == 404
    assert crm.client("pc.officer1").get(f"{API}/health_record/{mine['id']}").status_code == 200
