"""Record action buttons on the record page (PL-08): a button per action of the current state, an input
form for actions that ask for one, a clear message when refused; and in Chromium, clicking an action
with an input form changes the record's state."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.automation.states.service import perform
from runtime.records.context import Context
from runtime.services import Tessera
from tests.support.browser import require_chromium
from tests.support.html import csrf_of, dom, sign_in
from tests.support.server import live_server
from tests.test_state_machines import PASSWORD, add_people

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ADMIN = Context(channel="api", lang="en", is_admin=True)


@pytest.fixture
def served(make_tessera: Callable[..., Tessera]) -> Iterator[tuple[Tessera, str]]:
    app = make_tessera("rules_pack")
    add_people(app)
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        yield app, url


def signed_in(url: str, who: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, headers={"Accept-Language": "en"}, cookies={"lang": "en"})
    r = sign_in(client, who, PASSWORD)
    assert r.status_code in (200, 302, 303), r.text[:300]
    return client


def test_pl08_record_page_buttons_input_form_and_refusal_message(served: tuple[Tessera, str]) -> None:
    app, url = served
    lead = app.records.create("lead", {"name": "County clinic", "score": 10}, ADMIN)
    sam = signed_in(url, "sam")
    try:
        page = sam.get(f"/r/lead/{lead['id']}")
        assert f'hx-get="/r/lead/{lead["id"]}/actions"' in page.text
        buttons = dom(sam.get(f"/r/lead/{lead['id']}/actions").text)
        assert "New" in buttons.by_id("record-state").text()
        buttons.find("button", data_action="claim")  # no form, no confirm: a direct post
        close = buttons.find("button", data_action="close")
        assert "disabled" in close.attrs  # a manager's action, with the reason
        assert "sales_manager" in buttons.by_id("why-close").text()
        token = csrf_of(page.text)
        r = sam.post(
            f"/r/lead/{lead['id']}/actions/claim", data={"csrf_token": token, "version": "1"}, follow_redirects=True
        )
        assert r.status_code == 200 and "Claim done; the state is now Claimed" in r.text
        form_page = sam.get(f"/r/lead/{lead['id']}/actions/follow_up")
        assert form_page.status_code == 200 and dom(form_page.text).by_id("fw-follow_up_note")
        r = sam.post(f"/r/lead/{lead['id']}/actions/follow_up", data={"csrf_token": token, "follow_up_note": ""})
        assert r.status_code == 422 and dom(r.text).by_id("error-summary")
        r = sam.post(
            f"/r/lead/{lead['id']}/actions/follow_up",
            data={"csrf_token": token, "follow_up_note": "Visited"},
            follow_redirects=True,
        )
        assert "the state is now Following up" in r.text
        r = sam.get(f"/r/lead/{lead['id']}/actions/convert", follow_redirects=True)  # guard: score 10
        assert "Convert was refused: a lead converts at a score of 60 or more" in r.text
    finally:
        sam.close()
    assert app.records.get("lead", lead["id"], ADMIN)["status"] == "following"


def test_pl08_a_background_action_button_says_it_runs_in_the_background(served: tuple[Tessera, str]) -> None:
    app, url = served
    lead = app.records.create("lead", {"name": "Bay clinic", "score": 80}, ADMIN)
    sam = Context(user_id=app.users.by_username("sam").id, channel="api", lang="en")
    perform(app, "lead", lead["id"], "claim", {}, sam)
    perform(app, "lead", lead["id"], "follow_up", {"follow_up_note": "met"}, sam)
    perform(app, "lead", lead["id"], "convert", {}, sam)
    mia = signed_in(url, "mia")
    try:
        confirm = mia.get(f"/r/lead/{lead['id']}/actions/archive")
        summary = dom(confirm.text).by_id("action-summary").text()
        assert "Converted to Closed" in summary and "runs in the background" in summary
        token = csrf_of(mia.get(f"/r/lead/{lead['id']}").text)
        form = {"csrf_token": token, "converted_on": "2026-11-20"}  # its input form's date goes with the job
        r = mia.post(f"/r/lead/{lead['id']}/actions/archive", data=form, follow_redirects=True)
        assert r.status_code == 200 and "Archive is running in the background" in r.text
        assert app.records.get("lead", lead["id"], ADMIN)["status"] == "converted"
        app.jobs.run_pending()
        done = app.records.get("lead", lead["id"], ADMIN)
        assert (done["status"], str(done["converted_on"])) == ("closed", "2026-11-20")
    finally:
        mia.close()


def test_pl08_clicking_an_action_with_an_input_form_changes_the_state_in_chromium(
    served: tuple[Tessera, str],
) -> None:
    chromium = require_chromium()
    playwright_api = pytest.importorskip("playwright.sync_api")
    app, url = served
    lead = app.records.create("lead", {"name": "市第一医院", "score": 80}, ADMIN)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            for name, viewport in (
                ("desktop", {"width": 1366, "height": 900}),
                ("mobile", {"width": 390, "height": 844}),
            ):
                context = browser.new_context(viewport=viewport, locale="zh-CN")
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.goto(url + f"/r/lead/{lead['id']}")
                page.fill("#username", "sam")
                page.fill("#password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_selector("#record-state")
                if name == "desktop":
                    assert page.locator("#record-state").inner_text().strip() == "New"
                    page.click('button[data-action="claim"]')
                    page.wait_for_selector("#record-state:has-text('Claimed')")
                    _shot(page, "record-desktop")
                    page.click('a[data-action="follow_up"]')
                    page.wait_for_selector("#fw-follow_up_note")
                    page.fill("#fw-follow_up_note input", "电话联系了院长")
                    _shot(page, "form-desktop")
                    page.click("#action-submit")
                    page.wait_for_selector("#record-state:has-text('Following up')")
                else:
                    page.click('a[data-action="convert"]')
                    page.wait_for_selector("#action-summary")
                    _shot(page, "confirm-mobile")
                    page.click("#action-submit")
                    page.wait_for_selector("#record-state:has-text('Converted')")
                    _shot(page, "record-mobile")
                context.close()
        finally:
            browser.close()
    record = app.records.get("lead", lead["id"], ADMIN)
    assert record["status"] == "converted" and record["follow_up_note"] == "电话联系了院长"


def _shot(page, name: str) -> None:  # noqa: ANN001 - a Playwright page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"actions-{name}.png"), full_page=True)


def test_pl09_admin_rules_page_lists_rules_and_retries_a_failed_run(served: tuple[Tessera, str]) -> None:
    app, url = served
    contract = app.records.create("contract", {"name": "Acme"}, ADMIN)
    app.records.update("contract", contract["id"], {"amount": 13}, ADMIN, expected_version=None)  # contract_boom fails
    app.jobs.run_pending()
    admin = httpx.Client(base_url=url, timeout=30, cookies={"lang": "en"})
    try:
        from tests.conftest import ADMIN_PASSWORD

        sign_in(admin, "admin", ADMIN_PASSWORD)
        hub = admin.get("/admin")
        assert 'href="/admin/rules"' in hub.text
        page = admin.get("/admin/rules")
        assert page.status_code == 200
        doc = dom(page.text)
        assert "30 days before a contract ends" in doc.by_id("rule-contract_expiry").text()
        assert "30d before end_date" in doc.by_id("rule-contract_expiry").text()
        failed = doc.by_id("failed-runs").find(data_rule="contract_boom")
        assert "name" in failed.text() and "Attempts 1" in failed.text()
        key = failed.find("input", name="key").attrs["value"]
        r = admin.post("/admin/rules/retry", data={"csrf_token": csrf_of(page.text), "key": key}, follow_redirects=True)
        assert "The run is queued again." in r.text
        app.jobs.run_pending()
        again = dom(admin.get("/admin/rules").text).by_id("failed-runs").find(data_rule="contract_boom")
        assert "Attempts 3" in again.text() or "Attempts 2" in again.text()
        assert sam_forbidden(url)
    finally:
        admin.close()
    if Path(ARGS_CHROMIUM).exists():  # a look at the page, desktop and phone (test-artifacts/)
        _screenshot_rules_page(url)


ARGS_CHROMIUM = "/usr/bin/chromium"


def _screenshot_rules_page(url: str) -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import ADMIN_PASSWORD

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=ARGS_CHROMIUM, args=ARGS)
        try:
            for name, viewport in (
                ("desktop", {"width": 1366, "height": 900}),
                ("mobile", {"width": 390, "height": 844}),
            ):
                context = browser.new_context(viewport=viewport, locale="zh-CN")
                page = context.new_page()
                page.goto(url + "/admin/rules")
                page.fill("#username", "admin")
                page.fill("#password", ADMIN_PASSWORD)
                page.click("#login-submit")
                page.wait_for_selector("#rules-table")
                _shot(page, f"rules-admin-{name}")
                context.close()
        finally:
            browser.close()


def sam_forbidden(url: str) -> bool:
    sam = signed_in(url, "sam")
    try:
        return sam.get("/admin/rules").status_code == 403
    finally:
        sam.close()
