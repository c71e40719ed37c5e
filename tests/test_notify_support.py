"""Shared pieces of the notification tests: a recording HTTP server (the only fake: an SMS gateway/robot)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

from runtime.records.context import SYSTEM
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.server import free_port


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HttpRecorder:
    """A real local HTTP server that keeps every POST; ``fail_next`` answers the next N requests with 500."""

    port: int
    requests: list[Recorded] = field(default_factory=list)
    fail_next: int = 0
    answer: dict[str, Any] = field(default_factory=lambda: {"message_id": "gw-1"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"


@contextmanager
def http_recorder() -> Iterator[HttpRecorder]:
    recorder = HttpRecorder(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            recorder.requests.append(Recorded(self.path, dict(self.headers), json.loads(raw or b"null")))
            if recorder.fail_next > 0:
                recorder.fail_next -= 1
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b"gateway down")
                return
            body = json.dumps(recorder.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", recorder.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def make_user(
    app: Tessera,
    username: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    language: str = "zh",
    is_admin: bool = False,
) -> int:
    user = app.users.create(
        username, username.title(), "Pass-word-1234", email=email, language=language, is_admin=is_admin
    )
    if phone:
        with app.db.write() as conn:
            conn.execute(sa.update(pt.users).where(pt.users.c.id == user.id).values(phone=phone))
    return user.id


def make_lead(app: Tessera, owner: int | None = None) -> int:
    hospital = app.records.create("hospital", {"name": "协和医院", "city": "北京"}, SYSTEM)
    lead = app.records.create(
        "lead",
        {"name": "王芳", "hospital": hospital["id"], "owner": owner, "visit_date": "2026-12-01", "note": "<b>急</b>"},
        SYSTEM,
    )
    return lead["id"]


def deliveries(app: Tessera) -> list[dict[str, Any]]:
    from runtime.notify.tables import deliveries as t

    with app.db.read() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]


def notifications(app: Tessera, user_id: int) -> list[dict[str, Any]]:
    with app.db.read() as conn:
        rows = conn.execute(sa.select(pt.notifications).where(pt.notifications.c.user_id == user_id)).mappings()
        return [dict(r) for r in rows]
