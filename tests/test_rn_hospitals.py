"""RN-01, RN-02, RN-16: partner hospitals with contacts and organisation structure, key-field change records
with notices to the liaison and the outreach managers, external-hospital watch. Real HTTP as the demo users
(rn.liaison1 in 拓展一组 under rn.manager1; rn.liaison6 in 拓展二组 under rn.manager2), on SQLite and
PostgreSQL; rule jobs run through app.jobs.run_pending() as the job runner would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.browser import require_chromium
from tests.support.designer import ARGS, shot
from tests.support.html import dom
from tests.support.referral import Referral, referral_world

API = "/api/v1/records"
ENTITIES = ("partner_hospital", "hospital_contact", "hospital_change", "external_event", "bidding_record")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def rn(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Referral]:
    yield from referral_world(request, tmp_path_factory, ENTITIES)


def patch(client: httpx.Client, entity: str, rid: int, values: dict) -> httpx.Response:
    """Change a record as the edit form does: with the version just read."""
    version = client.get(f"{API}/{entity}/{rid}").json()["version"]
    return client.patch(f"{API}/{entity}/{rid}", json={**values, "version": version})


def titles(items: list[dict]) -> list[str]:
    return [n["title"] for n in items]


def test_rn01_demo_has_sixty_hospitals_with_contacts_as_records_and_a_pool(rn: Referral) -> None:
    hospitals = rn.every("partner_hospital")
    assert len(hospitals) >= 60
    assert {h["level"] for h in hospitals} >= {"3A", "3B", "2A", "2B", "1", "chc", "thc"}
    assert {h["status"] for h in hospitals} == {"potential", "lead", "formal", "removed"}
    pool = [h for h in hospitals if h["liaison"] is None]
    assert pool and all(h["status"] == "potential" for h in pool), "the unassigned ones wait in the pool"
    owners = {h["liaison"] for h in hospitals if h["liaison"] is not None}
    assert owners == {rn.uid(f"rn.liaison{i}") for i in range(1, 11)}
    contacts = rn.every("hospital_contact")
    assert {c["hospital"] for c in contacts} == {h["id"] for h in hospitals}, "every hospital has contacts"
    for h in hospitals:
        assert sum(c["is_key"] for c in contacts if c["hospital"] == h["id"]) == 1, h["name"]


def test_rn01_liaison_records_hospital_with_contacts_and_org_structure(rn: Referral) -> None:
    me = rn.client("rn.liaison1")
    hospital = me.post(f"{API}/partner_hospital", json={
        "name": "测试县第三人民医院", "level": "2A", "type": "general", "status": "potential",
        "region": ["河北省", "沧州市", "测试县"], "beds": 420, "key_departments": ["oncology", "cardiology"],
        "tags": ["县域", "待调研"], "highlights": "院长重视肿瘤学科建设",
        "org_units": [
            {"unit": "院领导班子", "head": "周院长", "head_title": "院长"},
            {"unit": "医务科", "parent_unit": "院领导班子", "head": "吴科长", "head_title": "科长",
             "phone": "0317-5123456"},
        ],
    })
    assert hospital.status_code == 201, hospital.text
    hid = hospital.json()["id"]
    rn.app.jobs.run_pending()  # whoever registers a hospital is its liaison (rule hospital_liaison_is_registrar)
    assert me.get(f"{API}/partner_hospital/{hid}").json()["liaison"] == rn.uid("rn.liaison1")
    assert not rn.every("hospital_change", hospital=hid), "taking charge of one's own new hospital is no change"
    for name, title, key in (("周建国", "院长", True), ("吴海燕", "医务科科长", False)):
        r = me.post(f"{API}/hospital_contact", json={
            "hospital": hid, "name": name, "title": title, "department": "院办", "mobile": "13812345678", "is_key": key,
        })
        assert r.status_code == 201, r.text
    mine = me.get(f"{API}/hospital_contact", params={"hospital": hid}).json()
    assert sorted(c["name"] for c in mine["items"]) == ["吴海燕", "周建国"]
    assert me.get(f"{API}/partner_hospital/{hid}").json()["org_units"][1]["parent_unit"] == "院领导班子"
    other = rn.client("rn.liaison6")
    assert other.get(f"{API}/partner_hospital/{hid}").status_code == 404, "another team's liaison cannot see it"
    assert other.get(f"{API}/hospital_contact", params={"hospital": hid}).json()["items"] == []
    page = dom(me.get(f"/r/partner_hospital/{hid}").text)  # the record page lists the contacts as related records
    text = page.text()
    assert "周建国" in text and "吴海燕" in text and "医务科" in text and "组织架构" in text
    manager = rn.client("rn.manager1")
    assert manager.get(f"{API}/partner_hospital/{hid}").status_code == 200, "the team's manager"
    added = manager.post(f"{API}/hospital_contact", json={"hospital": hid, "name": "郑主任", "title": "肿瘤科主任"})
    assert added.status_code == 201, added.text
    rn.app.jobs.run_pending()  # a contact is kept by the hospital's liaison (rule hospital_contact_liaison)
    assert me.get(f"{API}/hospital_contact/{added.json()['id']}").json()["liaison"] == rn.uid("rn.liaison1")


def test_rn01_heat_fields_are_read_only_for_users(rn: Referral) -> None:
    hid = rn.hospital("澜州市人民医院")["id"]
    r = patch(rn.client("rn.manager1"), "partner_hospital", hid, {"heat_score": 99})
    assert r.status_code in (400, 403, 422), r.text
    assert "heat_score" in r.text


def test_rn02_key_field_change_recorded_and_notified_to_liaison_and_managers(rn: Referral) -> None:
    hospital = rn.hospital("临渊县人民医院")  # 2B lead, liaison rn.liaison1 (拓展一组)
    manager = rn.client("rn.manager1")
    before = {u: len(rn.notifications(u)) for u in ("rn.liaison1", "rn.manager1", "rn.manager2", "rn.liaison6")}
    r = patch(manager, "partner_hospital", hospital["id"], {"level": "2A", "beds": 520})
    assert r.status_code == 200, r.text
    rn.app.jobs.run_pending()
    rn.app.jobs.run_pending()  # the change record's own rule (fills the liaison, sends the notice)
    changes = rn.client("rn.liaison1").get(f"{API}/hospital_change", params={"hospital": hospital["id"]}).json()
    auto = {c["field_name"]: c for c in changes["items"] if c["source"] == "automatic"}
    assert set(auto) == {"level", "beds"}
    assert (auto["level"]["before"], auto["level"]["after"], auto["level"]["area"]) == ("2B", "2A", "qualification")
    assert auto["beds"]["after"] == "520" and auto["level"]["liaison"] == rn.uid("rn.liaison1")
    for user in ("rn.liaison1", "rn.manager1"):
        new = rn.notifications(user)[: len(rn.notifications(user)) - before[user]]
        assert any("临渊县人民医院" in n["title"] and "医院等级变更" in n["title"] for n in new), (user, titles(new))
    assert len(rn.notifications("rn.liaison6")) == before["rn.liaison6"], "another liaison is not disturbed"
    assert len(rn.notifications("rn.manager2")) == before["rn.manager2"], "the other team's manager neither"
    history = dom(rn.client("rn.liaison1").get(f"/r/partner_hospital/{hospital['id']}").text).text()
    assert "医院等级变更" in history, "the record page lists its change records"


def test_rn02_liaison_enters_a_leadership_change_and_it_reaches_the_managers(rn: Referral) -> None:
    hospital = rn.hospital("澜州市人民医院")  # liaison rn.liaison1
    before = len(rn.notifications("rn.manager1"))
    r = rn.client("rn.liaison1").post(f"{API}/hospital_change", json={
        "hospital": hospital["id"], "change_date": "2026-11-22", "area": "leadership", "summary": "院长更替",
        "before": "院长 熊华", "after": "院长 李建国", "description": "新院长来自省级医院，重视医联体建设。",
    })
    assert r.status_code == 201, r.text
    rn.app.jobs.run_pending()
    record = rn.client("rn.liaison1").get(f"{API}/hospital_change/{r.json()['id']}").json()
    assert record["source"] == "manual" and record["liaison"] == rn.uid("rn.liaison1")
    new = rn.notifications("rn.manager1")[: len(rn.notifications("rn.manager1")) - before]
    assert any("院长更替" in n["title"] for n in new), titles(new)
    bad = rn.client("rn.liaison1").post(f"{API}/hospital_change", json={"hospital": hospital["id"], "area": "mood"})
    assert bad.status_code == 422 or bad.status_code == 400, bad.text


def test_rn16_external_event_notifies_managers(rn: Referral) -> None:
    hospital = rn.hospital("武安市人民医院")  # liaison rn.liaison6 (拓展二组)
    manager = rn.client("rn.manager2")
    counts = {u: len(rn.notifications(u)) for u in ("rn.manager1", "rn.manager2", "rn.liaison6", "rn.liaison1")}
    important = manager.post(f"{API}/external_event", json={
        "institution": "武安市人民医院", "hospital": hospital["id"], "event_type": "competitor_cooperation",
        "event_date": "2026-11-21", "importance": "high", "summary": "与省肿瘤医院签订专科联盟协议",
        "source": "省卫健委官网",
    })
    assert important.status_code == 201, important.text
    minor = manager.post(f"{API}/external_event", json={
        "institution": "滨海市中心医院", "event_type": "other", "event_date": "2026-11-21", "importance": "low",
        "summary": "举办基层医师培训班",
    })
    assert minor.status_code == 201, minor.text
    unlinked = manager.post(f"{API}/external_event", json={
        "institution": "滨海市中心医院", "event_type": "leadership_change", "event_date": "2026-11-21",
        "importance": "high", "summary": "新任院长到任",
    })
    assert unlinked.status_code == 201, unlinked.text
    rn.app.jobs.run_pending()
    for user in ("rn.manager2", "rn.liaison6"):
        new = rn.notifications(user)[: len(rn.notifications(user)) - counts[user]]
        assert [n for n in new if "省肿瘤医院" in n["title"]], (user, titles(new))
        assert not [n for n in new if "培训班" in n["title"]], "a low-importance event is not pushed"
    team1 = rn.notifications("rn.manager1")[: len(rn.notifications("rn.manager1")) - counts["rn.manager1"]]
    assert not [n for n in team1 if "省肿瘤医院" in n["title"]], "a team-2 hospital's event stays with team 2"
    assert [n for n in team1 if "新任院长" in n["title"]], "an event of no liaison's hospital reaches every manager"
    assert len(rn.notifications("rn.liaison1")) == counts["rn.liaison1"]
    events = rn.client("rn.liaison6").get(f"{API}/external_event", params={"importance": "high"}).json()["items"]
    assert any(e["summary"] == "与省肿瘤医院签订专科联盟协议" for e in events)
    page = dom(rn.client("rn.manager2").get("/v/external_event_list").text).text()
    assert "与省肿瘤医院签订专科联盟协议" in page


def test_rn01_hospital_page_shows_org_structure_contacts_and_changes_in_the_browser(rn: Referral) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    executable = require_chromium()
    hospital = rn.hospital("澜州市人民医院")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN").new_page()
            page.set_default_timeout(15_000)
            target = f"/r/partner_hospital/{hospital['id']}"
            page.goto(rn.url + "/login?next=" + target)
            page.fill("#username", "rn.liaison1")
            page.fill("#password", rn.password)
            page.click("#login-submit")
            page.wait_for_url("**" + target)
            related = page.locator(".tf-related").all_inner_texts()  # lists with records, then the empty kinds
            for kind in ("医院联系人", "重点领域变更", "招投标记录", "外院动向", "跟进记录"):
                assert any(kind in card for card in related), kind
            assert "医院联系人" in page.locator(".tf-related h2", has_text="医院联系人").inner_text()
            assert page.locator(".tf-related-row", has_text="熊华").count() == 1, "the key contact of the demo"
            shot(page, "rn01-hospital-page")
            page.get_by_role("tab", name="组织架构").click()
            assert page.locator(".tf-subtable", has_text="院领导班子").is_visible()
            shot(page, "rn01-hospital-org-structure", full_page=False)
            page.goto(rn.url + "/v/external_event_list")
            shot(page, "rn16-external-events", full_page=False)
        finally:
            browser.close()
