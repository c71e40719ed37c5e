"""RN-15 potential-partner mining with segments: the referral pack ships target groups (二级及以上综合医院且有
肿瘤科尚未合作, 高热度潜在医院, 县域医院, hospitals without a liaison); a manager opens them and saves his own
from a filtered list, shared with the other managers; everyone sees only the hospitals of their scope.
Real HTTP and Chromium as the demo users, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import require_chromium
from tests.support.designer import ARGS, shot
from tests.support.referral import Referral, referral_world

SEGMENTS = "/api/v1/segments"
SHIPPED = {"oncology_targets", "warm_potentials", "county_hospitals", "unassigned_potentials"}
TEAM1 = [f"rn.liaison{i}" for i in range(1, 6)]
TEAM2 = [f"rn.liaison{i}" for i in range(6, 11)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Referral]:
    yield from referral_world(request, tmp_path_factory, ("partner_hospital",))


def oncology_target(h: dict[str, Any]) -> bool:
    return (
        h["level"] in ("3A", "3B", "2A", "2B")
        and h["type"] == "general"
        and "oncology" in (h["key_departments"] or [])
        and h["status"] in ("potential", "lead")
    )


def records(client: Any, segment: str) -> dict[str, Any]:
    r = client.get(f"{SEGMENTS}/{segment}/records", params={"limit": 200})
    assert r.status_code == 200, r.text
    return r.json()


def test_rn15_shipped_segments_find_target_hospitals_within_each_scope(rn: Referral) -> None:
    leader, manager, liaison = rn.client("rn.leader"), rn.client("rn.manager1"), rn.client("rn.liaison1")
    assert {s["id"] for s in manager.get(SEGMENTS).json()["items"]} >= SHIPPED
    assert "unassigned_potentials" not in {s["id"] for s in liaison.get(SEGMENTS).json()["items"]}
    targets = [h for h in rn.every("partner_hospital") if oncology_target(h)]
    assert len(targets) >= 5, "the demo has enough oncology targets to be worth a segment"
    everyone = records(leader, "oncology_targets")
    assert sorted(h["name"] for h in everyone["items"]) == sorted(h["name"] for h in targets)
    assert everyone["total"] == len(targets)
    team = {rn.uid(u) for u in TEAM1} | {None}  # his team's hospitals and the unassigned pool
    mine = records(manager, "oncology_targets")
    assert sorted(h["name"] for h in mine["items"]) == sorted(h["name"] for h in targets if h["liaison"] in team)
    assert all(h["liaison"] != rn.uid("rn.liaison6") for h in mine["items"])
    county = records(leader, "county_hospitals")["items"]
    assert county and all("县" in h["name"] and h["status"] != "removed" for h in county)
    pool = records(manager, "unassigned_potentials")["items"]
    assert pool and all(h["liaison"] is None and h["status"] == "potential" for h in pool)
    query = everyone["segment"]["list_url"].split("?", 1)[1]  # the same filters as list URL parameters
    listed = manager.get(f"/api/v1/records/partner_hospital?{query}&limit=200").json()
    assert sorted(h["name"] for h in listed["items"]) == sorted(h["name"] for h in mine["items"]), "opens as a list"


def test_rn15_manager_saves_segment_and_finds_target_hospitals(rn: Referral) -> None:
    manager1, manager2 = rn.client("rn.manager1"), rn.client("rn.manager2")
    saved = manager1.post(SEGMENTS, json={
        "entity": "partner_hospital", "label": "二级甲等潜在医院", "view": "partner_hospital_list",
        "filters": [{"field": "level", "op": "eq", "value": "2A"},
                    {"field": "status", "op": "eq", "value": "potential"}],
        "shared_role": "outreach_manager",
    })
    assert saved.status_code == 201, saved.text
    sid = saved.json()["id"]
    expected = [h for h in rn.every("partner_hospital") if h["level"] == "2A" and h["status"] == "potential"]
    for client, team in ((manager1, TEAM1), (manager2, TEAM2)):
        owners = {rn.uid(u) for u in team} | {None}
        got = records(client, sid)
        assert sorted(h["name"] for h in got["items"]) == sorted(h["name"] for h in expected if h["liaison"] in owners)
    assert rn.client("rn.liaison1").get(f"{SEGMENTS}/{sid}").status_code == 404, "shared with managers only"
    bad = manager1.post(SEGMENTS, json={"entity": "partner_hospital", "label": "错误",
                                        "filters": [{"field": "key_departments", "op": "gte", "value": "oncology"}]})
    assert bad.status_code == 400 and "key_departments" in bad.json()["error"]["message"]


def test_rn15_manager_saves_a_filtered_hospital_list_as_a_segment_in_the_browser(rn: Referral) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    executable = require_chromium()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(rn.url + "/login?next=/v/partner_hospital_list")
            page.fill("#username", "rn.manager1")
            page.fill("#password", rn.password)
            page.click("#login-submit")
            page.wait_for_url("**/v/partner_hospital_list")
            page.select_option("#qf-status", "potential")  # the quick filters narrow the list (htmx)
            page.wait_for_url("**status=potential**")
            page.click("#save-segment")
            page.wait_for_url("**/segments/new/v/partner_hospital_list?**")
            conditions = page.inner_text("#segment-conditions")
            assert "合作状态" in conditions and "潜在" in conditions
            page.fill("#segment-label", "我的潜在医院")
            page.select_option("#segment-share", "outreach_manager")
            shot(page, "rn15-save-segment-form")
            page.click("#segment-save")
            page.wait_for_url("**/segments/user-*")
            expected = [h for h in rn.every("partner_hospital") if h["status"] == "potential"
                        and h["liaison"] in {rn.uid(u) for u in TEAM1} | {None}]
            assert page.inner_text("#segment-count") == f"共 {len(expected)} 条"
            assert page.locator("#list-table tbody tr").count() == len(expected)
            shot(page, "rn15-segment-page")
            page.click("#segment-open-list")
            page.wait_for_url("**/v/partner_hospital_list?status=potential")
            page.goto(rn.url + "/segments")
            assert page.locator(".tf-segment-card").count() >= 5
            shot(page, "rn15-segments-overview")
        finally:
            browser.close()
