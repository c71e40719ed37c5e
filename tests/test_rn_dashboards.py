"""RN-12 and the managers' dashboards: liaisons compared side by side, over real HTTP.

The referral pack is deployed with its demo organisation only; the test makes the records (hospitals in the
charge of two liaisons, their leads, follow-ups, visit plans, business volume, contracts) and checks the
numbers the outreach manager reads on their dashboard (rn_board_manager) against that data: leads followed,
lead conversion, visits done vs planned, and the partners' business volume per liaison (a dimension through
the hospital's liaison). The clock is 2026-11-23, so "this year" is 2026.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.demo import demo_logins, load_organisation
from runtime.records import Context
from runtime.services import Tessera
from tests.support.html import Node, dom, sign_in
from tests.support.server import live_server

PACK = Path(__file__).parent.parent / "blueprints" / "referral_network"
SYSTEM = Context(channel="system", lang="en", is_admin=True)


@dataclass
class Network:
    app: Tessera
    url: str
    password: str
    ids: dict[str, int] = field(default_factory=dict)

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def make(self, key: str, entity: str, values: dict[str, Any]) -> int:
        self.ids[key] = self.app.records.create(entity, values, SYSTEM)["id"]
        return self.ids[key]

    def browser(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=60, headers={"Accept-Language": "en"})
        r = sign_in(client, username, self.password)
        assert r.status_code in (200, 303), r.text
        return client


@pytest.fixture
def network(make_tessera: Callable[..., Tessera]) -> Iterator[Network]:
    app = make_tessera(str(PACK))
    load_organisation(app, app.registry.packs["referral_network"])
    password, _ = demo_logins(app)
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        net = Network(app, url, password)
        _performance_data(net)
        yield net


def _performance_data(net: Network) -> None:
    """Two liaisons of team T1: liaison1 (2 hospitals) and liaison2 (1 hospital)."""
    l1, l2 = net.uid("rn.liaison1"), net.uid("rn.liaison2")
    formal = {"status": "formal", "cooperation_type": ["two_way_referral"], "signed_date": "2025-06-01"}
    net.make("h1", "partner_hospital", {"name": "东湖区人民医院", "liaison": l1, **formal})
    net.make("h2", "partner_hospital", {"name": "西山县中医院", "liaison": l1, **formal})
    net.make("h3", "partner_hospital", {"name": "南河镇卫生院", "liaison": l2, **formal})
    net.make("h4", "partner_hospital", {"name": "北岭县医院", "liaison": net.uid("rn.liaison6"), **formal})  # team T2
    # leads registered this year: liaison1 4 (1 converted), liaison2 2 (both converted); one of 2025 is not counted
    for key, owner, status, day in (("a1", l1, "following", "2026-02-10"), ("a2", l1, "following", "2026-03-01"),
                                    ("a3", l1, "converted", "2026-04-15"), ("a4", l1, "closed", "2026-05-20"),
                                    ("b1", l2, "converted", "2026-01-05"), ("b2", l2, "converted", "2026-07-07"),
                                    ("old", l2, "following", "2025-11-01")):  # fmt: skip
        values = {"hospital_name": f"线索{key}", "source": "visit", "owner": owner, "status": status,
                  "registered_on": day, "next_follow_date": "2026-12-01"}  # fmt: skip
        if status == "converted":
            values.update(hospital=net.ids["h3" if owner == l2 else "h1"], converted_on=day)
        if status == "closed":
            values["close_reason"] = "院方无意向"
        net.make(key, "coop_lead", values)
    # follow-ups: liaison1 three on two leads; liaison2 one on a lead and one about a hospital only
    for key, who, lead, day in (("f1", l1, "a1", "2026-03-02"), ("f2", l1, "a1", "2026-04-02"),
                                ("f3", l1, "a2", "2026-05-02"), ("f4", l2, "b1", "2026-02-01"),
                                ("f5", l2, None, "2026-06-01")):  # fmt: skip
        values = {"subject": f"跟进{key}", "method": "phone", "content": "电话沟通转诊合作事宜", "follower": who,
                  "follow_date": day, "hospital": net.ids["h3" if who == l2 else "h1"]}  # fmt: skip
        if lead:
            values["lead"] = net.ids[lead]
        net.make(key, "follow_up", values)
    # visit plans: liaison1 planned 2 (1 done, 1 ahead) + 1 cancelled (not counted); liaison2 2 done of 2
    visits = (("v1", l1, "h1", "2026-10-10", "done"), ("v2", l1, "h2", "2026-11-28", "planned"),
              ("v3", l1, "h2", "2026-09-01", "cancelled"), ("v4", l2, "h3", "2026-06-06", "done"),
              ("v5", l2, "h3", "2026-08-08", "done"))  # fmt: skip
    for key, who, hosp, day, status in visits:
        values = {"subject": f"拜访{key}", "hospital": net.ids[hosp], "liaison": who, "planned_date": day,
                  "status": status}  # fmt: skip
        if status == "done":
            values.update(done_date=day, contact_met="医务科主任", content="沟通双向转诊流程", outcome="progress",
                          feedback=4)  # fmt: skip
        if status == "cancelled":
            values["cancel_reason"] = "院方会议冲突"
        net.make(key, "visit_plan", values)
    # business volume: liaison1's hospitals 15 + 20 this year (9 last year), liaison2's 7, team T2's liaison6 50
    for key, hosp, month, up, down in (("m1", "h1", "2026-03-01", 10, 5), ("m2", "h2", "2026-06-01", 12, 8),
                                       ("m3", "h3", "2026-02-01", 4, 3), ("m0", "h1", "2025-03-01", 9, 0),
                                       ("m4", "h4", "2026-05-01", 30, 20)):  # fmt: skip
        net.make(key, "business_volume", {"hospital": net.ids[hosp], "month": month, "up_referrals": up,
                                          "down_referrals": down})  # fmt: skip
    # contracts: one ends within 90 days (listed on the dashboard), one next summer (not listed)
    net.make("c1", "contract", {"title": "东湖区双向转诊协议", "hospital": net.ids["h1"], "start_date": "2025-12-21",
                                "end_date": "2026-12-20", "status": "active", "liaison": l1})  # fmt: skip
    net.make("c2", "contract", {"title": "南河镇远程会诊协议", "hospital": net.ids["h3"], "start_date": "2026-06-01",
                                "end_date": "2027-06-01", "status": "active", "liaison": l2})  # fmt: skip


def _combined(board: dict[str, Any]) -> dict[str, Any]:
    return next(i for i in board["items"] if i.get("kind") == "combined")["result"]


def test_rn12_liaison_performance_side_by_side(network: Network) -> None:
    manager = network.browser("rn.manager1")
    board = manager.get("/api/v1/dashboards/rn_board_manager")
    assert board.status_code == 200, board.text
    assert all("error" not in item for item in board.json()["items"]), board.json()
    combined = _combined(board.json())
    keys = {c["label"]: c["key"] for c in combined["columns"]}  # the demo people read Chinese
    assert list(keys) == ["跟进线索数", "登记线索", "转化率", "完成拜访", "计划拜访",
                          "拜访完成率", "负责医院业务量"]  # fmt: skip
    rows = {r["key"]: {label: r["values"][key] for label, key in keys.items()} for r in combined["rows"]}
    l1, l2 = network.uid("rn.liaison1"), network.uid("rn.liaison2")
    assert rows[l1] == {"跟进线索数": 2, "登记线索": 4, "转化率": 25.0, "完成拜访": 1,
                        "计划拜访": 2, "拜访完成率": 50.0, "负责医院业务量": 35}  # fmt: skip
    assert rows[l2] == {"跟进线索数": 1, "登记线索": 2, "转化率": 100.0, "完成拜访": 2,
                        "计划拜访": 2, "拜访完成率": 100.0, "负责医院业务量": 7}  # fmt: skip
    assert set(rows) == {l1, l2}, "team T1's liaisons only, though the volume of every hospital is readable"
    total = {label: combined["total"]["values"][key] for label, key in keys.items()}
    assert total == {"跟进线索数": 3, "登记线索": 6, "转化率": 50.0, "完成拜访": 3,
                     "计划拜访": 4, "拜访完成率": 75.0, "负责医院业务量": 42}  # fmt: skip

    # the same table on the manager's home page, liaisons by name
    html = dom(manager.get("/dashboards/_home").text)
    table = html.find("section", **{"data-kind": "combined"}).find("table")
    lines = [[c.text().strip() for c in tr.children if isinstance(c, Node) and c.tag in ("th", "td")]
             for tr in table.find_all("tr")]  # fmt: skip
    by_name = {line[0]: line[1:] for line in lines[1:]}
    name1 = network.app.users.get(l1).display_name
    assert by_name[name1] == ["2", "4", "25.0%", "1", "2", "50.0%", "35"]
    assert lines[-1] == ["合计", "3", "6", "50.0%", "3", "4", "75.0%", "42"]

    # each column is its own report: the volume per liaison follows the hospital's liaison, with last year beside it
    volume = manager.get("/api/v1/reports/perf_volume").json()
    row = next(r for r in volume["rows"] if r["level"] == "row" and r["values"]["rk_d0"] == name1)
    assert (row["values"]["total"], row["values"]["total__yoy"]) == (35, 9)


def test_rn12_manager_dashboard_lists_contracts_ending_and_rankings(network: Network) -> None:
    manager = network.browser("rn.manager1")
    board = manager.get("/api/v1/dashboards/rn_board_manager").json()
    ending = next(i for i in board["items"] if i.get("kind") == "schedule")["result"]["records"]
    assert [r["id"] for r in ending] == [network.ids["c1"]]
    top = next(i for i in board["items"] if i.get("report") == "home_volume_top")["result"]
    names = [r["values"]["rk_d0"] for r in top["rows"] if r["level"] == "row"]
    assert names == ["北岭县医院", "西山县中医院", "东湖区人民医院", "南河镇卫生院"]  # largest volume first
    page = manager.get("/")
    assert page.status_code == 200
    home = manager.get("/dashboards/_home")
    assert home.status_code == 200 and 'data-kind="combined"' in home.text and "东湖区双向转诊协议" in home.text
    leader = network.browser("rn.leader")
    leader_board = leader.get("/api/v1/dashboards/rn_board_leader").json()
    assert all("error" not in item for item in leader_board["items"]), leader_board
    whole = _combined(leader_board)  # the leader sees both teams: liaison6 and their hospital's volume too
    assert whole["total"]["values"]["c6"] == 92 and whole["total"]["values"]["c0"] == 3
    assert next(r for r in whole["rows"] if r["key"] == network.uid("rn.liaison6"))["values"]["c6"] == 50


def test_rn12_manager_home_dashboard_in_chromium(network: Network) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    from tests.conftest import REPO
    from tests.support.browser import require_chromium

    network.app.jobs.run_pending()  # the heat scores of the hospitals (background worker)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=require_chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            page.set_default_timeout(20_000)
            page.goto(network.url + "/login?next=/")
            page.fill("#username", "rn.manager1")
            page.fill("#password", network.password)
            page.click("#login-submit")
            page.wait_for_selector('#dashboard-rn_board_manager [data-kind="combined"] table')
            page.wait_for_selector("#dashboard-rn_board_manager [data-echart] :is(canvas, svg)")
            table = page.locator('[data-kind="combined"] table').inner_text()
            assert "负责医院业务量" in table and "50.0%" in table
            assert "东湖区双向转诊协议" in page.locator('[data-kind="schedule"]').inner_text()
            (REPO / "test-artifacts").mkdir(exist_ok=True)
            page.locator("#home-dashboard").screenshot(path=str(REPO / "test-artifacts" / "rn12_manager_dashboard.png"))
        finally:
            browser.close()
