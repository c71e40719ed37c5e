"""The web UI over real HTTP (uvicorn + httpx), on SQLite and PostgreSQL.

Pages are parsed with a small stdlib HTML tree so assertions can look inside one field's wrapper
("the phone error is shown next to the phone input") instead of searching the whole page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

import ui.app
from runtime.api import create_app
from runtime.records import Context, ListQuery
from runtime.services import Tessera
from tests.conftest import ADMIN_PASSWORD
from tests.support.html import Node, csrf_of, dom, field_errors, sign_in
from tests.support.server import live_server

FORM = "/r/specimen/new?form=specimen_form"


# fixtures ---------------------------------------------------------------------------------------
def ui_app(tessera: Tessera) -> FastAPI:
    return create_app(tessera, extensions=[ui.app.install])


@pytest.fixture
def ui_url(tessera: Tessera) -> Iterator[str]:
    app = ui_app(tessera)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:  # a page that fails, to see the 500 page
        raise RuntimeError("secret internal detail")

    with live_server(app) as url:
        yield url


@pytest.fixture
def browser_client(ui_url: str) -> Iterator[httpx.Client]:
    """Signed in as the administrator, Chinese UI; follows no redirects so tests can check them."""
    with httpx.Client(base_url=ui_url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
        r = sign_in(client)
        assert r.status_code == 303, r.text
        yield client


@pytest.fixture
def ctx(tessera: Tessera) -> Context:
    admin = tessera.users.by_username("admin")
    assert admin is not None
    return Context(user_id=admin.id, channel="ui", is_admin=True, lang="zh")


def new_form(client: httpx.Client) -> tuple[str, Node]:
    r = client.get(FORM)
    assert r.status_code == 200
    return csrf_of(r.text), dom(r.text)


def post_new(client: httpx.Client, data: dict[str, Any]) -> httpx.Response:
    token, _ = new_form(client)
    return client.post(FORM, data={"csrf_token": token, **data})


# sign-in ----------------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_login(ui_url: str) -> None:
    with httpx.Client(base_url=ui_url, timeout=30) as client:
        r = client.get("/v/specimen_list?level=3A")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fv%2Fspecimen_list%3Flevel%3D3A"
        htmx = client.get("/v/specimen_list", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"].startswith("/login")
        page = client.get("/login?next=/v/specimen_list")
        assert page.status_code == 200
        assert "用户名" in page.text and 'value="/v/specimen_list"' in page.text


def test_login_with_wrong_password_then_right_one(ui_url: str) -> None:
    with httpx.Client(base_url=ui_url, timeout=30) as client:
        bad = sign_in(client, password="wrong")
        assert bad.status_code == 401
        assert "用户名或密码不正确" in dom(bad.text).by_id("login-error").text()
        token = csrf_of(client.get("/login").text)
        ok = client.post(
            "/login",
            data={
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "csrf_token": token,
                "next": "/v/specimen_list",
            },
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/v/specimen_list"
        home = client.get("/")
        assert home.status_code == 200 and "欢迎" in home.text and "样本列表" in home.text
        off_site = client.post(
            "/login",
            data={
                "username": "admin",
                "password": ADMIN_PASSWORD,
                "csrf_token": csrf_of(home.text),
                "next": "//evil.example/",
            },
        )
        assert off_site.headers["location"] == "/"
        out = client.post("/logout", data={"csrf_token": csrf_of(client.get("/").text)})
        assert out.status_code == 303
        assert client.get("/").status_code == 303


# lists ------------------------------------------------------------------------------------------
def _specimens(tessera: Tessera, ctx: Context, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [tessera.records.create("specimen", {"close_reason": "closed", **row}, ctx) for row in rows]


def test_list_page_shows_columns_and_values_in_chinese_and_english(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    office = tessera.records.create("region_office", {"name": "华东办事处"}, ctx)
    _specimens(
        tessera,
        ctx,
        [
            {
                "title": "协和医院",
                "level": "3A",
                "beds": 1200,
                "price": 99.5,
                "active": True,
                "office": office["id"],
            }
        ],
    )
    page = dom(browser_client.get("/v/specimen_list").text)
    headers = [th.text().strip() for th in page.by_id("list-table").find_all("th")]
    assert headers == ["编号", "标题", "等级", "床位数", "价格", "拜访日期", "启用"]
    row = page.by_id("list-table").find("tbody").find("tr")
    cells = [td.text().strip() for td in row.find_all("td")]
    assert cells[1] == "协和医院" and cells[2] == "三级甲等" and cells[3] == "1,200" and cells[4] == "¥99.50"
    assert row.find("a", class_="tf-row-link").attrs["href"].startswith("/r/specimen/")
    assert "共 1 条" in page.by_id("list-total").text()

    switched = browser_client.get("/lang/en?next=/v/specimen_list")
    assert switched.status_code == 303 and "lang=en" in switched.headers["set-cookie"]
    english = dom(browser_client.get("/v/specimen_list").text)
    headers = [th.text().strip() for th in english.by_id("list-table").find_all("th")]
    assert headers == ["Code", "Title", "Level", "Beds", "Price", "Visit date", "Active"]
    assert "Grade 3A" in english.by_id("list-table").text()
    assert "1 records" in english.by_id("list-total").text()


def _titles(html: str) -> list[str]:
    return [a.text().strip() for a in dom(html).find_all("a", class_="tf-row-link")]


def test_filters_search_and_sorting_change_the_rows(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    _specimens(
        tessera,
        ctx,
        [
            {"title": "甲医院", "level": "3A", "beds": 300, "active": True},
            {"title": "乙医院", "level": "2A", "beds": 100, "active": False},
            {"title": "丙医院", "level": "3A", "beds": 200, "active": True},
        ],
    )
    assert _titles(browser_client.get("/v/specimen_list?level=3A").text) == ["丙医院", "甲医院"]
    assert _titles(browser_client.get("/v/specimen_list?active=false").text) == ["乙医院"]
    assert _titles(browser_client.get("/v/specimen_list?q=丙").text) == ["丙医院"]
    assert _titles(browser_client.get("/v/specimen_list?sort=-beds").text) == ["甲医院", "丙医院", "乙医院"]
    assert _titles(browser_client.get("/v/specimen_list?sort=beds").text) == ["乙医院", "丙医院", "甲医院"]

    page = dom(browser_client.get("/v/specimen_list?sort=beds").text)
    beds_header = page.find("th", data_field="beds")
    assert beds_header.attrs["aria-sort"] == "ascending"
    assert beds_header.find("a").attrs["href"] == "/v/specimen_list?sort=-beds"
    quick = page.find("select", name="level")
    assert [o.text().strip() for o in quick.find_all("option")][1:] == [
        "三级甲等",
        "三级乙等",
        "二级甲等",
        "一级",
    ]

    fragment = browser_client.get(
        "/v/specimen_list?level=2A", headers={"HX-Request": "true", "HX-Target": "list-results"}
    )
    assert "<html" not in fragment.text and _titles(fragment.text) == ["乙医院"]
    bad = browser_client.get("/v/specimen_list?beds=many")
    assert bad.status_code == 200 and "筛选条件无效" in bad.text


def test_keyset_paging_with_next_and_first_page(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    _specimens(tessera, ctx, [{"title": f"医院{i:02d}", "beds": i} for i in range(23)])
    first = dom(browser_client.get("/v/specimen_list?sort=beds&limit=10").text)
    assert [a.text().strip() for a in first.find_all("a", class_="tf-row-link")][:2] == ["医院00", "医院01"]
    assert "共 23 条" in first.by_id("list-total").text()
    next_url = first.by_id("next-page").attrs["href"]
    assert "cursor=" in next_url
    second_html = browser_client.get(next_url).text
    second = dom(second_html)
    assert _titles(second_html)[0] == "医院10" and len(_titles(second_html)) == 10
    assert "共 23 条" in second.by_id("list-total").text()
    assert second.by_id("first-page").attrs["href"] == "/v/specimen_list?sort=beds&limit=10"
    third_html = browser_client.get(second.by_id("next-page").attrs["href"]).text
    assert _titles(third_html) == ["医院20", "医院21", "医院22"]
    assert not dom(third_html).find_all(id="next-page")


# create and edit --------------------------------------------------------------------------------
def test_create_through_the_form_post(tessera: Tessera, ctx: Context, browser_client: httpx.Client) -> None:
    office = tessera.records.create("region_office", {"name": "华南办事处"}, ctx)
    token, form = new_form(browser_client)
    assert form.by_id("fw-close_reason").classes >= {"d-none"}
    assert "is-required" in form.by_id("fw-title").classes
    assert form.find("input", name="discount").attrs["value"] == "0"  # defaults are pre-filled
    r = browser_client.post(
        FORM,
        data={
            "csrf_token": token,
            "title": "人民医院",
            "level": "3A",
            "beds": "1,200",
            "price": "88.5",
            "discount": "10",
            "active": ["0", "1"],
            "phone": "13800138000",
            "office": str(office["id"]),
            "specialties": ["", "oncology", "cardiology"],
            "region": ["广东省", "深圳市", ""],
            "tags": "重点, 三甲",
            "stars": ["", "4"],
            "nps": ["", "9"],
            "visited_at": "2026-11-20T09:30",
            "extra": '{"a": 1}',
            "contacts": "",
            "contacts.0.name": "王医生",
            "contacts.0.mobile": "13900139000",
            "contacts.0.is_primary": ["0", "1"],
            "contacts.1.name": "",
            "contacts.1.mobile": "",
            "contacts.1.is_primary": "0",
        },
    )
    assert r.status_code == 303, r.text
    record_id = int(r.headers["location"].rsplit("/", 1)[1])
    saved = tessera.records.get("specimen", record_id, ctx)
    assert saved["title"] == "人民医院" and saved["beds"] == 1200 and saved["price"] == 88.5
    assert saved["net_price"] == pytest.approx(79.65) and saved["active"] is True
    assert saved["specialties"] == ["oncology", "cardiology"] and saved["region"] == ["广东省", "深圳市"]
    assert saved["tags"] == ["重点", "三甲"] and saved["stars"] == 4 and saved["nps"] == 9
    assert saved["visited_at"] == "2026-11-20T01:30:00"  # typed in Beijing time, stored as UTC
    assert saved["extra"] == {"a": 1} and saved["office"] == office["id"]
    assert [c["name"] for c in saved["contacts"]] == ["王医生"] and saved["contacts"][0]["is_primary"] is True
    detail = browser_client.get(r.headers["location"])
    page = dom(detail.text)
    assert "已创建「人民医院」" in detail.text  # the flash toast
    assert page.by_id("record-title").text() == "人民医院"
    assert "华南办事处" in detail.text and "王医生" in detail.text and "2026-11-20 09:30" in detail.text


def test_invalid_input_is_shown_next_to_each_field_and_kept(browser_client: httpx.Client) -> None:
    r = post_new(
        browser_client,
        {
            "title": "",
            "phone": "123",
            "beds": "99999",
            "level": "2A",
            "contacts.0.name": "",
            "contacts.0.mobile": "555",
        },
    )
    assert r.status_code == 422
    page = dom(r.text)
    assert "不是有效的电话号码" in field_errors(page, "phone")
    assert "不能大于 10000" in field_errors(page, "beds")
    assert "必填" in field_errors(page, "title")
    assert page.find("input", name="phone").attrs["value"] == "123"
    assert page.find("input", name="beds").attrs["value"] == "99999"
    cell = page.find("input", name="contacts.0.mobile")
    assert cell.attrs["value"] == "555"
    row_text = page.find("tr", data_tf_row="").text()
    assert "不是有效的电话号码" in row_text and "必填" in row_text
    summary = page.by_id("error-summary").text()
    assert "电话" in summary and "联系人 · 行 1 · 手机" in summary
    tabs = {b.attrs["id"]: b for b in page.find_all("button", role="tab")}
    assert tabs["tab-1-btn"].find("span").text() == "3"
    assert page.find("option", value="2A").attrs.get("selected") is not None


def test_unreadable_input_reports_every_problem_at_once(browser_client: httpx.Client) -> None:
    r = post_new(
        browser_client,
        {"title": "", "phone": "123", "beds": "很多", "extra": "{oops", "level": "1", "close_reason": ""},
    )
    assert r.status_code == 422
    page = dom(r.text)
    assert "请输入整数" in field_errors(page, "beds")
    assert "不是有效的 JSON" in field_errors(page, "extra")
    assert "不是有效的电话号码" in field_errors(page, "phone")
    assert "必填" in field_errors(page, "title")
    assert "必填" in field_errors(page, "close_reason")
    assert "d-none" not in page.by_id("fw-close_reason").classes
    assert page.find("input", name="beds").attrs["value"] == "很多"
    assert page.find("textarea", name="extra").text() == "{oops"


def test_english_messages_when_the_ui_is_in_english(browser_client: httpx.Client) -> None:
    browser_client.get("/lang/en")
    r = post_new(browser_client, {"title": "", "beds": "lots"})
    page = dom(r.text)
    assert "enter a whole number" in field_errors(page, "beds")
    assert "is required" in field_errors(page, "title")
    assert "Fix 2 problem(s) before saving" in page.by_id("error-summary").text()


def test_form_reevaluation_shows_close_reason_only_for_level_one(browser_client: httpx.Client) -> None:
    token, _ = new_form(browser_client)
    url = "/r/specimen/_form?form=specimen_form"
    headers = {"X-CSRF-Token": token, "HX-Request": "true"}
    shown = dom(
        browser_client.post(url, data={"level": "1", "price": "100", "discount": "10"}, headers=headers).text
    )
    state = shown.find("li", data_field="close_reason").attrs
    assert state["data-visible"] == "true" and state["data-required"] == "true"
    assert shown.by_id("fv-net_price").attrs["hx-swap-oob"] == "true"
    assert "90.00" in shown.by_id("fv-net_price").text()
    assert shown.find("li", data_field="code").attrs["data-readonly"] == "true"
    assert not shown.find_all("input")  # only states and computed values, never the inputs being typed in
    hidden = dom(browser_client.post(url, data={"level": "3A"}, headers=headers).text)
    state = hidden.find("li", data_field="close_reason").attrs
    assert state["data-visible"] == "false" and state["data-required"] == "false"


def test_edit_saves_and_a_stale_version_keeps_the_input(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    record = _specimens(tessera, ctx, [{"title": "旧名称", "beds": 10}])[0]
    edit_url = f"/r/specimen/{record['id']}/edit?form=specimen_form"
    page = dom(browser_client.get(edit_url).text)
    assert page.find("input", name="version").attrs["value"] == "1"
    assert page.find("input", name="title").attrs["value"] == "旧名称"
    token = csrf_of(browser_client.get(edit_url).text)
    ok = browser_client.post(
        edit_url, data={"csrf_token": token, "version": "1", "title": "新名称", "beds": "20"}
    )
    assert ok.status_code == 303
    assert tessera.records.get("specimen", record["id"], ctx)["beds"] == 20

    tessera.records.update("specimen", record["id"], {"beds": 30}, ctx, expected_version=2)  # someone else
    stale = browser_client.post(
        edit_url, data={"csrf_token": token, "version": "2", "title": "我的修改", "beds": "40"}
    )
    assert stale.status_code == 409
    page = dom(stale.text)
    assert "其他人已修改了这条记录" in page.by_id("stale-alert").text()
    assert page.find("input", name="title").attrs["value"] == "我的修改"
    assert page.find("input", name="beds").attrs["value"] == "40"
    assert tessera.records.get("specimen", record["id"], ctx)["beds"] == 30


def test_posts_without_the_csrf_token_are_refused(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    r = browser_client.post(FORM, data={"title": "伪造"})
    assert r.status_code == 403 and "请求被拒绝" in r.text
    r = browser_client.post(FORM, data={"title": "伪造", "csrf_token": "x" * 43})
    assert r.status_code == 403
    r = browser_client.post("/r/specimen/_form", data={"level": "1"}, headers={"X-CSRF-Token": "wrong"})
    assert r.status_code == 403
    assert tessera.records.list("specimen", ListQuery(), ctx).items == []


def test_user_text_is_escaped(tessera: Tessera, ctx: Context, browser_client: httpx.Client) -> None:
    evil = '<script>alert("x")</script>'
    record = _specimens(
        tessera, ctx, [{"title": evil, "tags": ["<b>bold</b>"], "notes": "<img src=x onerror=1>"}]
    )[0]
    for url in (
        "/v/specimen_list",
        f"/r/specimen/{record['id']}",
        f"/r/specimen/{record['id']}/edit",
        "/v/specimen_board",
        "/ui/ref/specimen?q=script",
    ):
        html = browser_client.get(url).text
        assert evil not in html and "<b>bold</b>" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;" in html, url


# other views ------------------------------------------------------------------------------------
def test_kanban_and_calendar_show_records(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    _specimens(
        tessera,
        ctx,
        [
            {"title": "看板甲", "level": "3A", "beds": 500, "visit_date": "2026-11-05"},
            {"title": "看板乙", "level": "2A", "visit_date": "2026-11-05"},
            {"title": "无等级", "visit_date": "2026-12-24"},
        ],
    )
    board = dom(browser_client.get("/v/specimen_board").text)
    lanes = {s.find("h2").text(): s for s in board.find_all("section", class_="tf-lane")}
    assert list(lanes) == ["三级甲等", "三级乙等", "二级甲等", "一级", "未设置"]
    assert "看板甲" in lanes["三级甲等"].text() and "500" in lanes["三级甲等"].text()
    assert "看板乙" in lanes["二级甲等"].text() and "无等级" in lanes["未设置"].text()
    assert lanes["三级乙等"].find("span", class_="tf-lane-count").text() == "0"

    calendar = dom(browser_client.get("/v/specimen_calendar?month=2026-11").text)
    assert calendar.by_id("cal-title").text() == "2026年11月"
    day = calendar.find("div", data_date="2026-11-05")
    assert "看板甲" in day.text() and "看板乙" in day.text()
    assert "无等级" not in calendar.text()
    december = dom(browser_client.get("/v/specimen_calendar?month=2026-12").text)
    assert "无等级" in december.find("div", data_date="2026-12-24").text()


def test_kanban_move_changes_the_group_field(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    record = _specimens(tessera, ctx, [{"title": "移动我", "level": "2A"}])[0]
    token = csrf_of(browser_client.get("/v/specimen_board").text)
    moved = browser_client.post(
        "/v/specimen_board/move",
        data={"id": record["id"], "version": "1", "value": "3B"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert moved.status_code == 204
    assert tessera.records.get("specimen", record["id"], ctx)["level"] == "3B"
    stale = browser_client.post(
        "/v/specimen_board/move",
        data={"id": record["id"], "version": "1", "value": "1"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert stale.headers["HX-Refresh"] == "true"
    assert tessera.records.get("specimen", record["id"], ctx)["level"] == "3B"


def test_detail_delete_and_refused_delete(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    office = tessera.records.create("region_office", {"name": "华北办事处"}, ctx)
    record = _specimens(tessera, ctx, [{"title": "要删除的", "office": office["id"]}])[0]
    office_page = browser_client.get(f"/r/region_office/{office['id']}")
    assert (
        "要删除的" in dom(office_page.text).find("div", class_="card tf-related mt-4").text()
    )  # related list
    refused = browser_client.post(
        f"/r/region_office/{office['id']}/delete",
        data={"csrf_token": csrf_of(office_page.text), "version": "1"},
    )
    assert refused.status_code == 409
    assert "无法删除" in dom(refused.text).by_id("detail-problem").text()
    detail = browser_client.get(f"/r/specimen/{record['id']}")
    assert "确认删除" in detail.text
    gone = browser_client.post(
        f"/r/specimen/{record['id']}/delete", data={"csrf_token": csrf_of(detail.text), "version": "1"}
    )
    assert gone.status_code == 303 and gone.headers["location"] == "/v/specimen_list"
    assert browser_client.get(f"/r/specimen/{record['id']}").status_code == 404


# helpers and errors -----------------------------------------------------------------------------
def test_reference_picker_and_upload(tessera: Tessera, ctx: Context, browser_client: httpx.Client) -> None:
    tessera.records.create("region_office", {"name": "华东办事处"}, ctx)
    tessera.records.create("region_office", {"name": "西南办事处"}, ctx)
    found = dom(browser_client.get("/ui/ref/region_office", params={"q": "华东"}).text)
    assert [b.attrs["data-title"] for b in found.find_all("button")] == ["华东办事处"]

    token = csrf_of(browser_client.get(FORM).text)
    uploaded = browser_client.post(
        "/ui/upload",
        data={"_field": "photo", "_kind": "image"},
        files={"_upload": ("scan.png", b"\x89PNG fake", "image/png")},
        headers={"X-CSRF-Token": token},
    )
    chip = dom(uploaded.text).find("input", name="photo")
    created = browser_client.post(
        FORM, data={"csrf_token": token, "title": "带照片", "photo": ["", chip.attrs["value"]]}
    )
    assert created.status_code == 303
    record = tessera.records.get("specimen", int(created.headers["location"].rsplit("/", 1)[1]), ctx)
    assert record["photo"][0]["name"] == "scan.png" and record["photo"][0]["size"] == 9
    detail = browser_client.get(created.headers["location"]).text
    assert f"/api/v1/files/{record['photo'][0]['id']}" in detail
    refused = browser_client.post(
        "/ui/upload",
        data={"_field": "photo", "_kind": "image"},
        files={"_upload": ("notes.txt", b"text", "text/plain")},
        headers={"X-CSRF-Token": token},
    )
    assert "上传失败" in refused.text and 'name="photo"' not in refused.text


def test_friendly_error_pages(browser_client: httpx.Client) -> None:
    missing = browser_client.get("/r/specimen/999999")
    assert missing.status_code == 404 and "找不到页面" in missing.text
    assert browser_client.get("/r/nothing_here").status_code == 404
    assert browser_client.get("/no/such/page").status_code == 404
    assert "找不到页面" in browser_client.get("/no/such/page").text
    boom = browser_client.get("/boom", headers={"X-Request-ID": "abc123"})
    assert boom.status_code == 500
    page = dom(boom.text)
    assert page.by_id("request-id").text() == "abc123"
    assert "secret internal detail" not in boom.text and "Traceback" not in boom.text
    api = browser_client.get("/api/v1/records/nothing_here")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"


def test_entity_without_a_form_gets_the_fallback_layout(
    tessera: Tessera, ctx: Context, browser_client: httpx.Client
) -> None:
    page = browser_client.get("/r/region_office/new")
    form = dom(page.text)
    assert not form.find_all("button", role="tab")  # one section, no tab strip
    assert "is-required" in form.by_id("fw-name").classes
    created = browser_client.post(
        "/r/region_office/new", data={"csrf_token": csrf_of(page.text), "name": "西北办事处"}
    )
    assert created.status_code == 303
    listing = browser_client.get("/r/region_office")
    assert _titles(listing.text) == ["西北办事处"]
    duplicate = browser_client.post(
        "/r/region_office/new", data={"csrf_token": csrf_of(page.text), "name": "西北办事处"}
    )
    assert duplicate.status_code == 422 and field_errors(dom(duplicate.text), "name")


def test_capped_totals_read_ten_thousand_plus() -> None:
    from runtime.records import Page
    from ui.routes.lists import _total_text

    assert _total_text("zh", Page([], "c", 10_000, False, 25)) == "共 10,000+ 条"
    assert _total_text("en", Page([], "c", 10_000, False, 25)) == "10,000+ records"
    assert _total_text("en", Page([], None, 12, True, 25)) == "12 records"


def test_pl20_a_form_with_thousands_of_fields_is_read_not_refused(browser_client: httpx.Client) -> None:
    """The role matrix of a large pack posts more fields than Starlette's default limit of 1,000."""
    token = csrf_of(browser_client.get("/").text)
    data = {"csrf_token": token, **{f"grant_{i}": "read" for i in range(3000)}}
    r = browser_client.post("/logout", data=data)
    assert r.status_code == 303, r.text[:300]
