"""The account pages over real HTTP (uvicorn + httpx) on SQLite and PostgreSQL, mails through a real SMTP
server: my profile, change my password, sign out everywhere, my API tokens, forgot/reset password (PL-20,
PL-21). One Chromium test walks through the forgot/reset flow."""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
import sqlalchemy as sa

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.permissions.model import Role
from runtime.permissions.store import save_role
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import ADMIN_PASSWORD
from tests.support.html import Node, csrf_of, dom, field_errors, sign_in
from tests.support.server import live_server
from tests.support.smtp_server import SmtpServer, smtp_server

NURSE = "li.na"
NURSE_PASSWORD = "Li-Na-pass-2026!"
NURSE_EMAIL = "li.na@hospital.example"
NEW_PASSWORD = "Fresh-Start-2027#"
TOKEN_RE = re.compile(r"tsr_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
LINK_RE = re.compile(r"(http://\S+/reset-password\?token=[A-Za-z0-9_-]+)")


# fixtures -----------------------------------------------------------------------------------------
@pytest.fixture
def nurse(tessera: Tessera) -> int:
    """A nurse (not an administrator) with an e-mail address, holding the role 'reader' but not 'writer'."""
    now = tessera.clock.now()
    with tessera.db.write() as conn:
        for role_id, label, actions in (("reader", "只读", ["read"]), ("writer", "编辑", ["read", "update"])):
            grant = {"entity": "specimen", "actions": actions, "scope": "all"}
            save_role(conn, Role(role_id, {"zh": label, "en": role_id}, permissions=(grant,)), now)
    tessera.registry.reload()
    user = tessera.users.create(NURSE, "李娜", NURSE_PASSWORD, email=NURSE_EMAIL)
    with tessera.db.write() as conn:
        conn.execute(sa.insert(pt.user_roles).values(user_id=user.id, role_id="reader"))
    return user.id


@pytest.fixture
def smtp(tessera: Tessera) -> Iterator[SmtpServer]:
    with smtp_server() as server:
        tessera.settings = dataclasses.replace(tessera.settings, smtp_host=server.host, smtp_port=server.port)
        yield server


@pytest.fixture
def ui_url(tessera: Tessera) -> Iterator[str]:
    with live_server(create_app(tessera, extensions=[ui.app.install])) as url:
        yield url


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def client(ui_url: str) -> httpx.Client:
    """A browser-like client (Chinese, no redirects followed, closed after the test)."""
    made = httpx.Client(base_url=ui_url, timeout=30, headers={"Accept-Language": "zh-CN"})
    _OPEN.append(made)
    return made


def signed_in(ui_url: str, username: str = NURSE, password: str = NURSE_PASSWORD) -> httpx.Client:
    browser = client(ui_url)
    assert sign_in(browser, username, password).status_code == 303
    return browser


def post_form(browser: httpx.Client, page: str, action: str, data: dict, **headers: str) -> httpx.Response:
    """Post a form of ``page`` with the page's CSRF token, as the browser would."""
    token = csrf_of(browser.get(page).text)
    return browser.post(action, data={"csrf_token": token, **data}, headers=headers)


def oplog(tessera: Tessera, kind: str) -> list[dict]:
    with tessera.db.read() as conn:
        return [
            dict(r)
            for r in conn.execute(sa.select(pt.oplog).where(pt.oplog.c.kind == kind).order_by(pt.oplog.c.id)).mappings()
        ]


def text_of(page: Node, ident: str) -> str:
    return " ".join(page.by_id(ident).text().split())


# profile ------------------------------------------------------------------------------------------
def test_pl20_user_edits_own_profile_with_inline_errors_and_an_audit_entry(
    ui_url: str, tessera: Tessera, nurse: int
) -> None:
    browser = signed_in(ui_url)
    page = dom(browser.get("/account").text)
    assert text_of(page, "fv-username") == NURSE
    assert page.by_id("in-display_name").attrs["value"] == "李娜"
    assert not page.find_all("input", name="username", type="text"), "the username is not editable"

    bad = post_form(
        browser,
        "/account",
        "/account/profile",
        {"display_name": " ", "email": "not-an-address", "phone": "123", "notify_channels": ["email", "fax"]},
    )
    assert bad.status_code == 422
    page = dom(bad.text)
    assert "请填写此项" in field_errors(page, "display_name")
    assert "有效的邮箱" in field_errors(page, "email")
    assert "有效的电话号码" in field_errors(page, "phone")
    assert "未知的通知方式" in field_errors(page, "notify_channels")
    assert page.by_id("in-phone").attrs["value"] == "123", "what was typed stays in the form"
    assert tessera.users.get(nurse).display_name == "李娜", "nothing was written"  # type: ignore[union-attr]

    new_mail = {"display_name": "李娜", "email": "na.li@hospital.example", "phone": "", "notify_channels": []}
    refused = post_form(browser, "/account", "/account/profile", new_mail)
    assert refused.status_code == 422 and "当前密码" in field_errors(dom(refused.text), "email_password")
    wrong = post_form(browser, "/account", "/account/profile", {**new_mail, "email_password": "nope"})
    assert "当前密码不正确" in field_errors(dom(wrong.text), "email_password")

    ok = post_form(
        browser,
        "/account",
        "/account/profile",
        {
            "display_name": "李娜（护士长）",
            "email": "na.li@hospital.example",
            "phone": "13812345678",
            "notify_channels": ["email", "sms"],
            "email_password": NURSE_PASSWORD,
            "is_admin": "1",  # not a field of this form: ignored
            "department_id": "1",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/account"
    page = dom(browser.get("/account").text)
    assert "个人资料已保存" in page.text()
    assert page.by_id("in-display_name").attrs["value"] == "李娜（护士长）"
    assert page.by_id("in-phone").attrs["value"] == "13812345678"
    assert "checked" in page.by_id("ch-sms").attrs and "checked" not in page.by_id("ch-in_app").attrs
    user = tessera.users.get(nurse)
    assert user is not None and user.email == "na.li@hospital.example"
    assert not user.is_admin and user.department_id is None, "administrators' fields are not editable here"

    with tessera.db.read() as conn:
        entry = conn.execute(sa.select(pt.audit).where(pt.audit.c.entity == "tessera_user")).one()
    assert (entry.record_id, entry.actor_id, entry.action, entry.channel) == (nurse, nurse, "update", "ui")
    assert entry.changes["display_name"] == ["李娜", "李娜（护士长）"]
    assert entry.changes["phone"]["changed"] is True and "13812345678" not in str(entry.changes), "sealed"


# password ---------------------------------------------------------------------------------------------
def test_pl21_user_changes_password_with_inline_errors_then_signs_in_with_the_new_one(
    ui_url: str, tessera: Tessera, nurse: int
) -> None:
    browser, other = signed_in(ui_url), signed_in(ui_url)
    page = dom(browser.get("/account").text)
    rules = text_of(page, "password-rules")
    assert "至少 10 个字符" in rules and "不能包含用户名" in rules, "the rules are listed under the field"

    change = {"current_password": "Wrong-pass-2026!", "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    wrong = post_form(browser, "/account", "/account/password", change)
    assert wrong.status_code == 422
    assert "当前密码不正确" in field_errors(dom(wrong.text), "current_password")

    weak = post_form(
        browser,
        "/account",
        "/account/password",
        {"current_password": NURSE_PASSWORD, "new_password": "li.na2026", "repeat_password": "li.na2026"},
    )
    assert weak.status_code == 422
    errors = field_errors(dom(weak.text), "new_password")
    assert "至少需要 10 个字符" in errors and "用户名" in errors, "every broken rule, from the policy"

    typo = post_form(
        browser,
        "/account",
        "/account/password",
        {**change, "current_password": NURSE_PASSWORD, "repeat_password": NEW_PASSWORD + "x"},
    )
    assert "不一致" in field_errors(dom(typo.text), "repeat_password")
    assert tessera.users.authenticate(NURSE, NURSE_PASSWORD) is not None, "nothing changed so far"

    done = post_form(browser, "/account", "/account/password", {**change, "current_password": NURSE_PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/account"
    after = browser.get("/account")
    assert after.status_code == 200 and "密码已修改" in after.text, "this browser stays signed in"
    assert other.get("/account").status_code == 303, "the other browser was signed out"

    assert sign_in(client(ui_url), NURSE, NURSE_PASSWORD).status_code == 401, "the old password is gone"
    assert sign_in(client(ui_url), NURSE, NEW_PASSWORD).status_code == 303
    assert [e["detail"].get("event") for e in oplog(tessera, "password_reset")] == ["changed_by_user"]
    failed = [e["detail"]["reason"] for e in oplog(tessera, "login_failed") if e["username"] == NURSE]
    assert failed.count("wrong_current_password") == 1, "only the wrong current password counted as a failure"


def test_pl21_logout_everywhere_ends_every_session_including_this_one(
    ui_url: str, tessera: Tessera, nurse: int
) -> None:
    laptop, phone = signed_in(ui_url), signed_in(ui_url)
    assert phone.get("/account").status_code == 200
    page = dom(laptop.get("/account").text)
    assert page.by_id("everywhere-modal").find("form").attrs["action"] == "/account/logout-everywhere"

    r = post_form(laptop, "/account", "/account/logout-everywhere", {})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "已在所有设备上退出登录" in laptop.get("/login").text
    gone = phone.get("/account")
    assert gone.status_code == 303 and gone.headers["location"] == "/login?next=%2Faccount", "the other device too"
    assert laptop.get("/account").status_code == 303
    assert signed_in(ui_url).get("/account").status_code == 200, "signing in again works"
    assert any(e["detail"].get("everywhere") for e in oplog(tessera, "logout"))


# API tokens -------------------------------------------------------------------------------------------
def test_pl21_token_is_shown_once_works_as_bearer_shows_last_use_and_stops_when_revoked(
    ui_url: str, tessera: Tessera, clock: FixedClock, nurse: int
) -> None:
    browser = signed_in(ui_url)
    page = dom(browser.get("/account/tokens").text)
    assert page.by_id("tokens-empty")
    created = post_form(
        browser, "/account/tokens", "/account/tokens", {"name": "HIS 接口", "roles": ["reader"], "expiry": "30"}
    )
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    shown = dom(created.text)
    token = shown.by_id("new-token").text().strip()
    assert TOKEN_RE.fullmatch(token)
    assert "只显示这一次" in text_of(shown, "token-warning") and shown.by_id("copy-token")

    listed = browser.get("/account/tokens")
    assert token not in listed.text and TOKEN_RE.search(listed.text) is None, "not shown again on reload"
    row = dom(listed.text).find("tr", data_status="active")
    assert "HIS 接口" in row.text() and "只读" in row.text() and "从未使用" in row.text()
    assert "2026-12-23" in row.text(), "expires in 30 days"

    with httpx.Client(base_url=ui_url, headers={"Authorization": f"Bearer {token}"}) as integration:
        me = integration.get("/api/v1/auth/me")
        assert me.status_code == 200 and me.json()["username"] == NURSE and me.json()["roles"] == ["reader"]
        used = dom(browser.get("/account/tokens").text).find("tr", data_status="active")
        last_used = " ".join(used.find("td", data_label="最近使用").text().split())
        assert last_used == "2026-11-23 17:30", "the last use, in local time"

        token_id = row.attrs["id"].removeprefix("token-")
        revoked = post_form(browser, "/account/tokens", f"/account/tokens/{token_id}/revoke", {})
        assert revoked.status_code == 303
        after = browser.get("/account/tokens").text
        assert "令牌“HIS 接口”已撤销" in after
        assert dom(after).by_id(f"token-{token_id}").attrs["data-status"] == "revoked"
        refused = integration.get("/api/v1/auth/me")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "token_revoked"

    kinds = [
        (e["kind"], e["detail"]["name"]) for e in oplog(tessera, "token_created") + oplog(tessera, "token_revoked")
    ]
    assert kinds == [("token_created", "HIS 接口"), ("token_revoked", "HIS 接口")]

    with_htmx = post_form(
        browser, "/account/tokens", "/account/tokens", {"name": "报表", "expiry": "never"}, **{"HX-Request": "true"}
    )
    assert with_htmx.status_code == 200 and TOKEN_RE.search(with_htmx.text), "htmx swaps the panel with the token"
    clock.advance(days=400)
    rows = dom(browser.get("/account/tokens").text)
    never = rows.find("tr", data_status="active")
    assert "报表" in never.text() and "永不过期" in never.text() and "账户全部权限" in never.text()
    assert "HIS 接口" in rows.find("tr", data_status="revoked").text()


def test_pl21_token_roles_are_limited_to_the_users_own_roles(ui_url: str, tessera: Tessera, nurse: int) -> None:
    browser = signed_in(ui_url)
    page = dom(browser.get("/account/tokens").text)
    offered = {i.attrs["value"] for i in page.find_all("input", name="roles")}
    assert offered == {"reader"}, "only the roles the user holds are offered"

    refused = post_form(
        browser, "/account/tokens", "/account/tokens", {"name": "越权", "roles": ["writer"], "expiry": "90"}
    )
    assert refused.status_code == 422
    page = dom(refused.text)
    assert "只能选择您自己拥有的角色" in field_errors(page, "roles") and "writer" in field_errors(page, "roles")
    assert page.by_id("in-name").attrs["value"] == "越权"
    nameless = post_form(browser, "/account/tokens", "/account/tokens", {"name": " ", "expiry": "forever"})
    assert "请为令牌填写名称" in field_errors(dom(nameless.text), "name")
    assert "请选择有效期" in field_errors(dom(nameless.text), "expiry")
    with tessera.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(pt.api_tokens)).scalar_one() == 0

    admin = signed_in(ui_url, "admin", ADMIN_PASSWORD)
    mine = post_form(admin, "/account/tokens", "/account/tokens", {"name": "管理员的", "expiry": "90"})
    assert mine.status_code == 201
    theirs = dom(admin.get("/account/tokens").text).find("tr", data_status="active").attrs["id"].removeprefix("token-")
    other = post_form(browser, "/account/tokens", f"/account/tokens/{theirs}/revoke", {})
    assert other.status_code == 404, "someone else's token cannot be revoked (or even seen)"
    assert "管理员的" not in browser.get("/account/tokens").text


# forgot / reset password ----------------------------------------------------------------------------
def reset_link(smtp: SmtpServer, count: int = 1) -> str:
    message = smtp.wait_for(count)[count - 1]
    found = LINK_RE.search(message.get_body(preferencelist=("plain",)).get_content())
    assert found, "the mail holds a reset link"
    return found.group(1)


def test_pl21_forgot_password_mails_a_one_time_link_that_sets_a_new_password(
    ui_url: str, tessera: Tessera, nurse: int, smtp: SmtpServer
) -> None:
    old_session = signed_in(ui_url)
    visitor = client(ui_url)
    login = dom(visitor.get("/login").text)
    assert login.by_id("forgot-password-link").attrs["href"] == "/forgot-password"
    assert "忘记密码" in text_of(login, "forgot-password-link")

    empty = post_form(visitor, "/forgot-password", "/forgot-password", {"name": "  "})
    assert empty.status_code == 422 and "请输入用户名或邮箱" in field_errors(dom(empty.text), "name")
    sent = post_form(visitor, "/forgot-password", "/forgot-password", {"name": NURSE})
    assert sent.status_code == 200 and "30 分钟内有效" in text_of(dom(sent.text), "forgot-sent")
    message = smtp.wait_for(1)[0]
    assert message["To"] == NURSE_EMAIL and message["Subject"] == "重置 Tessera 密码"
    link = reset_link(smtp)
    path = urlparse(link)
    assert link.startswith(ui_url) and path.path == "/reset-password"

    form_page = visitor.get(f"{path.path}?{path.query}")
    assert form_page.status_code == 200
    page = dom(form_page.text)
    assert NURSE in text_of(page, "reset-account") and "至少 10 个字符" in text_of(page, "password-rules")
    token = page.find("input", name="token").attrs["value"]
    weak = post_form(
        visitor, link, "/reset-password", {"token": token, "new_password": "short", "repeat_password": "short"}
    )
    assert weak.status_code == 422 and "至少需要 10 个字符" in field_errors(dom(weak.text), "new_password")
    done = post_form(
        visitor,
        link,
        "/reset-password",
        {"token": token, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD},
    )
    assert done.status_code == 303 and done.headers["location"] == "/login", "a weak try did not use the link up"
    assert "密码已重置，请登录" in visitor.get("/login").text

    assert old_session.get("/account").status_code == 303, "every session of the account ended"
    assert sign_in(client(ui_url), NURSE, NURSE_PASSWORD).status_code == 401
    assert sign_in(client(ui_url), NURSE, NEW_PASSWORD).status_code == 303

    again = visitor.get(f"{path.path}?{path.query}")
    assert again.status_code == 400 and "无效、已使用或已过期" in text_of(dom(again.text), "reset-invalid")
    assert dom(again.text).by_id("ask-again").attrs["href"] == "/forgot-password"
    reused = post_form(
        visitor,
        "/forgot-password",
        "/reset-password",
        {"token": token, "new_password": "Other-pass-2028!", "repeat_password": "Other-pass-2028!"},
    )
    assert reused.status_code == 400 and "reset-invalid" in reused.text, "the link works once"
    assert [e["detail"]["event"] for e in oplog(tessera, "password_reset")] == ["requested", "completed"]


def test_pl21_forgot_password_answers_the_same_for_unknown_accounts_mails_nothing_and_is_throttled(
    ui_url: str, tessera: Tessera, nurse: int, smtp: SmtpServer
) -> None:
    visitor = client(ui_url)
    answers = [
        post_form(visitor, "/forgot-password", "/forgot-password", {"name": name})
        for name in ("ghost", "ghost@example.org", NURSE_EMAIL.upper())
    ]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert len({text_of(dom(r.text), "forgot-sent") for r in answers}) == 1, "one neutral answer for all"
    assert len(smtp.wait_for(1)) == 1 and smtp.received[0].rcpt_tos == [NURSE_EMAIL], "found by e-mail too"
    time.sleep(0.3)
    assert len(smtp.messages) == 1, "nobody else got a mail"

    again = [post_form(visitor, "/forgot-password", "/forgot-password", {"name": NURSE}) for _ in range(3)]
    assert {r.status_code for r in again} == {200} and len({text_of(dom(r.text), "forgot-sent") for r in again}) == 1
    smtp.wait_for(3)
    time.sleep(0.3)
    assert len(smtp.messages) == 3, "throttled like the API: at most 3 open links per account"


def test_pl21_expired_or_bogus_reset_link_gives_a_clear_page(
    ui_url: str, tessera: Tessera, clock: FixedClock, nurse: int, smtp: SmtpServer
) -> None:
    visitor = client(ui_url)
    post_form(visitor, "/forgot-password", "/forgot-password", {"name": NURSE})
    path = urlparse(reset_link(smtp))
    clock.advance(minutes=31)
    expired = visitor.get(f"{path.path}?{path.query}")
    assert expired.status_code == 400 and "无效、已使用或已过期" in text_of(dom(expired.text), "reset-invalid")
    for bogus in ("/reset-password", "/reset-password?token=abc", "/reset-password?token=" + "x" * 43):
        r = visitor.get(bogus)
        assert r.status_code == 400 and dom(r.text).by_id("reset-invalid"), bogus


# the browser --------------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl21_forgot_and_reset_password_in_the_browser(
    ui_url: str, tessera: Tessera, nurse: int, smtp: SmtpServer
) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is not installed at /usr/bin/chromium")
        pytest.skip("Chromium is not installed at /usr/bin/chromium (make test installs it)")
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}).new_page()
        page.set_default_timeout(10_000)
        page.goto(ui_url + "/login")
        page.click("#forgot-password-link")
        page.wait_for_url("**/forgot-password")
        page.fill("#in-name", NURSE)
        page.click("#forgot-submit")
        expect(page.locator("#forgot-sent")).to_contain_text("如果该账户存在")

        page.goto(reset_link(smtp))
        expect(page.locator("#reset-account")).to_contain_text(NURSE)
        page.fill("#in-new_password", "password123")
        page.fill("#in-repeat_password", "password123")
        page.click("#reset-submit")
        expect(page.locator("#fe-new_password")).to_contain_text("常见密码")
        page.fill("#in-new_password", NEW_PASSWORD)
        page.fill("#in-repeat_password", NEW_PASSWORD)
        page.click("#reset-submit")
        page.wait_for_url("**/login")
        expect(page.locator("main")).to_contain_text("密码已重置，请登录")

        page.fill("#username", NURSE)
        page.fill("#password", NEW_PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(ui_url + "/")
        page.goto(ui_url + "/account")
        expect(page.locator("#fv-username")).to_have_text(NURSE)
        browser.close()
