"""Report pages, dashboards, API, export download and scheduled delivery over real HTTP, SMTP and Chromium."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.config import Settings
from runtime.identity.passwords import hash_password
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import PACKS
from tests.support.browser import CHROMIUM
from tests.support.html import dom, sign_in
from tests.support.server import live_server
from tests.support.smtp_server import smtp_server
from tests.test_reports import World, build_world

PASSWORD = "Report-Test-pass-2026"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(os.environ.get("TESSERA_SHOTS", "/tmp/tessera-shots"))
RANGE = {"from": "2026-01-01", "to": "2026-04-30"}


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Site:
    world: World
    url: str

    def client(self, who: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
        r = sign_in(client, who, PASSWORD)
        assert r.status_code in (200, 303), r.text
        return client


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    world = build_world(make_tessera("report_pack"))
    app = world.app
    with app.db.write() as conn:
        conn.execute(
            pt.users.update().where(pt.users.c.id.in_(list(world.users.values()))).values(password_hash=_hash())
        )
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        yield Site(world, url)


def test_pl13_report_page_table_drill_links_and_api_agree(site: Site) -> None:
    mgr = site.client("mgr")
    page = mgr.get("/reports/business_volume", params=RANGE)
    assert page.status_code == 200, page.text
    doc = dom(page.text)
    table = doc.find("table", **{"class": "table table-sm table-hover align-middle mb-0 tf-report-table"})
    texts = [td.text().strip() for td in table.find_all("td")]
    assert "Dept A" in texts and "50.0%" in texts and "—" in texts
    api = mgr.get("/api/v1/reports/business_volume", params=RANGE).json()
    jan_a = next(
        r
        for r in api["rows"]
        if r["level"] == "row" and r["values"]["rk_p"] == "2026-01" and r["values"]["rk_d0"] == "Dept A"
    )
    listed = mgr.get(jan_a["records"] + "&limit=200").json()["items"]
    assert sorted(i["code"] for i in listed) == ["R3", "R4"]
    assert mgr.get("/reports").status_code == 200
    assert mgr.get("/reports/business_volume/print", params=RANGE).status_code == 200
    bad = mgr.get("/api/v1/reports/business_volume", params={"grain": "fortnight"})
    assert bad.status_code == 400 and "grain" in bad.text
    assert mgr.get("/api/v1/reports/nope").status_code == 404


def test_pl13_liaison_api_numbers_are_their_own(site: Site) -> None:
    l2 = site.client("l2")
    api = l2.get("/api/v1/reports/business_volume", params=RANGE).json()
    total = next(r for r in api["rows"] if r["level"] == "total")
    assert total["values"]["volume"] == 2
    assert l2.get("/api/v1/reports/nps_by_ward").status_code == 403


def test_pl13_xlsx_download_matches_the_screen(site: Site) -> None:
    mgr = site.client("mgr")
    r = mgr.get("/api/v1/reports/business_volume/export", params={**RANGE, "format": "xlsx"})
    assert r.status_code == 200
    sheet = load_workbook(BytesIO(r.content)).active
    cells = list(sheet.iter_rows(values_only=True))
    api = mgr.get("/api/v1/reports/business_volume", params=RANGE).json()
    assert len(cells) == len(api["rows"]) + 1
    keys = [c["key"] for c in api["columns"]]
    for xrow, row in zip(cells[1:], api["rows"], strict=True):
        for value, key in zip(xrow, keys, strict=True):
            shown = row["text"][key]
            if isinstance(value, int | float):
                assert row["values"][key] == value, (key, value, shown)
            else:
                assert value == shown, (key, value, shown)


def test_pl13_scheduled_weekly_report_arrives_by_email_with_its_attachment(
    database_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    with smtp_server() as smtp:
        settings = Settings(
            database_url=database_url,
            data_dir=tmp_path / "data",
            secret_key="test-secret-key-" + "x" * 32,
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
        )
        app = Tessera(settings, clock=clock)
        try:
            app.deploy(app.load_pack(PACKS / "report_pack"))
            world = build_world(app)
            clock.set(datetime(2026, 1, 31, 12, 0))  # Saturday: not due yet
            sub = app.reports.subscriptions.create(
                "volume_trend", frequency="weekly", roles=["manager"], channels=["email"], params={"grain": "day"}
            )
            app.jobs.run_pending()
            assert smtp.messages == []
            clock.set(datetime(2026, 2, 2, 1, 0))  # Monday 09:00 Shanghai
            app.jobs.run_pending()
            app.jobs.run_pending()
            message = smtp.wait_for(1)[0]
            assert message["To"] == "mgr@example.org"
            assert "2026-01-26" in message["Subject"] and "2026-02-01" in message["Subject"]
            files = [p for p in message.iter_attachments()]
            assert len(files) == 1 and files[0].get_filename().endswith(".xlsx")
            sheet = load_workbook(BytesIO(files[0].get_content())).active
            rows = list(sheet.iter_rows(values_only=True))
            total = rows[-1]
            assert total[0] == "Total" and total[1] == 2  # Jan 31 and Feb 1, the week before
            app.jobs.run_pending()  # a second scheduler pass sends nothing twice
            assert len(smtp.messages) == 1
            assert world.users["mgr"]
            assert app.reports.subscriptions.list("volume_trend")[0]["id"] == sub
        finally:
            app.close()


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pc14_dashboard_filter_changes_the_chart_in_chromium(site: Site) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(site.url + "/dashboards/manager_home?from=2026-01-01&to=2026-04-30")
            page.fill("#username", "mgr")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#item-1 [data-echart] svg")
            before = page.evaluate("window.tfCharts['item-1-result'].series[0].data")
            assert before == [3, 1, 0, 1]
            _shot(page, "dashboard-desktop")
            page.select_option("#p-department", str(site.world.depts["B"]))
            page.wait_for_function("JSON.stringify(window.tfCharts['item-1-result'].series[0].data) !== '[3,1,0,1]'")
            after = page.evaluate("window.tfCharts['item-1-result'].series[0].data")
            assert after == [1, 1, 0, 0]
            assert page.locator("#item-0 .tf-number").inner_text().strip() == "2"
            page.goto(site.url + "/reports/business_volume?from=2026-01-01&to=2026-04-30")
            page.wait_for_selector("[data-echart] svg")
            _shot(page, "report-desktop")
            page.goto(site.url + "/reports")
            _shot(page, "list-desktop")
            page.goto(site.url + "/")
            page.wait_for_selector("#home-dashboard .tf-dashboard")
            _shot(page, "home-desktop")
            mobile = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=context.storage_state())
            m = mobile.new_page()
            m.goto(site.url + "/dashboards/manager_home?from=2026-01-01&to=2026-04-30")
            m.wait_for_selector("#item-1 [data-echart] svg")
            _shot(m, "dashboard-mobile")
        finally:
            browser.close()


def _shot(page, name: str) -> None:  # noqa: ANN001 - a Playwright page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"reports-{name}.png"), full_page=True)


def test_pl13_administrator_schedules_a_report_for_people_and_roles_from_the_report_page(site: Site) -> None:
    app = site.world.app
    admin_id = app.users.create("boss", "Boss", PASSWORD, is_admin=True, language="en").id
    assert admin_id
    boss = site.client("boss")
    page = dom(boss.get("/reports/business_volume", params={**RANGE, "grain": "month"}).text)
    schedule = page.by_id("subscribe").attrs["href"]
    assert schedule.startswith("/reports/business_volume/subscriptions?params=")
    form_page = boss.get(schedule)
    assert form_page.status_code == 200
    form = dom(form_page.text).by_id("sub-form")
    token = form.find("input", name="csrf_token").attrs["value"]
    carried = form.find("input", name="params").attrs["value"]
    assert "grain=month" in carried and "from=2026-01-01" in carried
    assert dom(form_page.text).by_id("subs-empty") is not None

    refused = boss.post(
        "/reports/business_volume/subscriptions",
        data={"csrf_token": token, "frequency": "weekly", "channels": "email", "params": carried},
    )
    assert refused.status_code == 400 and "Choose at least one person or role" in refused.text
    added = boss.post(
        "/reports/business_volume/subscriptions",
        data={
            "csrf_token": token,
            "frequency": "monthly",
            "channels": ["email", "in_app"],
            "user_ids": str(site.world.users["l1"]),
            "roles": "manager",
            "format": "csv",
            "params": carried,
        },
    )
    assert added.status_code == 303
    (sub,) = app.reports.subscriptions.list("business_volume")
    assert (sub["frequency"], sub["channels"], sub["format"]) == ("monthly", ["email", "in_app"], "csv")
    assert sub["user_ids"] == [site.world.users["l1"]] and sub["roles"] == ["manager"]
    assert sub["params"]["grain"] == "month"
    listed = dom(boss.get(added.headers["location"]).text).by_id(f"sub-{sub['id']}").text()
    assert "Monthly" in listed and "CSV" in listed.upper() and "L1" in listed.upper()

    mgr = site.client("mgr")  # people without the administration right see neither button nor page
    assert 'id="subscribe"' not in mgr.get("/reports/business_volume", params=RANGE).text
    assert mgr.get("/reports/business_volume/subscriptions").status_code == 403

    deleted = boss.post(f"/reports/business_volume/subscriptions/{sub['id']}/delete", data={"csrf_token": token})
    assert deleted.status_code == 303 and app.reports.subscriptions.list("business_volume") == []
