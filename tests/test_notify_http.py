"""Notifications over real HTTP (PL-16, PL-10): the API, the centre, preferences, template preview, the delivery
log, the live event stream, and in Chromium the bell whose count rises without a reload."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD
from tests.support.browser import require_chromium
from tests.support.html import csrf_of, dom, sign_in
from tests.support.server import live_server
from tests.test_notify_support import deliveries, make_lead, make_user

PASSWORD = "Pass-word-1234"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class Site:
    app: Tessera
    url: str
    nurse: int
    lead: int

    @contextmanager
    def client(self, who: str = "nurse", password: str = PASSWORD) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
            assert sign_in(client, who, password).status_code == 303
            yield client

    @contextmanager
    def api(self, who: str = "admin", password: str = ADMIN_PASSWORD) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            r = client.post("/api/v1/auth/login", json={"username": who, "password": password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            yield client

    def notify(self, key: str, title: str, **kw: object) -> None:
        with self.app.db.write() as conn:
            self.app.notifier.notify(conn, user_ids=[self.nurse], key=key, title=title, **kw)


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    app = make_tessera("notify_pack")
    app.users.create("admin", "Admin", ADMIN_PASSWORD, is_admin=True)
    nurse = make_user(app, "nurse", email="nurse@hospital.example")
    lead = make_lead(app, owner=nurse)
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        yield Site(app, url, nurse, lead)


def test_pl10_preview_over_http_renders_both_languages_with_a_sample_record(site: Site) -> None:
    with site.api() as api:
        r = api.post("/api/v1/templates/lead_assigned/preview", json={"record_id": site.lead})
        assert r.status_code == 200, r.text
        langs = r.json()["languages"]
        assert langs["zh"]["sms"]["text"].startswith("【随访中心】Admin：新线索王芳（协和医院）")
        assert langs["en"]["email"]["subject"] == "New lead: 王芳 (协和医院)"
        assert "&lt;b&gt;急&lt;/b&gt;" in langs["en"]["email"]["html"]
        assert langs["zh"]["webhook"]["text"] == "线索 王芳 已分配给 Nurse"
        one = api.post("/api/v1/templates/lead_assigned/preview", json={"record_id": site.lead, "lang": "en"})
        assert list(one.json()["languages"]) == ["en"]
        assert api.post("/api/v1/templates/nope/preview", json={}).status_code == 404
        bad = api.post("/api/v1/templates/lead_assigned/preview", json={"record_id": site.lead, "lang": "fr"})
        assert bad.status_code == 400 and "'lang'" in bad.text
        missing = api.post("/api/v1/templates/lead_assigned/preview", json={})
        assert missing.status_code == 400 and "record_id" in missing.text
        assert api.post("/api/v1/templates/lead_assigned/preview", json={"record_id": 999}).status_code == 404
        assert [t["id"] for t in api.get("/api/v1/templates").json()["items"]] == ["lead_assigned", "plain_notice"]
    with site.api("nurse", PASSWORD) as nurse:
        assert nurse.post("/api/v1/templates/lead_assigned/preview", json={"record_id": 1}).status_code == 403


def test_pl16_notifications_api_lists_and_marks_read_only_my_own(site: Site) -> None:
    site.notify("a", "第一条")
    site.notify("b", "第二条", record=("lead", site.lead))
    with site.api("nurse", PASSWORD) as api:
        body = api.get("/api/v1/notifications").json()
        assert body["unread"] == 2 and [i["title"] for i in body["items"]] == ["第二条", "第一条"]
        assert body["items"][0]["link"] == f"/r/lead/{site.lead}"
        first = body["items"][1]["id"]
        r = api.post(f"/api/v1/notifications/{first}/read")
        assert r.status_code == 200 and r.json()["read_at"] and r.json()["unread"] == 1
        assert api.get("/api/v1/notifications?unread=1").json()["items"][0]["title"] == "第二条"
        assert api.post("/api/v1/notifications/read-all").json()["marked"] == 1
        assert api.post("/api/v1/notifications/abc/read").status_code == 404
        assert api.get("/api/v1/notifications?limit=0").status_code == 400
        prefs = api.put("/api/v1/notifications/preferences", json={"preferences": {"*": {"email": False}}})
        assert prefs.status_code == 200 and prefs.json()["preferences"]["*"]["email"] is False
        bad = api.put("/api/v1/notifications/preferences", json={"preferences": {"*": {"fax": True}}})
        assert bad.status_code == 400 and "preferences/*" in bad.text
    with site.api() as admin:
        assert admin.post(f"/api/v1/notifications/{first}/read").status_code == 404, "not the admin's notification"
        log = admin.get("/api/v1/deliveries?channel=in_app").json()["items"]
        assert len(log) == 2 and {d["status"] for d in log} == {"sent"}
        assert admin.get("/api/v1/deliveries?status=lost").status_code == 400


def test_pl16_notification_centre_page_marks_read_and_links_to_the_record(site: Site) -> None:
    site.notify("a", "新线索：王芳", body="请尽快回访", record=("lead", site.lead))
    site.notify("b", "系统维护通知")
    with site.client() as client:
        page = dom(client.get("/notifications").text)
        assert "新线索：王芳" in page.by_id("notification-list").text()
        assert page.by_id("unread-count").text() == "2"
        ids = [n.attrs["id"] for n in page.find_all("div") if n.attrs.get("id", "").startswith("note-")]
        newest = int(ids[0].split("-")[1])
        bell = dom(client.get("/notifications/_bell").text)
        assert bell.by_id("bell-head").attrs["data-unread"] == "2"
        opened = client.get(f"/notifications/{ids[1].split('-')[1]}/open")
        assert opened.status_code == 303 and opened.headers["location"] == f"/r/lead/{site.lead}"
        token = csrf_of(client.get("/notifications").text)
        r = client.post(f"/notifications/{newest}/read", data={"csrf_token": token, "next": "/notifications"})
        assert r.status_code == 303
        page = dom(client.get("/notifications?show=unread").text)
        assert page.by_id("notifications-empty")
        assert client.post("/notifications/read-all", data={"csrf_token": token}).status_code == 303


def test_pl16_preferences_page_turns_email_off_for_one_kind(site: Site) -> None:
    with site.client() as client:
        page = client.get("/account/notifications")
        tree = dom(page.text)
        assert "checked" in tree.by_id("pref-all-email").attrs and "checked" not in tree.by_id("pref-all-sms").attrs
        chosen = ["*:in_app", "*:email", "lead_assigned:in_app"]  # lead_assigned: in-app only
        r = client.post("/account/notifications", data={"csrf_token": csrf_of(page.text), "on": chosen})
        assert r.status_code == 303
        tree = dom(client.get("/account/notifications").text)
        assert "checked" not in tree.by_id("pref-lead_assigned-email").attrs
    with site.app.db.write() as conn:
        site.app.notifier.notify(
            conn, user_ids=[site.nurse], key="x", template="lead_assigned", record=("lead", site.lead)
        )
    status = {d["channel"]: d["status"] for d in deliveries(site.app)}
    assert status == {"in_app": "sent", "email": "skipped", "sms": "skipped"}


def test_pl10_admin_template_page_previews_zh_and_en_side_by_side(site: Site) -> None:
    with site.client("admin", ADMIN_PASSWORD) as client:
        page = dom(client.get("/admin/templates?template=lead_assigned").text)
        assert "王芳" in page.by_id("sample-record").text()
        assert "新线索王芳（协和医院）" in page.by_id("preview-zh").text()
        assert "New lead 王芳 (协和医院)" in page.by_id("preview-en").text()
        fragment = client.get(f"/admin/templates/lead_assigned/preview?record_id={site.lead}")
        assert fragment.status_code == 200 and "preview-en" in fragment.text
        assert client.get("/admin/templates/nope/preview").status_code == 404
    with site.client() as client:
        assert client.get("/admin/templates").status_code == 403


def test_pl16_delivery_log_page_shows_errors_and_retries(site: Site, clock: FixedClock) -> None:
    site.app.params.set("notify.sms.url", "http://127.0.0.1:9/never")  # nothing listens: connection refused
    from sqlalchemy import update

    from runtime.storage import platform_tables as pt

    with site.app.db.write() as conn:
        conn.execute(update(pt.users).where(pt.users.c.id == site.nurse).values(phone="13800138000"))
    site.notify("sms-1", "停诊通知", channels=["sms"])
    site.app.jobs.run_pending()
    for _ in range(8):  # the job retries with growing pauses, then the delivery is failed for good
        clock.advance(hours=3)
        site.app.jobs.run_pending()
    [row] = deliveries(site.app)
    assert row["status"] == "failed" and row["attempts"] == 6 and "could not be reached" in row["last_error"]
    with site.client("admin", ADMIN_PASSWORD) as client:
        page = client.get("/admin/deliveries?status=failed")
        tree = dom(page.text)
        assert "could not be reached" in tree.by_id(f"delivery-{row['id']}").text()
        r = client.post(f"/admin/deliveries/{row['id']}/retry", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303
        assert deliveries(site.app)[0]["status"] == "queued" and deliveries(site.app)[0]["attempts"] == 0
        assert client.get("/admin/deliveries?status=bogus").status_code == 400
        assert client.post("/admin/deliveries/999/retry", data={"csrf_token": csrf_of(page.text)}).status_code == 303


def test_pl16_event_stream_sends_the_new_count_when_a_notification_arrives(site: Site) -> None:
    site.notify("first", "一")
    with site.client() as client, client.stream("GET", "/notifications/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        counts: list[dict] = []
        deadline = time.monotonic() + 15
        notified = False
        for line in stream.iter_lines():
            if line.startswith("data: "):
                counts.append(json.loads(line[6:]))
                if not notified:
                    site.notify("second", "二")
                    notified = True
            if len(counts) == 2 or time.monotonic() > deadline:
                break
    assert [c["unread"] for c in counts] == [1, 2]
    assert counts[1]["latest"] > counts[0]["latest"]


def test_pl16_bell_count_rises_live_in_chromium(site: Site) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = require_chromium()
    site.notify("one", "欢迎使用随访系统")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(site.url + "/login")
            page.fill("#username", "nurse")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(site.url + "/")
            page.wait_for_function("document.getElementById('bell-count').textContent === '1'")
            site.notify("two", "新线索：王芳", body="协和医院", record=("lead", site.lead))
            page.wait_for_function("document.getElementById('bell-count').textContent === '2'")
            page.click("#bell-button")
            page.wait_for_selector("#bell-items >> text=新线索：王芳")
            _shot(page, "bell-desktop")
            page.click("#bell-items a >> text=新线索：王芳")
            page.wait_for_url(site.url + f"/r/lead/{site.lead}")
            page.wait_for_function("document.getElementById('bell-count').textContent === '1'")
            page.goto(site.url + "/notifications")
            _shot(page, "centre-desktop")
            page.goto(site.url + "/account/notifications")
            _shot(page, "preferences-desktop")
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(site.url + "/notifications")
            _shot(page, "centre-mobile")
            page.click("#bell-button")
            page.wait_for_selector("#bell-items")
            _shot(page, "bell-mobile")
            page.goto(site.url + "/account/notifications")
            _shot(page, "preferences-mobile")
        finally:
            browser.close()


def test_pl16_admin_pages_in_chromium(site: Site) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = require_chromium()
    site.notify("one", "欢迎", channels=["in_app", "email"])
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(site.url + "/login")
            page.fill("#username", "admin")
            page.fill("#password", ADMIN_PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(site.url + "/")
            page.goto(site.url + "/admin/templates")
            page.wait_for_selector("#preview-zh")
            _shot(page, "templates-desktop")
            page.goto(site.url + "/admin/deliveries")
            _shot(page, "deliveries-desktop")
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(site.url + "/admin/templates")
            _shot(page, "templates-mobile")
            page.goto(site.url + "/admin/deliveries")
            _shot(page, "deliveries-mobile")
        finally:
            browser.close()


def _shot(page, name: str) -> None:  # noqa: ANN001 - a Playwright page
    if os.environ.get("TESSERA_NO_SHOTS"):
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"notify-{name}.png"), full_page=True)
