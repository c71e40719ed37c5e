"""RN-06, RN-07: the visit rule base suggests visit plans by hospital grade, type, heat, status and visit
history; a manager generates the plans of many hospitals in one go; the liaison is reminded the day before,
reschedules, records the result on the phone, and the next plan follows from the result and its feedback.
Real HTTP as the demo users (rn.liaison1..5 and rn.manager1 in 拓展一组), on SQLite and PostgreSQL; rule
jobs run through app.jobs.run_pending() as the job runner would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import quote

import pytest

from tests.support.browser import require_chromium
from tests.support.designer import ARGS, DESKTOP, shot
from tests.support.referral import ADMIN, Referral, referral_world

API = "/api/v1/records"
TODAY = date(2026, 11, 23)
ENTITIES = ("partner_hospital", "visit_rule")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Referral]:
    yield from referral_world(request, tmp_path_factory, ENTITIES)


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def rule_names(rn: Referral) -> dict[int, str]:
    return {r["id"]: r["name"] for r in rn.every("visit_rule")}


def suggest(rn: Referral, who: str, hospital: str) -> dict:
    """The liaison presses 生成建议拜访计划 on the hospital page; the new plan is returned."""
    hid = rn.hospital(hospital)["id"]
    before = {p["id"] for p in rn.every("visit_plan", hospital=hid)}
    r = rn.client(who).post(f"{API}/partner_hospital/{hid}/actions/suggest_visit_plan")
    assert r.status_code == 200, r.text
    [plan] = [p for p in rn.every("visit_plan", hospital=hid) if p["id"] not in before]
    return plan


def set_last_visit(rn: Referral, hospital: str, offset: int | None) -> None:
    h = rn.hospital(hospital)
    rn.app.records.update("partner_hospital", h["id"], {"last_visit_date": None if offset is None else day(offset)},
                          ADMIN, expected_version=None)


def test_rn06_rule_base_suggests_plans_by_level_type_heat_history(rn: Referral) -> None:
    names = rule_names(rn)
    set_last_visit(rn, "澜州市人民医院", None)  # formal 3A, never visited
    set_last_visit(rn, "阳谷县人民医院", -69)  # formal 2A general, not visited for 69 days
    set_last_visit(rn, "金穗镇卫生院", -50)  # formal township centre, 50 days
    set_last_visit(rn, "凤台县人民医院", None)  # potential, never visited
    set_last_visit(rn, "孝义市中医院", -20)  # lead, TCM
    rn.app.jobs.run_pending()
    assert {rn.hospital(n)["heat_grade"] for n in ("澜州市人民医院", "金穗镇卫生院", "孝义市中医院")} == {"cold"}
    cases = [
        ("rn.liaison1", "澜州市人民医院", "正式合作医院·首次拜访", day(3), "onsite"),
        ("rn.liaison2", "阳谷县人民医院", "正式合作医院·超过60天未拜访", day(1), "onsite"),
        ("rn.liaison1", "金穗镇卫生院", "客情偏冷的合作医院", day(1), "onsite"),  # heat: no visits yet, cold
        ("rn.liaison1", "凤台县人民医院", "潜在医院·首次接触", day(14), "phone"),
        ("rn.liaison1", "孝义市中医院", "客情偏冷的合作医院", day(1), "onsite"),
    ]
    for who, hospital, rule, planned, kind in cases:
        plan = suggest(rn, who, hospital)
        assert (names[plan["rule"]], plan["planned_date"], plan["visit_type"]) == (rule, planned, kind), hospital
        assert plan["status"] == "planned" and plan["source"] == "rule"
        assert plan["liaison"] == rn.uid(who) == rn.hospital(hospital)["liaison"]
        assert plan["purpose"] and plan["suggested_content"] and hospital[:2] in plan["subject"]
    # the manager maintains the rule base: without the "cold" rule the grade and type rules apply
    manager = rn.client("rn.manager1")
    cold = next(r for r in rn.every("visit_rule") if r["name"] == "客情偏冷的合作医院")
    r = manager.patch(f"{API}/visit_rule/{cold['id']}", json={"active": False, "version": cold["version"]})
    assert r.status_code == 200, r.text
    assert names[suggest(rn, "rn.liaison1", "金穗镇卫生院")["rule"]] == "基层机构·带教帮扶"
    assert names[suggest(rn, "rn.liaison1", "孝义市中医院")["rule"]] == "线索阶段医院·推进合作"
    plan = suggest(rn, "rn.liaison2", "阳谷县人民医院")
    assert names[plan["rule"]] == "正式合作医院·超过60天未拜访"  # history still comes first
    # a liaison may read the rule base but not change it
    liaison = rn.client("rn.liaison1")
    assert liaison.get(f"{API}/visit_rule/{cold['id']}").status_code == 200
    denied = liaison.patch(f"{API}/visit_rule/{cold['id']}", json={"active": True, "version": cold["version"] + 1})
    assert denied.status_code == 403, denied.text
    r = manager.patch(f"{API}/visit_rule/{cold['id']}", json={"active": True, "version": cold["version"] + 1})
    assert r.status_code == 200, r.text


def test_rn06_suggestion_refused_clearly_without_liaison_or_matching_rule(rn: Referral) -> None:
    leader = rn.client("rn.leader")
    pool = rn.hospital("墨池区人民医院")  # potential, no liaison (in the hospital pool)
    r = leader.post(f"{API}/partner_hospital/{pool['id']}/actions/suggest_visit_plan")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["message"] == "该医院尚未指定联络员或已移除，不能生成拜访计划"
    catch_all = next(r for r in rn.every("visit_rule") if r["name"] == "兜底规则")
    lead_rules = [r for r in rn.every("visit_rule") if r["statuses"] and "lead" in r["statuses"]]
    for rule in [catch_all, *lead_rules]:
        rn.app.records.update("visit_rule", rule["id"], {"active": False}, ADMIN, expected_version=None)
    try:
        hid = rn.hospital("临渊县人民医院")["id"]  # a lead: no active rule left for it
        r = rn.client("rn.liaison1").post(f"{API}/partner_hospital/{hid}/actions/suggest_visit_plan")
        assert r.status_code == 409, r.text
        assert r.json()["error"]["message"] == "拜访规则库中没有适用于该医院的启用规则"
        assert rn.every("visit_plan", hospital=hid) == []
    finally:
        for rule in [catch_all, *lead_rules]:
            rn.app.records.update("visit_rule", rule["id"], {"active": True}, ADMIN, expected_version=None)


def test_rn07_batch_visit_plans_generated_from_rules(rn: Referral) -> None:
    """rn.manager1 ticks 20 hospitals of the team and generates their plans in one go."""
    manager = rn.client("rn.manager1")
    team = {rn.uid(f"rn.liaison{i}") for i in range(1, 6)}
    mine = [h for h in rn.every("partner_hospital") if h["liaison"] in team]
    removed = [h for h in mine if h["status"] == "removed"]
    active = sorted((h for h in mine if h["status"] != "removed"), key=lambda h: h["id"])
    chosen = active[: 19 - len(removed)] + removed + [rn.hospital("江北区第二人民医院")]  # one of team 2
    assert len(chosen) == 20 and removed
    before = {p["id"] for p in rn.every("visit_plan")}
    r = manager.post(f"{API}/partner_hospital/actions/suggest_visit_plan/bulk", json={"ids": [h["id"] for h in chosen]})
    assert r.status_code == 200, r.text
    body = r.json()
    results = {x["id"]: x for x in body["results"]}
    assert body["done"] == 20 - len(removed) - 1 and body["refused"] == len(removed) + 1
    for h in removed:
        assert results[h["id"]]["reason"] == "该医院尚未指定联络员或已移除，不能生成拜访计划"
    assert results[rn.hospital("江北区第二人民医院")["id"]]["code"] == "not_found"  # another team's hospital
    created = sorted((p for p in rn.every("visit_plan") if p["id"] not in before), key=lambda p: p["id"])
    assert len(created) == body["done"]
    by_hospital = {p["hospital"]: p for p in created}
    for h in chosen:
        if results[h["id"]]["status"] == "done":
            plan = by_hospital[h["id"]]
            assert plan["liaison"] == h["liaison"] and plan["source"] == "rule" and plan["rule"] is not None
            assert plan["planned_date"] > TODAY.isoformat()
    # each liaison finds the new plans in their own schedule, and only theirs
    liaison1 = rn.client("rn.liaison1")
    listed = liaison1.get(f"{API}/visit_plan", params={"limit": 200}).json()["items"]
    assert listed and {p["liaison"] for p in listed} == {rn.uid("rn.liaison1")}
    assert rn.client("rn.liaison6").get(f"{API}/visit_plan/{created[0]['id']}").status_code == 404


def test_rn07_result_recorded_creates_next_plan(rn: Referral) -> None:
    me = rn.client("rn.liaison1")
    hospital = rn.hospital("澜州市人民医院")
    buttons = me.get(f"/r/partner_hospital/{hospital['id']}/actions").text  # the hospital page's action buttons
    assert "生成建议拜访计划" in buttons and "安排拜访" in buttons
    form = me.get(f"/r/partner_hospital/{hospital['id']}/actions/plan_visit")
    assert form.status_code == 200 and "计划日期" in form.text and "拜访目的" in form.text
    r = me.post(f"{API}/partner_hospital/{hospital['id']}/actions/plan_visit",
                json={"input": {"planned_date": day(0), "visit_type": "onsite", "purpose": "肿瘤MDT对接"}})
    assert r.status_code == 200, r.text
    plan = next(p for p in rn.every("visit_plan", hospital=hospital["id"]) if p["purpose"] == "肿瘤MDT对接")
    assert (plan["source"], plan["planned_date"], plan["liaison"]) == ("manual", day(0), rn.uid("rn.liaison1"))
    # the result form asks what a liaison knows after the visit; incomplete answers are refused
    incomplete = me.post(f"{API}/visit_plan/{plan['id']}/actions/record_result", json={"input": {"done_date": day(0)}})
    assert incomplete.status_code == 422, incomplete.text
    assert {e["field"] for e in incomplete.json()["error"]["errors"]} >= {"contact_met", "content", "feedback"}
    result = {"done_date": day(0), "contact_met": "陆立新（肿瘤科主任）", "content": "确定每月两次MDT远程会诊",
              "outcome": "agreed", "feedback": 2, "next_steps": "两周内发送会诊流程"}
    r = me.post(f"{API}/visit_plan/{plan['id']}/actions/record_result", json={"input": result})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    rn.app.jobs.run_pending()
    done = me.get(f"{API}/visit_plan/{plan['id']}").json()
    assert done["next_plan"] is not None
    nxt = me.get(f"{API}/visit_plan/{done['next_plan']}").json()
    names = rule_names(rn)
    rule = next(r for r in rn.every("visit_rule") if r["id"] == nxt["rule"])
    # a formal 3A hospital, just visited, cold: the cold rule (14 days), halved by the poor feedback (2 stars)
    assert names[nxt["rule"]] == "客情偏冷的合作医院" and rule["interval_days"] == 14
    assert (nxt["planned_date"], nxt["source"], nxt["status"]) == (day(7), "followup", "planned")
    assert nxt["liaison"] == rn.uid("rn.liaison1") and "两周内发送会诊流程" in nxt["suggested_content"]
    assert rn.hospital("澜州市人民医院")["last_visit_date"] == day(0)
    # excellent feedback puts the following visit off: 14 x 1.25 = 17.5 -> 18 days
    r = me.post(f"{API}/visit_plan/{nxt['id']}/actions/record_result", json={"input": {**result, "feedback": 5}})
    assert r.status_code == 200, r.text
    rn.app.jobs.run_pending()
    following = me.get(f"{API}/visit_plan/{nxt['id']}").json()["next_plan"]
    third = me.get(f"{API}/visit_plan/{following}").json()
    assert third["planned_date"] == day(18)
    # an old result recorded late (more than 30 days ago) plans nothing more: history is not a schedule
    old = rn.app.records.create("visit_plan", {"subject": "补录", "hospital": hospital["id"], "planned_date": day(-60),
                                               "liaison": rn.uid("rn.liaison1")}, ADMIN)
    late = {**result, "done_date": day(-60)}
    r = me.post(f"{API}/visit_plan/{old['id']}/actions/record_result", json={"input": late})
    assert r.status_code == 200, r.text
    rn.app.jobs.run_pending()
    assert me.get(f"{API}/visit_plan/{old['id']}").json()["next_plan"] is None
    assert rn.hospital("澜州市人民医院")["last_visit_date"] == day(0)  # an older visit does not move it back


def test_rn07_reminder_before_visit_and_reschedule(rn: Referral) -> None:
    me = rn.client("rn.liaison1")
    hospital = rn.hospital("临渊县人民医院")
    r = me.post(f"{API}/partner_hospital/{hospital['id']}/actions/plan_visit",
                json={"input": {"planned_date": day(1), "visit_type": "phone", "purpose": "合作方案沟通"}})
    assert r.status_code == 200, r.text
    rn.app.jobs.run_pending()
    plan = next(p for p in rn.every("visit_plan", hospital=hospital["id"]) if p["purpose"] == "合作方案沟通")
    link = f"/r/visit_plan/{plan['id']}"

    def reminders() -> list[dict]:
        return [n for n in rn.notifications("rn.liaison1") if n["link"] == link and "明日拜访" in n["title"]]

    assert len(reminders()) == 1 and "临渊县人民医院" in (reminders()[0]["body"] or "")
    assert all(n["link"] != link for n in rn.notifications("rn.liaison2")), "only the plan's liaison is reminded"
    # rescheduling needs a reason and a date from today on; it keeps the plan planned
    act = f"{API}/visit_plan/{plan['id']}/actions/reschedule"
    r = me.post(act, json={"input": {"planned_date": day(5)}})
    assert r.status_code == 422 and [e["field"] for e in r.json()["error"]["errors"]] == ["reschedule_reason"]
    r = me.post(act, json={"input": {"planned_date": day(-2), "reschedule_reason": "院方临时有会"}})
    assert r.status_code == 409 and r.json()["error"]["message"] == "新的拜访日期不能早于今天"
    assert [a["enabled"] for a in me.get(f"{API}/visit_plan/{plan['id']}/actions").json()["actions"]] == [True] * 3
    r = me.post(act, json={"input": {"planned_date": day(5), "reschedule_reason": "院方临时有会"}})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert (moved["status"], moved["planned_date"], moved["original_date"], moved["reschedule_count"]) == (
        "planned", day(5), day(1), 1)
    # the day before the new date the reminder comes again; a missed visit is marked by the nightly rule
    clock = rn.app.clock
    try:
        clock.advance(days=4)
        rn.app.jobs.run_pending()
        assert len(reminders()) == 2
        clock.advance(days=2)
        rn.app.jobs.run_pending()
        missed = me.get(f"{API}/visit_plan/{plan['id']}").json()
        assert missed["status"] == "missed"
        assert any(n["link"] == link and "拜访已逾期" in n["title"] for n in rn.notifications("rn.liaison1"))
        r = me.post(f"{API}/visit_plan/{plan['id']}/actions/replan",
                    json={"input": {"planned_date": day(8), "reschedule_reason": "补约时间"}})
        assert r.status_code == 200 and r.json()["status"] == "planned", r.text
        r = me.post(f"{API}/visit_plan/{plan['id']}/actions/cancel", json={"input": {"cancel_reason": "电话已解决"}})
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    finally:
        clock.advance(days=-6)


def test_rn07_manager_generates_plans_from_the_list_and_liaison_records_result_on_phone(rn: Referral) -> None:
    """In Chromium: rn.manager1 ticks formal partners in the hospital list and runs 生成建议拜访计划 once for
    all; rn.liaison1 then works through today's schedule on a phone (390x844) and records a result."""
    playwright = pytest.importorskip("playwright.sync_api")
    executable = require_chromium()
    phone = {"width": 390, "height": 844}
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = sign_in(browser, rn, "rn.manager1", "/v/partner_hospital_list?status=formal", DESKTOP)
            assert page.locator("#bulk-suggest_visit_plan").is_disabled()  # nothing ticked yet
            boxes = page.locator(".tf-bulk-check")
            ids = [int(boxes.nth(i).get_attribute("value")) for i in range(3)]
            for i in range(3):
                boxes.nth(i).check()
            assert page.inner_text("#bulk-count") == "已选 3 条"
            before = {p["id"] for p in rn.every("visit_plan")}
            shot(page, "rn07-bulk-list-ticked", full_page=False)
            page.click("#bulk-suggest_visit_plan")
            page.wait_for_url("**/bulk/partner_hospital/suggest_visit_plan?**")
            assert page.locator("#bulk-selection .badge").count() == 3
            shot(page, "rn07-bulk-confirm")
            page.click("#bulk-submit")
            page.wait_for_selector("#bulk-results")
            assert page.inner_text("#bulk-summary") == "完成 3 条，未执行 0 条"
            assert page.locator('#bulk-results [data-status="done"]').count() == 3
            shot(page, "rn07-bulk-result")
            created = [p for p in rn.every("visit_plan") if p["id"] not in before]
            assert sorted(p["hospital"] for p in created) == sorted(ids)
            page.click("#bulk-back")
            page.wait_for_url("**/v/partner_hospital_list?status=formal")
            # an action with an input form asks it once for all ticked hospitals
            page.locator(".tf-bulk-check").nth(3).check()
            page.locator(".tf-bulk-check").nth(4).check()
            page.click("#bulk-plan_visit")
            page.wait_for_url("**/bulk/partner_hospital/plan_visit?**")
            page.fill("#in-planned-date", day(2))
            page.fill("#in-purpose", "季度合作回顾")
            shot(page, "rn07-bulk-input-form")
            page.click("#bulk-submit")
            page.wait_for_selector("#bulk-results")
            assert page.locator('#bulk-results [data-status="done"]').count() == 2
            planned = [p for p in rn.every("visit_plan") if p["purpose"] == "季度合作回顾"]
            assert len(planned) == 2 and {p["planned_date"] for p in planned} == {day(2)}
            page.context.close()

            me = sign_in(browser, rn, "rn.liaison1", "/v/visit_plan_upcoming", phone)
            assert me.locator("#list-table tbody tr").count() >= 1
            shot(me, "rn07-phone-schedule", full_page=False)
            plan = next(p for p in rn.every("visit_plan", liaison=rn.uid("rn.liaison1")) if p["status"] == "planned")
            me.goto(f"{rn.url}/r/visit_plan/{plan['id']}")
            me.wait_for_selector("text=记录拜访结果")
            shot(me, "rn07-phone-plan")
            me.goto(f"{rn.url}/r/visit_plan/{plan['id']}/actions/record_result")
            me.fill("#in-done-date", day(0))
            me.fill("#in-contact-met", "医务科科长")
            me.fill("#in-content", "回顾转诊数据，约定下月专家坐诊")
            me.select_option("#in-outcome", "progress")
            me.locator("label[for='in-feedback-4']").click()
            shot(me, "rn07-phone-record-result")
            me.click("#action-submit")
            me.wait_for_url(f"**/r/visit_plan/{plan['id']}")
            assert rn.every("visit_plan", hospital=plan["hospital"], id=plan["id"])[0]["status"] == "done"
            shot(me, "rn07-phone-plan-done")
        finally:
            browser.close()


def sign_in(browser, rn: Referral, username: str, path: str, viewport: dict):  # noqa: ANN001, ANN201
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(rn.url + "/login?next=" + quote(path))
    page.fill("#username", username)
    page.fill("#password", rn.password)
    page.click("#login-submit")
    page.wait_for_url("**" + path.split("?")[0] + "*")
    return page
