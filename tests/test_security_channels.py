"""PL-20 / PL-21: permissions and masking hold identically in every channel, over real HTTP on SQLite and PostgreSQL.

Channels: list page, detail page, API get, API list, export (CSV and Excel, API and page), print page
(record and list), search page and search API. The scoped_crm pack is used with a few changes (see
`channel_pack`): liaisons may also export and print their own hospitals, and every hospital has an
internal note that liaisons may not read at all. Liaison l1 sees the phone and ID number masked,
the internal note and rating not at all, and only their own hospital; manager mgr reads the team's
hospitals in full.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from openpyxl import load_workbook

import ui.app
from runtime.api import create_app
from runtime.records import Context
from runtime.services import Tessera
from tests.support.browser import require_chromium
from tests.support.html import Node, dom
from tests.support.packs import pack_variant
from tests.support.people import ID_NUMBERS, PASSWORD, PHONES, People, build_scoped
from tests.support.server import live_server

SCOPED = Path(__file__).parent / "packs" / "scoped_crm"
SYSTEM = Context(channel="system", lang="en", is_admin=True)
MASKED_PHONE = "138****5678"
MASKED_ID = "*" * 14 + ID_NUMBERS["l1"][-4:]
H = "/api/v1/records/hospital"


def secret(who: str) -> str:
    return f"SECRET-NOTE-{who.upper()}-7731"


def channel_pack(docs: dict) -> None:
    """scoped_crm plus: liaisons export and print; a hidden `secret_note` shown in the hospital list view."""
    docs["entities/hospital.json"]["fields"].append(
        {"name": "secret_note", "type": "text", "label": {"zh": "内部备注", "en": "Internal note"}}
    )
    view = docs["views/hospital_list.json"]
    view["columns"] = [*view["columns"], "contact_id_number", "secret_note"]
    view["search_fields"] = ["name", "city", "phone", "secret_note"]
    docs["roles/liaison.json"]["permissions"][0]["actions"] += ["export", "print"]


@pytest.fixture
def world(make_tessera: Callable[..., Tessera], tmp_path: Path) -> Iterator[People]:
    """The changed scoped_crm pack with its people, served with the web UI; `world.client('l1')` signs in."""
    tessera = make_tessera(str(pack_variant(SCOPED, tmp_path / "scoped_channels", channel_pack)))
    scoped = build_scoped(tessera)
    for who, rid in scoped.hospitals.items():
        tessera.records.update("hospital", rid, {"secret_note": secret(who)}, SYSTEM, expected_version=None)
    lead = tessera.records.create("lead", {"title": "Clerk's lead"}, SYSTEM)
    table = tessera.registry.tables["lead"].main
    with tessera.db.write() as conn:
        conn.execute(table.update().where(table.c.id == lead["id"]).values(owner_id=scoped.users["clerk"]))
    people = People(**{k: getattr(scoped, k) for k in ("tessera", "admin", "departments", "users", "hospitals")})
    with live_server(create_app(tessera, extensions=[ui.app.install])) as url:
        people.url = url
        try:
            yield people
        finally:
            for client in people._clients:
                client.close()


# reading each channel as text ----------------------------------------------------------------------
def ok(response: httpx.Response) -> httpx.Response:
    assert response.status_code == 200, (response.request.url, response.status_code, response.text[:300])
    return response


def csv_rows(response: httpx.Response) -> list[list[str]]:
    ok(response)
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff"), "CSV starts with a BOM so Excel reads Chinese correctly"
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_rows(response: httpx.Response) -> list[list[str]]:
    ok(response)
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


def hits(page: Node) -> list[str]:
    """Titles of the search page's results."""
    return [n.find("span").text() for n in page.iter() if "tf-search-hit" in n.classes]


def table_text(rows: list[list[str]]) -> str:
    return "\n".join(",".join(row) for row in rows)


