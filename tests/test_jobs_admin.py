"""/admin/jobs (issue 5, PL-24): administrators see waiting, failed and done jobs with their errors and retry a
failed one; real HTTP against a live uvicorn, and the page in Chromium (desktop and phone widths)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.services import Tessera
from tests.support.browser import require_chromium
from tests.support.html import csrf_of, dom, sign_in
from tests.support.server import live_server

NURSE_PASSWORD = "Nurse-pass-for-jobs-1"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def ui_url(tessera: Tessera) -> Iterator[str]:
    tessera.users.create("nurse", "护士小王", NURSE_PASSWORD)
    calls: list[dict] = []

    @tessera.jobs.task("send_sms", retries=0)
    def send_sms(payload: dict) -> None:
        calls.append(payload)
        if not payload.get("ok"):
            raise ConnectionError("短信网关无响应 / SMS gateway did not answer")

    tessera.jobs.defer("send_sms", {"to": "13800000000"}, key="sms:1")
    tessera.jobs.defer("send_sms", {"to": "13900000000", "ok": True}, key="sms:2")
    tessera.jobs.run_pending()
    tessera.jobs.defer("send_sms", {"to": "later", "ok": True}, run_at=tessera.clock.now().replace(year=2027))
    with live_server(create_app(tessera, extensions=[ui.app.install])) as url:
        yield url


@contextmanager
def client(url: str, username: str = "admin", password: str | None = None) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30, headers={"Accept-Language": "zh-CN"}) as c:
        r = sign_in(c, username, password) if password else sign_in(c, username)
        assert r.status_code == 303, r.text
        yield c


def test_pl24_admin_sees_a_failed_job_with_its_error_and_retries_it(ui_url: str, tessera: Tessera) -> None:
    with client(ui_url) as admin:
        hub = dom(admin.get("/admin").text)
        assert hub.by_id("tile-jobs").attrs["href"] == "/admin/jobs"
        waiting = admin.get("/admin/jobs")
        assert waiting.status_code == 200
        page = dom(waiting.text)
        rows = page.find(id="job-list").find_all(**{"class": "list-group-item tf-job-row"})
        assert [r.attrs["data-status"] for r in rows if r.attrs["data-name"] == "send_sms"] == ["queued"]
        failed = admin.get("/admin/jobs?tab=failed")
        page = dom(failed.text)
        [row] = page.find(id="job-list").find_all(**{"class": "list-group-item tf-job-row"})
        assert "短信网关无响应" in row.text() and "13800000000" in row.text() and "失败" in row.text()
        job_id = row.attrs["id"].removeprefix("job-")
        r = admin.post(f"/admin/jobs/{job_id}/retry", data={"csrf_token": csrf_of(failed.text)})
        assert r.status_code == 303 and r.headers["location"] == "/admin/jobs?tab=failed"
        after = admin.get("/admin/jobs?tab=failed").text
        assert f"任务 #{job_id}（send_sms）已重新排队" in after and 'id="jobs-empty"' in after
        for wrong in (job_id, "999999", "abc"):
            again = admin.post(f"/admin/jobs/{wrong}/retry", data={"csrf_token": csrf_of(after)})
            assert again.status_code == 303
            assert f"任务 #{wrong} 不存在或不是失败状态" in admin.get("/admin/jobs?tab=failed").text
        bad = admin.get("/admin/jobs?tab=everything")
        assert bad.status_code == 400 and "waiting、failed、done" in bad.text
        done = dom(admin.get("/admin/jobs?tab=done").text)
        assert "13900000000" in done.find(id="job-list").text()
    tessera.jobs.run_pending()  # the retried job runs again; the gateway is still down
    with client(ui_url) as admin:
        row = dom(admin.get("/admin/jobs?tab=failed").text).by_id(f"job-{job_id}")
        assert "第 1 次尝试" in row.text() and "短信网关无响应" in row.text()


def test_pl24_only_administrators_open_the_jobs_page(ui_url: str) -> None:
    with client(ui_url, "nurse", NURSE_PASSWORD) as nurse:
        assert nurse.get("/admin/jobs").status_code == 403
        r = nurse.post("/admin/jobs/1/retry", data={"csrf_token": csrf_of(nurse.get("/").text)})
        assert r.status_code == 403


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl24_jobs_page_in_chromium_on_desktop_and_phone(ui_url: str, tessera: Tessera, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = require_chromium()
    shots = Path(os.environ.get("TESSERA_SCREENSHOTS", tmp_path))
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            for label, viewport in (
                ("desktop", {"width": 1366, "height": 900}),
                ("phone", {"width": 390, "height": 844}),
            ):
                tessera.jobs.run_pending()  # (again) a failed job to look at
                page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
                page.goto(ui_url + "/login")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", "Adm1n-pass-for-tests")
                page.locator("form button[type=submit]").click()
                page.wait_for_url(ui_url + "/")
                page.goto(ui_url + "/admin/jobs?tab=failed")
                row = page.locator("#job-list .tf-job-row").first
                playwright_api.expect(row).to_be_visible()
                row.locator("summary").click()
                playwright_api.expect(row.locator("pre.tf-job-error")).to_contain_text("ConnectionError")
                page.screenshot(path=str(shots / f"jobs-{label}.png"), full_page=True)
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= viewport["width"], f"{label}: the page scrolls sideways ({width}px)"
                page.locator("button[id^=retry-]").first.click()
                playwright_api.expect(page.locator("#jobs-empty")).to_be_visible()
        finally:
            browser.close()
