"""RN-03, RN-04, RN-05: a cooperation lead's life as a liaison and a manager live it, over real HTTP.

The referral pack is deployed with its demo organisation only (two teams of five liaisons, their managers,
the alliance leader); every record is then made by these people through the API: a lead registered from
any channel, claimed from the lead pool (公海), followed up (the follow-up form writes a follow-up record and
the lead's dates), converted into a formal partner hospital carrying its data over, or returned, recycled
by the daily job after a warning, closed with a reason. Hospitals without a liaison wait in the hospital
pool; a manager appoints a liaison or a liaison takes charge. The clock is the fixture's fixed clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import ui.app
from runtime.api import create_app
from runtime.demo import demo_logins, load_organisation
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.html import sign_in
from tests.support.server import live_server

PACK = Path(__file__).parent.parent / "blueprints" / "referral_network"
SYSTEM = Context(channel="system", lang="en", is_admin=True)
API = "/api/v1/records"


@dataclass
class Network:
    """The referral pack with its demo organisation behind a live server, people signed in on demand."""

    app: Tessera
    url: str
    password: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, username: str, lang: str = "en") -> httpx.Client:
        key = f"{username}:{lang}"
        if key not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": lang})
            r = client.post("/api/v1/auth/login", json={"username": username, "password": self.password})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[key] = client
        return self.clients[key]

    def pages(self, username: str, lang: str = "zh") -> httpx.Client:
        """A browser-like client signed in to the web UI."""
        key = f"{username}:pages:{lang}"
        if key not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30, follow_redirects=True)
            client.cookies.set("lang", lang)
            assert sign_in(client, username, self.password).status_code == 200
            self.clients[key] = client
        return self.clients[key]

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def get(self, entity: str, rid: int) -> dict[str, Any]:
        return self.app.records.get(entity, rid, SYSTEM)

    def every(self, entity: str, **equal: Any) -> list[dict[str, Any]]:
        from runtime.records import ListQuery
        from runtime.records.query import Filter

        filters = [Filter(name, "eq", value) for name, value in equal.items()]
        return self.app.records.list(entity, ListQuery(filters=filters, limit=500), SYSTEM).items

    def create(self, entity: str, values: dict[str, Any]) -> dict[str, Any]:
        return self.app.records.create(entity, values, SYSTEM)


def open_network(make_tessera: Callable[..., Tessera]) -> Iterator[Network]:
    """The referral pack, its demo organisation and a live server with the web UI (shared by test_rn_roles)."""
    app = make_tessera(str(PACK))
    load_organisation(app, app.registry.packs["referral_network"])
    password, _ = demo_logins(app)
    assert password
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        net = Network(app, url, password)
        yield net
        for client in net.clients.values():
            client.close()


@pytest.fixture
def network(make_tessera: Callable[..., Tessera]) -> Iterator[Network]:
    yield from open_network(make_tessera)


def act(client: httpx.Client, entity: str, rid: int, action: str, **input: Any) -> httpx.Response:
    return client.post(f"{API}/{entity}/{rid}/actions/{action}", json={"input": input} if input else {})


def actions(client: httpx.Client, entity: str, rid: int) -> dict[str, bool]:
    r = client.get(f"{API}/{entity}/{rid}/actions")
    assert r.status_code == 200, r.text
    return {a["id"]: a["enabled"] for a in r.json()["actions"]}


def pool_lead(net: Network, name: str, **values: Any) -> dict[str, Any]:
    """A lead imported into the pool (system channel: an import of the pool's backlog)."""
    return net.create("coop_lead", {"hospital_name": name, "source": "health_commission", "status": "pool", **values})


# RN-03 ---------------------------------------------------------------------------------------------------
def test_rn03_lead_lifecycle_claim_follow_convert(network: Network) -> None:
    liaison = network.client("rn.liaison1")
    me = network.uid("rn.liaison1")
    lead = pool_lead(
        network,
        "青禾县人民医院",
        hospital_level="2A",
        region=["河北省", "沧州市", "青禾县"],
        expected_cooperation=["two_way_referral"],
        contact_name="周立",
        contact_title="业务副院长",
        contact_phone="13911112222",
    )
    # the pool is public to liaisons: the lead is listed in the pool and readable before anyone claims it
    pool = liaison.get("/api/v1/pools/lead_pool").json()
    assert lead["id"] in {r["id"] for r in pool["records"]}
    assert liaison.get(f"{API}/coop_lead/{lead['id']}").status_code == 200
    assert actions(liaison, "coop_lead", lead["id"]) == {"claim": True, "assign": False, "close": True}

    # claim: the pool's claim, the lead is mine
    r = act(liaison, "coop_lead", lead["id"], "claim")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["owner"]) == ("claimed", me)
    assert liaison.get("/api/v1/pools/lead_pool").json()["claimed_today"] == 1

    # follow up: the input form is a follow-up record's form
    r = act(
        liaison,
        "coop_lead",
        lead["id"],
        "follow_up",
        subject="首次电话沟通",
        follow_date="2026-11-23",
        method="phone",
        contact_person="周立（业务副院长）",
        content="介绍双向转诊与远程会诊合作模式，对方对远程会诊很感兴趣。",
        intent=["remote_consultation"],
        intent_level=4,
        next_follow_date="2026-12-01",
    )
    assert r.status_code == 200, r.text
    after = r.json()
    assert (after["status"], after["last_follow_date"], after["next_follow_date"]) == (
        "following",
        "2026-11-23",
        "2026-12-01",
    )
    assert after["intent_level"] == 4
    assert after["expected_cooperation"] == ["two_way_referral", "remote_consultation"]
    follow_ups = network.every("follow_up", lead=lead["id"])
    assert [(f["subject"], f["method"], f["follower"], f["hospital"]) for f in follow_ups] == [
        ("首次电话沟通", "phone", me, None)
    ]
    # a follow-up without the next date is refused on that field, nothing is written
    r = act(
        liaison, "coop_lead", lead["id"], "follow_up", subject="再次沟通", method="phone", content="继续沟通合作细节。"
    )
    assert r.status_code == 422, r.text
    assert "next_follow_date" in {e["field"] for e in r.json()["error"]["errors"]}
    assert len(network.every("follow_up", lead=lead["id"])) == 1

    # convert: a formal partner hospital is created from the lead's data, its contact saved, the lead linked
    r = act(
        liaison,
        "coop_lead",
        lead["id"],
        "convert",
        hospital_name="青禾县人民医院",
        hospital_level="2A",
        region=["河北省", "沧州市", "青禾县"],
        expected_cooperation=["two_way_referral", "remote_consultation"],
        contact_name="周立",
        contact_title="业务副院长",
        contact_phone="13911112222",
    )
    assert r.status_code == 200, r.text
    converted = r.json()
    assert converted["status"] == "converted" and converted["converted_on"] == "2026-11-23"
    hospital = liaison.get(f"{API}/partner_hospital/{converted['hospital']}")
    assert hospital.status_code == 200, "the liaison is in charge of the new hospital"
    h = hospital.json()
    assert (h["name"], h["level"], h["region"], h["status"], h["liaison"], h["signed_date"]) == (
        "青禾县人民医院",
        "2A",
        ["河北省", "沧州市", "青禾县"],
        "formal",
        me,
        "2026-11-23",
    )
    assert h["cooperation_type"] == ["two_way_referral", "remote_consultation"]
    contacts = network.every("hospital_contact", hospital=h["id"])
    assert [(c["name"], c["title"], c["mobile"], c["is_key"]) for c in contacts] == [
        ("周立", "业务副院长", "13911112222", True)
    ]
    # the converted lead no longer counts toward the liaison's holdings, and offers no further action
    assert liaison.get("/api/v1/pools/lead_pool").json()["holding"] == 0
    assert actions(liaison, "coop_lead", lead["id"]) == {}


