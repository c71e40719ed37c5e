"""PL-15 in the browser's pages: the task inbox (我的待办), a task's page with its blueprint form and outcome
buttons, claim / delegate / reassign, a record's 流程 card, the instance page with its bpmn-js diagram, and
the overdue reminder on the home page.

Real HTTP against a live uvicorn with the UI installed, on SQLite and PostgreSQL (the workflow test pack and
its people from tests/test_workflows_host.py: mgr manages req's ward, dir/dir2 are directors, other has no
role). The clock is the FixedClock fixture, so due and overdue marks are exact. The last test drives Chromium.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.identity.passwords import hash_password
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.html import Node, csrf_of, dom, field_errors, sign_in
from tests.support.server import live_server
from tests.test_workflows_host import PACK, Org, build_org

PASSWORD = "Workflow-ui-pass-2026"
BIG = {"amount": 20000, "type": "equipment", "title": "CT 扫描仪", "signoff": "none"}


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Site:
    org: Org
    url: str

    @contextmanager
    def client(self, who: str) -> Iterator[httpx.Client]:
        """Signed in as ``who`` (Chinese UI), following no redirects so tests can check them."""
        with httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
            r = sign_in(client, who, PASSWORD)
            assert r.status_code == 303, r.text
            yield client

    def start(self, process: str = "approval", data: dict | None = None, record: tuple[str, int] | None = None) -> dict:
        return self.org.wf.start(process, dict(data or BIG), self.org.ctx("req"), record=record)

    def task_of(self, who: str, element: str) -> dict:
        found = [t for t in self.org.inbox(who) if t["element_id"] == element]
        assert len(found) == 1, self.org.inbox(who)
        return found[0]


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    org = build_org(make_tessera(PACK))
    with org.tessera.db.write() as conn:
        conn.execute(pt.users.update().values(password_hash=_hash(), language="zh"))
    with live_server(create_app(org.tessera, extensions=[ui.app.install])) as url:
        yield Site(org, url)


def inbox_row(page: Node, task_id: int) -> Node:
    return page.by_id(f"task-{task_id}")


def post_task(client: httpx.Client, task_id: int, data: dict) -> httpx.Response:
    token = csrf_of(client.get(f"/tasks/{task_id}").text)
    return client.post(f"/tasks/{task_id}", data={"csrf_token": token, **data})


# the inbox ----------------------------------------------------------------------------------------------
def test_pl15_inbox_lists_my_task_and_a_pool_task_and_marks_them_overdue(site: Site, clock: FixedClock) -> None:
    first = site.start()
    site.org.wf.complete(site.task_of("mgr", "manager_review")["id"], {}, site.org.ctx("mgr"), outcome="approve")
    second = site.start(data={**BIG, "title": "B 超"})
    pool = site.task_of("dir", "director_review")
    assert pool["instance_id"] == first["id"]
    mine = site.task_of("mgr", "manager_review")
    assert mine["instance_id"] == second["id"]
    site.org.wf.reassign(mine["id"], site.org.users["dir"], site.org.ctx("admin"))
    with site.client("dir") as dir_:
        page = dom(dir_.get("/tasks").text)
        pooled, assigned = inbox_row(page, pool["id"]), inbox_row(page, mine["id"])
        assert "院长审批" in pooled.text() and "审批" in pooled.text()
        assert pooled.find_all(id=f"claim-{pool['id']}") and "待认领" in pooled.text()
        assert (
            "经理审批" in assigned.text()
            and "我" in assigned.text()
            and not assigned.find_all(id=f"claim-{mine['id']}")
        )
        assert "2026-11-25 17:30" in assigned.text()  # PT48H from 09:30 UTC, shown in the hospital's time (UTC+8)
        assert [n.attrs["data-due"] for n in page.by_id("inbox-table").find_all(class_="tf-due")] == ["later", "later"]
        assert "2" in dir_.get("/tasks/_count").text
        clock.advance(hours=47)
        soon = dom(dir_.get("/tasks").text)
        assert len(soon.by_id("inbox-table").find_all("span", **{"data-due": "soon"})) == 2
        clock.advance(hours=2)
        late = dom(dir_.get("/tasks").text)
        overdue = late.by_id("inbox-table").find_all("span", **{"data-due": "overdue"})
        assert len(overdue) == 2 and "is-overdue" in overdue[0].classes and "已逾期" in overdue[0].text()
        assert "2 项已逾期" in late.by_id("overdue-count").text()
        assert "text-bg-danger" in dir_.get("/tasks/_count").text
        home = dom(dir_.get("/").text)
        assert home.by_id("task-reminder-count").text() == "2" and "院长审批" in home.by_id("task-reminder").text()
        only_overdue = dom(dir_.get("/tasks?status=overdue&q=经理").text)
        assert len(only_overdue.find("table").find_all("tr", **{"data-element": "manager_review"})) == 1
        assert only_overdue.find_all("tr", **{"data-element": "director_review"}) == []
    with site.client("other") as other:
        page = dom(other.get("/tasks").text)
        assert page.find_all(id=f"task-{pool['id']}") == [] and "待办已全部处理完毕" in page.by_id("inbox-empty").text()
        assert other.get(f"/tasks/{mine['id']}").status_code == 404
        assert dom(other.get("/").text).find_all(id="task-reminder") == []


# a task's page ------------------------------------------------------------------------------------------
def test_pl15_approve_in_the_form_claim_the_pool_task_and_see_inline_errors(site: Site) -> None:
    site.start()
    task = site.task_of("mgr", "manager_review")
    with site.client("mgr") as mgr:
        page = dom(mgr.get(f"/tasks/{task['id']}").text)
        assert page.by_id("outcome-approve").text().strip() == "同意" and "驳回" in page.by_id("outcome-reject").text()
        assert page.find("form", id="record-form").attrs["hx-post"] == "/r/wf_review/_form?form=approval_decision"
        assert "发起" in page.by_id("wf-history").text() and "REQ" in page.by_id("task-starter").text()
        r = post_task(mgr, task["id"], {"_outcome": "approve", "comment": "同意采购", "approved_amount": "19,000"})
        assert r.status_code == 303 and r.headers["location"] == "/tasks"
        assert "已办理" in mgr.get("/tasks").text
    pool = site.task_of("dir", "director_review")
    assert pool["pool"] is True
    with site.client("dir") as dir_:
        page = dom(dir_.get(f"/tasks/{pool['id']}").text)
        assert page.find_all(id="record-form") == [] and page.by_id("claim-task")
        claimed = dir_.post(f"/tasks/{pool['id']}/claim", data={"csrf_token": csrf_of(dir_.get("/tasks").text)})
        assert claimed.status_code == 303 and claimed.headers["location"] == f"/tasks/{pool['id']}"
        assert site.task_of("dir", "director_review")["assignee_id"] == site.org.users["dir"]
        with site.client("dir2") as dir2:
            assert dom(dir2.get("/tasks").text).find_all(id=f"task-{pool['id']}") == []
        bad = post_task(dir_, pool["id"], {"_outcome": "approve", "comment": "好", "approved_amount": "很多"})
        assert bad.status_code == 422
        page = dom(bad.text)
        assert (
            field_errors(page, "approved_amount")
            and page.find("input", name="approved_amount").attrs["value"] == "很多"
        )
        assert page.find("textarea", name="comment").text() == "好"
        too_long = post_task(dir_, pool["id"], {"_outcome": "approve", "comment": "长" * 2001})
        assert too_long.status_code == 422 and field_errors(dom(too_long.text), "comment")  # the host's own check
        ok = post_task(dir_, pool["id"], {"_outcome": "approve", "comment": "批准", "approved_amount": "18000"})
        assert ok.status_code == 303
    done = site.org.wf.instance(pool["instance_id"], site.org.ctx("admin"))
    assert done["status"] == "completed"
    approvals = [e["detail"].get("outcome") for e in done["history"] if e["kind"] == "task_completed"]
    assert approvals == ["approve", "approve"]


def test_pl15_reject_with_a_comment_returns_the_request_to_the_requester(site: Site) -> None:
    site.start()
    task = site.task_of("mgr", "manager_review")
    with site.client("mgr") as mgr:
        r = post_task(mgr, task["id"], {"_outcome": "reject", "comment": "请补充第二家供应商报价"})
        assert r.status_code == 303
    revise = site.task_of("req", "revise")
    with site.client("req") as req:
        page = dom(req.get(f"/tasks/{revise['id']}").text)
        assert page.by_id("task-title").text() == "修改或撤回申请"
        history = page.by_id("wf-history").text()
        assert "驳回" in history and "请补充第二家供应商报价" in history and "MGR" in history
        assert page.by_id("outcome-resubmit") and page.by_id("outcome-abandon")
        inbox = dom(req.get("/tasks").text)
        assert "修改或撤回申请" in inbox_row(inbox, revise["id"]).text()


def test_pl15_delegate_and_reassign_from_the_task_page(site: Site) -> None:
    site.start()
    task = site.task_of("mgr", "manager_review")
    with site.client("mgr") as mgr:
        page = dom(mgr.get(f"/tasks/{task['id']}").text)
        assert page.by_id("delegate-form") and page.by_id("reassign-form")  # mgr is a manager
        token = csrf_of(mgr.get(f"/tasks/{task['id']}").text)
        empty = mgr.post(f"/tasks/{task['id']}/delegate", data={"csrf_token": token, "user_id": ""})
        assert empty.status_code == 303 and "请选择一位用户" in mgr.get(f"/tasks/{task['id']}").text
        r = mgr.post(f"/tasks/{task['id']}/delegate", data={"csrf_token": token, "user_id": site.org.users["dir2"]})
        assert r.status_code == 303 and "已转交给 DIR2" in mgr.get("/tasks").text
    assert site.task_of("dir2", "manager_review")["id"] == task["id"]
    with site.client("req") as req:  # the starter sees the task, but may not reassign it
        page = dom(req.get(f"/tasks/{task['id']}").text)
        assert page.find_all(id="reassign-form") == [] and page.find_all(id="delegate-form") == []
        token = csrf_of(req.get(f"/tasks/{task['id']}").text)
        refused = req.post(
            f"/tasks/{task['id']}/reassign", data={"csrf_token": token, "user_id": site.org.users["req"]}
        )
        assert refused.status_code == 303 and "无法改派" in req.get(f"/tasks/{task['id']}").text
    with site.client("dir2") as dir2:
        token = csrf_of(dir2.get(f"/tasks/{task['id']}").text)
        assert dom(dir2.get(f"/tasks/{task['id']}").text).find_all(id="reassign-form") == []  # not a manager
    with site.client("admin") as admin:
        token = csrf_of(admin.get(f"/tasks/{task['id']}").text)
        r = admin.post(f"/tasks/{task['id']}/reassign", data={"csrf_token": token, "user_id": site.org.users["dir"]})
        assert r.status_code == 303
    assert site.task_of("dir", "manager_review")["id"] == task["id"]
    history = site.org.wf.instance(task["instance_id"], site.org.ctx("admin"))["history"]
    assert [e["kind"] for e in history][-2:] == ["task_delegated", "task_reassigned"]


# a record's workflows, the instance page, starting ------------------------------------------------------
def test_pl15_record_page_lists_its_workflow_and_the_instance_page_marks_the_current_step(site: Site) -> None:
    admin_ctx = site.org.ctx("admin")
    case = site.org.tessera.records.create("mdt_case", {"patient": "王五"}, admin_ctx)
    started = site.start(record=("mdt_case", case["id"]))
    with site.client("req") as req:
        detail = dom(req.get(f"/r/mdt_case/{case['id']}").text)
        slot = detail.by_id("record-workflows-body")
        assert slot.attrs["hx-get"] == f"/r/mdt_case/{case['id']}/workflows"
        card = dom(req.get(slot.attrs["hx-get"]).text)
        row = card.find("li", **{"data-instance": str(started["id"])})
        assert "审批" in row.text() and "进行中" in row.text() and "经理审批" in row.text() and "MGR" in row.text()
        assert row.find("a").attrs["href"] == f"/workflows/instances/{started['id']}"
        page = dom(req.get(f"/workflows/instances/{started['id']}").text)
        diagram = page.by_id("wf-diagram")
        assert diagram.attrs["data-current"] == "manager_review" and diagram.attrs["data-completed"] == ""
        assert "bpmndi:BPMNDiagram" in page.by_id("wf-diagram-xml").text()
        assert "发起" in page.by_id("wf-history").text() and page.by_id("withdraw")
        assert page.by_id("instance-current").find("li", **{"data-element": "manager_review"})
    with site.client("other") as other:
        assert other.get(f"/workflows/instances/{started['id']}").status_code == 404


def test_pl15_start_a_process_from_the_process_list(site: Site) -> None:
    with site.client("req") as req:
        listing = dom(req.get("/workflows").text)
        assert listing.by_id("start-approval") and "合同签约" in listing.by_id("process-list").text()
        page = req.get("/workflows/start/approval")
        assert page.status_code == 200 and dom(page.text).by_id("start-no-form")
        r = req.post("/workflows/start/approval", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303 and r.headers["location"].startswith("/workflows/instances/")
        assert req.get("/workflows/start/nope").status_code == 404
    assert site.task_of("mgr", "manager_review")


# Chromium ------------------------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl15_approve_in_chromium_and_see_the_diagram(site: Site) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    case = site.org.tessera.records.create("mdt_case", {"patient": "王五"}, site.org.ctx("admin"))
    started = site.start(record=("mdt_case", case["id"]))
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(site.url + "/tasks")
            page.fill("#username", "mgr")
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_url(site.url + "/tasks")
            assert page.locator("#tasks-count").inner_text() == "1"
            page.click("#inbox-table a.tf-row-link")
            page.wait_for_selector("#record-form")
            page.fill("#fw-comment textarea", "同意，按预算执行")
            page.fill("#fw-approved_amount input", "18000")
            _shot(page, "task-desktop")
            page.click("#outcome-approve")
            page.wait_for_url(site.url + "/tasks")
            assert page.locator("#inbox-empty").is_visible()
            assert page.locator("#tasks-count").count() == 0
            page.goto(site.url + f"/workflows/instances/{started['id']}")
            page.wait_for_selector("#wf-diagram[data-rendered=true] svg")
            current = page.locator('#wf-diagram .djs-element.tf-wf-current[data-element-id="director_review"]')
            assert current.count() == 1
            assert page.locator('#wf-diagram .tf-wf-done[data-element-id="manager_review"]').count() == 1
            svg_text = page.locator("#wf-diagram svg").first.text_content() or ""
            assert "经理审批" in svg_text and "Manager review" not in svg_text  # zh labels, English ids kept
            _shot(page, "instance-desktop")
            page.goto(site.url + "/tasks?status=done")
            assert "王五" in page.locator("#inbox-table").inner_text()  # the linked record, from the host's row
            _shot(page, "done-desktop")
            second = site.start(data={**BIG, "title": "B 超"})
            task = next(t for t in site.org.inbox("mgr") if t["instance_id"] == second["id"])
            page.goto(site.url + f"/tasks/{task['id']}")
            page.click("#outcome-reject")
            page.wait_for_selector("#fe-comment .tf-error")
            assert "理由" in page.locator("#fe-comment").inner_text()
            _shot(page, "reject-needs-comment")
            page.set_viewport_size({"width": 390, "height": 844})
            page.goto(site.url + "/tasks?status=done")
            _shot(page, "done-mobile")
        finally:
            browser.close()


def _shot(page, name: str) -> None:  # noqa: ANN001 - a Playwright page
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"tasks-{name}.png"), full_page=True)


ONE_STEP = Path(__file__).parent / "packs" / "workflow_pack" / "workflows" / "one_step_approval.bpmn"
START_PROPS = (
    '<spiffworkflow:property name="entity" value="mdt_case"/>'
    '<spiffworkflow:property name="form" value="approval_revise"/>'
    '<spiffworkflow:property name="starter_roles" value="doctor"/>'
)


def test_pl15_start_a_declared_process_from_a_record_with_its_start_form(site: Site) -> None:
    xml = ONE_STEP.read_text("utf-8").replace('value="approver"', 'value="requester"')
    xml = xml.replace('<spiffworkflow:property name="starter_roles" value="*"/>', START_PROPS)
    site.org.wf.register_bpmn(xml, "test/one_step_for_cases.bpmn")
    case = site.org.tessera.records.create("mdt_case", {"patient": "王五"}, site.org.ctx("admin"))
    with site.client("req") as req:
        card = dom(req.get(f"/r/mdt_case/{case['id']}/workflows").text)
        start = card.by_id("start-one_step_approval")
        assert start.attrs["href"] == f"/workflows/start/one_step_approval?entity=mdt_case&record={case['id']}"
        page = req.get(start.attrs["href"])
        assert dom(page.text).find("textarea", name="comment") and "王五" in dom(page.text).by_id("start-record").text()
        bad = req.post(start.attrs["href"], data={"csrf_token": csrf_of(page.text), "comment": "长" * 2001})
        assert bad.status_code == 422 and field_errors(dom(bad.text), "comment")
        assert dom(bad.text).find("textarea", name="comment").text() == "长" * 2001
        ok = req.post(start.attrs["href"], data={"csrf_token": csrf_of(page.text), "comment": "请审批"})
        assert ok.status_code == 303
        instance = int(ok.headers["location"].rsplit("/", 1)[1])
        assert req.get(f"/workflows/start/one_step_approval?entity=contract&record={case['id']}").status_code == 404
    view = site.org.wf.instance(instance, site.org.ctx("admin"))
    assert view["record"] == {"entity": "mdt_case", "id": case["id"]} and view["current"][0]["element_id"] == "approve"


def test_pl15_zh_diagrams_name_every_element_of_the_shipped_processes_in_chinese() -> None:
    """No English-only labels on zh pages: every named element of workflows/*.bpmn has a catalogue label."""
    from lxml import etree

    from ui.routes.tasks_common import BPMN_NAMED, element_label, localise_bpmn

    for path in sorted((Path(__file__).parent.parent / "workflows").glob("*.bpmn")):
        xml = path.read_text("utf-8")
        root = etree.fromstring(xml.encode("utf-8"))
        process_id = next(el.get("id") for el in root.iter() if etree.QName(el).localname == "process")
        named = [
            el.get("id")
            for el in root.iter()
            if isinstance(el.tag, str) and etree.QName(el).localname in BPMN_NAMED and el.get("name")
        ]
        missing = [e for e in named if element_label("zh", process_id, e) is None]
        assert missing == [], f"{path.name}: no zh label for {missing}"
        zh = etree.fromstring(localise_bpmn(xml, process_id, "zh").encode("utf-8"))
        drawn = (*BPMN_NAMED, "participant", "process")  # what bpmn-js labels (not properties or data items)
        names = [
            el.get("name")
            for el in zh.iter()
            if isinstance(el.tag, str) and etree.QName(el).localname in drawn and el.get("name")
        ]
        assert names and not [n for n in names if n.isascii()], names
        assert localise_bpmn(xml, process_id, "en").count('id="start"') == 1  # ids untouched


def test_pl15_a_rejection_without_a_comment_shows_a_field_error_on_the_form(site: Site) -> None:
    site.start()
    task = site.task_of("mgr", "manager_review")
    with site.client("mgr") as mgr:
        r = post_task(mgr, task["id"], {"_outcome": "reject", "comment": "  "})  # the form's own comment field
        assert r.status_code == 422
        page = dom(r.text)
        assert "驳回" in field_errors(page, "comment") and "理由" in field_errors(page, "comment")
        assert site.task_of("mgr", "manager_review")["status"] == "ready"
        ok = post_task(mgr, task["id"], {"_outcome": "reject", "comment": "请补充报价"})
        assert ok.status_code == 303


def test_pl15_only_starters_see_the_start_button_and_page(site: Site) -> None:
    case = site.org.tessera.records.create("mdt_case", {"patient": "赵六"}, site.org.ctx("admin"))
    with site.client("req") as req:  # a doctor: mdt_consultation names starter_roles=doctor
        card = dom(req.get(f"/r/mdt_case/{case['id']}/workflows").text)
        assert card.by_id("start-mdt_consultation")
        assert "MDT" in req.get("/workflows").text
    with site.client("other") as other:  # no role
        card = dom(other.get(f"/r/mdt_case/{case['id']}/workflows").text)
        assert card.find_all("a", id="start-mdt_consultation") == []
        assert "start-mdt_consultation" not in other.get("/workflows").text
        assert other.get(f"/workflows/start/mdt_consultation?entity=mdt_case&record={case['id']}").status_code == 403
        token = csrf_of(other.get("/tasks").text)
        assert other.post("/workflows/start/mdt_consultation", data={"csrf_token": token}).status_code == 403


def test_pl15_done_by_me_is_paginated_with_every_task(site: Site) -> None:
    from ui.routes import tasks_inbox

    for n in range(3):
        site.start(data={**BIG, "title": f"单 {n}"})
    for task in site.org.inbox("mgr"):
        site.org.wf.complete(task["id"], {}, site.org.ctx("mgr"), outcome="approve")
    original = tasks_inbox.DONE_PAGE
    tasks_inbox.DONE_PAGE = 2
    try:
        with site.client("mgr") as mgr:
            first = dom(mgr.get("/tasks?status=done").text)
            assert "共 3 项" in first.by_id("inbox-total").text() and "第 1 / 2 页" in first.by_id("done-page").text()
            second = dom(mgr.get(first.by_id("done-next").attrs["href"]).text)
            assert "第 2 / 2 页" in second.by_id("done-page").text()
            rows = [n for page in (first, second) for n in page.find_all("tr") if n.attrs.get("data-task")]
            assert len({n.attrs["data-task"] for n in rows}) == 3
            assert "REQ 发起" in first.by_id("inbox-table").text()
    finally:
        tasks_inbox.DONE_PAGE = original
