"""RN-14 the liaison's home page (客户管理首页) on a phone, in Chromium: today's schedule, reminders, quick create;
and the liaison's day: open today's visit plan from the home schedule, record the result, see the hospital warm up.

The referral pack is deployed with its demo organisation; the test makes liaison1's day: a visit planned for
today, a lead to follow up today, a visit of another liaison (not shown), an unread notice. The screen is
390x844 (a phone); screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import ui.app
from runtime.api import create_app
from runtime.demo import demo_logins, load_organisation
from runtime.records import Context
from runtime.services import Tessera
from tests.conftest import REPO
from tests.support.browser import require_chromium
from tests.support.server import live_server

PACK = Path(__file__).parent.parent / "blueprints" / "referral_network"
SYSTEM = Context(channel="system", lang="zh", is_admin=True)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PHONE = {"width": 390, "height": 844}
SHOTS = REPO / "test-artifacts"
TODAY = "2026-11-23"
QUICK = ["coop_lead", "partner_hospital", "hospital_contact", "follow_up", "coop_intent", "visit_plan"]


@dataclass
class Day:
    app: Tessera
    url: str
    password: str
    ids: dict[str, int] = field(default_factory=dict)

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def make(self, key: str, entity: str, values: dict[str, Any]) -> int:
        self.ids[key] = self.app.records.create(entity, values, SYSTEM)["id"]
        return self.ids[key]


@pytest.fixture
def day(make_tessera: Callable[..., Tessera]) -> Iterator[Day]:
    app = make_tessera(str(PACK))
    load_organisation(app, app.registry.packs["referral_network"])
    password, _ = demo_logins(app)
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        d = Day(app, url, password)
        me, other = d.uid("rn.liaison1"), d.uid("rn.liaison2")
        formal = {"status": "formal", "cooperation_type": ["two_way_referral"], "signed_date": "2025-06-01"}
        d.make("hosp", "partner_hospital", {"name": "澜州市人民医院", "level": "3A", "liaison": me, **formal})
        d.make("other_hosp", "partner_hospital", {"name": "北岭县医院", "liaison": other, **formal})
        d.make("visit", "visit_plan", {"subject": "肿瘤MDT对接拜访", "hospital": d.ids["hosp"], "liaison": me,
                                       "planned_date": TODAY, "purpose": "商定远程会诊排班"})  # fmt: skip
        d.make("later", "visit_plan", {"subject": "季度回访", "hospital": d.ids["hosp"], "liaison": me,
                                       "planned_date": "2026-11-26", "purpose": "季度回访"})  # fmt: skip
        d.make("not_mine", "visit_plan", {"subject": "北岭县例行拜访", "hospital": d.ids["other_hosp"],
                                          "liaison": other, "planned_date": TODAY})  # fmt: skip
        d.make("lead", "coop_lead", {"hospital_name": "青禾县人民医院", "source": "visit", "status": "following",
                                     "owner": me, "contact_name": "周立", "next_follow_date": TODAY})  # fmt: skip
        with app.db.write() as conn:
            app.notifier.notify(conn, user_ids=[me], key="rn14-notice", channels=["in_app"],
                                title="【重点领域变更】澜州市人民医院新增胸痛中心", body="请尽快拜访了解合作机会",
                                link=f"/r/partner_hospital/{d.ids['hosp']}")  # fmt: skip
        yield d


def _phone(p: Any, d: Day, username: str) -> tuple[Any, Any]:
    browser = p.chromium.launch(executable_path=require_chromium(), args=ARGS)
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(d.url + "/login?next=/")
    page.fill("#username", username)
    page.fill("#password", d.password)
    page.click("#login-submit")
    page.wait_for_selector('[data-kind="schedule"]')
    return browser, page


def _shot(page: Any, name: str, selector: str | None = None) -> None:
    """The phone's screen (or one part of the page, e.g. the home dashboard) as the liaison sees it."""
    SHOTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(150)
    if selector:
        page.locator(selector).screenshot(path=str(SHOTS / f"{name}.png"))
    else:
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_rn14_liaison_home_shows_today_schedule_reminders_and_quick_create(day: Day) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser, page = _phone(p, day, "rn.liaison1")
        try:
            today = page.locator("#dashboard-rn_home_liaison section.tf-schedule").first
            entries = today.locator(".tf-schedule-record")
            hrefs = [entries.nth(i).get_attribute("href") for i in range(entries.count())]
            # today's visit and today's lead follow-up, hers only: not Thursday's visit, not liaison2's
            assert hrefs == [f"/r/visit_plan/{day.ids['visit']}", f"/r/coop_lead/{day.ids['lead']}"]
            assert "澜州市人民医院" in today.inner_text() and "商定远程会诊排班" in today.inner_text()
            week = page.locator("#dashboard-rn_home_liaison section.tf-schedule").nth(1)
            assert "季度回访" in week.inner_text() and "北岭县例行拜访" not in week.inner_text()
            reminders = page.locator('[data-kind="reminders"]')
            assert "澜州市人民医院新增胸痛中心" in reminders.inner_text()
            buttons = page.locator('[data-kind="quick_create"] a.tf-quick-btn')
            assert [buttons.nth(i).get_attribute("data-entity") for i in range(buttons.count())] == QUICK
            # fits the phone: nothing wider than the screen, the quick-create buttons three to a row
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            boxes = [buttons.nth(i).bounding_box() for i in range(3)]
            assert len({round(b["y"]) for b in boxes}) == 1 and all(b["width"] > 90 for b in boxes)
            _shot(page, "rn14_liaison_home_phone")
            _shot(page, "rn14_liaison_home_dashboard_phone", "#home-dashboard")
            page.click('#quick-follow_up')  # quick create opens the follow-up form
            page.wait_for_url("**/r/follow_up/new")
            assert page.locator("form").count() >= 1
            _shot(page, "rn14_quick_create_follow_up_phone")
        finally:
            browser.close()