def test_rn03_convert_updates_the_hospital_already_on_file(network: Network) -> None:
    manager = network.client("rn.manager1")
    existing = network.create(
        "partner_hospital",
        {"name": "松岭县中医院", "level": "2B", "status": "potential", "cooperation_type": ["training"]},
    )
    r = manager.post(
        f"{API}/coop_lead",
        json={"hospital_name": "松岭县中医院", "source": "visit", "hospital": existing["id"], "contact_name": "冯敏"},
    )
    assert r.status_code == 201, r.text
    network.app.jobs.run_pending()  # the rules' background worker
    lead = network.get("coop_lead", r.json()["id"])
    assert (lead["status"], lead["owner"]) == ("new", network.uid("rn.manager1")), "the registrar is in charge"
    r = act(manager, "coop_lead", lead["id"], "assign", owner=network.uid("rn.liaison2"))
    assert r.status_code == 200, r.text
    liaison = network.client("rn.liaison2")
    r = act(liaison, "coop_lead", lead["id"], "convert", expected_cooperation=["mdt"], contact_title="医务科长")
    assert r.status_code == 200, r.text
    h = network.get("partner_hospital", existing["id"])
    assert r.json()["hospital"] == existing["id"]
    assert (h["status"], h["level"], h["liaison"]) == ("formal", "2B", network.uid("rn.liaison2"))
    assert h["cooperation_type"] == ["training", "mdt"], "the hospital's cooperation types are kept and extended"
    assert len(network.every("partner_hospital")) == 1
    assert [c["title"] for c in network.every("hospital_contact", hospital=existing["id"])] == ["医务科长"]


