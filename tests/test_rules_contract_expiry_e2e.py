"""A contract expiring in 30 days sends its manager exactly one e-mail (PL-09, PL-16, PL-24), received by a
real SMTP server, even when the `tessera worker` sending it is killed in the middle of the SMTP conversation
and another worker takes over.

The story: a contract is saved 30 days before its end date; the date rule fires on the write and its job
runs in a worker process; the rule writes its log row and notifies the manager; the e-mail job starts
talking to the SMTP server, which holds the message before accepting it; the worker is killed (SIGKILL);
a new worker recovers the stalled job and sends the e-mail once; nothing runs twice afterwards.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runtime.clock import FixedClock
from runtime.jobs.tables import jobs
from runtime.notify.tables import deliveries
from runtime.records.context import SYSTEM, Context
from runtime.records.query import ListQuery
from runtime.services import Tessera
from tests.support.server import free_port
from tests.support.smtp_server import SmtpServer, smtp_server
from tests.test_notify_support import make_user

ROOT = Path(__file__).resolve().parent.parent
API = Context(channel="api", lang="en", is_admin=True)


class HoldingSmtp(SmtpServer):
    """Holds the first message in DATA (not yet accepted: no 250 sent) until the test lets go, then
    answers 451 "try again later" without keeping it: the client of that conversation has died by then."""

    def __init__(self, port: int):
        super().__init__(port=port)
        self.holding = threading.Event()
        self.let_go = threading.Event()
        self.held = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        if self.held == 0:
            self.held = 1
            self.holding.set()
            while not self.let_go.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def worker(app: Tessera, smtp: SmtpServer, tmp_path: Path, name: str) -> Iterator[subprocess.Popen]:
    env = {
        **os.environ,
        "TESSERA_DATABASE_URL": app.settings.database_url,
        "TESSERA_DATA_DIR": str(app.settings.data_dir),
        "TESSERA_SECRET_KEY": app.settings.secret_key,
        "TESSERA_JOBS_STALLED_SECONDS": "2",
        "TESSERA_SMTP_HOST": smtp.host,
        "TESSERA_SMTP_PORT": str(smtp.port),
        "TESSERA_SMTP_FROM": "合同管理 <contracts@hospital.example>",
        "PYTHONPATH": str(ROOT),
    }
    log = open(tmp_path / f"{name}.out", "w")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "runtime.cli", "worker", "--poll", "0.2"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        log.close()


def wait_for(check: Callable[[], bool], what: str, tmp_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp_path.glob("*.out")))
            raise AssertionError(f"timed out waiting for {what}\n{logs}")
        time.sleep(0.1)


def email_delivery(app: Tessera) -> dict[str, Any]:
    with app.db.read() as conn:
        rows = conn.execute(sa.select(deliveries).where(deliveries.c.channel == "email")).mappings().all()
    assert len(rows) == 1, rows
    return dict(rows[0])


def job_statuses(app: Tessera, key_prefix: str) -> Counter:
    with app.db.read() as conn:
        q = sa.select(jobs.c.name, jobs.c.status).where(jobs.c.key.startswith(key_prefix))
        return Counter((row.name, row.status) for row in conn.execute(q))


def test_pl09_contract_expiring_in_30_days_emails_its_manager_exactly_once_across_a_killed_worker(
    make_tessera: Callable[..., Tessera], clock: FixedClock, tmp_path: Path
) -> None:
    app = make_tessera("rules_pack")
    manager = make_user(app, "zhang.manager", email="zhang.manager@hospital.example")
    ends = clock.now().date() + timedelta(days=30)
    contract = app.records.create(
        "contract", {"name": "区域检验中心合作协议", "end_date": str(ends), "manager": manager}, API
    )
    with smtp_server(server=HoldingSmtp(free_port())) as smtp:
        assert isinstance(smtp, HoldingSmtp)
        with worker(app, smtp, tmp_path, "first") as first:
            wait_for(smtp.holding.is_set, "the first worker to be in the middle of sending", tmp_path)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
        smtp.let_go.set()
        assert smtp.messages == []
        assert email_delivery(app)["status"] == "sending"  # the dead worker's claim
        with worker(app, smtp, tmp_path, "second") as second:
            wait_for(lambda: email_delivery(app)["status"] == "sent", "the second worker to send it", tmp_path)
            time.sleep(3)  # more polls and a stalled-job check: nothing may run again
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0, (tmp_path / "second.out").read_text()

    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"].addresses[0].addr_spec == "zhang.manager@hospital.example"
    assert "区域检验中心合作协议" in message["Subject"] and str(ends) in message["Subject"]
    assert "30 days" in message.get_body(("plain",)).get_content()
    delivery = email_delivery(app)
    assert delivery["attempts"] == 2 and delivery["last_error"] is None
    logs = app.records.list("rule_log", ListQuery(limit=50), SYSTEM).items
    assert [(r["kind"], r["ref_id"]) for r in logs] == [("expiry", contract["id"])]
    assert job_statuses(app, "rule:contract_expiry:") == Counter({("rules.run", "done"): 1})
    assert job_statuses(app, "notify.deliver:") == Counter({("notify.deliver", "done"): 1})
