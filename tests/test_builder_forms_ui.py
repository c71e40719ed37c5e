"""The form designer in a real Chromium (issue 7, part 1), on SQLite.

A department manager drags a field from the palette into a section, makes it required, publishes
and the generated record form refuses to save without it; reorders fields and the generated form
follows; adds a visibility condition and it acts in the generated form; undoes and redoes; sees a
bad expression's error while typing. Screenshots at desktop and tablet size go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD
from tests.support.designer import (
    DESKTOP,
    TABLET,
    chromium,
    drag,
    playwright_api,
    publish,
    save_draft,
    serve,
    shot,
    sign_in,
)
from ui.designer.palette import missing_kinds

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

DESIGNER = "/builder/all_fields/forms/specimen_form"
RECORD_FORM = "/r/specimen/new?form=specimen_form"
expect = playwright_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def base_url(tessera: Tessera) -> Iterator[str]:
    yield from serve(tessera)


def field_order(page, section_selector: str) -> list[str]:
    return page.eval_on_selector_all(section_selector + " [data-field]", "els => els.map(e => e.dataset.field)")


def test_palette_lists_every_runtime_field_type(backend: str) -> None:
    assert missing_kinds() == []


def test_new_required_field_from_the_palette_refuses_empty_input_after_publish(
    browser,
    base_url: str,
    tessera: Tessera,
) -> None:
    page = sign_in(browser, base_url, DESKTOP, DESIGNER)
    expect(page.locator("#fd-preview-form")).to_be_visible()
    shot(page, "builder-form-designer-desktop")

    drag(page, "#pal-text", "#fd-f-opens_at", where="after", reaim=True)  # behind the last field of the section "时间"
    chip = page.locator("#fd-f-text_1")
    expect(chip).to_be_visible()
    assert "text_1" in field_order(page, "#fd-sec-0-1")
    expect(page.locator("#fd-props #fp-label-zh")).to_have_value("单行文本 1")

    page.fill("#fp-label-zh", "随访备注")
    page.check("#fp-required")
    expect(chip).to_contain_text("随访备注")
    expect(chip.locator(".fd-req")).to_be_visible()
    # the preview is the real record form, refreshed after the change
    expect(page.locator("#fd-preview #fw-text_1.is-required")).to_be_visible()
    shot(page, "builder-form-designer-new-field")
    save_draft(page)

    publish(tessera, "all_fields")
    page.goto(base_url + RECORD_FORM)
    expect(page.locator("#fw-text_1")).to_be_visible()
    expect(page.locator("#fw-text_1 label")).to_contain_text("随访备注")
    page.fill("#in-title", "设计器新字段测试")
    page.click("#save")
    page.wait_for_load_state()
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#fe-text_1")).to_contain_text("必填")
    page.fill("#in-text-1", "已随访")
    page.click("#save")
    page.wait_for_url("**/r/specimen/*")
    assert tessera.registry.entity("specimen").field("text_1").required


def test_reorder_fields_and_the_generated_form_follows(browser, base_url: str, tessera: Tessera) -> None:
    page = sign_in(browser, base_url, DESKTOP, DESIGNER)
    before = field_order(page, "#fd-sec-0-0")
    assert before[:2] == ["code", "title"]
    drag(page, "#fd-f-beds", "#fd-f-code", where="before")
    after = field_order(page, "#fd-sec-0-0")
    assert after.index("beds") < after.index("code"), after
    # a field can also move to another section
    drag(page, "#fd-f-active", "#fd-f-opens_at", where="after", reaim=True)
    assert "active" in field_order(page, "#fd-sec-0-1")
    save_draft(page)

    publish(tessera, "all_fields")
    page.goto(base_url + RECORD_FORM)
    shown = page.eval_on_selector_all(
        "#tab-0 fieldset:first-of-type [data-field]", "els => els.map(e => e.dataset.field)"
    )
    assert shown.index("beds") < shown.index("code"), shown
    assert "active" not in shown
    second = page.eval_on_selector_all(
        "#tab-0 fieldset:nth-of-type(2) [data-field]", "els => els.map(e => e.dataset.field)"
    )
    assert second[-1] == "active"


def test_visibility_condition_acts_in_the_generated_form(browser, base_url: str, tessera: Tessera) -> None:
    page = sign_in(browser, base_url, DESKTOP, DESIGNER)
    page.click("#fd-tab-1")
    page.click("#fd-f-license")
    page.fill("#fp-visible-when", "beds >")
    expect(page.locator("#fp-visible-when-feedback .fd-expr-error")).to_contain_text("语法错误")
    expect(page.locator("#fp-visible-when")).to_have_class(lambda_has("is-invalid"))
    page.fill("#fp-visible-when", "bedz > 100")
    expect(page.locator("#fp-visible-when-feedback .fd-expr-error")).to_contain_text("beds")
    page.fill("#fp-visible-when", "beds > 100")
    expect(page.locator("#fp-visible-when-feedback .fd-expr-ok")).to_be_visible()
    expect(page.locator("#fd-f-license .fd-cond")).to_be_visible()
    shot(page, "builder-form-designer-condition")
    save_draft(page)

    publish(tessera, "all_fields")
    page.goto(base_url + RECORD_FORM)
    expect(page.locator("#fw-license")).to_be_hidden()
    page.fill("#in-beds", "200")
    page.click("#tab-1-btn")
    expect(page.locator("#fw-license")).to_be_visible()


def lambda_has(cls: str):  # Playwright's to_have_class accepts a regex
    import re

    return re.compile(rf"(^|\s){cls}(\s|$)")


def test_undo_and_redo_with_buttons_and_keyboard(browser, base_url: str) -> None:
    page = sign_in(browser, base_url, DESKTOP, DESIGNER)
    expect(page.locator("#fd-undo")).to_be_disabled()
    page.click("#pal-date")  # a click adds to the selected (here: last) section
    expect(page.locator("#fd-f-date_1")).to_be_visible()
    page.fill("#fp-label-zh", "回访日期")
    expect(page.locator("#fd-f-date_1")).to_contain_text("回访日期")
    page.click("#fd-undo")
    expect(page.locator("#fd-f-date_1")).to_contain_text("日期 1")
    page.click("#fd-undo")
    expect(page.locator("#fd-f-date_1")).to_have_count(0)
    expect(page.locator("#fd-undo")).to_be_disabled()
    page.click("#fd-redo")
    expect(page.locator("#fd-f-date_1")).to_be_visible()
    page.locator("#fd-canvas").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    expect(page.locator("#fd-f-date_1")).to_have_count(0)
    page.keyboard.press("Control+y")
    expect(page.locator("#fd-f-date_1")).to_be_visible()
    page.keyboard.press("Control+Shift+z")
    expect(page.locator("#fd-f-date_1")).to_contain_text("回访日期")
    expect(page.locator('#fd-status [data-status="dirty"]')).to_be_visible()


def test_designer_screenshots_at_tablet_size(browser, base_url: str) -> None:
    page = sign_in(browser, base_url, TABLET, DESIGNER)
    expect(page.locator("#fd-preview-form")).to_be_visible()
    page.click("#fd-f-level")
    expect(page.locator("#fp-options")).to_be_visible()
    shot(page, "builder-form-designer-tablet")


def test_a_user_without_the_designer_right_gets_403(base_url: str, tessera: Tessera) -> None:
    tessera.users.create("clerk", "Clerk", "Clerk-pass-2026-x")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "clerk", "password": "Clerk-pass-2026-x"})
        assert r.status_code == 200, r.text
        token = r.json()["csrf_token"]
        assert client.get(DESIGNER).status_code == 403
        saved = client.post(DESIGNER + "/save", json={}, headers={"X-CSRF-Token": token})
        assert saved.status_code == 403
        check = client.post(
            "/builder/all_fields/_expression", json={"expression": "1"}, headers={"X-CSRF-Token": token}
        )
        assert check.status_code == 403
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert client.get(DESIGNER).status_code == 200
