"""PC-17 / PL-21: the HIS message log page under /admin: filters by outcome, type, patient and day, the
message detail with raw text, reply and error; system administrators and the pack's IT administrator (a role
with the 'admin' right, as the API's message log) only (real HTTP; Chromium for the walk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa

import ui.app
from runtime.api import create_app
from runtime.his.hl7v2 import handle_hl7
from runtime.his.service import HisService
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.browser import require_chromium
from tests.support.his import adt, his_app
from tests.support.html import Node, dom, sign_in
from tests.support.server import live_server

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[str]:
    app, _, _ = his_app(make_tessera)
    it = app.users.create("it", "信息中心", "Pass-word-2026!")  # the pack's IT administrator ('admin' right)
    with app.db.write() as conn:
        conn.execute(sa.insert(pt.user_roles).values(user_id=it.id, role_id="it_admin"))
    service = HisService(app)
    handle_hl7(service, adt("A01", "U1", "MRN700"), "mllp")
    handle_hl7(service, adt("A08", "U2", "MRN700", birth="19851340"), "http")
    handle_hl7(service, adt("A01", "U1", "MRN700"), "mllp")
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        yield url


@contextmanager
def _client(url: str, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
        assert sign_in(client, username, password).status_code == 303
        yield client


def _rows(html: str) -> list[Node]:
    return [n for n in dom(html).iter() if "tf-his-row" in n.classes]


def test_pc17_admin_his_log_page_filters_and_detail(site: str) -> None:
    with _client(site, "admin", "Adm1n-pass-for-tests") as admin:
        html = admin.get("/admin/his").text
        page, rows = dom(html), _rows(html)
        assert [r.attrs["data-outcome"] for r in rows] == ["duplicate", "rejected", "applied"]
        assert "HIS 消息日志" in page.text()
        rejected = _rows(admin.get("/admin/his", params={"outcome": "rejected"}).text)
        assert len(rejected) == 1 and "PID-7: '19851340' is not a date" in rejected[0].text()
        assert len(_rows(admin.get("/admin/his", params={"type": "A08"}).text)) == 1
        assert len(_rows(admin.get("/admin/his", params={"patient": "MRN999"}).text)) == 0
        today = {"since": "2026-11-23", "until": "2026-11-23"}
        assert len(_rows(admin.get("/admin/his", params=today).text)) == 3
        bad = admin.get("/admin/his", params={"outcome": "nonsense", "since": "yesterday"})
        assert bad.status_code == 200 and dom(bad.text).by_id("filters-invalid") is not None
        detail_id = rejected[0].attrs["href"].rsplit("/", 1)[-1]
        detail = dom(admin.get(f"/admin/his/{detail_id}").text)
        assert "19851340" in detail.by_id("his-raw").text()
        assert "MSA|AE|U2" in detail.by_id("his-reply").text()
        assert detail.by_id("his-error").text().startswith("PID-7")
        assert admin.get("/admin/his/999999").status_code == 404
        assert admin.get("/admin/his/abc").status_code == 404
        hub = admin.get("/admin").text
        assert 'href="/admin/his"' in hub
    with _client(site, "it", "Pass-word-2026!") as it:  # IT connects the HIS: it reads the log, as over the API
        assert len(_rows(it.get("/admin/his").text)) == 3
        assert "19851340" in dom(it.get(f"/admin/his/{detail_id}").text).by_id("his-raw").text()
        assert it.get("/api/v1/his/messages").status_code == 200
        hub = it.get("/admin").text
        assert 'href="/admin/his"' in hub and 'href="/admin/users"' in hub
        assert 'href="/admin/audit"' not in hub and 'href="/admin/settings"' not in hub
        assert it.get("/admin/audit").status_code == 403
    with _client(site, "clerk", "Pass-word-2026!") as clerk:
        assert clerk.get("/admin/his").status_code == 403
        assert clerk.get(f"/admin/his/{detail_id}").status_code == 403


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pc17_browser_admin_opens_a_rejected_his_message(site: str) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    require_chromium()  # a skip on a developer machine, a failure on CI
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            page.goto(site + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "Adm1n-pass-for-tests")
            page.locator("form button[type=submit]").click()
            page.wait_for_url(site + "/")
            page.goto(site + "/admin")
            page.locator('a[href="/admin/his"]').first.click()
            page.wait_for_url(site + "/admin/his")
            page.select_option("#flt-outcome", "rejected")
            page.locator("#apply-filters").click()
            page.wait_for_url("**/admin/his?*outcome=rejected*")
            expect = playwright_api.expect
            expect(page.locator(".tf-his-row")).to_have_count(1)
            page.locator(".tf-his-row").first.click()
            expect(page.locator("#his-error")).to_contain_text("PID-7: '19851340' is not a date")
            expect(page.locator("#his-raw")).to_contain_text("ADT^A08")
        finally:
            browser.close()
