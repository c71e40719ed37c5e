"""PL-21: authentication over real HTTP on SQLite and PostgreSQL: 401s, CSRF, lockout, IP throttling,
password rules, password reset by e-mail through a real SMTP server, logout everywhere."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.identity import policy
from runtime.identity.reset import token_hash
from runtime.mail import Attachment, LogMailer, MailError
from runtime.mail.smtp import SmtpMailer
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import ADMIN_PASSWORD
from tests.support.smtp_server import SmtpServer, smtp_server

NURSE = "li.na"
NURSE_PASSWORD = "Li-Na-pass-2026!"
NURSE_EMAIL = "li.na@hospital.example"
NEW_PASSWORD = "Fresh-Start-2027#"


@pytest.fixture
def nurse(tessera: Tessera) -> int:
    return tessera.users.create(NURSE, "李娜", NURSE_PASSWORD, email=NURSE_EMAIL, is_admin=True).id


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def sign_in(server: str, username: str = NURSE, password: str = NURSE_PASSWORD) -> httpx.Client:
    """A session client with the CSRF header set (closed after the test)."""
    client = httpx.Client(base_url=server, timeout=30)
    _OPEN.append(client)
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def login(server: str, username: str, password: str, **headers: str) -> httpx.Response:
    with httpx.Client(base_url=server, timeout=30) as client:
        return client.post("/api/v1/auth/login", json={"username": username, "password": password}, headers=headers)


def oplog_kinds(tessera: Tessera, username: str) -> list[str]:
    with tessera.db.read() as conn:
        rows = conn.execute(sa.select(pt.oplog.c.kind).where(pt.oplog.c.username == username).order_by(pt.oplog.c.id))
        return list(rows.scalars())


def attempts(tessera: Tessera, username: str) -> list[bool]:
    with tessera.db.read() as conn:
        rows = conn.execute(
            sa.select(pt.login_attempts.c.success)
            .where(pt.login_attempts.c.username == username)
            .order_by(pt.login_attempts.c.id)
        )
        return list(rows.scalars())


# 401 / CSRF ---------------------------------------------------------------------------------------


def test_pl21_unauthenticated_api_calls_get_401_on_every_route_family(server: str) -> None:
    calls = [
        ("GET", "/api/v1/records/specimen", None),
        ("POST", "/api/v1/records/specimen", {"title": "x"}),
        ("GET", "/api/v1/records/specimen/1", None),
        ("PATCH", "/api/v1/records/specimen/1", {"title": "x", "version": 1}),
        ("PUT", "/api/v1/records/specimen/1", {"title": "x", "version": 1}),
        ("DELETE", "/api/v1/records/specimen/1", None),
        ("GET", "/api/v1/entities", None),
        ("GET", "/api/v1/entities/specimen", None),
        ("GET", "/api/v1/option-sets", None),
        ("GET", "/api/v1/packs", None),
        ("GET", "/api/v1/files/" + "0" * 32, None),
        ("GET", "/api/v1/auth/me", None),
        ("POST", "/api/v1/auth/logout-everywhere", None),
        ("POST", "/api/v1/auth/password", {"current_password": "x", "password": "y"}),
    ]
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        for method, path, body in calls:
            r = anonymous.request(method, path, json=body)
            assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text}"
            assert r.json()["error"]["code"] == "unauthenticated", path
        upload = anonymous.post("/api/v1/files", files={"file": ("a.txt", b"hello", "text/plain")})
        assert upload.status_code == 401
        for header in ("Bearer nonsense", "Basic YWRtaW46eA==", "Bearer tsr_0123abcd_" + "A" * 43):
            r = anonymous.get("/api/v1/records/specimen", headers={"Authorization": header})
            assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid", header


def test_pl21_login_returns_a_csrf_token_that_me_repeats(server: str, tessera: Tessera) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200
        token = r.json()["csrf_token"]
        assert len(token) >= 32 and r.json()["is_admin"] is True
        cookie = r.headers["set-cookie"].lower()
        assert "tessera_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        me = client.get("/api/v1/auth/me").json()
        assert me["csrf_token"] == token and me["auth"] == "session" and me["username"] == "admin"
        assert oplog_kinds(tessera, "admin") == ["login"] and attempts(tessera, "admin") == [True]
        again = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert again.json()["csrf_token"] != token, "a new sign-in gets a new token"


def test_pl21_state_changing_session_request_needs_the_csrf_header(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        token = r.json()["csrf_token"]
        refused = client.post("/api/v1/records/specimen", json={"title": "forged"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        wrong = client.post("/api/v1/records/specimen", json={"title": "forged"}, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        upload = client.post("/api/v1/files", files={"file": ("a.txt", b"hello", "text/plain")})
        assert upload.status_code == 403
        assert client.get("/api/v1/records/specimen").json()["total"] == 0, "nothing was created"
        assert client.get("/api/v1/records/specimen").status_code == 200, "reading needs no token"
        created = client.post("/api/v1/records/specimen", json={"title": "ok"}, headers={"X-CSRF-Token": token})
        assert created.status_code == 201
        url = created.headers["location"]
        assert client.patch(url, json={"title": "x", "version": 1}).status_code == 403
        assert client.delete(url, params={"version": 1}).status_code == 403
        assert client.patch(url, json={"title": "y", "version": 1}, headers={"X-CSRF-Token": token}).status_code == 200
        assert client.post("/api/v1/auth/logout").status_code == 403, "logout is state-changing too"
        assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token}).status_code == 200
        assert client.get("/api/v1/auth/me").status_code == 401


# Lockout and throttling ---------------------------------------------------------------------------


def test_pl21_five_wrong_passwords_lock_the_account_for_15_minutes(
    server: str, tessera: Tessera, clock: FixedClock, nurse: int
) -> None:
    for attempt in range(1, 5):
        r = login(server, NURSE, f"wrong-{attempt}")
        assert r.status_code == 401 and r.json()["error"]["code"] == "wrong_credentials"
    locked = login(server, NURSE, "wrong-5")
    assert locked.status_code == 423
    error = locked.json()["error"]
    assert error["code"] == "locked" and error["locked_until"] == "2026-11-23T09:45:00"
    assert "2026-11-23 09:45:00" in error["message"]
    right = login(server, NURSE, NURSE_PASSWORD)
    assert right.status_code == 423, "the right password does not open a locked account"
    assert attempts(tessera, NURSE) == [False] * 6
    assert oplog_kinds(tessera, NURSE) == ["login_failed"] * 5 + ["account_locked", "login_failed"]
    with tessera.db.read() as conn:
        entry = conn.execute(sa.select(pt.oplog).where(pt.oplog.c.kind == "account_locked")).one()
    assert entry.actor_id == nurse and entry.ip == "127.0.0.1" and entry.detail["failures"] == 5
    assert entry.at == clock.now() and entry.request_id

    clock.advance(minutes=14, seconds=59)
    assert login(server, NURSE, NURSE_PASSWORD).status_code == 423
    clock.advance(seconds=2)
    assert login(server, NURSE, NURSE_PASSWORD).status_code == 200, "the lock ends by itself"
    assert oplog_kinds(tessera, NURSE)[-1] == "login"
    with tessera.db.read() as conn:
        row = conn.execute(sa.select(pt.users).where(pt.users.c.id == nurse)).one()
    assert row.failed_logins == 0 and row.locked_until is None and row.last_login_at == clock.now()


def test_pl21_a_success_resets_the_failure_count(server: str, tessera: Tessera, nurse: int) -> None:
    for _ in range(4):
        assert login(server, NURSE, "wrong").status_code == 401
    assert login(server, NURSE, NURSE_PASSWORD).status_code == 200
    for _ in range(4):
        assert login(server, NURSE, "wrong").status_code == 401, "the count started again"
    assert login(server, NURSE, "wrong").status_code == 423


def test_pl21_unknown_users_never_lock_and_answer_like_wrong_passwords(server: str, tessera: Tessera) -> None:
    for _ in range(6):
        r = login(server, "nobody", "whatever")
        assert r.status_code == 401 and r.json()["error"]["code"] == "wrong_credentials"
    assert attempts(tessera, "nobody") == [False] * 6
    with tessera.db.read() as conn:
        details = conn.execute(sa.select(pt.oplog.c.detail).where(pt.oplog.c.username == "nobody")).scalars().all()
    assert [d["reason"] for d in details] == ["unknown_user"] * 6


def test_pl21_more_than_20_failures_from_one_ip_answer_429(server: str, tessera: Tessera, clock: FixedClock) -> None:
    for n in range(20):
        assert login(server, f"guess{n}", "x").status_code == 401
        clock.advance(seconds=10)
    throttled = login(server, "admin", ADMIN_PASSWORD)
    assert throttled.status_code == 429, "the right password of another account does not help either"
    assert throttled.json()["error"]["code"] == "throttled"
    # the first failure (at 09:30:00) leaves the 10-minute window at 09:40:00; now is 09:33:20
    assert throttled.headers["retry-after"] == "400" and throttled.json()["error"]["retry_after"] == 400
    with tessera.db.read() as conn:
        reasons = [d.get("reason") for d in conn.execute(sa.select(pt.oplog.c.detail)).scalars()]
    assert reasons.count("ip_throttled") == 1, "reaching the limit is logged once"
    assert attempts(tessera, "admin") == [], "a refused attempt is not counted"
    clock.advance(seconds=400)
    assert login(server, "admin", ADMIN_PASSWORD).status_code == 200


# Password rules -----------------------------------------------------------------------------------


def test_pl21_password_rules_with_messages_in_both_languages() -> None:
    assert policy.violations("Tessera-2026-ok") == []
    assert [v.code for v in policy.violations("Sh0rt!")] == ["too_short"]
    assert [v.code for v in policy.violations("alllowercaseletters")] == ["too_simple"]
    assert [v.code for v in policy.violations("Xx-li.na-2026", "li.na")] == ["contains_username"]
    assert [v.code for v in policy.violations("Password123!")] == ["common"]
    assert [v.code for v in policy.violations("5201314")] == ["too_short", "too_simple", "common"]
    with pytest.raises(policy.PasswordRejected) as caught:
        policy.check_password("abc", lang="en")
    assert "at least 10 characters" in caught.value.message and caught.value.code == "weak_password"
    assert "至少需要 10 个字符" in caught.value.in_language("zh").message
    for _ in range(20):
        assert policy.violations(policy.generate_password()) == []


def test_pl21_change_password_applies_the_rules_and_signs_out_other_sessions(
    server: str, tessera: Tessera, nurse: int
) -> None:
    other = sign_in(server)
    me = sign_in(server)
    weak = me.post(
        "/api/v1/auth/password",
        json={"current_password": NURSE_PASSWORD, "password": "li.na-Password1"},
        params={"lang": "en"},
    )
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password"
    codes = {e["code"]: e["message"] for e in weak.json()["error"]["errors"]}
    assert codes == {"contains_username": "the password must not be or contain the username"}
    zh = me.post("/api/v1/auth/password", json={"current_password": NURSE_PASSWORD, "password": "short"})
    assert "密码至少需要 10 个字符" in zh.json()["error"]["message"], "the account's language (zh) by default"
    wrong = me.post("/api/v1/auth/password", json={"current_password": "not-it", "password": NEW_PASSWORD})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "wrong_password"
    no_csrf = me.post(
        "/api/v1/auth/password",
        json={"current_password": NURSE_PASSWORD, "password": NEW_PASSWORD},
        headers={"X-CSRF-Token": ""},
    )
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    changed = me.post("/api/v1/auth/password", json={"current_password": NURSE_PASSWORD, "password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    me.headers["X-CSRF-Token"] = changed.json()["csrf_token"]
    assert me.get("/api/v1/auth/me").status_code == 200, "the session that changed it stays signed in"
    assert me.post("/api/v1/records/specimen", json={"title": "still here"}).status_code == 201
    assert other.get("/api/v1/auth/me").status_code == 401, "every other session is signed out"
    assert login(server, NURSE, NURSE_PASSWORD).status_code == 401
    assert login(server, NURSE, NEW_PASSWORD).status_code == 200


# Password reset by e-mail -------------------------------------------------------------------------


@pytest.fixture
def smtp(tessera: Tessera) -> Iterator[SmtpServer]:
    with smtp_server() as server:
        tessera.settings = dataclasses.replace(
            tessera.settings, smtp_host=server.host, smtp_port=server.port, smtp_from="随访中心 <crm@hospital.example>"
        )
        yield server


def reset_link(message: object) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    found = re.search(r"(http://\S+/reset-password\?token=\S+)", text)
    assert found, text
    return found.group(1)


def test_pl21_password_reset_by_email_end_to_end(
    server: str, tessera: Tessera, clock: FixedClock, nurse: int, smtp: SmtpServer
) -> None:
    old_session = sign_in(server)
    for _ in range(5):
        login(server, NURSE, "wrong")
    assert login(server, NURSE, NURSE_PASSWORD).status_code == 423
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        asked = anonymous.post("/api/v1/auth/password-reset", json={"username": NURSE})
        assert asked.status_code == 202
        message = smtp.wait_for(1)[0]
        assert message["To"] == NURSE_EMAIL and "crm@hospital.example" in message["From"]
        assert message["Subject"] == "重置 Tessera 密码" and "李娜" in message.get_body(("plain",)).get_content()
        link = reset_link(message)
        assert link.startswith(f"{server}/reset-password?token=")
        token = parse_qs(urlparse(link).query)["token"][0]
        with tessera.db.read() as conn:
            stored = conn.execute(sa.select(pt.password_resets)).one()
        assert stored.token_hash == token_hash(token) and token not in stored.token_hash
        assert stored.created_at == clock.now() and (stored.expires_at - stored.created_at).total_seconds() == 1800

        weak = anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "weak"})
        assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password", "the rules apply"
        ok = anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
        assert ok.status_code == 200, "a weak try did not use up the link"
        again = anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
        assert again.status_code == 400 and again.json()["error"]["code"] == "reset_token_invalid", "single use"

    assert old_session.get("/api/v1/auth/me").status_code == 401, "the reset signed out the old session"
    assert login(server, NURSE, NEW_PASSWORD).status_code == 200, "the reset also lifted the lockout"
    assert login(server, NURSE, NURSE_PASSWORD).status_code == 401
    with tessera.db.read() as conn:
        details = conn.execute(
            sa.select(pt.oplog.c.detail).where(pt.oplog.c.kind == "password_reset").order_by(pt.oplog.c.id)
        ).scalars()
        assert [d["event"] for d in details] == ["requested", "completed"]


def test_pl21_reset_never_reveals_whether_an_account_exists(
    server: str, tessera: Tessera, nurse: int, smtp: SmtpServer
) -> None:
    tessera.users.create("no.mail", "无邮箱", "No-Mail-pass-2026")
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        answers = [
            anonymous.post("/api/v1/auth/password-reset", json=body)
            for body in ({"username": "ghost"}, {"email": "ghost@example.org"}, {"username": "no.mail"})
        ]
        by_email = anonymous.post("/api/v1/auth/password-reset", json={"email": NURSE_EMAIL.upper()})
    assert {r.status_code for r in answers} == {202} and by_email.status_code == 202
    assert len({r.text for r in [*answers, by_email]}) == 1, "the same answer, known account or not"
    assert len(smtp.wait_for(1)) == 1 and smtp.received[0].rcpt_tos == [NURSE_EMAIL]
    time.sleep(0.3)
    assert len(smtp.messages) == 1, "only the real account with an e-mail got a mail"


def test_pl21_expired_reset_link_fails_and_requests_are_rate_limited(
    server: str, tessera: Tessera, clock: FixedClock, nurse: int, smtp: SmtpServer
) -> None:
    with httpx.Client(base_url=server, timeout=30) as anonymous:
        for _ in range(4):
            assert anonymous.post("/api/v1/auth/password-reset", json={"username": NURSE}).status_code == 202
        mails = smtp.wait_for(3)
        time.sleep(0.3)
        assert len(smtp.messages) == 3, "at most 3 links per account per 30 minutes"
        token = parse_qs(urlparse(reset_link(mails[0])).query)["token"][0]
        clock.advance(minutes=30)
        expired = anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD})
        assert expired.status_code == 400 and expired.json()["error"]["code"] == "reset_token_invalid"
        bogus = anonymous.post(
            "/api/v1/auth/password-reset/confirm", json={"token": "x" * 43, "password": NEW_PASSWORD}
        )
        assert bogus.status_code == 400
        assert anonymous.post("/api/v1/auth/password-reset", json={"username": NURSE}).status_code == 202
        fresh = parse_qs(urlparse(reset_link(smtp.wait_for(4)[3])).query)["token"][0]
        ok = anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": fresh, "password": NEW_PASSWORD})
        assert ok.status_code == 200
    assert login(server, NURSE, NEW_PASSWORD).status_code == 200


# Logout everywhere --------------------------------------------------------------------------------


def test_pl21_logout_everywhere_signs_out_every_session(server: str, tessera: Tessera, nurse: int) -> None:
    laptop, phone = sign_in(server), sign_in(server)
    assert phone.get("/api/v1/auth/me").status_code == 200
    r = laptop.post("/api/v1/auth/logout-everywhere")
    assert r.status_code == 200
    assert phone.get("/api/v1/auth/me").status_code == 401, "the other browser is signed out"
    assert phone.post("/api/v1/records/specimen", json={"title": "x"}).status_code == 401
    assert laptop.get("/api/v1/auth/me").status_code == 401, "and this one too"
    assert sign_in(server).get("/api/v1/auth/me").status_code == 200, "signing in again works"
    assert "logout" in oplog_kinds(tessera, NURSE)


# Mail -----------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_pl21_smtp_mailer_sends_html_attachments_and_logs_in() -> None:
    with smtp_server(users={"crm": "s3cret"}) as server:
        mailer = SmtpMailer(
            server.host,
            server.port,
            user="crm",
            password="s3cret",
            sender="随访 <crm@h.example>",
            allow_plain_login=True,
        )
        mailer.send(
            ["a@h.example", "b@h.example"],
            "随访提醒 follow-up",
            "正文 text",
            html="<p>正文</p>",
            attachments=[Attachment("报告.csv", "列1,列2\n".encode(), "text/csv")],
        )
        message = server.wait_for(1)[0]
        assert server.logins == ["crm"] and server.received[0].rcpt_tos == ["a@h.example", "b@h.example"]
        assert message["Subject"] == "随访提醒 follow-up"
        assert message.get_body(("html",)).get_content().strip() == "<p>正文</p>"
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_filename() == "报告.csv" and attachment.get_payload(decode=True) == "列1,列2\n".encode()
        with pytest.raises(MailError, match="unencrypted"):
            SmtpMailer(server.host, server.port, user="crm", password="s3cret").send("a@h.example", "s", "t")
        with pytest.raises(MailError):
            SmtpMailer(server.host, server.port, user="crm", password="wrong", allow_plain_login=True).send(
                "a@h.example", "s", "t"
            )
    with pytest.raises(MailError, match="failed"):
        SmtpMailer("127.0.0.1", server.port, timeout=2).send("a@h.example", "s", "t")
    with pytest.raises(MailError):
        LogMailer().send("not an address", "s", "t")
    with pytest.raises(MailError):
        LogMailer().send("a@h.example", "two\nlines", "t")
    LogMailer().send("a@h.example", "subject", "unsent when no SMTP host is configured")


def raw_post(client: httpx.Client, url: str, body: object) -> httpx.Response:
    """JSON with \\u escapes, so lone surrogates and NUL reach the server as a hostile client would send them."""
    return client.post(url, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def test_pl21_odd_input_gets_a_clear_4xx_never_a_500(server: str, nurse: int) -> None:
    with httpx.Client(base_url=server, timeout=30) as client:
        for body in (
            {"username": "a\u0000b", "password": "x"},
            {"username": "\ud800", "password": "\ud800"},
            {"username": NURSE, "password": "\u0000\ud800" * 300},
            {"username": ["admin"], "password": 1},
            {},
        ):
            r = raw_post(client, "/api/v1/auth/login", body)
            assert r.status_code == 401, (body, r.text)
        assert client.post("/api/v1/auth/login", content=b"[]").status_code == 400
        for body in ({"username": "a\u0000b"}, {"email": "\ud800@x"}, {"username": 5}, {}):
            r = raw_post(client, "/api/v1/auth/password-reset", body)
            assert r.status_code in (202, 400), (body, r.text)
        for body in ({"token": "a\u0000" * 30, "password": NEW_PASSWORD}, {"token": 1, "password": 2}, {}):
            r = raw_post(client, "/api/v1/auth/password-reset/confirm", body)
            assert r.status_code == 400, (body, r.text)
    me = sign_in(server)
    r = raw_post(me, "/api/v1/auth/password", {"current_password": "\ud800", "password": "\u0000" * 20})
    assert r.status_code == 403, r.text
