"""PC-02 in Chromium on a tablet (820x1180): a ward nurse signs in, sees today's admission visits
(今日待入院回访), opens one, fills the bedside visit form (satisfaction, pain score, an opinion) and saves it;
the visit is done and the opinion record appears, routed to the ward. The shipped patient_crm pack on SQLite
and PostgreSQL behind a live server; screenshots in test-artifacts/."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.browser import require_chromium
from tests.support.designer import ARGS, TABLET, shot
from tests.support.patient_crm import NOW, Crm, crm_fixture

crm = crm_fixture()
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def visit(crm: Crm) -> dict[str, Any]:
    """The cardiology ward with its nurse; a patient admitted two hours ago (HIS A01): the rule made the visit."""
    crm.ward_department("WARD-CARDIOLOGY", "心内科病区")
    crm.create_user("pc02t.nurse", ["nurse"], "WARD-CARDIOLOGY", "心内科护士 小林")
    patient = crm.create(
        "patient",
        {"name": "陶春生", "gender": "male", "phone": "13500000201", "department": crm.department("DEV-MKT-1")},
    )
    stay = crm.create(
        "admission",
        {"visit_no": "PC02T-001", "patient": patient["id"], "ward": "cardiology", "bed": "08",
         "admitted_at": (NOW - timedelta(hours=2)).isoformat(), "status": "admitted"},
    )  # fmt: skip
    crm.app.jobs.run_pending()
    [call] = crm.every("followup_call", admission=stay["id"], type="admission_visit")
    return call


def todays_visits_view(crm: Crm) -> str:
    """The pack's 今日待入院回访 list: the followup_call list view filtered to admission visits."""
    found = [
        v.id
        for v in crm.app.registry.views.values()
        if v.entity == "followup_call" and "admission_visit" in json.dumps(v.opt("filters", []))
    ]
    assert found, "the pack has a list of open admission visits"
    return found[0]


def sign_in(browser: Any, crm: Crm, username: str, path: str) -> Any:
    context = browser.new_context(viewport=TABLET, locale="zh-CN", timezone_id="Asia/Shanghai", has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(crm.url + "/login?next=" + quote(path))
    page.fill("#username", username)
    page.fill("#password", crm.password)
    page.click("#login-submit")
    page.wait_for_url("**" + path + "*")
    return page


def test_pc02_nurse_bedside_admission_visit_on_a_tablet(crm: Crm, visit: dict[str, Any], request: Any) -> None:
    executable = require_chromium()
    backend = request.node.callspec.params.get("crm", "sqlite")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = sign_in(browser, crm, "pc02t.nurse", f"/v/{todays_visits_view(crm)}")
            shot(page, f"pc02-tablet-1-visits-today-{backend}")
            row = page.locator("tr", has_text="陶春生")
            expect(row).to_have_count(1)
            assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"] + 1, "no sideways scroll"
            row.locator("a").first.click()
            page.wait_for_url(f"**/r/followup_call/{visit['id']}*")
            shot(page, f"pc02-tablet-2-visit-{backend}")
            page.click("text=完成入院回访")
            page.wait_for_url("**/actions/complete_admission_visit*")
            page.fill("#in-done-at", (NOW + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
            page.select_option("#in-satisfaction", "unsatisfied")
            page.fill("#in-pain-score", "3")
            page.fill("#in-opinion", "夜班护士巡视不够及时，呼叫后等了很久")
            page.press("#in-opinion", "Tab")  # leaving the field re-evaluates the form: the category appears
            page.wait_for_selector("#in-opinion-category", state="visible")
            page.select_option("#in-opinion-category", "nursing")
            shot(page, f"pc02-tablet-3-form-{backend}")
            page.locator("form button[type=submit]").last.click()
            page.wait_for_url(f"**/r/followup_call/{visit['id']}*")
            shot(page, f"pc02-tablet-4-done-{backend}")
            expect(page.locator("body")).to_contain_text("已完成")
            crm.app.jobs.run_pending()  # the job runner: the opinion rule runs
            page.reload()
            opinion_row = page.locator(".tf-related-row", has_text="夜班护士巡视")
            expect(opinion_row).to_have_count(1)  # the opinion record appears among the visit's related records
            shot(page, f"pc02-tablet-5-opinion-listed-{backend}")
            page.context.close()
        finally:
            browser.close()
    crm.app.jobs.run_pending()
    done = crm.get("followup_call", visit["id"])
    assert done["status"] == "done" and done["satisfaction"] == "unsatisfied" and done["pain_score"] == 3
    [opinion] = crm.every("opinion", followup_call=visit["id"])
    assert opinion["content"] == "夜班护士巡视不够及时，呼叫后等了很久" and opinion["category"] == "nursing"
    assert opinion["status"] == "routed" and opinion["ward"] == "cardiology"
