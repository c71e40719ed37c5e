"""RN-09 cooperation projects (项目管理): a liaison runs a project with a partner hospital through its stages
(立项 → 筹备 → 实施 → 运行), tracks milestones with owners and due dates, updates the progress; a milestone not
done after its due date is flagged overdue and its owner and the managers are told; the project's monthly
business data arrives as an Excel workbook imported on the import page (preview, then confirm; re-importing the
corrected file updates instead of duplicating) and is charted month by month for the project.

Real HTTP (API and the web pages), real users, the app clock moved forward; both databases.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook

from runtime.clock import FixedClock
from runtime.services import Tessera
from tests.support.rn_site import RnSite, rn_site

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = ["项目", "月份", "上转人次", "下转人次", "远程会诊例数", "培训人次", "专家坐诊人次", "业务收入（元）"]
HEADER.append("填表人")  # a column the entity does not have: ignored and named in the preview


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[RnSite]:
    yield from rn_site(make_tessera)


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    book.active.title = "项目数据"
    for row in rows:
        book.active.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has a CSRF token"
    return match.group(1)


def test_rn09_project_milestones_progress_and_imported_data_charted(site: RnSite, clock: FixedClock) -> None:
    hospital = site.hospital("澜州市人民医院", status="formal")
    li, mgr = site("li"), site("mgr")
    project = site.ok(
        li.post(
            "/api/v1/records/coop_project",
            json={"name": "澜州胸痛中心协同救治网络", "hospital": hospital, "cooperation_type": "two_way_referral",
                  "owner": site.users["li"], "co_owner": site.users["mgr"], "start_date": "2026-06-01",
                  "planned_end_date": "2027-06-30", "objectives": "建立胸痛患者双向转诊绿色通道"},
        ),
        201,
    )  # fmt: skip
    pid = project["id"]
    assert project["stage"] == "initiation" and project["code"].startswith("PRJ-2026-") and project["progress"] == 0

    # milestones with owners and due dates
    def milestone(name: str, due: str, owner: str) -> dict[str, Any]:
        data = {"project": pid, "name": name, "due_date": due, "owner": site.users[owner]}
        return site.ok(site(owner).post("/api/v1/records/project_milestone", json=data), 201)

    signed = milestone("签订合作框架协议", "2026-11-20", "li")
    team = milestone("组建联合项目组", "2026-11-30", "li")
    launch = milestone("信息系统对接上线", "2027-01-31", "mgr")  # the manager takes the IT work himself
    other = li.post(
        "/api/v1/records/project_milestone",
        json={"project": pid, "name": "x", "due_date": "2027-01-31", "owner": site.users["mgr"]},
    )
    assert other.status_code == 403  # a liaison cannot hand work to someone outside their own records
    assert signed["status"] == "pending"
    done = li.patch(f"/api/v1/records/project_milestone/{signed['id']}", json={"status": "done", "version": 1})
    assert done.status_code == 422 and done.json()["error"]["errors"][0]["field"] == "done_date"
    site.ok(
        li.patch(
            f"/api/v1/records/project_milestone/{signed['id']}",
            json={"status": "done", "done_date": "2026-11-18", "version": 1},
        )
    )

    # stages move by the record's actions only; progress is edited and tracked
    refused = li.patch(f"/api/v1/records/coop_project/{pid}", json={"stage": "operation", "version": 1})
    assert refused.status_code == 422 and refused.json()["error"]["errors"][0]["code"] == "state_via_action"
    for action in ("prepare", "implement"):
        site.ok(li.post(f"/api/v1/records/coop_project/{pid}/actions/{action}", json={}))
    current = site.ok(li.get(f"/api/v1/records/coop_project/{pid}"))
    current = site.ok(
        li.patch(f"/api/v1/records/coop_project/{pid}", json={"progress": 40, "version": current["version"]})
    )
    assert (current["stage"], current["progress"]) == ("implementation", 40)
    closing = li.post(f"/api/v1/records/coop_project/{pid}/actions/close", json={})
    assert closing.status_code in (403, 409)  # only a manager closes, and only a project in operation
    history = site.ok(li.get(f"/api/v1/records/coop_project/{pid}/history"))
    changed = {name for entry in history["items"] for name in (entry.get("changes") or {})}
    assert {"stage", "progress"} <= changed
    too_much = li.patch(f"/api/v1/records/coop_project/{pid}", json={"progress": 120, "version": current["version"]})
    assert too_much.status_code == 422 and too_much.json()["error"]["errors"][0]["field"] == "progress"

    # a milestone not done a day after its due date is flagged overdue; its owner and the managers are told
    site.app.jobs.run_pending()
    clock.set(datetime(2026, 12, 1, 2, 0))
    site.app.jobs.run_pending()
    assert site.ok(li.get(f"/api/v1/records/project_milestone/{team['id']}"))["status"] == "overdue"
    assert site.ok(li.get(f"/api/v1/records/project_milestone/{signed['id']}"))["status"] == "done"
    assert site.ok(mgr.get(f"/api/v1/records/project_milestone/{launch['id']}"))["status"] == "pending"
    for who in ("li", "mgr"):
        assert [n for n in site.notifications(who) if "里程碑逾期：组建联合项目组" in n["title"]], who
    overdue = site.ok(li.get("/api/v1/records/project_milestone", params={"status": "overdue"}))["items"]
    assert [m["name"] for m in overdue] == ["组建联合项目组"]

    # the project page lists its milestones (the manager sees his team's and his own)
    page = mgr.get(f"/r/coop_project/{pid}")
    assert page.status_code == 200 and "组建联合项目组" in page.text and "信息系统对接上线" in page.text

    # monthly project data from the partner's Excel: the liaison imports it on the import page
    rows = [
        HEADER,
        ["澜州胸痛中心协同救治网络", "2026-09", 20, 8, 5, 3, 30, 45000, "王主任"],
        ["澜州胸痛中心协同救治网络", "2026年10月", 26, 9, 6, 0, 34, "52,000", "王主任"],
        ["澜州胸痛中心协同救治网络", date(2026, 11, 1), 31, 12, 7, 6, 41, 61000.5, "王主任"],
    ]
    content = workbook(rows)
    importer = li.get("/r/project_data/import")
    assert importer.status_code == 200 and "项目 + 月份" in importer.text
    files = {"file": ("澜州项目数据.xlsx", content, XLSX)}
    preview = li.post("/r/project_data/import", data={"csrf_token": csrf(importer.text)}, files=files)
    assert preview.status_code == 200, preview.text
    assert preview.text.count('data-action="create"') == 3 and "填表人" in preview.text  # ignored column named
    assert site.ok(li.get("/api/v1/records/project_data", params={"project": pid}))["items"] == []
    form = dict(re.findall(r'<input type="hidden" name="(filename|sha256)" value="([^"]*)"', preview.text))
    chunks = re.findall(r'<input type="hidden" name="content" value="([^"]*)"', preview.text)
    confirm = li.post(
        "/r/project_data/import/confirm",
        data={"csrf_token": csrf(preview.text), **form, "content": chunks},
    )
    assert confirm.status_code == 200 and 'id="import-done"' in confirm.text
    stored = site.ok(li.get("/api/v1/records/project_data", params={"project": pid, "sort": "month"}))["items"]
    assert [(d["month"], d["up_referrals"], d["expert_clinics"]) for d in stored] == [
        ("2026-09-01", 20, 30),
        ("2026-10-01", 26, 34),
        ("2026-11-01", 31, 41),
    ]

    # the partner corrects October: the same file imported again (over the API this time) updates one row
    rows[2][2] = 28
    again = li.post(
        "/api/v1/records/project_data/import",
        params={"mode": "commit"},
        files={"file": ("澜州项目数据.xlsx", workbook(rows), XLSX)},
    )
    assert site.ok(again)["summary"] == {"create": 0, "update": 1, "unchanged": 2, "error": 0}

    # charted per project by month
    report = site.ok(li.get("/api/v1/reports/project_data_by_month", params={"project": str(pid)}))
    by_month = {r["values"]["rk_p"]: r["values"] for r in report["rows"] if r["level"] == "row"}
    assert (by_month["2026-10"]["up_referrals"], by_month["2026-11"]["up_referrals"]) == (28, 31)
    assert (by_month["2026-09"]["expert_clinics"], by_month["2026-08"]["up_referrals"]) == (30, 0)
    assert by_month["2026-11"]["revenue"] == pytest.approx(61000.5, abs=1)  # shown in whole yuan
    chart = li.get("/reports/project_data_by_month", params={"project": str(pid)})
    assert chart.status_code == 200 and "项目业务数据月度趋势" in chart.text and "echarts" in chart.text.lower()
    assert mgr.get("/reports/project_by_stage").status_code == 200


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_rn09_rn10_import_page_project_page_and_draft_task_in_chromium(site: RnSite, tmp_path: Any) -> None:
    """The liaison's pages in Chromium: import the project's Excel (preview, confirm), the project page with its
    milestones, the chart, and the contract-draft task opening with the contract's values. Screenshots kept."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    from tests.support.browser import require_chromium
    from tests.support.designer import ARGS, shot

    hospital = site.hospital("澜州市人民医院", status="formal")
    li = site("li")
    pid = site.ok(
        li.post(
            "/api/v1/records/coop_project",
            json={"name": "澜州远程心电会诊中心", "hospital": hospital, "owner": site.users["li"],
                  "start_date": "2026-05-01", "progress": 35, "cooperation_type": "remote_consultation"},
        ),
        201,
    )["id"]  # fmt: skip
    for name, due in (("签订合作框架协议", "2026-06-01"), ("设备安装调试", "2026-12-15")):
        data = {"project": pid, "name": name, "due_date": due, "owner": site.users["li"]}
        site.ok(li.post("/api/v1/records/project_milestone", json=data), 201)
    book = tmp_path / "项目数据.xlsx"
    rows = [HEADER[:-1]] + [
        ["澜州远程心电会诊中心", f"2026-{m:02d}", 10 + m, 4 + m // 2, 3 + m, m % 4, 20 + m, 30000 + 1000 * m]
        for m in range(5, 12)
    ]
    rows.append(["不存在的项目", "2026-11", 1, 1, 1, 1, 1, 1])
    book.write_bytes(workbook(rows))
    contract = site.ok(
        li.post(
            "/api/v1/records/contract",
            json={"title": "澜州市人民医院远程医疗服务协议", "hospital": hospital, "contract_type": "remote",
                  "start_date": "2027-01-01", "end_date": "2027-12-31", "liaison": site.users["li"], "amount": 80000},
        ),
        201,
    )  # fmt: skip
    li.post("/api/v1/workflows/contract_signing/start", json={"record": {"entity": "contract", "id": contract["id"]}})
    [draft] = site.inbox("li")

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            page.set_default_timeout(15_000)
            page.goto(site.url + "/login")
            page.fill("#username", "li")
            page.fill("#password", "Referral-test-pass-2026")
            page.click("#login-submit")
            page.wait_for_load_state()
            page.goto(site.url + "/v/project_data_list")
            page.click("#import-records")
            page.set_input_files("#f-file", str(book))
            page.click("#preview-import")
            page.wait_for_selector("#import-report")
            assert page.locator('tr[data-action="create"]').count() == 7
            assert page.locator('tr[data-action="error"]').count() == 1
            shot(page, "rn09_import_preview")
            page.click("#confirm-import")  # only the good rows
            page.wait_for_selector("#import-done")
            shot(page, "rn09_import_done")
            page.goto(site.url + f"/r/coop_project/{pid}")
            assert page.locator("text=设备安装调试").count() >= 1
            shot(page, "rn09_project_page")
            page.goto(site.url + f"/reports/project_data_by_month?project={pid}")
            page.wait_for_timeout(800)
            shot(page, "rn09_project_data_chart")
            page.goto(site.url + f"/tasks/{draft['id']}")
            assert page.input_value('[name="title"]') == "澜州市人民医院远程医疗服务协议"  # opens with the contract
            shot(page, "rn10_contract_draft_task")
        finally:
            browser.close()
    stored = site.ok(li.get("/api/v1/records/project_data", params={"project": pid, "limit": 50}))["items"]
    assert len(stored) == 7
