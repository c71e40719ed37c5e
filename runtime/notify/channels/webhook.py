"""Group robots: DingTalk and WeCom webhook bodies, or generic JSON for anything else.

DingTalk answers HTTP 200 even when it refuses a message (``{"errcode": 310000, ...}``), and so does
WeCom; both are checked, so a refused message is retried and its error shows in the delivery log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from typing import Any

from runtime.notify.channels import DeliveryError, NotConfigured, Outgoing
from runtime.notify.channels.http import post_json


def webhook_body(fmt: str, out: Outgoing) -> dict[str, Any]:
    text = out.text + (f"\n{out.link}" if out.link else "")
    if fmt == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": out.subject or text[:20], "text": _markdown(out)}}
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _markdown(out)}}
    return {"title": out.subject, "text": out.text, "link": out.link, "kind": out.kind, "key": out.key}


def _markdown(out: Outgoing) -> str:
    lines = [f"### {out.subject}"] if out.subject and out.subject != out.text else []
    lines.append(out.text)
    if out.link:
        lines.append(f"[{out.link}]({out.link})")
    return "\n\n".join(lines)


def dingtalk_signed(url: str, secret: str, now_ms: int | None = None) -> str:
    """DingTalk's "加签": timestamp + HMAC-SHA256(secret, "timestamp\\nsecret"), base64, in the query."""
    stamp = str(now_ms if now_ms is not None else int(time.time() * 1000))
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"{url}{'&' if '?' in url else '?'}timestamp={stamp}&sign={sign}"


class WebhookChannel:
    def __init__(self, url: str, fmt: str = "dingtalk", secret: str = ""):
        self.url = url
        self.fmt = fmt
        self.secret = secret

    def send(self, out: Outgoing) -> str:
        url = out.target or self.url
        if not url:
            raise NotConfigured("no webhook configured (parameter notify.webhook.url)")
        if self.fmt == "dingtalk" and self.secret:
            url = dingtalk_signed(url, self.secret)
        answer = post_json(url, webhook_body(self.fmt, out), {"Idempotency-Key": out.key})
        if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
            raise DeliveryError(f"the robot refused the message: {answer.get('errcode')} {answer.get('errmsg', '')}")
        return str(answer.get("msgid") or "") if isinstance(answer, dict) else ""
