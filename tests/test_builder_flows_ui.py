"""PL-18 flow designer in Chromium (issue 7, BC): a new flow from the template, a two-step approval drawn in the
bpmn-js modeler, forms/roles/due/outcomes/starters bound and a gateway condition typed (checked as you type) in
the side panel, a save refused with the element named, publish through the publish page, then the process run
to completion through the task pages. Also screenshots of BC's pages at desktop and tablet size.

The shapes are added with bpmn-js's modeling API (page.evaluate): pointer drawing on an SVG canvas is brittle;
every binding goes through the side panel's inputs like a manager would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest

import builder.api
import ui.app
from runtime.api import create_app
from runtime.identity.passwords import hash_password
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import REPO
from tests.support.browser import require_chromium
from tests.support.html import csrf_of, dom
from tests.support.server import live_server
from tests.test_builder_versions_ui import PACK_ID, PASSWORD, Site
from tests.test_workflows_host import PACK, build_org

playwright_api = pytest.importorskip("playwright.sync_api")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = REPO / "test-artifacts"
DESKTOP = {"width": 1366, "height": 900}
TABLET = {"width": 820, "height": 1180}

DRAW = """() => {
  const m = window.tfFlowDesigner.modeler;
  const reg = m.get('elementRegistry'), modeling = m.get('modeling');
  const start = reg.get('start'), end = reg.get('end');
  modeling.removeElements([reg.get('f_start_end')]);
  const t1 = modeling.appendShape(start, {type: 'bpmn:UserTask'}, {x: 320, y: 180});
  modeling.updateProperties(t1, {id: 'manager_review'});
  const gw = modeling.appendShape(t1, {type: 'bpmn:ExclusiveGateway'}, {x: 470, y: 180});
  modeling.updateProperties(gw, {id: 'gw_manager'});
  const t2 = modeling.appendShape(gw, {type: 'bpmn:UserTask'}, {x: 610, y: 180});
  modeling.updateProperties(t2, {id: 'director_review'});
  modeling.moveElements([end], {x: 80, y: 0});
  const toEnd = modeling.connect(t2, end);
  modeling.updateProperties(toEnd, {id: 'f_director_end'});
  const rejected = modeling.appendShape(gw, {type: 'bpmn:EndEvent'}, {x: 470, y: 330});
  modeling.updateProperties(rejected, {id: 'end_rejected'});
  const flows = reg.filter(e => e.type === 'bpmn:SequenceFlow' && e.businessObject.sourceRef.id === 'gw_manager');
  flows.forEach(f => modeling.updateProperties(f, {
    id: f.businessObject.targetRef.id === 'director_review' ? 'f_approve' : 'f_reject'}));
  window.tfFlowDesigner.fit();
  return reg.getAll().length;
}"""


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    org = build_org(make_tessera(PACK))
    with org.tessera.db.write() as conn:
        conn.execute(pt.users.update().values(password_hash=_hash(), language="zh"))
    with live_server(create_app(org.tessera, extensions=[ui.app.install, builder.api.install])) as url:
        yield Site(org, url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=ARGS)
        yield chromium
        chromium.close()


def open_page(browser: Any, site: Site, who: str, path: str, viewport: dict[str, int] = DESKTOP) -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(site.url + path)
    page.fill("#username", who)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(site.url + path)
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"builder-{name}.png"), full_page=True)


def select_element(page: Any, element_id: str) -> None:
    if page.get_attribute("#flow-panel-body", "data-element") == element_id:
        return  # a second click on the selected shape would start editing its label
    page.click(f'.djs-element[data-element-id="{element_id}"]')
    page.wait_for_selector(f'#flow-panel-body[data-element="{element_id}"]')


def saved(page: Any) -> None:
    before = page.get_attribute("#flow-designer", "data-saved")
    page.click("#flow-save")
    page.wait_for_function("b => document.getElementById('flow-designer').getAttribute('data-saved') !== b", arg=before)


def bind_user_task(page: Any, element_id: str, name: str, role: str) -> None:
    select_element(page, element_id)
    page.fill("#fp-name", name)
    page.press("#fp-name", "Tab")
    select_element(page, element_id)
    page.select_option("#fp-form", "approval_decision")
    page.select_option("#fp-role", role)
    page.select_option("#fp-outcomes", "approve,reject")
    page.fill("#fp-due", "2")
    page.select_option("#fp-due-unit", "D")
    page.press("#fp-due", "Tab")


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl18_draw_bind_publish_and_run_a_two_step_approval_in_chromium(site: Site, browser: Any) -> None:
    page = open_page(browser, site, "admin", f"/builder/{PACK_ID}/flows/_new")
    page.fill("#flow-name", "两步审批")
    page.fill("#flow-id", "two_step")
    page.click("#new-flow-submit")
    page.wait_for_url(site.url + f"/builder/{PACK_ID}/flows/two_step.bpmn")
    page.wait_for_selector('#flow-designer[data-ready="true"]')
    assert page.evaluate(DRAW) > 5
    bind_user_task(page, "manager_review", "经理审批", "manager")
    bind_user_task(page, "director_review", "院长审批", "director")
    select_element(page, "start")
    page.check("#fp-starter-_")  # every signed-in user may start it
    select_element(page, "gw_manager")
    page.fill("#fp-cond-f_approve", "outcome = 'approve'")
    page.wait_for_selector('#fp-cond-f_approve[data-check="error"]')
    assert "表达式有误" in page.inner_text(".tf-flow-cond[data-flow='f_approve']")
    page.press("#fp-cond-f_approve", "Tab")
    page.check("#fp-cond-f_reject-default")
    page.click("#flow-save")  # refused: the condition is not in the expression language
    page.wait_for_selector("#flow-errors:not(.d-none)")
    assert page.locator("#flow-errors a.tf-flow-goto").count() >= 1
    assert page.get_attribute("#flow-designer", "data-saved") is None
    shot(page, "flow-error-desktop")
    select_element(page, "gw_manager")
    page.fill("#fp-cond-f_approve", "outcome == 'approve'")
    page.wait_for_selector('#fp-cond-f_approve[data-check="ok"]')
    page.press("#fp-cond-f_approve", "Tab")
    saved(page)
    assert page.locator("#flow-hints a.tf-flow-goto").count() == 0, page.inner_text("#flow-hints")
    select_element(page, "manager_review")
    assert page.input_value("#fp-form") == "approval_decision" and page.input_value("#fp-due") == "2"
    shot(page, "flow-desktop")
    xml = _draft_xml(site)
    assert 'name="role" value="manager"' in xml and 'name="due" value="P2D"' in xml
    assert "<spiffworkflow:properties>" in xml and "outcome == 'approve'" in xml

    page.goto(site.url + f"/builder/{PACK_ID}/publish")
    page.fill("#publish-comment", "新增两步审批流程")
    page.click("#publish-submit")
    page.wait_for_url(site.url + f"/builder/{PACK_ID}/versions")
    assert "新增两步审批流程" in page.inner_text("#version-2")
    page.context.close()

    run_to_completion(site)


def _draft_xml(site: Site) -> str:
    from builder.workspace import Workspace

    return Workspace(site.app).draft(PACK_ID).workflows["workflows/two_step.bpmn"]


def run_to_completion(site: Site) -> None:
    """Start the published flow as the requester, then claim and approve both steps on the task pages."""
    with site.client("req") as req:
        token = csrf_of(req.get("/").text)
        started = req.post(
            "/api/v1/workflows/two_step/start", json={"data": {"title": "CT"}}, headers={"X-CSRF-Token": token}
        )
        assert started.status_code == 201, started.text
        instance = started.json()["id"]
    for who, element in (("mgr", "manager_review"), ("dir", "director_review")):
        task = next(t for t in site.org.inbox(who) if t["element_id"] == element)
        with site.client(who) as client:
            page = dom(client.get(f"/tasks/{task['id']}").text)
            token = csrf_of(client.get("/tasks").text)
            if page.find_all(id="claim-task"):
                claimed = client.post(f"/tasks/{task['id']}/claim", data={"csrf_token": token})
                assert claimed.status_code == 303
            done = client.post(
                f"/tasks/{task['id']}",
                data={"csrf_token": token, "_outcome": "approve", "comment": "同意", "approved_amount": "100"},
            )
            assert done.status_code == 303, done.text
    assert site.app.workflows.instance(instance, site.org.ctx("admin"))["status"] == "completed"


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl18_builder_pages_at_desktop_and_tablet_size(site: Site, browser: Any) -> None:
    from tests.test_builder_versions_ui import require_amount

    site.app.records.create("wf_review", {"comment": "旧记录"}, site.org.ctx("admin"))
    require_amount(site.app)
    pages = [
        ("home", "/builder"),
        ("pack", f"/builder/{PACK_ID}"),
        ("publish", f"/builder/{PACK_ID}/publish"),
        ("versions", f"/builder/{PACK_ID}/versions"),
        ("diff", f"/builder/{PACK_ID}/diff"),
        ("upgrade", f"/builder/{PACK_ID}/upgrade"),
        ("flow", f"/builder/{PACK_ID}/flows/one_step_approval.bpmn"),
        ("rule-new", f"/builder/{PACK_ID}/rules/_new"),
    ]
    for size, viewport in (("desktop", DESKTOP), ("tablet", TABLET)):
        page = open_page(browser, site, "admin", "/builder", viewport)
        for name, path in pages:
            page.goto(site.url + path)
            if name == "flow":
                page.wait_for_selector('#flow-designer[data-ready="true"]')
                select_element(page, "approve")
            shot(page, f"{name}-{size}")
        page.context.close()


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl18_a_new_rule_is_built_in_the_form_style_editor_and_saved_to_the_draft(site: Site, browser: Any) -> None:
    page = open_page(browser, site, "admin", f"/builder/{PACK_ID}/rules/_new")
    page.fill("#ed-id", "tell_manager")
    page.fill("#ed-label-zh", "新审批意见通知经理")
    page.fill("#ed-entity", "wf_review")
    page.select_option("#ed-trigger-variant", label="记录事件")
    page.select_option("#ed-trigger-on", "create")
    page.fill("#ed-condition", "approved_amount >")
    page.wait_for_selector('#ed-condition[data-check="error"]')
    page.fill("#ed-condition", "approved_amount > 1000")
    page.wait_for_selector('#ed-condition[data-check="ok"]')
    page.click("#ed-actions-add")
    page.select_option("#ed-actions-0-variant", label="发送通知")
    page.click("#ed-actions-0-recipients-add")
    page.fill("#ed-actions-0-recipients-0-role", "manager")
    page.fill("#ed-actions-0-title", "有新的审批意见")
    page.press("#ed-actions-0-title", "Tab")
    shot(page, "rule-editor-desktop")
    page.click("#doc-save")
    page.wait_for_url(site.url + f"/builder/{PACK_ID}/rules/tell_manager")
    from builder.workspace import Workspace

    rule = Workspace(site.app).draft(PACK_ID).documents["rules/tell_manager.json"]
    assert rule["trigger"] == {"on": "create"} and rule["condition"] == "approved_amount > 1000"
    assert rule["actions"] == [{"type": "notify", "recipients": [{"role": "manager"}], "title": "有新的审批意见"}]
    assert page.input_value("#ed-actions-0-title") == "有新的审批意见"
    page.context.close()