def test_rn14_liaison_day_on_a_phone_visit_result_warms_the_hospital(day: Day) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    heat_before = day.app.records.get("partner_hospital", day.ids["hosp"], SYSTEM)["heat_score"] or 0
    with playwright.sync_playwright() as p:
        browser, page = _phone(p, day, "rn.liaison1")
        try:
            page.click(f'.tf-schedule-record[href="/r/visit_plan/{day.ids["visit"]}"]')  # open today's visit
            page.wait_for_url(f"**/r/visit_plan/{day.ids['visit']}")
            page.click('[data-action="record_result"]')
            page.wait_for_url("**/actions/record_result")
            page.fill('[name="done_date"]', TODAY)
            page.fill('[name="contact_met"]', "陆立新（肿瘤科主任）")
            page.select_option('[name="outcome"]', "agreed")
            page.locator('.tf-rating label[for$="-5"]').first.click()
            page.fill('[name="content"]', "确定每月两次MDT远程会诊，下周试运行")
            _shot(page, "rn14_visit_result_form_phone")
            page.click("#action-submit")
            page.wait_for_url(f"**/r/visit_plan/{day.ids['visit']}")
            day.app.jobs.run_pending()  # rules and scores of the background worker
            plan = day.app.records.get("visit_plan", day.ids["visit"], SYSTEM)
            assert (plan["status"], plan["feedback"], plan["done_date"]) == ("done", 5, TODAY)
            page.goto(f"{day.url}/r/partner_hospital/{day.ids['hosp']}")
            score = page.locator("#score-hospital_heat")
            score.wait_for()
            heat_after = float(score.get_attribute("data-score") or 0)
            assert heat_after > float(heat_before)
            hospital = day.app.records.get("partner_hospital", day.ids["hosp"], SYSTEM)
            assert abs(float(hospital["heat_score"]) - heat_after) < 0.1 and hospital["last_visit_date"] == TODAY
            _shot(page, "rn14_hospital_heat_after_visit_phone", "#score-hospital_heat")
            page.goto(day.url + "/")
            page.wait_for_selector('[data-kind="schedule"]')
            today = page.locator("#dashboard-rn_home_liaison section.tf-schedule").first
            assert f"/r/visit_plan/{day.ids['visit']}" not in today.inner_html()  # done: off today's list
        finally:
            browser.close()
