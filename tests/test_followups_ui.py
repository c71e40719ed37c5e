"""PL-10 / PL-15 / PC-12 through real HTTP: the nurse's follow-up call in the /tasks inbox with its due badge, the
work item page with the questionnaire (inline errors, then completion), the discharge page's follow-up timeline
with its adjust actions, the REST API; and in Chromium: open the work item from the inbox, fill the questionnaire
and see the timeline turn red ("alerted") on the discharge page. SQLite and PostgreSQL, FixedClock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.services import Tessera
from tests.support.html import Node, csrf_of, dom, field_errors, sign_in
from tests.support.server import live_server
from tests.test_followups import PASSWORD, Clinic, make_clinic

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class Site:
    clinic: Clinic
    url: str

    @contextmanager
    def client(self, who: str) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
            r = sign_in(client, who, PASSWORD)
            assert r.status_code == 303, r.text
            yield client

    @contextmanager
    def api(self, who: str) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            r = client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            yield client


@pytest.fixture
def site(make_tessera: Callable[..., Tessera], clock: FixedClock) -> Iterator[Site]:
    clinic = make_clinic(make_tessera, clock)
    with live_server(create_app(clinic.app, extensions=[ui.app.install])) as url:
        yield Site(clinic, url)


def _due(row: Node) -> str:
    return next(n.attrs["data-due"] for n in row.iter() if "data-due" in n.attrs)


def _states(card: Node) -> dict[str, str]:
    return {
        n.attrs["data-step"]: n.attrs["data-state"] for n in card.iter() if n.tag == "li" and "data-step" in n.attrs
    }


def _day7(site: Site) -> tuple[int, int]:
    """A joint-replacement discharge at day 7: (discharge id, the nurse's work item id)."""
    clinic = site.clinic
    discharge = clinic.discharge(on=date(2026, 11, 23))
    clinic.at(7)
    items = clinic.app.work_items.for_user(clinic.users["nurse1"])
    assert len(items) == 1
    return discharge, items[0]["id"]


def test_pl15_the_follow_up_call_is_in_the_nurses_inbox_with_its_due_badge(site: Site) -> None:
    _discharge, item = _day7(site)
    with site.client("nurse1") as nurse:
        page = dom(nurse.get("/tasks").text)
        row = page.by_id(f"task-wi{item}")
        assert "第7天护士电话随访" in row.text()
        assert [n.attrs["href"] for n in row.iter() if "tf-row-link" in n.classes] == [f"/work-items/{item}"]
        assert _due(row) == "soon"
        assert nurse.get("/tasks/_count").text.count(">1</span>") == 1
    site.clinic.clock.advance(days=1, hours=1)  # past the 24 h SLA: the periodic job marks it overdue
    site.clinic.app.jobs.run_pending()
    with site.client("nurse1") as nurse:
        row = dom(nurse.get("/tasks").text).by_id(f"task-wi{item}")
        assert _due(row) == "overdue"
        assert "text-bg-danger" in nurse.get("/tasks/_count").text
        assert dom(nurse.get("/tasks?status=overdue").text).find_all(id=f"task-wi{item}")


def test_pc12_completing_the_questionnaire_shows_errors_inline_then_alerts_the_doctor(site: Site) -> None:
    discharge, item = _day7(site)
    with site.client("nurse1") as nurse:
        page = nurse.get(f"/work-items/{item}")
        assert page.status_code == 200
        token = csrf_of(page.text)
        bad = nurse.post(f"/work-items/{item}", data={"csrf_token": token, "pain_score": "11"})
        assert bad.status_code == 422
        assert field_errors(dom(bad.text), "pain_score")
        done = nurse.post(f"/work-items/{item}", data={"csrf_token": token, "pain_score": "8", "notes": "夜间痛"})
        assert done.status_code == 303 and done.headers["location"] == "/tasks"
        assert not dom(nurse.get("/tasks").text).find_all(id=f"task-wi{item}")
        assert dom(nurse.get(f"/work-items/{item}").text).find_all(id="work-item-closed")
        assert dom(nurse.get("/tasks?status=done").text).find_all(id=f"task-wi{item}")
    assert len(site.clinic.notifications("doctor1", "followup-alert")) == 1
    with site.client("doctor1") as doctor:
        record = doctor.get(f"/r/discharge/{discharge}").text
        assert 'id="record-followups"' in record
        card = dom(doctor.get(f"/r/discharge/{discharge}/followups").text)
        assert _states(card) == {"sms_day3": "sent", "call_day7": "alerted", "review_day30": "planned"}
        assert doctor.get(f"/work-items/{item}").status_code == 404  # not the doctor's item, not a manager


def test_pl10_adjust_the_plan_from_the_discharge_page(site: Site) -> None:
    clinic = site.clinic
    discharge = clinic.discharge()
    steps = clinic.steps(discharge)
    plan = steps["sms_day3"]["plan_instance_id"]
    back = f"/r/discharge/{discharge}"
    with site.client("doctor1") as doctor:
        card = doctor.get(f"/r/discharge/{discharge}/followups").text
        token = csrf_of(card)
        r = doctor.post(
            f"/followups/{plan}/adjust",
            data={
                "csrf_token": token,
                "action": "move",
                "step": str(steps["review_day30"]["id"]),
                "due_at": "2026-12-20T10:00",
                "back": back,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == f"{back}#record-followups"
        doctor.post(
            f"/followups/{plan}/adjust",
            data={"csrf_token": token, "action": "skip", "step": str(steps["sms_day3"]["id"]), "back": back},
        )
        bad = doctor.post(
            f"/followups/{plan}/adjust",
            data={"csrf_token": token, "action": "move", "step": str(steps["call_day7"]["id"]), "due_at": "x"},
        )
        assert bad.status_code == 303  # back with a warning, not a 500
        card = dom(doctor.get(f"/r/discharge/{discharge}/followups").text)
        assert _states(card)["sms_day3"] == "skipped"
    review = clinic.steps(discharge)["review_day30"]
    assert review["moved"] and review["due_at"].isoformat() == "2026-12-20T02:00:00"  # 10:00 Beijing time
    with site.client("nurse1") as nurse:  # reads the discharge, may not change it: no adjust forms
        card = nurse.get(f"/r/discharge/{discharge}/followups").text
        assert "/adjust" not in card


def test_pl10_rest_api_lists_adjusts_and_completes(site: Site) -> None:
    discharge, item = _day7(site)
    with site.api("doctor1") as doctor:
        r = doctor.get("/api/v1/followups", params={"entity": "discharge", "record_id": discharge})
        assert r.status_code == 200, r.text
        plan = r.json()["plans"][0]
        assert [s["step_id"] for s in plan["steps"]] == ["sms_day3", "call_day7", "review_day30"]
        review = plan["steps"][2]["id"]
        r = doctor.post(
            f"/api/v1/followups/{plan['id']}/adjust", json={"action": "move", "step": review, "due_at": "2026-12-24"}
        )
        assert r.status_code == 200, r.text
        r = doctor.post(f"/api/v1/followups/{plan['id']}/adjust", json={"action": "move", "step": review})
        assert r.status_code == 400 and "due_at" in r.text
        assert doctor.get("/api/v1/followups", params={"entity": "nope", "record_id": 1}).status_code == 400
    with site.api("nurse1") as nurse:
        assert [i["id"] for i in nurse.get("/api/v1/work-items").json()["items"]] == [item]
        r = nurse.post(f"/api/v1/work-items/{item}/complete", json={"data": {"pain_score": "many"}})
        assert r.status_code == 422, r.text
        r = nurse.post(f"/api/v1/work-items/{item}/complete", json={"data": {"pain_score": 3}})
        assert r.status_code == 200 and r.json()["status"] == "done"
    assert site.clinic.notifications("doctor1", "followup-alert") == []


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pc12_open_the_call_from_the_inbox_fill_the_questionnaire_and_see_the_timeline_in_chromium(
    site: Site,
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    discharge, item = _day7(site)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, viewport in (
                ("desktop", {"width": 1366, "height": 900}),
                ("phone", {"width": 390, "height": 844}),
            ):
                context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.goto(site.url + "/tasks")
                page.fill("#username", "nurse1")
                page.fill("#password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_url(site.url + "/tasks")
                _shot(page, f"inbox-{name}")
                context.close()
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(site.url + "/tasks")
            page.fill("#username", "nurse1")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(site.url + "/tasks")
            page.click(f"#task-wi{item} a.tf-row-link")
            page.wait_for_url(site.url + f"/work-items/{item}")
            page.fill("#fw-pain_score input", "9")
            page.fill("#fw-notes textarea", "伤口红肿，夜间疼痛")
            _shot(page, "work-item-desktop")
            page.click("#work-item-complete")
            page.wait_for_url(site.url + "/tasks")
            assert page.locator(f"#task-wi{item}").count() == 0
            page.goto(site.url + f"/r/discharge/{discharge}")
            page.wait_for_selector("#fu-step-1, li.tf-fu-step")
            step = page.locator('li.tf-fu-step[data-step="call_day7"]')
            assert step.get_attribute("data-state") == "alerted"
            assert "张医生" in step.inner_text()
            page.locator("#record-followups").scroll_into_view_if_needed()
            _shot(page, "timeline-desktop")
            context.close()
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.goto(site.url + f"/r/discharge/{discharge}")
            page.fill("#username", "doctor1")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector('li.tf-fu-step[data-step="review_day30"] details')
            page.click('li.tf-fu-step[data-step="review_day30"] summary')
            page.locator("#record-followups").scroll_into_view_if_needed()
            _shot(page, "timeline-adjust-desktop")
        finally:
            browser.close()


def _shot(page, name: str) -> None:  # noqa: ANN001 - a Playwright page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"followups-{name}.png"), full_page=True)
