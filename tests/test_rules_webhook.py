"""Webhook action (PL-09): a rule POSTs JSON to an outside URL through a job with retries; a failing
endpoint is logged in the rule run log and retried, a later success is recorded (a real local server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.automation.rules.tables import rule_runs
from runtime.clock import FixedClock
from runtime.services import Tessera
from tests.conftest import PACKS
from tests.support.packs import pack_variant


class Receiver:
    """A local HTTP endpoint that answers 503 until told otherwise and records every request."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 503
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append({"body": json.loads(body), "key": self.headers.get("Idempotency-Key")})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    yield r
    r.server.shutdown()


def test_pl09_webhook_action_posts_json_and_retries_until_the_endpoint_answers(
    make_tessera: Callable[..., Tessera], receiver: Receiver, clock: FixedClock, tmp_path: Path
) -> None:
    def add_rule(docs: dict) -> None:
        docs["rules/contract_hook.json"] = {
            "id": "contract_hook",
            "entity": "contract",
            "trigger": {"field_change": "status"},
            "condition": "status == 'signed'",
            "actions": [{"type": "webhook", "url": receiver.url, "body": {"contract": "name", "id": "id"}}],
        }

    app = make_tessera(str(pack_variant(PACKS / "rules_pack", tmp_path / "hook_pack", add_rule)))
    from runtime.records.context import Context

    ctx = Context(channel="api", lang="en", is_admin=True)
    c = app.records.create("contract", {"name": "Acme"}, ctx)
    app.records.update("contract", c["id"], {"status": "signed"}, ctx, expected_version=None)
    app.jobs.run_pending()
    assert [r["body"] for r in receiver.requests] == [{"contract": "Acme", "id": c["id"]}]
    with app.db.read() as conn:
        row = conn.execute(sa.select(rule_runs).where(rule_runs.c.kind == "webhook")).one()
    assert row.status == "failed" and "503" in row.error and row.attempts == 1
    receiver.status = 200
    clock.advance(minutes=10)
    app.jobs.run_pending()
    assert len(receiver.requests) == 2 and receiver.requests[0]["key"] == receiver.requests[1]["key"]
    with app.db.read() as conn:
        row = conn.execute(sa.select(rule_runs).where(rule_runs.c.kind == "webhook")).one()
    assert row.status == "ok" and row.attempts == 2
