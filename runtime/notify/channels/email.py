"""E-mail over SMTP with a Message-ID derived from the delivery key.

A worker that crashed after the server accepted a message but before the log said "sent" sends it
again on retry; the second copy carries the same Message-ID, so mail clients and servers that
de-duplicate by Message-ID show it once and anyone reading the headers sees it is the same message.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.utils import parseaddr

from runtime.config import Settings
from runtime.mail import MailError, build_message, recipients
from runtime.mail.smtp import SmtpMailer
from runtime.notify.channels import DeliveryError, NotConfigured, Outgoing


def message_id(key: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<notify.{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


class EmailChannel:
    def __init__(self, settings: Settings):
        self.settings = settings

    def send(self, out: Outgoing) -> str:
        s = self.settings
        if not s.smtp_host:
            raise NotConfigured("no SMTP server configured (TESSERA_SMTP_HOST)")
        if not out.target:
            raise NotConfigured("the recipient has no e-mail address")
        try:
            msg = build_message(s.smtp_from, out.target, out.subject, out.text, out.html)
        except MailError as exc:
            raise NotConfigured(str(exc)) from exc
        del msg["Message-ID"]
        msg["Message-ID"] = message_id(out.key, s.smtp_from)
        mailer = SmtpMailer(
            s.smtp_host, s.smtp_port, user=s.smtp_user, password=s.smtp_password, starttls=s.smtp_starttls
        )
        try:
            with mailer._connect() as smtp:  # noqa: SLF001 - same connection rules as password-reset mail
                smtp.ehlo()
                encrypted = isinstance(smtp, smtplib.SMTP_SSL)
                if mailer.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                    encrypted = True
                if mailer.user:
                    if not encrypted:
                        raise DeliveryError("refusing to send the SMTP password over an unencrypted connection")
                    smtp.login(mailer.user, mailer.password or "")
                smtp.send_message(msg, to_addrs=recipients(out.target))
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"sending mail through {s.smtp_host}:{s.smtp_port} failed: {exc}") from exc
        return str(msg["Message-ID"])