def test_rn03_release_recycle_and_close_with_a_reason(network: Network) -> None:
    liaison = network.client("rn.liaison3", lang="zh")
    manager = network.client("rn.manager1")
    a, b, c = (pool_lead(network, name)["id"] for name in ("甲县医院", "乙县医院", "丙县医院"))
    for rid in (a, b, c):
        assert act(liaison, "coop_lead", rid, "claim").status_code == 200
    # the liaison returns a lead to the pool
    r = act(liaison, "coop_lead", a, "release")
    assert r.status_code == 200, r.text
    assert (network.get("coop_lead", a)["status"], network.get("coop_lead", a)["owner"]) == ("recycled", None)
    # the manager cannot take a lead back during the claim's protection period (7 days)
    r = act(manager, "coop_lead", b, "recycle")
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_protected", r.text
    network.app.clock.advance(days=8)
    r = act(manager, "coop_lead", b, "recycle")
    assert r.status_code == 200, r.text
    assert network.get("coop_lead", b)["status"] == "recycled"
    # a liaison may not use the manager's action
    r = act(liaison, "coop_lead", c, "recycle")
    assert r.status_code == 403, r.text
    # closing needs the reason
    r = act(liaison, "coop_lead", c, "close")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["errors"][0]["field"] == "close_reason"
    r = act(liaison, "coop_lead", c, "close", close_reason="对方已与其他医院签约")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["close_reason"]) == ("closed", "对方已与其他医院签约")
    # the state moves only through actions
    lead = network.get("coop_lead", c)
    r = liaison.patch(f"{API}/coop_lead/{c}", json={"version": lead["version"], "status": "following"})
    assert r.status_code == 422, r.text


def test_rn03_pool_caps_refuse_a_sixth_claim_in_a_day(network: Network) -> None:
    liaison = network.client("rn.liaison4", lang="zh")
    leads = [pool_lead(network, f"测试{i}县医院")["id"] for i in range(6)]
    for rid in leads[:5]:
        assert act(liaison, "coop_lead", rid, "claim").status_code == 200
    r = act(liaison, "coop_lead", leads[5], "claim")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "pool_claim_cap"
    assert r.json()["error"]["message"] == "今日领取已达上限（5/5）"


def test_rn03_pool_auto_recycles_unfollowed_lead_after_warning(network: Network) -> None:
    liaison = network.client("rn.liaison5")
    me = network.uid("rn.liaison5")
    idle, busy = pool_lead(network, "北辰县医院")["id"], pool_lead(network, "南屿县医院")["id"]
    for rid in (idle, busy):
        assert act(liaison, "coop_lead", rid, "claim").status_code == 200
    clock = network.app.clock
    clock.advance(days=20)
    r = act(
        liaison,
        "coop_lead",
        busy,
        "follow_up",
        subject="上门拜访",
        follow_date=clock.now().date().isoformat(),
        method="visit",
        content="拜访院长，商谈专家坐诊安排。",
        next_follow_date="2027-01-05",
    )
    assert r.status_code == 200, r.text
    clock.advance(days=5)  # 25 days without follow-up: the warning (5 days before the 30)
    assert network.app.pools.auto_recycle() == {"warned": 1, "recycled": 0}
    assert network.app.pools.auto_recycle() == {"warned": 0, "recycled": 0}, "warned once per cycle"
    with network.app.db.read() as conn:
        notes = (
            conn.execute(sa.select(pt.notifications.c.title).where(pt.notifications.c.user_id == me)).scalars().all()
        )
    assert any("北辰县医院" in (title or "") for title in notes), notes
    clock.advance(days=5)  # 30 days: back to the pool; the followed-up lead stays
    assert network.app.pools.auto_recycle() == {"warned": 0, "recycled": 1}
    assert (network.get("coop_lead", idle)["status"], network.get("coop_lead", idle)["owner"]) == ("recycled", None)
    assert network.get("coop_lead", busy)["owner"] == me
    # the liaison it was taken from cannot claim it back during the protection period
    r = act(liaison, "coop_lead", idle, "claim")
    assert r.status_code == 409 and r.json()["error"]["code"] == "pool_protected", r.text


