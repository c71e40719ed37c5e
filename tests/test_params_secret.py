"""Secret system parameters (PL-21, PL-22): an SMS gateway token or a robot's signing secret is stored
encrypted, used in plain by the runtime, and never shown again: not on the settings page, not in the API,
not in the operation log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from runtime.oplog import Actor
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.html import csrf_of, dom
from tests.test_ui_admin_logs import client_for, ui_url  # noqa: F401 - the live UI of the tessera fixture

TOKEN = "sms-gateway-token-7f3a9c"


def stored(app: Tessera, key: str) -> object:
    with app.db.read() as conn:
        return conn.execute(sa.select(pt.params.c.value).where(pt.params.c.key == key)).scalar()


def oplog_text(app: Tessera) -> str:
    with app.db.read() as conn:
        return " ".join(str(r.detail) for r in conn.execute(sa.select(pt.oplog.c.detail)))


def test_pl21_a_secret_parameter_is_sealed_at_rest_and_masked_everywhere(tessera: Tessera) -> None:
    admin = Actor(user_id=None, username="it.admin")
    changed = tessera.params.change({"notify.sms.token": TOKEN}, by=admin)
    assert changed == {"notify.sms.token": ["(empty)", "(set)"]}
    raw = stored(tessera, "notify.sms.token")
    assert isinstance(raw, str) and TOKEN not in raw and tessera.cipher.key_id(raw) is not None
    assert tessera.params.get("notify.sms.token") == TOKEN  # what the SMS gateway is sent
    described = tessera.params.describe("notify.sms.token")
    assert (described["value"], described["is_set"], described["secret"]) == ("", True, True)
    assert TOKEN not in str(tessera.params.all())
    assert TOKEN not in oplog_text(tessera)
    tessera.params.reset("notify.sms.token", by=admin)
    assert tessera.params.get("notify.sms.token") == "" and not tessera.params.is_set("notify.sms.token")


@pytest.fixture
def admin(ui_url: str) -> Iterator[httpx.Client]:  # noqa: F811 - ui_url is the imported fixture
    with client_for(ui_url) as client:
        yield client


def test_pl22_settings_page_never_shows_a_secret_and_empty_keeps_it(tessera: Tessera, admin: httpx.Client) -> None:
    page = admin.get("/admin/settings")
    token = csrf_of(page.text)
    field = dom(page.text).by_id("in-notify-sms-token")
    assert field.attrs["type"] == "password" and field.attrs["value"] == "" and field.attrs["data-secret"] == "unset"
    saved = admin.post("/admin/settings/params/notify.sms.token", data={"csrf_token": token, "value": TOKEN})
    assert saved.status_code == 303 and tessera.params.get("notify.sms.token") == TOKEN
    page = admin.get("/admin/settings")
    assert TOKEN not in page.text
    assert dom(page.text).by_id("in-notify-sms-token").attrs["data-secret"] == "set"
    kept = admin.post("/admin/settings/params/notify.sms.token", data={"csrf_token": token, "value": ""})
    assert kept.status_code == 303 and tessera.params.get("notify.sms.token") == TOKEN
    api = admin.get("/api/v1/admin/params").json()
    (item,) = [p for p in api["items"] if p["key"] == "notify.sms.token"]
    assert item["value"] == "" and item["is_set"] is True and TOKEN not in str(api)