def channels(client: httpx.Client, own: int) -> dict[str, str]:
    """What one user gets back from every channel for their own hospital, as text."""
    export = f"{H}/export"
    return {
        "list page": ok(client.get("/v/hospital_list")).text,
        "detail page": ok(client.get(f"/r/hospital/{own}")).text,
        "API get": ok(client.get(f"{H}/{own}")).text,
        "API list": ok(client.get(H)).text,
        "export csv (API)": table_text(csv_rows(client.get(export, params={"format": "csv", "view": "hospital_list"}))),
        "export xlsx (API)": table_text(xlsx_rows(client.get(export, params={"format": "xlsx"}))),
        "export xlsx (page)": table_text(xlsx_rows(client.get("/v/hospital_list/export", params={"format": "xlsx"}))),
        "export csv (page)": table_text(csv_rows(client.get("/r/hospital/export", params={"format": "csv"}))),
        "print page": ok(client.get(f"/r/hospital/{own}/print")).text,
        "list print page": ok(client.get("/v/hospital_list/print")).text,
        "search page": ok(client.get("/search", params={"q": "Hospital"})).text,
        "search API": ok(client.get("/api/v1/search", params={"q": "Hospital"})).text,
    }


# masking and hidden fields -------------------------------------------------------------------------
def test_pl20_masked_fields_are_masked_and_hidden_fields_absent_in_every_channel(world: People) -> None:
    l1 = world.client("l1")
    for channel, text in channels(l1, world.hospitals["l1"]).items():
        assert "Hospital of L1" in text, f"{channel}: the record itself is shown"
        assert MASKED_PHONE in text, f"{channel}: the phone is shown masked"
        assert PHONES["l1"] not in text, f"{channel}: the full phone leaks"
        assert ID_NUMBERS["l1"] not in text, f"{channel}: the full ID number leaks"
        assert secret("l1") not in text, f"{channel}: a hidden field's value leaks"
        if channel not in ("search page", "search API"):  # search shows the searched fields only
            assert MASKED_ID in text, f"{channel}: the ID number is shown masked (last 4 only)"
    # the manager reads the same record in full through the same channels: the test data is there
    for channel, text in channels(world.client("mgr"), world.hospitals["l1"]).items():
        assert PHONES["l1"] in text, f"{channel}: the manager sees the full phone"
        assert secret("l1") in text or channel in ("search page", "search API"), channel


def test_pl20_hidden_fields_leave_no_column_or_label_in_exports_and_printouts(world: People) -> None:
    l1 = world.client("l1")
    own = world.hospitals["l1"]
    for budget, rows in (
        ("1000.00", csv_rows(l1.get(f"{H}/export", params={"format": "csv", "view": "hospital_list"}))),
        ("1000", xlsx_rows(l1.get("/v/hospital_list/export", params={"format": "xlsx"}))),
    ):
        assert rows[0] == ["Name", "City", "Contact", "Phone", "Budget", "Contact ID number"]
        assert rows[1:] == [["Hospital of L1", "Hangzhou", "Contact l1", MASKED_PHONE, budget, MASKED_ID]]
    everything = csv_rows(l1.get(f"{H}/export", params={"format": "csv"}))
    assert "Internal note" not in everything[0] and "Internal rating" not in everything[0]
    assert "Email" in everything[0] and "l***@example.com" in everything[1]
    printout = dom(ok(l1.get(f"/r/hospital/{own}/print")).text)
    fields = {n.attrs.get("data-field") for n in printout.iter() if n.attrs.get("data-field")}
    assert "phone" in fields and "secret_note" not in fields and "internal_rating" not in fields
    assert "Internal note" not in printout.text() and "Internal rating" not in printout.text()
    assert "masked" in printout.by_id("print-masked-note").text()
    full = dom(ok(world.client("mgr").get(f"/r/hospital/{own}/print")).text)
    assert "Internal note" in full.text() and not full.find_all(id="print-masked-note")
    api = l1.get("/api/v1/search", params={"q": "Hospital"}).json()
    [group] = api["groups"]
    assert group["fields"] == ["name", "city", "phone"], "the hidden search field is neither searched nor shown"
    assert group["items"][0]["values"]["phone"] == MASKED_PHONE


# data scope ----------------------------------------------------------------------------------------
def test_pl20_a_liaison_cannot_reach_another_scopes_record_by_id_in_any_channel(world: People) -> None:
    l1 = world.client("l1")
    other = world.hospitals["l2"]
    for path in (f"/r/hospital/{other}", f"{H}/{other}", f"/r/hospital/{other}/print", f"/r/hospital/{other}/edit"):
        r = l1.get(path)
        assert r.status_code == 404, (path, r.status_code)
        assert "Hospital of L2" not in r.text and PHONES["l2"] not in r.text
    # the owner reaches it through each of them
    l2 = world.client("l2")
    for path in (f"/r/hospital/{other}", f"{H}/{other}", f"/r/hospital/{other}/print"):
        assert "Hospital of L2" in ok(l2.get(path)).text


