"""The web UI in a real Chromium (Playwright), on SQLite only to keep the suite fast.

Covers what only a browser can show: live re-evaluation of the form while typing (conditional
field appears and becomes required, computed value updates, focus stays put), inline errors
after submit, the reference picker and child-table rows, and the phone layout's offcanvas menu.
Screenshots of the main pages (desktop 1366x900 and phone 390x844) go to test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import ui.app
from runtime.api import create_app
from runtime.records import Context
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD, REPO
from tests.support.server import live_server

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
FORM = "/r/specimen/new?form=specimen_form"


@pytest.fixture(scope="module")
def browser() -> Iterator[playwright_api.Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # CI installs Debian's Chromium (.ci/run): missing there is a failure
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (make test installs it)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def seeded(tessera: Tessera) -> Tessera:
    admin = tessera.users.by_username("admin")
    assert admin is not None
    ctx = Context(user_id=admin.id, channel="ui", is_admin=True)
    east = tessera.records.create("region_office", {"name": "华东办事处"}, ctx)
    tessera.records.create("region_office", {"name": "华南办事处"}, ctx)
    levels = ["3A", "3B", "2A", "1", "3A", "2A"]
    for i, level in enumerate(levels):
        tessera.records.create(
            "specimen",
            {
                "title": f"第{i + 1}人民医院",
                "level": level,
                "close_reason": "合并",
                "beds": 200 + i * 150,
                "price": 80 + i * 12.5,
                "active": i % 3 != 2,
                "office": east["id"],
                "visit_date": f"2026-11-{3 + i * 4:02d}",
                "tags": ["重点"] if i % 2 else [],
            },
            ctx,
        )
    return tessera


@pytest.fixture
def base_url(seeded: Tessera) -> Iterator[str]:
    with live_server(create_app(seeded, extensions=[ui.app.install])) as url:
        yield url


def open_page(
    browser: playwright_api.Browser, base_url: str, viewport: dict[str, int]
) -> playwright_api.Page:
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        device_scale_factor=1,
        is_mobile=viewport is PHONE,
        has_touch=viewport is PHONE,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(base_url + "/v/specimen_list")
    page.wait_for_url("**/login?next=*")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(base_url + "/v/specimen_list")
    return page


def shot(page: playwright_api.Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def field(page: playwright_api.Page, name: str) -> playwright_api.Locator:
    return page.locator(f"#fw-{name}")


def test_create_form_live_conditions_inline_errors_and_save(
    browser: playwright_api.Browser, base_url: str, seeded: Tessera
) -> None:
    page = open_page(browser, base_url, DESKTOP)
    expect = playwright_api.expect
    expect(page.locator("#list-table tbody tr")).to_have_count(6)
    shot(page, "desktop-list")

    page.goto(base_url + FORM)
    expect(field(page, "close_reason")).to_be_hidden()

    # invalid input: too many beds on the first tab, a bad phone number on the second
    page.fill("#in-title", "浏览器测试医院")
    page.fill("#in-beds", "99999")
    page.click("#tab-1-btn")
    page.fill("#in-phone", "123")
    page.click("#save")
    page.wait_for_load_state()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#fe-beds")).to_contain_text("不能大于 10000")
    expect(page.locator("#fe-beds")).to_be_visible()
    expect(page.locator("#in-beds")).to_have_value("99999")
    expect(page.locator("#tab-1-btn .tf-tab-badge")).to_have_text("1")
    shot(page, "desktop-form-errors")
    page.click("#tab-1-btn")
    expect(page.locator("#fe-phone")).to_be_visible()
    expect(page.locator("#fe-phone")).to_contain_text("不是有效的电话号码")
    expect(page.locator("#in-phone")).to_have_value("123")
    page.locator("#error-summary a", has_text="床位数").click()
    expect(page.locator("#in-beds")).to_be_focused()

    # the conditional field follows the level while the user fills in the form
    page.select_option("#in-level", label="一级")
    expect(field(page, "close_reason")).to_be_visible()
    expect(field(page, "close_reason")).to_have_class(re.compile(r"(^|\s)is-required(\s|$)"))
    expect(field(page, "close_reason").locator(".tf-req")).to_be_visible()
    page.select_option("#in-level", label="三级甲等")
    expect(field(page, "close_reason")).to_be_hidden()
    page.select_option("#in-level", label="一级")
    expect(field(page, "close_reason")).to_be_visible()

    # computed value updates as the user types, and the caret stays in the field being typed in
    page.fill("#in-price", "")
    page.locator("#in-price").press_sequentially("200", delay=40)
    page.fill("#in-discount", "")
    page.locator("#in-discount").press_sequentially("25", delay=40)
    expect(page.locator("#fv-net_price")).to_contain_text("150.00")
    expect(page.locator("#in-discount")).to_be_focused()

    # fix the errors, pick an office, add a contact, save
    page.fill("#in-close-reason", "停业整顿")
    page.fill("#in-beds", "120")
    page.click("#tab-1-btn")
    page.fill("#in-phone", "13800138000")
    page.locator("#in-office").press_sequentially("华东", delay=40)
    page.locator("[data-tf-ref-pick]", has_text="华东办事处").click()
    expect(page.locator("input[name=office]")).not_to_have_value("")
    page.click("[data-tf-add-row]")
    page.fill("input[name='contacts.0.name']", "李主任")
    page.fill("input[name='contacts.0.mobile']", "13900139000")
    page.click("#save")
    page.wait_for_url("**/r/specimen/*")
    expect(page.locator("#record-title")).to_have_text("浏览器测试医院")
    body = page.locator("main")
    for text in ("一级", "停业整顿", "120", "¥200.00", "150.00"):
        expect(body).to_contain_text(text)
    page.click("#tab-1-btn")
    for text in ("13800138000", "华东办事处", "李主任"):
        expect(body).to_contain_text(text)
    page.click("#tab-0-btn")
    shot(page, "desktop-detail")

    page.goto(base_url + "/v/specimen_board")
    expect(page.locator(".tf-lane")).to_have_count(4)
    expect(page.locator(".tf-lane", has_text="一级")).to_contain_text("浏览器测试医院")
    shot(page, "desktop-kanban")
    page.context.close()


def test_phone_layout_menu_and_pages(browser: playwright_api.Browser, base_url: str) -> None:
    page = open_page(browser, base_url, PHONE)
    expect = playwright_api.expect
    expect(page.locator("#sidebar")).to_be_hidden()
    expect(page.locator("#list-table")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "the list page must not scroll sideways on a phone"
    shot(page, "phone-list")

    page.click("#menu-toggle")
    expect(page.locator("#sidebar")).to_be_visible()
    page.locator("#sidebar a", has_text="按等级").click()
    page.wait_for_url("**/v/specimen_board")
    expect(page.locator(".tf-lane").first).to_be_visible()
    shot(page, "phone-kanban")

    page.goto(base_url + FORM)
    page.fill("#in-beds", "abc")
    page.click("#save")
    page.wait_for_load_state()
    expect(page.locator("#fe-beds")).to_contain_text("请输入整数")
    expect(page.locator("#fe-title")).to_contain_text("必填")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-form-errors")
    page.click("#tab-1-btn")  # the contacts table scrolls inside its own box, not the page
    page.click("[data-tf-add-row]")
    expect(page.locator("input[name='contacts.0.name']")).to_be_focused()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.goto(base_url + "/v/specimen_list")
    page.locator("a.tf-row-link").first.click()
    page.wait_for_url("**/r/specimen/*")
    expect(page.locator("#record-title")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "phone-detail")
    page.context.close()
