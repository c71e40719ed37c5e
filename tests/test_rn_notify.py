"""RN-13 notifications of the referral pack: reports delivered to chosen people by e-mail on a period, and the
pack's own notices (message templates in Chinese and English) reaching the right people in-app and by e-mail.

Everything goes through a real SMTP server (tests/support/smtp_server.py) and real HTTP; the clock is moved to
the morning the monthly delivery is due.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

import ui.app
from runtime.api import create_app
from runtime.clock import FixedClock
from runtime.config import Settings
from runtime.demo import demo_logins, load_organisation
from runtime.records import Context
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.html import csrf_of, sign_in
from tests.support.server import live_server
from tests.support.smtp_server import SmtpServer, smtp_server

PACK = Path(__file__).parent.parent / "blueprints" / "referral_network"
SYSTEM = Context(channel="system", lang="en", is_admin=True)
CHOSEN = ("rn.leader", "rn.manager2")  # people who may export the numbers they receive


@dataclass
class Office:
    app: Tessera
    url: str
    password: str
    smtp: SmtpServer
    clock: FixedClock

    def uid(self, username: str) -> int:
        user = self.app.users.by_username(username)
        assert user is not None, username
        return user.id

    def browser(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=60, headers={"Accept-Language": "zh"})
        r = sign_in(client, username, self.password)
        assert r.status_code in (200, 303), r.text
        return client

    def api(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=60)
        r = client.post("/api/v1/auth/login", json={"username": username, "password": self.password})
        assert r.status_code == 200, r.text
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return client


@pytest.fixture
def office(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Office]:
    with smtp_server() as smtp:
        settings = Settings(database_url=database_url, data_dir=tmp_path / "data",
                            secret_key="test-secret-key-" + "x" * 32, smtp_host="127.0.0.1",
                            smtp_port=smtp.port)  # fmt: skip
        app = Tessera(settings, clock=clock)
        try:
            app.deploy(app.load_pack(PACK))
            load_organisation(app, app.registry.packs["referral_network"])
            password, _ = demo_logins(app)
            with app.db.write() as conn:  # the administrator keeps everyone's e-mail address
                for user in conn.execute(sa.select(pt.users.c.id, pt.users.c.username)).all():
                    conn.execute(pt.users.update().where(pt.users.c.id == user.id)
                                 .values(email=f"{user.username}@hospital.example"))  # fmt: skip
            with live_server(create_app(app, extensions=[ui.app.install])) as url:
                yield Office(app, url, password, smtp, clock)
        finally:
            app.close()


def _volume(office: Office) -> None:
    """November 2026: liaison1's hospital 30 (12 + 18), liaison6's 11; October 2026: liaison1's 20."""
    formal = {"status": "formal", "cooperation_type": ["two_way_referral"], "signed_date": "2025-06-01"}
    h1 = office.app.records.create("partner_hospital", {"name": "东湖区人民医院", "liaison": office.uid("rn.liaison1"),
                                                        **formal}, SYSTEM)["id"]  # fmt: skip
    h6 = office.app.records.create("partner_hospital", {"name": "北岭县医院", "liaison": office.uid("rn.liaison6"),
                                                        **formal}, SYSTEM)["id"]  # fmt: skip
    for hosp, month, up, down in ((h1, "2026-11-01", 12, 18), (h6, "2026-11-01", 5, 6), (h1, "2026-10-01", 20, 0)):
        office.app.records.create("business_volume", {"hospital": hosp, "month": month, "up_referrals": up,
                                                      "down_referrals": down}, SYSTEM)  # fmt: skip


def test_rn13_report_delivered_to_chosen_people_by_email(office: Office) -> None:
    _volume(office)
    manager = office.browser("rn.manager1")
    page = manager.get("/reports/perf_volume_monthly")
    assert page.status_code == 200 and 'id="subscribe"' in page.text  # the pack lets managers subscribe people
    form = manager.get("/reports/perf_volume_monthly/subscriptions")
    assert form.status_code == 200, form.text
    added = manager.post(
        "/reports/perf_volume_monthly/subscriptions",
        data={"csrf_token": csrf_of(form.text), "frequency": "monthly", "channels": ["email"],
              "user_ids": [str(office.uid(u)) for u in CHOSEN], "format": "xlsx", "params": "grain=month"},
    )  # fmt: skip
    assert added.status_code == 303, added.text
    (sub,) = office.app.reports.subscriptions.list("perf_volume_monthly")
    assert sub["frequency"] == "monthly" and sorted(sub["user_ids"]) == sorted(office.uid(u) for u in CHOSEN)
    assert office.browser("rn.liaison2").get("/reports/perf_volume_monthly/subscriptions").status_code == 403

    office.app.jobs.run_pending()
    assert office.smtp.messages == []  # not due before the 1st of the month
    office.clock.set(datetime(2026, 12, 1, 0, 5))  # 1 December, 08:05 in Shanghai
    office.app.jobs.run_pending()
    office.app.jobs.run_pending()
    mails = office.smtp.wait_for(2)
    assert sorted(m["To"] for m in mails) == sorted(f"{u}@hospital.example" for u in CHOSEN)
    for mail in mails:
        assert "2026-11-01" in mail["Subject"] and "2026-11-30" in mail["Subject"]
        (attachment,) = list(mail.iter_attachments())
        rows = list(load_workbook(BytesIO(attachment.get_content())).active.iter_rows(values_only=True))
        header, body = rows[0], rows[1:]
        total_col = header.index(next(h for h in header if h in ("业务量", "Volume")))
        by_name = {r[0]: r[total_col] for r in body if r[0]}
        liaison1 = office.app.users.get(office.uid("rn.liaison1")).display_name
        assert by_name[liaison1] == 30 and body[-1][total_col] == 41  # November only: October's 20 is not in it
    office.app.jobs.run_pending()  # another pass of the scheduler sends nothing twice
    assert len(office.smtp.messages) == 2


def test_rn13_lead_assigned_notice_reaches_the_liaison_in_app_and_by_email(office: Office) -> None:
    liaison = office.uid("rn.liaison3")
    manager = office.api("rn.manager1")
    r = manager.post("/api/v1/records/coop_lead", json={"hospital_name": "青禾县人民医院", "source": "visit",
                                                       "contact_name": "周立", "next_follow_date": "2026-11-30"})
    assert r.status_code == 201, r.text
    lead = r.json()
    office.app.jobs.run_pending()  # the registrar (the manager) is in charge first: nobody is told
    r = manager.post(f"/api/v1/records/coop_lead/{lead['id']}/actions/assign", json={"input": {"owner": liaison}})
    assert r.status_code == 200, r.text
    office.app.jobs.run_pending()
    inbox = office.api("rn.liaison3").get("/api/v1/notifications").json()
    items: list[dict[str, Any]] = inbox.get("items", inbox) if isinstance(inbox, dict) else inbox
    notice = next(n for n in items if "青禾县人民医院" in n["title"])
    assert notice["title"] == "新线索：青禾县人民医院" and "2026年11月30日" in notice["body"]
    assert notice["link"] == f"/r/coop_lead/{lead['id']}"
    office.smtp.wait_for(1)
    mine = [m for m in office.smtp.messages if m["To"] == "rn.liaison3@hospital.example"]
    assert [m["Subject"] for m in mine] == ["新线索：青禾县人民医院"]
    # the manager who registered and assigned it is not told about it
    assert not any("青禾县人民医院" in n["title"] for n in office.api("rn.manager1").get("/api/v1/notifications")
                   .json().get("items", []))  # fmt: skip
