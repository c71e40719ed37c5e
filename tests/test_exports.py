"""PL-20 export, print and search channels: what the files and pages hold, over real HTTP on SQLite and PostgreSQL.

Permissions and masking per channel are in test_security_channels.py; this module covers the
files themselves (people-readable values, Chinese labels, formula injection, row cap, keyset
streaming, the same rows as the list API), the print pages and the search page's input handling.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from openpyxl import load_workbook

import ui.app
from runtime.api import create_app
from runtime.exports import Exporter, list_query_from_params
from runtime.oplog import OpFilter, query_operations
from runtime.records import Context
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD
from tests.support.browser import require_chromium
from tests.support.html import dom, sign_in
from tests.support.server import live_server

EXPORT = "/api/v1/records/specimen/export"


@pytest.fixture
def admin_ctx(tessera: Tessera) -> Context:
    admin = tessera.users.by_username("admin")
    assert admin is not None
    return Context(user_id=admin.id, channel="ui", is_admin=True, lang="zh")


@pytest.fixture
def seeded(tessera: Tessera, admin_ctx: Context) -> dict[str, Any]:
    """One office and three specimens with values of many field types."""
    office = tessera.records.create("region_office", {"name": "华东办事处"}, admin_ctx)
    base = {"close_reason": "合并", "office": office["id"], "liaison": admin_ctx.user_id}
    rows = [
        {"title": "第一人民医院", "level": "3A", "beds": 1200, "price": 88.5, "discount": 12.5, "active": True},
        {"title": "第二人民医院", "level": "2A", "beds": 300, "price": 1000, "active": False, "tags": ["重点", "新"]},
        {"title": "城东社区卫生院", "level": "1", "beds": 40, "visit_date": "2026-11-03"},
    ]
    made = [tessera.records.create("specimen", {**base, **row}, admin_ctx) for row in rows]
    tessera.records.update(
        "specimen",
        made[0]["id"],
        {"visited_at": "2026-11-23T01:30:00", "region": ["浙江省", "杭州市"]},
        admin_ctx,
        expected_version=None,
    )
    return {"office": office, "specimens": made}


@pytest.fixture
def ui_url(tessera: Tessera) -> Iterator[str]:
    with live_server(create_app(tessera, extensions=[ui.app.install])) as url:
        yield url


@pytest.fixture
def client(ui_url: str) -> Iterator[httpx.Client]:
    """The administrator, signed in through the login page, Chinese UI."""
    with httpx.Client(base_url=ui_url, timeout=30, headers={"Accept-Language": "zh-CN"}) as c:
        assert sign_in(c).status_code == 303
        me = c.get("/api/v1/auth/me").json()
        c.headers["X-CSRF-Token"] = me.get("csrf_token", "")
        yield c


def csv_of(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text[:300]
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def xlsx_of(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text[:300]
    return load_workbook(io.BytesIO(response.content)).active


# files -----------------------------------------------------------------------------------------------
def test_pl20_export_csv_shows_values_as_people_read_them(client: httpx.Client, seeded: dict[str, Any]) -> None:
    r = client.get(EXPORT, params={"format": "csv", "sort": "title", "lang": "zh"})
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="specimen_2026')
    assert f"filename*=UTF-8''{quote('全字段样本')}_2026" in disposition, "the Chinese name in RFC 5987 form"
    rows = csv_of(r)
    header = rows[0]
    assert header[:4] == ["编号", "标题", "床位数", "比例"], "without a view: every one-cell field, in order"
    assert "联系人" not in header and "备注" not in header, "child tables and long texts are left to views"
    by_title = {row[1]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    first = by_title["第一人民医院"]
    assert first["等级"] == "三级甲等", "option labels, not codes"
    assert first["办事处"] == "华东办事处", "references as titles"
    assert first["拜访时间"] == "2026-11-23 09:30", "timestamps in local time (stored as UTC)"
    assert first["启用"] == "是" and by_title["第二人民医院"]["启用"] == "否"
    assert first["价格"] == "88.50" and by_title["第二人民医院"]["价格"] == "1000.00"
    assert first["折扣"] == "12.5%" and first["床位数"] == "1200"
    assert first["地区"] == "浙江省 / 杭州市" and first["联络员"] == "Admin"
    assert by_title["第二人民医院"]["标签"] == "重点、新"
    assert by_title["城东社区卫生院"]["拜访日期"] == "2026-11-03"
    assert first["编号"].startswith("SP-")


def test_pl20_export_xlsx_keeps_numbers_and_dates_typed(client: httpx.Client, seeded: dict[str, Any]) -> None:
    r = client.get(EXPORT, params={"format": "xlsx", "view": "specimen_list", "sort": "-beds"})
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    sheet = xlsx_of(r)
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("编号", "标题", "等级", "床位数", "价格", "拜访日期", "启用"), "the view's columns, in order"
    assert [row[1] for row in rows[1:]] == ["第一人民医院", "第二人民医院", "城东社区卫生院"]
    assert rows[1][3] == 1200 and rows[1][4] == 88.5 and rows[1][2] == "三级甲等"
    assert sheet["E2"].number_format == "#,##0.00"
    assert sheet["F4"].value.date().isoformat() == "2026-11-03" and sheet["F4"].number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A2"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_pl21_formula_like_text_is_exported_as_text(
    client: httpx.Client, tessera: Tessera, admin_ctx: Context, fmt: str
) -> None:
    evil = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)", "\tTab", "safe = text"]
    for i, title in enumerate(evil):
        tessera.records.create("specimen", {"title": title, "close_reason": "x", "beds": i}, admin_ctx)
    r = client.get(EXPORT, params={"format": fmt, "view": "specimen_list", "sort": "beds"})
    if fmt == "csv":
        titles = [row[1] for row in csv_of(r)[1:]]
    else:
        sheet = xlsx_of(r)
        cells = [row[1] for row in sheet.iter_rows(min_row=2)]
        assert all(c.data_type == "s" for c in cells), "no cell is stored as a formula"
        titles = [c.value for c in cells]
    assert titles == [f"'{t}" for t in evil[:5]] + ["safe = text"]


def test_pl20_export_holds_the_same_rows_as_the_list_api(client: httpx.Client, seeded: dict[str, Any]) -> None:
    for params in (
        {"sort": "-beds"},
        {"level__in": "3A,2A", "sort": "title"},
        {"q": "人民", "sort": "beds"},
        {"view": "specimen_list", "q": "SP-"},
        {"beds__gte": "100", "active": "true"},
    ):
        listed = client.get("/api/v1/records/specimen", params={**params, "limit": "200"})
        assert listed.status_code == 200, listed.text
        expected = [item["title"] for item in listed.json()["items"]]
        exported = [row[1] for row in csv_of(client.get(EXPORT, params={**params, "format": "csv"}))[1:]]
        assert exported == expected, params
    bad = client.get(EXPORT, params={"beds__gte": "many"})
    assert bad.status_code == 400 and "beds" in bad.json()["error"]["message"]


def test_pl20_export_reads_keyset_pages_until_the_end(tessera: Tessera, admin_ctx: Context) -> None:
    for i in range(23):
        tessera.records.create("specimen", {"title": f"医院{i:02d}", "close_reason": "x", "beds": i % 5}, admin_ctx)
    entity = tessera.registry.entity("specimen")
    query = list_query_from_params(tessera.registry, entity, [("sort", "beds")])
    file = Exporter(tessera, page_size=4).export("specimen", query, admin_ctx, "csv")
    assert file.rows == 23
    header, *rows = list(csv.reader(io.StringIO(b"".join(file.chunks).decode("utf-8")[1:])))
    titles, beds = [r[header.index("标题")] for r in rows], [int(r[header.index("床位数")]) for r in rows]
    assert len(rows) == 23 and len(set(titles)) == 23, "every row once, across six pages"
    assert beds == sorted(beds)
    [entry] = query_operations(tessera.db, OpFilter(kind="export"))
    assert entry["detail"]["rows"] == 23 and entry["detail"]["complete"] is True


def test_pl20_unknown_export_format_is_refused(client: httpx.Client, seeded: dict[str, Any]) -> None:
    r = client.get(EXPORT, params={"format": "pdf"})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "unknown export format 'pdf'; use csv or xlsx"
    assert client.get("/api/v1/records/nothing/export").status_code == 404
    page = client.get("/v/specimen_list/export", params={"format": "pdf"})
    assert page.status_code == 303, "the page export goes back to the list with a message"
    assert "导出" in dom(client.get(page.headers["location"]).text).by_id("toasts").text()


def test_pl22_export_over_the_row_cap_is_refused_with_a_clear_message(
    client: httpx.Client, tessera: Tessera, seeded: dict[str, Any]
) -> None:
    tessera.params.set("export.max_rows", 2)
    r = client.get(EXPORT, params={"format": "xlsx", "lang": "en"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "export_too_large"
    assert error["message"] == (
        "the export would hold 3 rows, more than the limit of 2; narrow the filters and export in parts"
    )
    assert client.get(EXPORT, params={"format": "csv", "level": "3A"}).status_code == 200, "a narrower export works"
    page = client.get("/v/specimen_list/export", params={"format": "xlsx", "sort": "-beds"})
    assert page.status_code == 303 and page.headers["location"] == "/v/specimen_list?sort=-beds"
    toast = dom(client.get(page.headers["location"]).text).by_id("toasts").text()
    assert "导出结果有 3 行，超过单次导出上限 2 行" in toast
    assert query_operations(tessera.db, OpFilter(kind="export"))[0]["detail"]["rows"] == 1


def test_pl20_list_page_export_menu_downloads_what_the_list_shows(client: httpx.Client, seeded: dict[str, Any]) -> None:
    page = dom(client.get("/v/specimen_list", params={"level": "3A", "cursor": "x"}).text)
    link = page.by_id("export-xlsx").attrs["href"]
    assert link == "/v/specimen_list/export?level=3A&format=xlsx", "filters kept, the page cursor dropped"
    assert page.by_id("export-csv").attrs["href"] == "/v/specimen_list/export?level=3A&format=csv"
    r = client.get(link)
    disposition = r.headers["content-disposition"]
    assert f"filename*=UTF-8''{quote('样本列表')}_" in disposition and disposition.endswith(".xlsx")
    rows = list(xlsx_of(r).iter_rows(values_only=True))
    assert [row[1] for row in rows[1:]] == ["第一人民医院"], "the view's filters and the user's filter"
    assert "导出" in page.by_id("export-toggle").text()


# print -----------------------------------------------------------------------------------------------
def test_pl20_print_page_shows_the_form_layout_with_header_and_footer(
    client: httpx.Client, tessera: Tessera, seeded: dict[str, Any]
) -> None:
    rid = seeded["specimens"][0]["id"]
    detail = dom(client.get(f"/r/specimen/{rid}").text)
    assert detail.by_id("print-record").attrs["href"] == f"/r/specimen/{rid}/print"
    r = client.get(f"/r/specimen/{rid}/print")
    assert r.status_code == 200
    page = dom(r.text)
    assert not page.find_all("nav") and not page.find_all(id="sidebar"), "no navigation chrome"
    assert page.by_id("record-title").text() == "第一人民医院"
    headings = [h.text() for h in page.find_all("h2")]
    assert headings == ["基本信息", "联系", "其他"], "the form's tabs as headed blocks"
    assert "概况" in [h.text() for h in page.find_all("h3")]
    assert page.by_id("print-site").text() == "Tessera"
    footer = page.by_id("print-footer").text()
    assert "打印人：Admin" in footer and "打印时间：2026-11-23 17:30" in footer
    assert "@media print" in r.text and "@page" in r.text
    level = next(n for n in page.iter() if n.attrs.get("data-field") == "level")
    assert "三级甲等" in level.text()
    [entry] = query_operations(tessera.db, OpFilter(kind="print"))
    assert entry["detail"] == {"entity": "specimen", "record_id": rid, "what": "record", "channel": "ui"}


def test_pl20_list_print_page_prints_the_current_list_page(client: httpx.Client, seeded: dict[str, Any]) -> None:
    page = dom(client.get("/v/specimen_list/print", params={"q": "人民", "level": "3A"}).text)
    table = page.by_id("print-table")
    header = [th.text() for th in table.find_all("th")]
    assert header == ["#", "编号", "标题", "等级", "床位数", "价格", "拜访日期", "启用"]
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == 1 and "第一人民医院" in rows[0].text()
    conditions = page.by_id("print-conditions").text()
    assert "搜索“人民”" in conditions and "等级 = 3A" in conditions
    assert page.by_id("print-back").attrs["href"] == "/v/specimen_list?q=%E4%BA%BA%E6%B0%91&level=3A"
    assert dom(client.get("/v/specimen_list").text).by_id("print-list").attrs["href"] == "/v/specimen_list/print"


# search ----------------------------------------------------------------------------------------------
def test_pl20_search_page_groups_matches_by_entity(client: httpx.Client, seeded: dict[str, Any]) -> None:
    page = dom(client.get("/search", params={"q": "华东"}).text)
    group = page.by_id("sg-region_office")
    assert "华东办事处" in group.text()
    assert not page.find_all(id="sg-specimen")
    page = dom(client.get("/search", params={"q": "人民"}).text)
    specimens = page.by_id("sg-specimen")
    links = [a.attrs["href"] for a in specimens.find_all("a") if "tf-search-hit" in a.classes]
    assert sorted(links) == sorted(f"/r/specimen/{s['id']}" for s in seeded["specimens"][:2])
    assert "2 条" in specimens.text()
    api = client.get("/api/v1/search", params={"q": "人民"}).json()
    [found] = api["groups"]
    assert found["entity"] == "specimen" and found["total"] == 2 and found["fields"] == ["title", "code"]
    assert {i["title"] for i in found["items"]} == {"第一人民医院", "第二人民医院"}
    top = dom(client.get("/").text).by_id("top-search")
    assert top.attrs["action"] == "/search" and top.find("input").attrs["name"] == "q"


def test_pl20_search_input_problems_get_a_clear_answer(client: httpx.Client, seeded: dict[str, Any]) -> None:
    short = dom(client.get("/search", params={"q": "人"}).text)
    assert "至少输入 2 个字符" in short.by_id("search-hint").text()
    assert not short.find_all(id="search-summary")
    empty = dom(client.get("/search").text)
    assert not empty.find_all(id="search-hint") and not empty.find_all(id="search-none")
    r = client.get("/api/v1/search", params={"q": "x"})
    assert r.status_code == 400 and r.json()["error"]["message"] == "请至少输入 2 个字符"
    r = client.get("/api/v1/search", params={"q": "x", "lang": "en"})
    assert r.json()["error"]["message"] == "type at least 2 characters"
    long = client.get("/search", params={"q": "长" * 201})
    assert long.status_code == 400
    assert "最多 200 个字符" in dom(long.text).by_id("search-problem").text()
    assert client.get("/api/v1/search", params={"q": "y" * 201}).status_code == 400
    nul = client.get("/search?q=a%00b")
    assert nul.status_code == 400 and "NUL" in nul.text
    assert client.get("/api/v1/search", params={"q": "无此内容"}).json()["groups"] == []
    none = dom(client.get("/search", params={"q": "无此内容"}).text)
    assert "没有找到与“无此内容”匹配的记录" in none.by_id("search-none").text()


def test_pl20_openapi_documents_export_and_search(client: httpx.Client, seeded: dict[str, Any]) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    export = doc["paths"]["/api/v1/records/specimen/export"]["get"]
    names = {p["name"] for p in export["parameters"]}
    assert {"format", "view", "q", "sort", "level", "beds"} <= names
    assert "403" in export["responses"] and "text/csv" in export["responses"]["200"]["content"]
    assert "/api/v1/records/{entity}/export" not in doc["paths"]
    assert [p["name"] for p in doc["paths"]["/api/v1/search"]["get"]["parameters"]] == ["q"]


# in a real browser -----------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl20_export_menu_exports_filters_typed_without_reloading_the_page(
    ui_url: str, seeded: dict[str, Any], tmp_path: Path
) -> None:
    """The filter bar updates the list in place (htmx) and the address bar; the download follows it."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    chromium = require_chromium()
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(locale="zh-CN", accept_downloads=True)
        page.goto(ui_url + "/login")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(ui_url + "/")
        page.goto(ui_url + "/v/specimen_list")
        page.fill("#list-q", "第二")
        page.wait_for_url("**/v/specimen_list?q=*")
        page.click("#export-toggle")
        with page.expect_download() as info:
            page.click("#export-csv")
        download = info.value
        assert "q=%E7%AC%AC%E4%BA%8C" in download.url and "format=csv" in download.url
        assert download.suggested_filename.startswith("样本列表_") and download.suggested_filename.endswith(".csv")
        target = tmp_path / "export.csv"
        download.save_as(target)
        rows = list(csv.reader(io.StringIO(target.read_text("utf-8-sig"))))
        assert [row[1] for row in rows[1:]] == ["第二人民医院"]
        browser.close()