# RN-04 ---------------------------------------------------------------------------------------------------
def test_rn04_manager_assigns_hospital_and_liaison_claims_from_pool(network: Network) -> None:
    manager = network.client("rn.manager1")
    liaison = network.client("rn.liaison2")
    # the region's hospitals imported without a liaison (an import by the system, not by a person)
    h1 = network.create("partner_hospital", {"name": "临川县人民医院", "level": "2A"})["id"]
    h2 = network.create("partner_hospital", {"name": "临川县妇幼保健院", "level": "2B"})["id"]
    network.app.jobs.run_pending()
    # both wait in the hospital pool, which liaisons see
    pool = liaison.get("/api/v1/pools/hospital_pool").json()
    assert {h1, h2} <= {r["id"] for r in pool["records"]}
    # the manager appoints liaison 1 to the first one
    r = act(manager, "partner_hospital", h1, "assign_liaison", liaison=network.uid("rn.liaison1"))
    assert r.status_code == 200, r.text
    assert r.json()["liaison"] == network.uid("rn.liaison1")
    assert network.client("rn.liaison1").get(f"{API}/partner_hospital/{h1}").status_code == 200
    assert liaison.get(f"{API}/partner_hospital/{h1}").status_code == 404, "no longer in the pool: not hers"
    # liaison 2 takes charge of the second from the pool
    assert actions(liaison, "partner_hospital", h2)["claim_hospital"] is True
    r = act(liaison, "partner_hospital", h2, "claim_hospital")
    assert r.status_code == 200, r.text
    assert r.json()["liaison"] == network.uid("rn.liaison2")
    mine = liaison.get(f"{API}/partner_hospital", params={"view": "my_hospitals"}).json()["items"]
    assert [m["name"] for m in mine] == ["临川县妇幼保健院"]
    # a liaison cannot appoint, and cannot take a hospital somebody is in charge of
    assert act(liaison, "partner_hospital", h2, "assign_liaison", liaison=network.uid("rn.liaison3")).status_code == 403
    other = network.client("rn.liaison3")
    assert other.get(f"{API}/partner_hospital/{h2}").status_code == 404
    # one liaison, many hospitals: the manager gives liaison 2 the first one too
    r = act(manager, "partner_hospital", h1, "assign_liaison", liaison=network.uid("rn.liaison2"))
    assert r.status_code == 200, r.text
    assert {h["id"] for h in liaison.get(f"{API}/partner_hospital").json()["items"]} == {h1, h2}
    # bulk: the manager appoints liaison 4 to several hospitals at once (the list page's bulk action)
    more = [network.create("partner_hospital", {"name": f"临川县第{n}医院"})["id"] for n in "三四"]
    r = manager.post(
        f"{API}/partner_hospital/actions/assign_liaison/bulk",
        json={"ids": [*more, h2], "input": {"liaison": network.uid("rn.liaison4")}},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["done"], body["refused"]) == (2, 1), r.text
    # liaison 2 claimed the other one today: it is protected for 14 days, the others are appointed
    assert [(x["id"], x["code"]) for x in body["results"] if x["status"] == "refused"] == [(h2, "pool_protected")]
    assert {network.get("partner_hospital", h)["liaison"] for h in more} == {network.uid("rn.liaison4")}
    assert network.get("partner_hospital", h2)["liaison"] == network.uid("rn.liaison2")


