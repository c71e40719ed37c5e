"""PC-08: patient sources (病人来源) are a tree an administrator edits at run time (free clinic with lecture,
community, academic, other; referral; daily activities; online/phone consult; walk-in; staff introduction).
A patient's source may be any node of the tree; a value in use is never removed, only deactivated.
"""

from __future__ import annotations

from typing import Any

from tests.support.patient_crm import Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"


def _tree(crm: Crm) -> list[dict[str, Any]]:
    return ok(crm.client("pc.officer1").get("/api/v1/option-sets/patient_source"))["options"]


def test_pc08_source_tree_has_the_seed_branches(crm: Crm) -> None:
    tree = {o["value"]: [c["value"] for c in o.get("children", [])] for o in _tree(crm)}
    assert tree["free_clinic"] == ["fc_lecture", "fc_community", "fc_academic", "fc_other"]
    assert {"da_three_checks", "da_two_cancers", "da_community"} <= set(tree["daily_activity"])
    assert {"referral", "walk_in", "staff_intro", "consult"} <= set(tree)
    assert {"online_consult", "phone_consult"} == set(tree["consult"])


def test_pc08_patient_source_may_be_a_branch_or_a_leaf(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    for source in ("free_clinic", "fc_lecture", "da_two_cancers", "walk_in"):
        made = ok(
            officer.post(f"{API}/patient", json={"name": f"来源{source}", "gender": "male", "source": source}), 201
        )
        assert made["source"] == source
    assert "source" in field_errors(
        officer.post(f"{API}/patient", json={"name": "来源错", "gender": "male", "source": "tv_ad"})
    )


def test_pc08_manager_adds_a_child_source_and_cannot_remove_one_in_use(crm: Crm) -> None:
    manager = crm.client("pc.manager")  # the option set names development_manager in editable_by
    tree = _tree(crm)
    daily = next(o for o in tree if o["value"] == "daily_activity")
    daily["children"].append(
        {"value": "da_elderly_checkup", "label": {"zh": "老年人免费体检", "en": "Free elderly check-up"}}
    )
    saved = manager.put("/api/v1/option-sets/patient_source", json={"options": tree})
    assert saved.status_code == 200, saved.text
    made = crm.client("pc.officer1").post(
        f"{API}/patient", json={"name": "新来源患者", "gender": "female", "source": "da_elderly_checkup"}
    )
    assert ok(made, 201)["source"] == "da_elderly_checkup"
    pruned = [o for o in _tree(crm) if o["value"] != "walk_in"]
    refused = manager.put("/api/v1/option-sets/patient_source", json={"options": pruned})
    assert refused.status_code == 400 and "walk_in" in refused.text
    retired = [{**o, "active": o["value"] != "staff_intro"} for o in _tree(crm)]
    ok(manager.put("/api/v1/option-sets/patient_source", json={"options": retired}))
    gone = crm.client("pc.officer1").post(
        f"{API}/patient", json={"name": "停用来源", "gender": "male", "source": "staff_intro"}
    )
    assert "source" in field_errors(gone), "a retired source can no longer be chosen"
    # the director inherits the manager role; the administrator right edits every dictionary
    ok(crm.client("pc.director").put("/api/v1/option-sets/patient_source", json={"options": _tree(crm)}))
    ok(crm.client("it.admin").put("/api/v1/option-sets/patient_source", json={"options": _tree(crm)}))


def test_pc08_officers_and_supervisors_do_not_edit_the_source_tree(crm: Crm) -> None:
    for username in ("pc.officer1", "pc.supervisor1", "pc.analyst"):
        r = crm.client(username).put("/api/v1/option-sets/patient_source", json={"options": _tree(crm)})
        assert r.status_code == 403, username
    # editable_by is per option set: the manager does not edit the wards
    wards = ok(crm.client("pc.manager").get("/api/v1/option-sets/ward"))["options"]
    assert crm.client("pc.manager").put("/api/v1/option-sets/ward", json={"options": wards}).status_code == 403
