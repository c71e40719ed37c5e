"""PC-10: patient categories key/special/regular (重点/特殊/常规) with their own list; member tiers suspect to
VIP and a points ledger (积分流水) whose entries are validated (no zero, redemptions negative).
"""

from __future__ import annotations

from tests.support.patient_crm import Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"


def test_pc10_member_tiers_and_categories_are_the_seed_ones(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    tiers = [o["value"] for o in ok(officer.get("/api/v1/option-sets/member_tier"))["options"]]
    assert tiers == ["suspect", "potential", "dormant", "small", "medium", "large", "vip"]
    categories = [o["value"] for o in ok(officer.get("/api/v1/option-sets/patient_category"))["options"]]
    assert categories == ["key", "special", "regular"]


def test_pc10_key_and_special_patients_have_their_own_list(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    for name, category in (("重点甲", "key"), ("特殊乙", "special"), ("常规丙", "regular")):
        made = ok(
            officer.post(
                f"{API}/patient",
                json={
                    "name": name,
                    "gender": "male",
                    "category": category,
                    "member_tier": "vip" if category == "key" else "small",
                },
            ),
            201,
        )
        assert made["category"] == category
    page = officer.get("/v/patient_special_key")
    assert page.status_code == 200 and "重点甲" in page.text and "特殊乙" in page.text and "常规丙" not in page.text
    default = ok(officer.post(f"{API}/patient", json={"name": "默认分类", "gender": "female"}), 201)
    assert default["category"] == "regular"


def test_pc10_points_ledger_validates_entries(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    member = ok(
        officer.post(f"{API}/patient", json={"name": "积分会员", "gender": "female", "member_tier": "medium"}), 201
    )
    for points, reason in ((200, "admission"), (50, "checkup"), (-100, "redeem")):
        ok(officer.post(f"{API}/points_entry", json={"patient": member["id"], "points": points, "reason": reason}), 201)
    assert (
        "兑换积分必须为负数"
        in field_errors(
            officer.post(f"{API}/points_entry", json={"patient": member["id"], "points": 30, "reason": "redeem"})
        )["points"]
    )
    assert "points" in field_errors(
        officer.post(f"{API}/points_entry", json={"patient": member["id"], "points": 0, "reason": "adjust"})
    )
    assert "occurred_on" in field_errors(
        officer.post(
            f"{API}/points_entry",
            json={"patient": member["id"], "points": 5, "reason": "adjust", "occurred_on": "2027-01-01"},
        )
    )
    ledger = ok(officer.get(f"{API}/points_entry", params={"patient": member["id"]}))["items"]
    assert sorted(e["points"] for e in ledger) == [-100, 50, 200] and sum(e["points"] for e in ledger) == 150
    page = officer.get("/v/points_ledger")
    assert page.status_code == 200 and "积分会员" in page.text