# RN-05 ---------------------------------------------------------------------------------------------------
def test_rn05_follow_up_and_intent_on_lead_and_hospital(network: Network) -> None:
    liaison = network.client("rn.liaison6")
    me = network.uid("rn.liaison6")
    hospital = network.create("partner_hospital", {"name": "望江县人民医院", "level": "2A", "liaison": me})
    lead = pool_lead(network, "望江县人民医院", hospital=hospital["id"])
    assert act(liaison, "coop_lead", lead["id"], "claim").status_code == 200
    # a follow-up recorded directly on the hospital and the lead moves the lead's dates (rule)
    r = liaison.post(
        f"{API}/follow_up",
        json={
            "subject": "院长座谈",
            "hospital": hospital["id"],
            "lead": lead["id"],
            "follow_date": "2026-11-23",
            "method": "meeting",
            "content": "与院长座谈胸痛中心建设与远程心电合作。",
            "next_follow_date": "2026-12-02",
            "follower": me,
        },
    )
    assert r.status_code == 201, r.text
    network.app.jobs.run_pending()  # the rules' background worker
    moved = network.get("coop_lead", lead["id"])
    assert (moved["last_follow_date"], moved["next_follow_date"]) == ("2026-11-23", "2026-12-02")
    # a follow-up needs a hospital or a lead
    r = liaison.post(f"{API}/follow_up", json={"subject": "无对象", "method": "phone", "content": "没有对象的跟进记录"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "hospital", r.text
    # cooperation intents on the lead and on the hospital
    r = liaison.post(
        f"{API}/coop_intent",
        json={
            "title": "胸痛中心远程心电",
            "lead": lead["id"],
            "hospital": hospital["id"],
            "cooperation_types": ["remote_consultation"],
            "departments": ["cardiology"],
            "intent_level": 4,
            "expected_start": "2027-03-01",
            "liaison": me,
        },
    )
    assert r.status_code == 201, r.text
    intent = r.json()
    assert (intent["status"], intent["raised_on"]) == ("open", "2026-11-23")
    r = liaison.post(
        f"{API}/coop_intent",
        json={
            "title": "进修培训",
            "hospital": hospital["id"],
            "cooperation_types": ["training"],
            "intent_level": 2,
            "liaison": me,
        },
    )
    assert r.status_code == 201, r.text
    # dropping an intent needs the reason
    second = r.json()
    r = liaison.patch(f"{API}/coop_intent/{second['id']}", json={"version": second["version"], "status": "dropped"})
    assert r.status_code == 422 and r.json()["error"]["errors"][0]["field"] == "drop_reason", r.text
    r = liaison.patch(
        f"{API}/coop_intent/{second['id']}",
        json={
            "version": second["version"],
            "status": "dropped",
            "drop_reason": "对方暂无进修名额",
            "decided_on": "2026-11-23",
        },
    )
    assert r.status_code == 200, r.text
    # an intent needs a lead or a hospital
    r = liaison.post(f"{API}/coop_intent", json={"title": "空", "cooperation_types": ["mdt"], "intent_level": 1})
    assert r.status_code == 422, r.text
    # both show on the lead's and the hospital's pages (their related lists)
    pages = network.pages("rn.liaison6")
    hospital_page = pages.get(f"/r/partner_hospital/{hospital['id']}")
    assert hospital_page.status_code == 200
    for text in ("院长座谈", "胸痛中心远程心电", "进修培训"):
        assert text in hospital_page.text, text
    lead_page = pages.get(f"/r/coop_lead/{lead['id']}")
    assert lead_page.status_code == 200
    for text in ("院长座谈", "胸痛中心远程心电"):
        assert text in lead_page.text, text
    assert "进修培训" not in lead_page.text


# the pages, in Chromium --------------------------------------------------------------------------------
def test_rn03_liaison_claims_from_the_pool_page_and_follows_up_in_the_browser(network: Network) -> None:
    """The lead pool page (/pools/lead_pool) and the lead's action buttons and follow-up form, as a liaison
    sees them (Chinese, desktop): screenshots in test-artifacts/rn-lead-*.png."""
    from tests.support.designer import chromium, shot

    leads = [pool_lead(network, name, hospital_level="2A")["id"] for name in ("云岭县人民医院", "石门县中医院")]
    for browser in chromium():
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(network.url + "/login?next=/pools/lead_pool")
        page.fill("#username", "rn.liaison2")
        page.fill("#password", network.password)
        page.click("#login-submit")
        page.wait_for_selector(f"#claim-{leads[0]}")
        assert "云岭县人民医院" in page.content() and "石门县中医院" in page.content()
        shot(page, "rn-lead-pool-page")
        page.click(f"#claim-{leads[0]}")
        page.wait_for_selector(f"#mine-{leads[0]}")
        assert network.get("coop_lead", leads[0])["owner"] == network.uid("rn.liaison2")
        # the lead's page: its actions in this state
        page.goto(network.url + f"/r/coop_lead/{leads[0]}")
        page.wait_for_selector("text=记录跟进")
        shot(page, "rn-lead-record-actions")
        page.goto(network.url + f"/r/coop_lead/{leads[0]}/actions/follow_up")
        page.wait_for_selector("[name=content]")
        page.fill("[name=subject]", "首次上门拜访")
        page.select_option("[name=method]", "visit")
        page.fill("[name=content]", "拜访院长，介绍双向转诊与远程会诊合作模式。")
        page.fill("[name=next_follow_date]", "2026-12-05")
        shot(page, "rn-lead-follow-up-form")
        page.locator("form button[type=submit]").last.click()
        page.wait_for_url(network.url + f"/r/coop_lead/{leads[0]}")
        lead = network.get("coop_lead", leads[0])
        assert (lead["status"], lead["last_follow_date"], lead["next_follow_date"]) == (
            "following",
            "2026-11-23",
            "2026-12-05",
        )
        assert [f["subject"] for f in network.every("follow_up", lead=leads[0])] == ["首次上门拜访"]
        shot(page, "rn-lead-after-follow-up")
        context.close()
