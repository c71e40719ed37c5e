"""PL-21: text people type is shown as text on every page, checked in Chromium.

An attacker's text gets into a record, a department name, a user's display name, an API token's
name, a failed login's username and therefore the audit trail and the operation log. The
administrator then opens every page where those appear: no script may run and no injected element
may appear. (tests/test_security_channels.py covers the list, detail, print and search pages as a
liaison; this sweep covers the administration and account pages.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.browser import require_chromium
from tests.support.people import ADMIN_PASSWORD, People
from tests.test_security_channels import CHROMIUM, IMG, SCRIPT, world  # noqa: F401 - the fixture

PW = "Xs5!-Xs5!-Xs5!"
ADMIN_PAGES = [
    "/",
    "/v/hospital_list",
    "/r/hospital/{hospital}",
    "/r/hospital/{hospital}/edit",
    "/r/hospital/{hospital}/history",
    "/admin",
    "/admin/users",
    "/admin/users/{user}",
    "/admin/departments",
    "/admin/roles",
    "/admin/audit",
    "/admin/oplog",
    "/admin/errors",
    "/admin/settings",
    "/account",
    "/account/tokens",
]


def plant_attacker_text(people: People) -> dict[str, int]:
    """Everything created through the API as the administrator, as an attacker with those rights would."""
    admin = people.client("admin")
    dept = admin.post("/api/v1/admin/departments", json={"name": IMG, "code": "XSS"})
    assert dept.status_code == 201, dept.text
    user = admin.post(
        "/api/v1/admin/users",
        json={"username": "mallory", "display_name": SCRIPT, "department_id": dept.json()["id"], "password": PW},
    )
    assert user.status_code == 201, user.text
    hospital = admin.post("/api/v1/records/hospital", json={"name": SCRIPT, "city": IMG, "notes": IMG})
    assert hospital.status_code == 201, hospital.text
    changed = admin.patch(
        f"/api/v1/records/hospital/{hospital.json()['id']}",
        json={"version": hospital.json()["version"], "notes": SCRIPT, "contact_name": IMG},
    )
    assert changed.status_code == 200, changed.text
    token = admin.post("/api/v1/tokens", json={"name": SCRIPT})
    assert token.status_code == 201, token.text
    with httpx.Client(base_url=people.url) as anonymous:
        anonymous.post("/api/v1/auth/login", json={"username": SCRIPT, "password": "wrong"})
    return {"hospital": hospital.json()["id"], "user": user.json()["id"]}


@pytest.mark.browser
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_pl21_typed_script_stays_text_on_admin_and_account_pages(world: People) -> None:  # noqa: F811
    playwright_api = pytest.importorskip("playwright.sync_api")
    require_chromium()
    ids = plant_attacker_text(world)
    dialogs: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(locale="zh-CN")
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(world.url + "/login")
        page.fill("#username", "admin")
        page.fill("#password", ADMIN_PASSWORD)
        page.click("#login-submit")
        page.wait_for_url(world.url + "/")
        for template in ADMIN_PAGES:
            path = template.format(**ids)
            response = page.goto(world.url + path)
            assert response is not None and response.status == 200, (path, response and response.status)
            page.wait_for_load_state("networkidle")
            assert page.locator("img[src=x]").count() == 0, f"{path}: an injected <img> became an element"
            assert page.locator("script:text('alert(1)')").count() == 0, f"{path}: an injected <script> element"
        body = {path: None for path in ("/admin/audit", "/admin/oplog", "/admin/users")}
        for path in body:
            page.goto(world.url + path)
            page.wait_for_load_state("networkidle")
            assert page.get_by_text(SCRIPT).count() >= 1, f"{path}: the typed text is not shown as text"
        browser.close()
    assert dialogs == [], f"a script ran: {dialogs}"
