"""SMTP delivery with the standard library (smtplib): plain, STARTTLS or implicit TLS, optional login."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterable, Sequence

from runtime.mail import Attachment, Mailer, MailError, build_message, recipients

log = logging.getLogger("tessera.mail")

IMPLICIT_TLS_PORT = 465


class SmtpMailer(Mailer):
    """Opens one connection per message (mail volume is low; nothing to keep alive or share between threads).

    ``starttls=True`` upgrades the connection after connecting (usually port 587); port 465 means
    implicit TLS (``SMTP_SSL``), common with Chinese providers. Server certificates are verified
    against the system's CA store unless an ``ssl_context`` is given. ``user``/``password`` log in
    when set (only over an encrypted connection unless ``allow_plain_login`` is set for a trusted
    local relay).
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        sender: str = "Tessera <tessera@localhost>",
        timeout: float = 20.0,
        ssl_context: ssl.SSLContext | None = None,
        allow_plain_login: bool = False,
    ):
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.starttls = starttls
        self.sender = sender
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.allow_plain_login = allow_plain_login

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host!r}, {self.port}, starttls={self.starttls}, user={self.user!r})"

    def _connect(self) -> smtplib.SMTP:
        if self.port == IMPLICIT_TLS_PORT and not self.starttls:
            context = self.ssl_context or ssl.create_default_context()
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        attachments: Iterable[Attachment] = (),
    ) -> None:
        message = build_message(self.sender, to, subject, text, html, attachments)
        rcpts = recipients(to)
        try:
            with self._connect() as smtp:
                smtp.ehlo()
                encrypted = isinstance(smtp, smtplib.SMTP_SSL)
                if self.starttls:
                    smtp.starttls(context=self.ssl_context or ssl.create_default_context())
                    smtp.ehlo()
                    encrypted = True
                if self.user:
                    if not encrypted and not self.allow_plain_login:
                        raise MailError("refusing to send the SMTP password over an unencrypted connection")
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(message, to_addrs=rcpts)
        except MailError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"sending mail through {self.host}:{self.port} failed: {exc}") from exc
        if refused:
            log.warning("mail server refused some recipients of %r: %s", subject, sorted(refused))
