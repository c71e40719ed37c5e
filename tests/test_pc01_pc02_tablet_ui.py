"""PC-01/PC-02 in Chromium: the patient CRM pages on a tablet (820x1180) and a phone (390x844) - the patient
list and record page, the admission-visit list and a nurse's bedside visit form - fit the screen without
sideways scrolling. Screenshots go to test-artifacts/ (looked at by people, not compared by the test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import require_chromium
from tests.support.patient_crm import Crm, crm_fixture

crm = crm_fixture()
SHOTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SCREENS = {"tablet": {"width": 820, "height": 1180}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def ward(crm: Crm) -> dict[str, Any]:
    """An orthopaedics patient with an open admission visit for the ward's nurse."""
    dept = crm.ward_department("WARD-ORTHO", "骨科病区")
    nurse = crm.create_user("pc.t.tabletnurse", ["nurse"], "WARD-ORTHO", "骨科护士")
    patient = crm.create(
        "patient",
        {
            "name": "床边患者",
            "gender": "female",
            "ward": "orthopedics",
            "bed": "07",
            "admitted_at": "2026-11-23T07:00:00",
            "department": crm.department("DEV-MKT-1"),
        },
    )
    visit = crm.create(
        "followup_call",
        {
            "title": "入院回访：床边患者",
            "patient": patient["id"],
            "ward": "orthopedics",
            "type": "admission_visit",
            "channel": "bedside",
            "due_at": "2026-11-24T07:00:00",
            "department": dept,
            "staff": nurse,
        },
    )
    return {"patient": patient, "visit": visit, "nurse": nurse}


def _open(p: Any, crm: Crm, username: str, screen: str) -> tuple[Any, Any]:
    browser = p.chromium.launch(executable_path=require_chromium(), args=ARGS)
    phone = screen == "phone"
    context = browser.new_context(
        viewport=SCREENS[screen], device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(crm.url + "/login?next=/")
    page.fill("#username", username)
    page.fill("#password", crm.password)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")
    return browser, page


def _fits(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport + 1, f"{name}: the page is {width}px wide on a {viewport}px screen"


@pytest.mark.parametrize("screen", ["tablet", "phone"])
def test_pc01_patient_pages_fit_tablet_and_phone(crm: Crm, ward: dict[str, Any], screen: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser, page = _open(p, crm, "pc.director", screen)
        try:
            page.goto(crm.url + "/v/patient_list")
            assert page.locator("text=床边患者").count() >= 1
            _fits(page, f"pc01-patient-list-{screen}")
            page.goto(crm.url + f"/r/patient/{ward['patient']['id']}")
            _fits(page, f"pc01-patient-record-{screen}")
            page.goto(crm.url + f"/r/patient/{ward['patient']['id']}/edit")
            _fits(page, f"pc01-patient-form-{screen}")
            page.goto(crm.url + "/r/opinion/new")
            _fits(page, f"pc03-opinion-form-{screen}")
            page.goto(crm.url + "/v/opinion_board")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SHOTS / f"pc03-opinion-board-{screen}.png"))
        finally:
            browser.close()


@pytest.mark.parametrize("screen", ["tablet", "phone"])
def test_pc02_nurse_completes_the_bedside_visit_on_a_tablet(crm: Crm, ward: dict[str, Any], screen: str) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    visit = crm.get("followup_call", ward["visit"]["id"])
    if visit["status"] == "done":  # the other screen size already completed it: a new visit for this one
        visit = crm.create(
            "followup_call",
            {
                **{k: visit[k] for k in ("patient", "ward", "type", "channel", "due_at", "department", "staff")},
                "title": f"入院回访（{screen}）",
            },
        )
    with playwright.sync_playwright() as p:
        browser, page = _open(p, crm, "pc.t.tabletnurse", screen)
        try:
            page.goto(crm.url + "/v/followup_todo_admission")
            assert page.locator("text=床边患者").count() >= 1
            _fits(page, f"pc02-admission-visits-{screen}")
            page.goto(crm.url + f"/r/followup_call/{visit['id']}/actions/complete_admission_visit")
            _fits(page, f"pc02-bedside-form-{screen}")
            form = page.locator("form").filter(has=page.locator("[name=satisfaction]")).first
            form.locator("[name=done_at]").fill("2026-11-23T09:20")
            form.locator("[name=satisfaction]").select_option("satisfied")
            pain = form.locator("[name=pain_score]")
            if pain.is_visible():
                pain.fill("3")
            form.locator("[name=notes]").fill("患者情绪稳定，已介绍病区环境")
            page.screenshot(path=str(SHOTS / f"pc02-bedside-form-filled-{screen}.png"), full_page=True)
            form.locator("button[type=submit]").last.click()
            page.wait_for_load_state("networkidle")
            _fits(page, f"pc02-bedside-done-{screen}")
        finally:
            browser.close()
    done = crm.get("followup_call", visit["id"])
    assert (
        done["status"] == "done"
        and done["satisfaction"] == "satisfied"
        and done["done_at"].startswith("2026-11-23T01:20")  # 09:20 in Beijing
    )
    assert done["notes"] == "患者情绪稳定，已介绍病区环境"
