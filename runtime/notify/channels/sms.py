"""SMS through a gateway: a small protocol and the HTTP implementation most Chinese SMS providers fit behind."""

from __future__ import annotations

from typing import Protocol

from runtime.notify.channels import NotConfigured, Outgoing
from runtime.notify.channels.http import post_json


class SmsGateway(Protocol):
    def send(self, phone: str, text: str, key: str) -> str:
        """Send one SMS and return the gateway's message id; ``key`` lets the gateway drop a repeat."""
        ...


class HttpSmsGateway:
    """POST {"to", "text", "key"} as JSON with ``Authorization: Bearer <token>`` and ``Idempotency-Key``.

    The answer may be JSON with ``message_id`` (or ``id``); anything but 2xx is an error and retried.
    """

    def __init__(self, url: str, token: str = ""):
        self.url = url
        self.token = token

    def send(self, phone: str, text: str, key: str) -> str:
        headers = {"Idempotency-Key": key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        answer = post_json(self.url, {"to": phone, "text": text, "key": key}, headers)
        if isinstance(answer, dict):
            return str(answer.get("message_id") or answer.get("id") or "")
        return ""


class SmsChannel:
    def __init__(self, gateway: SmsGateway | None):
        self.gateway = gateway

    def send(self, out: Outgoing) -> str:
        if self.gateway is None:
            raise NotConfigured("no SMS gateway configured (parameter notify.sms.url)")
        if not out.target:
            raise NotConfigured("the recipient has no mobile phone number")
        return self.gateway.send(out.target, out.text, out.key)
