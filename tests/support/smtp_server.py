"""A real SMTP server for tests (aiosmtpd) on a free loopback port, in its own thread, keeping every message.

    with smtp_server() as smtp:
        mailer = SmtpMailer("127.0.0.1", smtp.port)
        ...
        message = smtp.wait_for(1)[0]        # an email.message.EmailMessage
        assert message["To"] == "someone@example.org"

``smtp_server(users={"crm": "secret"})`` requires SMTP AUTH with those credentials (over the plain
connection, which aiosmtpd otherwise refuses; the mailer must then be told ``allow_plain_login``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.server import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class SmtpServer:
    port: int
    host: str = "127.0.0.1"
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._arrived:
            return [r.message for r in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until at least ``count`` messages arrived; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} mail(s), got {len(self.received)} within {timeout}s")
                self._arrived.wait(left)
            return [r.message for r in self.received]

    # aiosmtpd handler hook ---------------------------------------------------------------------------
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._arrived:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
            self._arrived.notify_all()
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(users: dict[str, str] | None = None, *, server: SmtpServer | None = None) -> Iterator[SmtpServer]:
    """``server``: an SmtpServer (sub)class instance with its own handle_DATA, e.g. one that stalls a message."""
    server = server or SmtpServer(port=free_port())
    options: dict[str, Any] = {}
    if users is not None:

        def authenticate(smtp: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            if isinstance(data, LoginPassword):
                name, password = data.login.decode(), data.password.decode()
                if users.get(name) == password:
                    server.logins.append(name)
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(server, hostname=server.host, port=server.port, **options)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
