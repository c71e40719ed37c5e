"""PC-09: referrers (客情人) and referral officers (转诊专员) over HTTP.

Each referrer belongs to exactly one officer (a required user field: one value, never none), and a referred
patient belongs to exactly one referrer (required when the source is 'referral'; the field holds one id).
Both constraints answer a clear field error in the user's language, never a 500.
"""

from __future__ import annotations

from typing import Any

from tests.support.patient_crm import Crm, crm_fixture, field_errors

crm = crm_fixture()


def _referrer(crm: Crm, name: str, officer: str, **extra: Any) -> dict[str, Any]:
    r = crm.client(officer).post(
        "/api/v1/records/referrer",
        json={
            "name": name,
            "referrer_type": extra.pop("referrer_type", "village_doctor"),
            "officer": crm.uid(officer),
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_pc09_referrer_without_officer_is_refused_with_a_field_error(crm: Crm) -> None:
    client = crm.client("pc.supervisor1")
    errors = field_errors(client.post("/api/v1/records/referrer", json={"name": "钱卫东"}))
    assert errors == {"officer": "必填"}
    made = _referrer(crm, "钱卫东", "pc.officer1")
    assert made["officer"] == crm.uid("pc.officer1")
    cleared = client.patch(f"/api/v1/records/referrer/{made['id']}", json={"officer": None, "version": made["version"]})
    assert set(field_errors(cleared)) == {"officer"}
    assert crm.get("referrer", made["id"])["officer"] == crm.uid("pc.officer1")


def test_pc09_an_officer_is_one_user_not_a_list(crm: Crm) -> None:
    client = crm.client("pc.supervisor1")
    two = [crm.uid("pc.officer1"), crm.uid("pc.officer2")]
    errors = field_errors(client.post("/api/v1/records/referrer", json={"name": "孙立平", "officer": two}))
    assert set(errors) == {"officer"}


def test_pc09_referred_patient_needs_exactly_one_referrer(crm: Crm) -> None:
    client = crm.client("pc.officer1")
    patient = {"name": "赵春梅", "gender": "female", "source": "referral"}
    errors = field_errors(client.post("/api/v1/records/patient", json=patient))
    assert errors == {"referrer": "必填"}
    referrer = _referrer(crm, "周国庆", "pc.officer1")
    other = _referrer(crm, "吴立新", "pc.officer1")
    two = client.post("/api/v1/records/patient", json={**patient, "referrer": [referrer["id"], other["id"]]})
    assert "referrer" in field_errors(two)
    made = client.post("/api/v1/records/patient", json={**patient, "referrer": referrer["id"]})
    assert made.status_code == 201, made.text
    assert made.json()["referrer"] == referrer["id"]
    # a walk-in patient needs no referrer
    walk_in = client.post("/api/v1/records/patient", json={"name": "钱丽", "gender": "female", "source": "walk_in"})
    assert walk_in.status_code == 201, walk_in.text


def test_pc09_officer_sees_only_own_referrers_supervisor_sees_the_team(crm: Crm) -> None:
    mine = _referrer(crm, "冯建华", "pc.officer1")
    theirs = _referrer(crm, "陈志刚", "pc.officer3")

    def names(username: str) -> set[str]:
        r = crm.client(username).get("/api/v1/records/referrer", params={"limit": 200})
        assert r.status_code == 200, r.text
        return {x["name"] for x in r.json()["items"]}

    assert mine["name"] in names("pc.officer1") and theirs["name"] not in names("pc.officer1")
    assert mine["name"] in names("pc.supervisor1") and theirs["name"] not in names("pc.supervisor1")
    assert {mine["name"], theirs["name"]} <= names("pc.manager")
    # an officer cannot hand a referrer to someone else's list and keep it: reassigning moves it
    r = crm.client("pc.supervisor1").patch(
        f"/api/v1/records/referrer/{mine['id']}", json={"officer": crm.uid("pc.officer2"), "version": mine["version"]}
    )
    assert r.status_code == 200, r.text
    assert mine["name"] not in names("pc.officer1") and mine["name"] in names("pc.officer2")


def test_pc09_referrer_grades_are_gold_silver_bronze_iron(crm: Crm) -> None:
    made = _referrer(crm, "韩松", "pc.officer1", grade="gold", referrals_this_month=3, referrals_this_year=25)
    assert made["grade"] == "gold" and made["referrals_this_month"] == 3
    r = crm.client("pc.officer1").get("/api/v1/option-sets/referrer_grade")
    assert r.status_code == 200, r.text
    assert [o["value"] for o in r.json()["options"]] == ["gold", "silver", "bronze", "iron"]
    bad = crm.client("pc.officer1").post(
        "/api/v1/records/referrer", json={"name": "错等级", "officer": crm.uid("pc.officer1"), "grade": "platinum"}
    )
    assert "grade" in field_errors(bad)