def test_pl20_a_liaison_cannot_reach_another_scopes_record_by_filter_or_search(world: People) -> None:
    l1 = world.client("l1")
    other = str(world.hospitals["l2"])
    by_filter = [{"id": other}, {"name": "Hospital of L2"}, {"owner_id": str(world.users["l2"])}, {"q": "of L2"}]
    for params in by_filter:
        list_page = dom(ok(l1.get("/v/hospital_list", params=params)).text)
        assert not list_page.find_all(id="list-table"), ("list page", params)
        printout = dom(ok(l1.get("/v/hospital_list/print", params=params)).text)
        assert not printout.find_all(id="print-table"), ("list print page", params)
        assert ok(l1.get(H, params=params)).json()["items"] == [], ("API list", params)
        for fmt, read in (("csv", csv_rows), ("xlsx", xlsx_rows)):
            rows = read(l1.get(f"{H}/export", params={**params, "format": fmt}))
            assert len(rows) == 1, (fmt, params, rows)  # the header only
            rows = read(l1.get("/v/hospital_list/export", params={**params, "format": fmt}))
            assert len(rows) == 1, ("page", fmt, params, rows)
    assert l1.get(H, params={"id": other}).json()["items"] == []
    for q in ("Hospital of L2", secret("l2"), "of L2"):
        assert l1.get("/api/v1/search", params={"q": q}).json()["groups"] == [], q
        page = dom(ok(l1.get("/search", params={"q": q})).text)
        assert page.find_all(id="search-none") and not hits(page), q
        assert PHONES["l2"] not in ok(l1.get("/search", params={"q": q})).text
    # an unfiltered export holds the liaison's own hospital only; the manager's the team's three
    rows = csv_rows(l1.get(f"{H}/export", params={"format": "csv"}))
    assert [r[0] for r in rows[1:]] == ["Hospital of L1"]
    rows = csv_rows(world.client("mgr").get(f"{H}/export", params={"format": "csv", "sort": "name"}))
    assert [r[0] for r in rows[1:]] == ["Hospital of L1", "Hospital of L3", "Hospital of MGR"]


def test_pl20_masked_or_hidden_fields_cannot_be_probed_through_export_or_search(world: People) -> None:
    l1 = world.client("l1")
    for params in ({"phone": PHONES["l1"]}, {"secret_note": secret("l1")}, {"sort": "-internal_rating"}):
        r = l1.get(f"{H}/export", params={**params, "format": "csv"})
        assert r.status_code == 403, (params, r.text)
        assert "may not" in r.json()["error"]["message"]
    # search leaves the phone and the hidden note out of the searched fields: typing them finds nothing
    for q in (PHONES["l1"], secret("l1")):
        assert l1.get("/api/v1/search", params={"q": q}).json()["groups"] == [], q
    # the manager may: a full phone finds the record (exact match on the encrypted field)
    [group] = world.client("mgr").get("/api/v1/search", params={"q": PHONES["l1"]}).json()["groups"]
    assert [i["title"] for i in group["items"]] == ["Hospital of L1"]


# action rights -------------------------------------------------------------------------------------
def test_pl20_export_and_print_need_their_own_right(world: People) -> None:
    clerk = world.client("clerk")  # staff: reads their own leads, may not export or print them
    lead = ok(clerk.get("/api/v1/records/lead")).json()["items"][0]["id"]
    for path in ("/api/v1/records/lead/export", "/api/v1/records/lead/export?format=xlsx"):
        r = clerk.get(path)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden" and "may not export" in r.json()["error"]["message"]
    for path in ("/r/lead/export?format=xlsx", "/r/lead/export?format=csv", f"/r/lead/{lead}/print", "/r/lead/print"):
        r = clerk.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "text/html" in r.headers["content-type"]
    page = dom(ok(clerk.get("/r/lead")).text)
    assert not page.find_all(id="export-menu"), "no export menu without the right"
    assert not dom(ok(clerk.get(f"/r/lead/{lead}")).text).find_all(id="print-record")
    # without any role: refused as well
    assert world.client("nobody").get(f"{H}/export").status_code == 403
    # a liaison of this pack has both rights: the menu and the button are there
    l1 = world.client("l1")
    menu = dom(ok(l1.get("/v/hospital_list", params={"q": "Hospital"})).text).by_id("export-menu")
    assert menu.find(id="export-xlsx").attrs["href"] == "/v/hospital_list/export?q=Hospital&format=xlsx"
    assert menu.find(id="print-list").attrs["href"] == "/v/hospital_list/print?q=Hospital"
    detail = dom(ok(l1.get(f"/r/hospital/{world.hospitals['l1']}")).text)
    assert detail.by_id("print-record").attrs["href"] == f"/r/hospital/{world.hospitals['l1']}/print"


