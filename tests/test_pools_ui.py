"""Pool page and score panel in the web UI (PL-11, PL-12): the pool page lists pool records with claim
buttons, my holdings with release, a manager's assign picker and the caps ("今日已领 1/2"); the record page
shows each score with its explanation and grade history; Chromium screenshots of both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.storage import platform_tables as pt
from tests.support.browser import require_chromium
from tests.support.html import csrf_of, dom
from tests.support.server import live_server
from tests.test_pools_world import PASSWORD, World, build_world

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def world(make_tessera) -> World:
    return build_world(make_tessera)


@pytest.fixture
def url(world: World) -> Iterator[str]:
    with live_server(create_app(world.app, extensions=[ui.app.install])) as base:
        yield base


def _page_client(url: str, who: str, lang: str = "zh") -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30, follow_redirects=True)
    client.cookies.set("lang", lang)
    login = client.get("/login")
    r = client.post(
        "/login", data={"username": who, "password": PASSWORD, "csrf_token": csrf_of(login.text), "next": "/"}
    )
    assert r.status_code == 200, r.text[:500]
    return client


def _scored_hospital(w: World) -> int:
    now = w.app.clock.now()
    h = w.create(
        "hospital",
        {"name": "市第一医院", "referrals_ytd": 25, "last_referral_at": (now - timedelta(days=30)).isoformat()},
    )
    for days in (1, 5, 20, 60):
        at = (now - timedelta(days=days)).isoformat()
        w.create("visit", {"summary": "拜访", "hospital": h["id"], "visited_at": at, "outcome": "done"})
    w.app.jobs.run_pending()
    for _ in range(5):
        w.create("visit", {"summary": "拜访", "hospital": h["id"], "visited_at": now.isoformat(), "outcome": "done"})
    w.app.jobs.run_pending()
    return h["id"]


def test_pl11_record_page_shows_the_score_its_explanation_and_grade_history(world: World, url: str) -> None:
    hid = _scored_hospital(world)
    client = _page_client(url, "mgr")
    page = dom(client.get(f"/r/hospital/{hid}").text)
    assert page.by_id("record-scores") is not None
    panel = dom(client.get(f"/r/hospital/{hid}/scores").text)
    assert panel.by_id("score-hospital_heat-value").text() == "64"
    assert panel.by_id("score-hospital_heat-grade").text() == "银牌"
    table = panel.by_id("score-hospital_heat-explanation").text()
    assert "近期拜访" in table and "近 90 天拜访记录条数 9" in table and "×0.6" in table
    assert "本年转诊量 = 25；最近 2026-10-24（30 天前，半衰期 30 天）" in table
    assert "铜牌 → 银牌" in panel.by_id("score-hospital_heat-history").text()
    ranking = dom(client.get("/scores/hospital_heat").text)
    assert "市第一医院" in ranking.by_id(f"rank-{hid}").text()
    api = world.client(url, "mgr").get("/api/v1/scores/hospital_heat/ranking").json()
    assert api["items"] == [{"rank": 1, "id": hid, "title": "市第一医院", "score": 64.0, "grade": "silver"}]
    explained = world.client(url, "mgr").get(f"/api/v1/scores/hospital_heat/records/{hid}").json()
    assert [c["id"] for c in explained["components"]] == ["visits", "referrals"]
    assert [(h["from"], h["to"]) for h in explained["history"]] == [("bronze", "silver"), (None, "bronze")]


def test_pl12_pool_page_claim_caps_release_and_assign(world: World, url: str) -> None:
    leads = [world.create("lead", {"name": f"线索 {i}", "status": "pool"})["id"] for i in range(1, 4)]
    li = _page_client(url, "li")
    page = li.get("/pools/lead_pool")
    assert dom(page.text).by_id("pool-claimed-today").text() == "今日已领 0/2"
    r = li.post(f"/pools/lead_pool/records/{leads[0]}/claim", data={"csrf_token": csrf_of(page.text)})
    shown = dom(r.text)
    assert shown.by_id("pool-claimed-today").text() == "今日已领 1/2"
    assert shown.by_id(f"mine-{leads[0]}") is not None and shown.by_id(f"release-{leads[0]}") is not None
    record = dom(li.get(f"/r/lead/{leads[0]}/scores").text)
    assert "由 李联络 持有" in record.by_id("pool-status-lead_pool").text()
    r = li.post(f"/pools/lead_pool/records/{leads[0]}/release", data={"csrf_token": csrf_of(r.text)})
    assert dom(r.text).by_id(f"claim-{leads[0]}") is not None
    mgr = _page_client(url, "mgr")
    page = mgr.get("/pools/lead_pool")
    assert dom(page.text).by_id(f"assign-user-{leads[1]}") is not None
    r = mgr.post(
        f"/pools/lead_pool/records/{leads[1]}/assign",
        data={"csrf_token": csrf_of(page.text), "user_id": str(world.users["zhao"])},
    )
    assert dom(r.text).by_id(f"held-{leads[1]}") is not None
    assert world.get("lead", leads[1])["liaison"] == world.users["zhao"]
    r = mgr.post(f"/pools/lead_pool/records/{leads[1]}/recycle", data={"csrf_token": csrf_of(r.text)})
    assert "已回收到公海" in r.text and dom(r.text).by_id(f"free-{leads[1]}") is not None
    r = li.post(
        f"/pools/lead_pool/records/{leads[2]}/claim", data={"csrf_token": csrf_of(li.get("/pools/lead_pool").text)}
    )
    page = mgr.get("/pools/lead_pool")
    r = mgr.post(f"/pools/lead_pool/records/{leads[2]}/recycle", data={"csrf_token": csrf_of(page.text)})
    assert "保护期" in r.text  # a claimed lead is protected: refused with a message, not an error page


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl11_pl12_score_panel_and_pool_page_in_chromium(world: World, url: str) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = require_chromium()
    hid = _scored_hospital(world)
    leads = [world.create("lead", {"name": f"{c}市人民医院合作线索", "status": "pool"})["id"] for c in "东南西北"]
    world.app.pools.claim("lead_pool", leads[0], world.ctx("li"))
    with world.app.db.write() as conn:  # the pages in Chinese, the language of the liaison's account
        conn.execute(pt.users.update().where(pt.users.c.id == world.users["li"]).values(language="zh"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            for width, suffix in ((1366, "desktop"), (390, "mobile")):
                context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.goto(url + "/login")
                page.fill("#username", "li")
                page.fill("#password", PASSWORD)
                page.click("#login-submit")
                page.wait_for_load_state()
                page.goto(url + f"/r/hospital/{hid}")
                page.wait_for_selector("#score-hospital_heat-explanation")
                page.locator("#record-scores").screenshot(path=str(SHOTS / f"scores-panel-{suffix}.png"))
                page.goto(url + "/pools/lead_pool")
                page.wait_for_selector(f"#claim-{leads[2]}")
                claimed = "今日已领 1/2" if suffix == "desktop" else "今日已领 2/2"
                assert page.locator("#pool-claimed-today").inner_text() == claimed
                page.screenshot(path=str(SHOTS / f"pools-page-{suffix}.png"), full_page=True)
                if suffix == "desktop":
                    page.click(f"#claim-{leads[1]}")
                    page.wait_for_selector(f"#mine-{leads[1]}")
                    assert page.locator("#pool-claimed-today").inner_text() == "今日已领 2/2"
                context.close()
        finally:
            browser.close()
