"""Outgoing e-mail: one small interface for password resets today and notifications later.

Usage::

    from runtime.mail import mailer_from_settings

    mailer = mailer_from_settings(tessera.settings)
    mailer.send("someone@example.org", "主题 Subject", "plain text body", html="<p>optional HTML</p>",
                attachments=[Attachment("report.xlsx", data, "application/vnd.ms-excel")])

* :class:`Mailer` is the interface: ``send(to, subject, text, html=None, attachments=())``. ``to``
  is one address or a list; subjects and bodies may be Chinese (UTF-8, encoded per RFC 2047/2231).
  A failure raises :class:`MailError`; callers that must not fail (a password-reset request that
  always answers 202) catch and log it.
* :class:`~runtime.mail.smtp.SmtpMailer` delivers through an SMTP server with the standard
  library's ``smtplib`` (plain, STARTTLS, or implicit TLS on port 465; optional login).
* :class:`LogMailer` is used when no SMTP host is configured: it logs who would have received
  what subject (never the body, which may hold a reset link) so a development setup works.
* Settings (``runtime.config.Settings`` / environment): ``TESSERA_SMTP_HOST``, ``TESSERA_SMTP_PORT``,
  ``TESSERA_SMTP_USER``, ``TESSERA_SMTP_PASSWORD``, ``TESSERA_SMTP_STARTTLS`` (1/true),
  ``TESSERA_SMTP_FROM`` (e.g. ``"随访中心 <crm@hospital.example>"``) and ``TESSERA_MAIL_BASE_URL``
  (the public site address used in links; the request's address otherwise).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.config import Settings

__all__ = ["Attachment", "LogMailer", "MailError", "Mailer", "build_message", "mailer_from_settings"]

log = logging.getLogger("tessera.mail")


class MailError(Exception):
    """The message could not be handed to the mail server (connection, login, refused recipient...)."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


class Mailer(ABC):
    """Sends one message. Implementations must be safe to call from several threads."""

    sender: str = "Tessera <tessera@localhost>"

    @abstractmethod
    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        attachments: Iterable[Attachment] = (),
    ) -> None:
        """Deliver the message or raise :class:`MailError`."""


def recipients(to: str | Sequence[str]) -> list[str]:
    found = [to] if isinstance(to, str) else list(to)
    cleaned = [addr.strip() for addr in found if addr and addr.strip()]
    for addr in cleaned:
        if "\n" in addr or "\r" in addr or "@" not in parseaddr(addr)[1]:
            raise MailError(f"not an e-mail address: {addr!r}")
    if not cleaned:
        raise MailError("a message needs at least one recipient")
    return cleaned


def build_message(
    sender: str,
    to: str | Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    attachments: Iterable[Attachment] = (),
) -> EmailMessage:
    """A standards-conforming MIME message: text, optional HTML alternative, optional attachments."""
    if "\n" in subject or "\r" in subject:
        raise MailError("the subject must be one line")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients(to))
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    msg.set_content(text, charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        msg.add_attachment(
            item.content, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=item.filename
        )
    return msg


class LogMailer(Mailer):
    """No mail server configured: log the envelope (not the body) instead of sending."""

    def __init__(self, sender: str = "Tessera <tessera@localhost>"):
        self.sender = sender

    def send(
        self,
        to: str | Sequence[str],
        subject: str,
        text: str,
        html: str | None = None,
        attachments: Iterable[Attachment] = (),
    ) -> None:
        build_message(self.sender, to, subject, text, html, attachments)  # same checks as a real send
        log.warning("no SMTP server configured (TESSERA_SMTP_HOST): not sending %r to %s", subject, recipients(to))


def mailer_from_settings(settings: Settings) -> Mailer:
    """The SMTP mailer when ``smtp_host`` is set, else a :class:`LogMailer`."""
    if not settings.smtp_host:
        return LogMailer(settings.smtp_from)
    from runtime.mail.smtp import SmtpMailer

    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        sender=settings.smtp_from,
    )