def test_pl21_exports_and_printouts_are_in_the_operation_log(world: People) -> None:
    from runtime.oplog import OpFilter, query_operations

    l1 = world.client("l1")
    csv_rows(l1.get(f"{H}/export", params={"format": "csv", "q": "Hospital", "city": "Hangzhou"}))
    xlsx_rows(l1.get("/v/hospital_list/export", params={"format": "xlsx"}))
    csv_rows(world.client("mgr").get(f"{H}/export", params={"format": "csv", "phone": PHONES["l1"]}))
    ok(l1.get(f"/r/hospital/{world.hospitals['l1']}/print"))
    ok(l1.get("/v/hospital_list/print", params={"city": "Hangzhou"}))
    db = world.tessera.db
    exports = query_operations(db, OpFilter(kind="export"))
    assert [e["detail"]["format"] for e in exports] == ["csv", "xlsx", "csv"]
    by_manager, page, api = exports
    assert api["username"] == "l1" and api["actor_id"] == world.users["l1"] and api["request_id"]
    assert api["detail"]["channel"] == "api" and page["detail"]["channel"] == "ui"
    assert api["detail"]["entity"] == "hospital" and api["detail"]["rows"] == 1 and api["detail"]["complete"] is True
    assert api["detail"]["search"] == "Hospital" and api["detail"]["filters"] == [["city", "eq", "Hangzhou"]]
    assert page["detail"]["view"] == "hospital_list" and page["detail"]["rows"] == 1
    assert by_manager["detail"]["filters"] == [["phone", "eq", "***"]], "sensitive values stay out of the log"
    assert PHONES["l1"] not in str(by_manager)
    prints = query_operations(db, OpFilter(kind="print"))
    assert [p["detail"]["what"] for p in prints] == ["list", "record"]
    assert prints[1]["detail"]["record_id"] == world.hospitals["l1"]
    assert prints[0]["detail"]["filters"] == [["city", "eq", "Hangzhou"]]


# script in record text, in a real browser -----------------------------------------------------------
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl21_script_in_record_text_is_shown_as_text_on_list_detail_print_and_search_pages(world: People) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    require_chromium()
    tessera, l1 = world.tessera, world.tessera.users.get(world.users["l1"])
    assert l1 is not None
    made = [
        tessera.records.create("hospital", {"name": SCRIPT, "city": IMG, "notes": IMG}, SYSTEM),
        tessera.records.create("hospital", {"name": IMG, "city": "Hangzhou", "contact_name": SCRIPT}, SYSTEM),
    ]
    table = tessera.registry.tables["hospital"].main
    with tessera.db.write() as conn:
        ids = [r["id"] for r in made]
        conn.execute(table.update().where(table.c.id.in_(ids)).values(owner_id=l1.id, department_id=l1.department_id))
    pages = [
        "/v/hospital_list",
        f"/r/hospital/{ids[0]}",
        f"/r/hospital/{ids[1]}",
        f"/r/hospital/{ids[0]}/print",
        "/v/hospital_list/print",
        "/search?q=alert(1)",
        "/search?" + urlencode({"q": SCRIPT}),
    ]
    dialogs: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(locale="zh-CN")
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(world.url + "/login")
        page.fill("#username", "l1")
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(world.url + "/")
        for path in pages:
            page.goto(world.url + path)
            page.wait_for_load_state("load")
            for text in (SCRIPT, IMG):
                shown = page.get_by_text(text, exact=True)
                assert shown.count() >= 1, f"{path}: {text} is not shown as text"
                assert shown.first.is_visible(), path
            assert page.locator("img[src=x]").count() == 0, f"{path}: an injected <img> became an element"
        page.wait_for_timeout(300)
        browser.close()
    assert dialogs == [], f"a script ran: {dialogs}"
