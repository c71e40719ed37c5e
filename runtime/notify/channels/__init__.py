"""Delivery channels: each turns one delivery-log row into one outside send, or raises DeliveryError.

in_app is not here: writing the notification row *is* the delivery, done in the notify transaction.
A channel returns the provider's message id (kept in the log) and must make a repeated send
recognisable (e-mail Message-ID, gateway idempotency key) since a job runs at least once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHANNELS = ("in_app", "email", "sms", "webhook")


class DeliveryError(Exception):
    """The outside service refused or could not be reached; the job retries later."""


class NotConfigured(DeliveryError):
    """No server/gateway/robot configured: the delivery is skipped, not retried."""


@dataclass(frozen=True)
class Outgoing:
    """One rendered message ready to send: what the delivery-log row holds."""

    key: str
    """The delivery key (notify key + user + channel): stable across retries."""
    target: str
    subject: str
    text: str
    html: str | None = None
    link: str | None = None
    kind: str = ""

    @classmethod
    def from_row(cls, row: Any) -> Outgoing:
        message = row.message or {}
        return cls(
            key=delivery_key(row.key, row.user_id, row.channel),
            target=row.target or "",
            subject=message.get("subject") or "",
            text=message.get("text") or "",
            html=message.get("html"),
            link=message.get("link"),
            kind=row.kind,
        )


def delivery_key(key: str, user_id: int, channel: str) -> str:
    return f"{key}|{user_id}|{channel}"
