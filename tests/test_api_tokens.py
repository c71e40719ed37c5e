"""PL-21: API tokens for integrations over real HTTP on SQLite and PostgreSQL: shown once, stored hashed,
Bearer authentication without CSRF, revocation, expiry, last-used time, role scoping, API only."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from runtime.api import create_app, routes_tokens
from runtime.clock import FixedClock
from runtime.permissions.model import Role
from runtime.permissions.store import save_role
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.conftest import ADMIN_PASSWORD
from tests.support.server import live_server

CLERK_PASSWORD = "Clerk-pass-2026!"
TOKEN_RE = re.compile(r"^tsr_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")


def _app(tessera: Tessera, extensions: list | None) -> object:
    app = create_app(tessera, extensions=extensions)
    if not any(getattr(route, "path", "").startswith("/api/v1/tokens") for route in app.routes):
        app.include_router(routes_tokens.router)  # until app.py mounts it
    return app


@pytest.fixture
def site(tessera: Tessera) -> Iterator[str]:
    with live_server(_app(tessera, [])) as url:  # type: ignore[arg-type]
        yield url


@pytest.fixture
def clerk(tessera: Tessera) -> int:
    """A non-administrator holding two roles: 'reader' (read specimens) and 'writer' (also change them)."""
    now = tessera.clock.now()
    with tessera.db.write() as conn:
        for role_id, actions in (("reader", ["read"]), ("writer", ["create", "read", "update", "delete"])):
            grant = {"entity": "specimen", "actions": actions, "scope": "all"}
            save_role(conn, Role(role_id, {"zh": role_id, "en": role_id}, permissions=(grant,)), now)
    tessera.registry.reload()
    user = tessera.users.create("clerk", "办事员", CLERK_PASSWORD)
    with tessera.db.write() as conn:
        conn.execute(sa.insert(pt.user_roles), [{"user_id": user.id, "role_id": r} for r in ("reader", "writer")])
    return user.id


_OPEN: list[httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def session(site: str, username: str = "admin", password: str = ADMIN_PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=site, timeout=30)
    _OPEN.append(client)
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return client


def bearer(site: str, token: str) -> httpx.Client:
    """A client that sends only the token: no cookies, no CSRF header."""
    client = httpx.Client(base_url=site, timeout=30, headers={"Authorization": f"Bearer {token}"})
    _OPEN.append(client)
    return client


def new_token(client: httpx.Client, **body: object) -> dict:
    r = client.post("/api/v1/tokens", json={"name": "HIS 接口", **body})
    assert r.status_code == 201, r.text
    return r.json()


def token_row(tessera: Tessera, token_id: int) -> sa.Row:
    with tessera.db.read() as conn:
        return conn.execute(sa.select(pt.api_tokens).where(pt.api_tokens.c.id == token_id)).one()


def test_pl21_token_is_shown_once_and_only_its_hash_is_stored(site: str, tessera: Tessera) -> None:
    admin = session(site)
    r = admin.post("/api/v1/tokens", json={"name": "HIS 接口"})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    created = r.json()
    token = created["token"]
    assert TOKEN_RE.match(token) and token.split("_")[1] == created["prefix"]
    assert created["name"] == "HIS 接口" and created["roles"] == [] and created["revoked_at"] is None
    listed = admin.get("/api/v1/tokens").json()["items"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert "token" not in listed[0] and token not in admin.get("/api/v1/tokens").text, "never shown again"
    row = token_row(tessera, created["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in row), "the raw token is nowhere in the table"
    secret = token.split("_", 2)[2]
    assert all(secret not in str(value) for value in row)
    with tessera.db.read() as conn:
        kinds = conn.execute(sa.select(pt.oplog.c.kind, pt.oplog.c.detail).where(pt.oplog.c.kind.like("token%"))).all()
    assert [(k, d["prefix"]) for k, d in kinds] == [("token_created", created["prefix"])]


def test_pl21_bearer_token_works_without_csrf_and_records_last_use(
    site: str, tessera: Tessera, clock: FixedClock
) -> None:
    created = new_token(session(site))
    assert created["last_used_at"] is None
    client = bearer(site, created["token"])
    assert client.get("/api/v1/records/specimen").status_code == 200
    r = client.post("/api/v1/records/specimen", json={"title": "来自 HIS"})
    assert r.status_code == 201, "no CSRF header needed: no cookie is involved"
    assert "set-cookie" not in r.headers, "a token request starts no session"
    assert client.patch(r.headers["location"], json={"title": "改", "version": 1}).status_code == 200
    me = client.get("/api/v1/auth/me").json()
    assert me["auth"] == "token" and me["username"] == "admin" and "csrf_token" not in me
    first_use = clock.now()
    assert token_row(tessera, created["id"]).last_used_at == first_use
    clock.advance(seconds=30)
    client.get("/api/v1/records/specimen")
    assert token_row(tessera, created["id"]).last_used_at == first_use, "at most one write a minute"
    clock.advance(seconds=31)
    client.get("/api/v1/records/specimen")
    assert token_row(tessera, created["id"]).last_used_at == clock.now()
    with tessera.db.read() as conn:
        audit = conn.execute(sa.select(pt.audit.c.channel, pt.audit.c.actor_id)).all()
    assert audit and {(c, a) for c, a in audit} == {("api", tessera.users.by_username("admin").id)}


def test_pl21_revoked_and_expired_tokens_get_401(site: str, tessera: Tessera, clock: FixedClock) -> None:
    admin = session(site)
    doomed, short = new_token(admin), new_token(admin, name="短期", expires_in_days=1)
    assert bearer(site, doomed["token"]).get("/api/v1/records/specimen").status_code == 200
    revoked = admin.delete(f"/api/v1/tokens/{doomed['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] == clock.now().isoformat()
    r = bearer(site, doomed["token"]).get("/api/v1/records/specimen")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"
    assert doomed["prefix"] in r.json()["error"]["message"]
    clock.advance(minutes=5)
    assert admin.delete(f"/api/v1/tokens/{doomed['id']}").json()["revoked_at"] == revoked.json()["revoked_at"]

    assert bearer(site, short["token"]).get("/api/v1/records/specimen").status_code == 200
    clock.advance(days=1)
    r = bearer(site, short["token"]).get("/api/v1/records/specimen")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"

    forged = doomed["token"][:-4] + "AAAA"
    r = bearer(site, forged).get("/api/v1/records/specimen")
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_invalid"
    listed = {t["id"]: t for t in admin.get("/api/v1/tokens").json()["items"]}
    assert listed[doomed["id"]]["revoked_at"] and listed[short["id"]]["expires_at"]
    with tessera.db.read() as conn:
        kinds = conn.execute(sa.select(pt.oplog.c.kind).where(pt.oplog.c.kind == "token_revoked")).scalars().all()
    assert kinds == ["token_revoked"], "revoking twice is logged once"


def test_pl21_token_of_a_deactivated_account_stops_working(site: str, tessera: Tessera, clerk: int) -> None:
    token = new_token(session(site, "clerk", CLERK_PASSWORD))["token"]
    assert bearer(site, token).get("/api/v1/records/specimen").status_code == 200
    with tessera.db.write() as conn:
        conn.execute(sa.update(pt.users).where(pt.users.c.id == clerk).values(active=False))
    assert bearer(site, token).get("/api/v1/records/specimen").status_code == 401


def test_pl21_users_manage_their_own_tokens_and_admins_any(site: str, tessera: Tessera, clerk: int) -> None:
    admin, own = session(site), session(site, "clerk", CLERK_PASSWORD)
    admins = new_token(admin)
    mine = new_token(own, name="随访机器人")
    assert mine["user_id"] == clerk
    assert [t["id"] for t in own.get("/api/v1/tokens").json()["items"]] == [mine["id"]]
    assert own.get("/api/v1/tokens", params={"all": "true"}).status_code == 403
    assert own.get("/api/v1/tokens", params={"user_id": admins["user_id"]}).status_code == 403
    assert own.get("/api/v1/tokens", params={"user_id": clerk}).status_code == 200
    assert own.delete(f"/api/v1/tokens/{admins['id']}").status_code == 404, "others' tokens are invisible"
    assert own.post("/api/v1/tokens", json={"name": "x", "user_id": admins["user_id"]}).status_code == 403
    for_clerk = new_token(admin, name="代建", user_id=clerk)
    assert for_clerk["user_id"] == clerk
    everyone = {t["id"] for t in admin.get("/api/v1/tokens", params={"all": "true"}).json()["items"]}
    assert everyone == {admins["id"], mine["id"], for_clerk["id"]}
    assert admin.delete(f"/api/v1/tokens/{mine['id']}").status_code == 200, "administrators revoke any token"
    assert own.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": ""}).status_code == 403
    with_token = bearer(site, for_clerk["token"])
    r = with_token.post("/api/v1/tokens", json={"name": "offspring"})
    assert r.status_code == 403, "a token cannot mint or manage tokens"
    assert with_token.get("/api/v1/tokens").status_code == 403
    for body in ({}, {"name": ""}, {"name": "x" * 101}, {"name": "x", "roles": "reader"}, {"name": "x", "roles": [1]}):
        assert own.post("/api/v1/tokens", json=body).status_code == 400, body
    for body in ({"name": "x", "expires_in_days": 0}, {"name": "x", "expires_at": "2020-01-01T00:00:00Z"}):
        assert own.post("/api/v1/tokens", json=body).status_code == 400, body
    assert own.delete("/api/v1/tokens/abc").status_code == 404
    assert own.delete("/api/v1/tokens/999999").status_code == 404


def test_pl21_token_roles_restrict_and_never_exceed_the_user(site: str, tessera: Tessera, clerk: int) -> None:
    own = session(site, "clerk", CLERK_PASSWORD)
    unknown = own.post("/api/v1/tokens", json={"name": "x", "roles": ["ghost"]})
    assert unknown.status_code == 400 and "unknown role" in unknown.json()["error"]["message"]
    with tessera.db.write() as conn:
        save_role(conn, Role("auditor", {"zh": "审计", "en": "Auditor"}), tessera.clock.now())
    more = own.post("/api/v1/tokens", json={"name": "x", "roles": ["auditor"]})
    assert more.status_code == 400 and "cannot have more rights" in more.json()["error"]["message"]

    read_only = bearer(site, new_token(own, name="只读", roles=["reader"])["token"])
    assert read_only.get("/api/v1/auth/me").json()["roles"] == ["reader"]
    assert read_only.get("/api/v1/records/specimen").status_code == 200
    refused = read_only.post("/api/v1/records/specimen", json={"title": "不许"})
    assert refused.status_code == 403, "the token acts with its roles only, not all of the clerk's"
    full = bearer(site, new_token(own, name="全部")["token"])
    assert full.post("/api/v1/records/specimen", json={"title": "可以"}).status_code == 201, "no roles = the user's"
    assert own.post("/api/v1/records/specimen", json={"title": "会话"}).status_code == 201

    admin = session(site)
    scoped_admin = bearer(site, new_token(admin, name="admin-reader", roles=["reader"])["token"])
    assert scoped_admin.get("/api/v1/records/specimen").status_code == 200
    assert scoped_admin.post("/api/v1/records/specimen", json={"title": "x"}).status_code == 403
    assert scoped_admin.get("/api/v1/auth/me").json()["is_admin"] is False
    unscoped_admin = bearer(site, new_token(admin, name="admin-all")["token"])
    assert unscoped_admin.post("/api/v1/records/specimen", json={"title": "x"}).status_code == 201
    if any(getattr(r, "path", "") == "/api/v1/admin/oplog" for r in create_app(tessera, extensions=[]).routes):
        assert scoped_admin.get("/api/v1/admin/oplog").status_code == 403, "a scoped token is never an administrator"
        assert unscoped_admin.get("/api/v1/admin/oplog").status_code == 200


def test_pl21_tokens_never_open_browser_pages(tessera: Tessera) -> None:
    pytest.importorskip("ui")
    with live_server(_app(tessera, None)) as url:  # type: ignore[arg-type]
        admin = session(url)
        token = new_token(admin)["token"]
        page = bearer(url, token).get("/", follow_redirects=False)
        assert page.status_code in (302, 303) and page.headers["location"].startswith("/login")
        assert bearer(url, token).get("/api/v1/records/specimen").status_code == 200


def test_pl21_odd_token_input_gets_a_400_never_a_500(site: str) -> None:
    admin = session(site)
    for body in (
        {"name": "a\u0000b"},
        {"name": "\ud800"},
        {"name": "x", "roles": ["a\u0000"]},
        {"name": "x", "roles": ["\ud800"]},
        {"name": "x", "expires_at": "tomorrow"},
        {"name": "x", "expires_in_days": True},
        {"name": "x", "expires_at": "2026-12-01T00:00:00", "expires_in_days": 3},
        {"name": "x", "user_id": "1"},
    ):
        raw = json.dumps(body).encode()  # \\u escapes: NUL and lone surrogates arrive as a hostile client sends them
        r = admin.post("/api/v1/tokens", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 400, (body, r.text)
    assert admin.get("/api/v1/tokens", params={"user_id": "x"}).status_code == 404
