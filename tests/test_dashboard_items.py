"""Dashboard items beyond one report (PL-07): a combined side-by-side report, a dimension through a reference,
the rep's home page (schedule of today, reminders, quick-create buttons) and report subscribers by role.

Pack: tests/packs/home_pack (accounts, visits and sales of field reps). The clock is 2026-11-23 09:30 UTC
(17:30 in Shanghai), so "today" is 2026-11-23.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

import ui.app
from runtime.api import create_app
from runtime.blueprints.errors import PackInvalid
from runtime.identity.passwords import hash_password
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import PACKS
from tests.support.html import Node, dom, sign_in
from tests.support.server import live_server

PASSWORD = "Home-Test-pass-2026"
SYSTEM = Context(channel="system", lang="en", is_admin=True)
TODAY = "2026-11-23"


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Site:
    app: Tessera
    url: str
    users: dict[str, int]
    records: dict[str, int]

    def client(self, who: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "en"})
        r = sign_in(client, who, PASSWORD)
        assert r.status_code in (200, 303), r.text
        return client


def _world(app: Tessera) -> tuple[dict[str, int], dict[str, int]]:
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    dept = admin.create_department({"name": "Sales", "code": "S"})["id"]
    users = {}
    for username, role in (("boss", "boss"), ("ann", "rep"), ("bob", "rep")):
        users[username] = admin.create_user(
            {"username": username, "display_name": username.title(), "department_id": dept, "roles": [role],
             "language": "en", "email": f"{username}@example.org"}
        )["id"]  # fmt: skip
    with app.db.write() as conn:
        conn.execute(pt.users.update().values(password_hash=_hash()))
    recs: dict[str, int] = {}

    def make(entity: str, key: str, data: dict[str, Any]) -> None:
        recs[key] = app.records.create(entity, data, SYSTEM)["id"]

    # Ann: 3 accounts (2 converted), Bob: 1 account (not converted)
    make("account", "a1", {"name": "Acme", "rep": users["ann"], "converted": True})
    make("account", "a2", {"name": "Birch", "rep": users["ann"], "converted": True})
    make("account", "a3", {"name": "Cedar", "rep": users["ann"], "converted": False})
    make("account", "b1", {"name": "Dune", "rep": users["bob"], "converted": False})
    # visits: Ann 3 planned this year (1 done, 2 planned: one today, one tomorrow); Bob 2 (both done)
    make("visit", "v1", {"subject": "Kick-off", "account": recs["a1"], "rep": users["ann"],
                         "planned_date": "2026-11-02", "status": "done"})  # fmt: skip
    make("visit", "v2", {"subject": "Contract talk", "account": recs["a2"], "rep": users["ann"],
                         "planned_date": TODAY, "status": "planned"})  # fmt: skip
    make("visit", "v3", {"subject": "Demo", "account": recs["a3"], "rep": users["ann"],
                         "planned_date": "2026-11-24", "status": "planned"})  # fmt: skip
    make("visit", "v4", {"subject": "Bob's call", "account": recs["b1"], "rep": users["bob"],
                         "planned_date": TODAY, "status": "done"})  # fmt: skip
    make("visit", "v5", {"subject": "Bob's lunch", "account": recs["b1"], "rep": users["bob"],
                         "planned_date": "2026-03-01", "status": "done"})  # fmt: skip
    # sales: grouped through sale.account -> account.rep
    for key, account, month, amount in (("s1", "a1", "2026-01-01", 10), ("s2", "a2", "2026-05-01", 15),
                                         ("s3", "b1", "2026-06-01", 7), ("s4", "a1", "2025-12-01", 99)):  # fmt: skip
        make("sale", key, {"code": key, "account": recs[account], "month": month, "amount": amount})
    return users, recs


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    app = make_tessera("home_pack")
    users, recs = _world(app)
    with live_server(create_app(app, extensions=[ui.app.install])) as url:
        yield Site(app, url, users, recs)


def test_pl13_dimension_follows_a_reference_to_the_reps_of_the_accounts(site: Site) -> None:
    boss = site.client("boss")
    body = boss.get("/api/v1/reports/sales_by_rep", params={"grain": "none"}).json()
    rows = {r["values"]["rk_d0"]: r["values"]["amount"] for r in body["rows"] if r["level"] == "row"}
    assert rows == {"Ann": 25, "Bob": 7}  # 2025-12 (99) is outside this year
    total = next(r for r in body["rows"] if r["level"] == "total")
    assert total["values"]["amount"] == 32


def test_pl07_combined_report_puts_reps_side_by_side(site: Site) -> None:
    boss = site.client("boss")
    board = boss.get("/api/v1/dashboards/boss_home").json()
    combined = board["items"][0]["result"]
    assert [c["label"] for c in combined["columns"]] == ["Accounts", "Converted %", "Done", "Planned", "Sales"]
    by_rep = {r["label"]: r["values"] for r in combined["rows"]}
    assert by_rep["Ann"] == {"c0": 3, "c1": 66.7, "c2": 1, "c3": 3, "c4": 25}
    assert by_rep["Bob"] == {"c0": 1, "c1": 0.0, "c2": 2, "c3": 2, "c4": 7}
    assert combined["total"]["values"] == {"c0": 4, "c1": 50.0, "c2": 3, "c3": 5, "c4": 32}
    assert [r["label"] for r in combined["rows"]] == ["Ann", "Bob"]  # largest first column first
    page = boss.get("/dashboards/boss_home")
    assert page.status_code == 200, page.text
    table = dom(page.text).find("section", **{"data-kind": "combined"}).find("table")
    cells = [[c.text().strip() for c in tr.children if isinstance(c, Node) and c.tag in ("th", "td")]
             for tr in table.find_all("tr")]  # fmt: skip
    assert cells[0] == ["Rep", "Accounts", "Converted %", "Done", "Planned", "Sales"]
    assert cells[1] == ["Ann", "3", "66.7%", "1", "3", "25"]
    assert cells[-1] == ["Total", "4", "50.0%", "3", "5", "32"]


def test_pl07_rep_home_shows_today_schedule_reminders_and_quick_create(site: Site) -> None:
    app = site.app
    with app.db.write() as conn:
        app.notifier.notify(conn, user_ids=[site.users["ann"]], key="t1", title="Birch changed its contact",
                            link=f"/r/account/{site.records['a2']}")  # fmt: skip
    ann = site.client("ann")
    home = ann.get("/")
    assert home.status_code == 200 and 'id="task-reminder"' not in home.text  # the dashboard shows reminders
    html = dom(ann.get("/dashboards/_home").text)
    schedule = html.find("section", **{"data-kind": "schedule"})
    entries = [a.attrs["href"] for a in schedule.find_all("a") if "tf-schedule-record" in a.classes]
    assert entries == [f"/r/visit/{site.records['v2']}"]  # today, planned, hers: not tomorrow's, not Bob's
    assert "Birch" in schedule.text() and "Planned" in schedule.text()
    reminders = html.find("section", **{"data-kind": "reminders"})
    assert "Birch changed its contact" in reminders.text()
    buttons = [a.attrs["data-entity"] for a in html.find("section", **{"data-kind": "quick_create"}).find_all("a")]
    assert buttons == ["account", "visit"]  # she may not create sales
    assert ann.get("/r/visit/new").status_code == 200
    api = ann.get("/api/v1/dashboards/rep_home").json()
    assert [r["id"] for r in api["items"][0]["result"]["records"]] == [site.records["v2"]]


def test_pl13_report_subscribers_role_may_schedule_delivery(site: Site) -> None:
    boss = site.client("boss")
    page = boss.get("/reports/sales_by_rep")
    assert 'id="subscribe"' in page.text
    assert boss.get("/reports/sales_by_rep/subscriptions").status_code == 200
    assert boss.get("/reports/visits_by_rep/subscriptions").status_code == 403  # not a subscriber role there
    ann = site.client("ann")
    assert ann.get("/reports/sales_by_rep/subscriptions").status_code == 403


def _pack_with(tmp_path: Path, name: str, doc: dict[str, Any]) -> Path:
    pack = tmp_path / "home_pack"
    shutil.copytree(PACKS / "home_pack", pack)
    (pack / "dashboards" / f"{name}.json").write_text(json.dumps(doc), "utf-8")
    return pack


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("item", "pointer", "message"),
    [
        ({"kind": "quick_create", "entities": ["account", "nope"]}, "/items/0/entities/1", "unknown entity 'nope'"),
        ({"kind": "schedule", "sources": [{"entity": "visit", "date_field": "subject", "owner_field": "rep"}]},
         "/items/0/sources/0/date_field", "use a date or datetime"),
        ({"kind": "schedule", "sources": [{"entity": "visit", "date_field": "planned_date", "owner_field": "status"}]},
         "/items/0/sources/0/owner_field", "use a user field"),
        ({"kind": "schedule", "sources": [{"entity": "visit", "date_field": "planned_date", "owner_field": "rep",
                                           "fields": ["colour"]}]}, "/items/0/sources/0/fields/0", "unknown field"),
        ({"kind": "combined", "columns": [{"report": "sales_by_rep", "measure": "nope"}]},
         "/items/0/columns/0/measure", "has no measure 'nope'"),
        ({"kind": "schedule"}, "/items/0", "the property 'sources' is required"),
    ],
)
def test_pl07_bad_dashboard_items_name_file_and_pointer(
    make_tessera: Callable[..., Tessera], tmp_path: Path, item: dict, pointer: str, message: str
) -> None:
    app = make_tessera()
    pack = _pack_with(tmp_path, "bad", {"id": "bad", "label": "Bad", "items": [item]})
    with pytest.raises(PackInvalid) as err:
        app.load_pack(pack)
    text = str(err.value)
    assert "dashboards/bad.json" in text and pointer in text and message in text, text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl13_bad_reference_dimension_is_a_pack_error(make_tessera: Callable[..., Tessera], tmp_path: Path) -> None:
    app = make_tessera()
    pack = tmp_path / "home_pack"
    shutil.copytree(PACKS / "home_pack", pack)
    doc = json.loads((pack / "reports" / "sales_by_rep.json").read_text("utf-8"))
    doc["dimensions"] = [{"field": "account.colour"}]
    (pack / "reports" / "sales_by_rep.json").write_text(json.dumps(doc), "utf-8")
    with pytest.raises(PackInvalid) as err:
        app.load_pack(pack)
    assert "unknown field 'colour' of entity 'account'" in str(err.value)
    doc["dimensions"] = [{"field": "code.rep"}]
    (pack / "reports" / "sales_by_rep.json").write_text(json.dumps(doc), "utf-8")
    with pytest.raises(PackInvalid) as err:
        app.load_pack(pack)
    assert "only one reference field can be followed" in str(err.value)


def test_pl07_combined_rows_from_one_column_and_a_series_per_measure(site: Site) -> None:
    app = site.app
    nobody = app.records.create("account", {"name": "Elm", "converted": True}, SYSTEM)["id"]  # no rep yet
    app.records.create("sale", {"code": "s5", "account": nobody, "month": "2026-07-01", "amount": 5}, SYSTEM)
    boss = site.client("boss")
    board = boss.get("/api/v1/dashboards/boss_home").json()
    everyone = board["items"][0]["result"]
    assert "(none)" in [r["label"] for r in everyone["rows"]]  # the rep-less account and its sale
    reps = board["items"][2]["result"]  # rows_from the visits column: only reps with visits
    assert [r["label"] for r in reps["rows"]] == ["Ann", "Bob"]
    assert reps["total"]["values"]["c0"] == 32  # the rows' sum: the rep-less 5 is not in a row, so not in the total
    assert reps["total"]["values"]["c1"] == 5
    assert reps["total"]["values"]["c2"] is None  # a rate cannot be re-added from the rows shown
    html = dom(boss.get("/dashboards/boss_home").text)
    chart = json.loads(html.find("section", **{"data-report-id": "sales_trend"}).find("div", **{"class": "tf-chart"})
                       .attrs["data-echart"])  # fmt: skip
    assert [s["name"] for s in chart["series"]] == ["Amount", "Sales"] and chart["series"][0]["stack"] == "total"
    assert chart["series"][0]["data"][0] == 10 and chart["series"][1]["data"][0] == 1  # January: one sale of 10
