"""POSTing JSON with the standard library (no extra dependency for two small clients)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from runtime.notify.channels import DeliveryError


def post_json(url: str, body: dict[str, Any], headers: dict[str, str] | None = None, timeout: float = 15) -> Any:
    """The decoded JSON answer (None if not JSON); DeliveryError for a network error or a non-2xx status."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - admin-configured URL
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode("utf-8", "replace")
        raise DeliveryError(f"{url} answered {exc.code}: {detail}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(f"{url} could not be reached: {exc}") from exc
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
