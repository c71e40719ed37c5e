"""Shapes of the webhook action (PL-09, PL-17 outbound): a nested JSON body and headers with secrets.

Why here and not in actions.py: an outside system (a HIS) wants a document shaped its way (a FHIR
resource with arrays and nested objects), not the flat ``{name: value}`` the first webhook action sent,
and it wants a token. Both are declared in the rule as data:

* ``body``: any JSON structure; every string in it is an expression of the sandboxed language
  (``"'Patient'"`` for a constant, ``"phone"`` for a field), numbers, booleans and null are literals.
  The flat body of older rules is the one-level case of the same thing.
* ``headers``: ``{"Authorization": "Bearer {param:his.outbound_token}"}``. ``{param:KEY}`` is replaced
  by the system parameter when the request is sent, so a secret never lands in a job payload or in the
  delivery log; a header whose parameter is empty is left out (an endpoint that needs no token).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

PARAM_REF = re.compile(r"\{param:([a-z0-9_.-]{1,100})\}")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "idempotency-key"})
"""Set by the platform: the body is JSON and the idempotency key is the run's own."""


def body_expressions(body: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    """Every expression of a (nested) webhook body with its JSON path, for the pack checks."""
    if isinstance(body, str):
        yield path, body
    elif isinstance(body, dict):
        for key, value in body.items():
            yield from body_expressions(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from body_expressions(value, (*path, index))


def render_body(body: Any, value: Callable[[str], Any]) -> Any:
    """The body with each expression replaced by its value (``value`` evaluates one expression)."""
    if isinstance(body, str):
        return value(body)
    if isinstance(body, dict):
        return {str(k): render_body(v, value) for k, v in body.items()}
    if isinstance(body, list):
        return [render_body(v, value) for v in body]
    return body


def header_problems(headers: dict[str, Any], declared: Callable[[str], bool]) -> list[tuple[str, str]]:
    """(header, sentence) for every header a pack should not send: bad names, platform-set names and
    parameters that no part of the platform declares."""
    problems = []
    for name, template in headers.items():
        if not HEADER_NAME.match(name):
            problems.append((name, f"'{name}' is not an HTTP header name (letters, digits and '-')"))
        elif name.lower() in RESERVED_HEADERS:
            problems.append((name, f"'{name}' is set by the platform and cannot be given in a rule"))
        for key in PARAM_REF.findall(str(template)):
            if not declared(key):
                problems.append((name, f"unknown system parameter '{key}' in {{param:{key}}}"))
    return problems


def resolve_headers(headers: dict[str, str] | None, param: Callable[[str], Any]) -> dict[str, str]:
    """The headers to send now: parameters filled in; a header naming an empty parameter is left out."""
    out: dict[str, str] = {}
    for name, template in (headers or {}).items():
        values = {key: param(key) for key in PARAM_REF.findall(template)}
        if any(v in (None, "") for v in values.values()):
            continue
        out[name] = PARAM_REF.sub(lambda m, found=values: str(found[m.group(1)]), template)
    return out


BODY_AD = "tessera.webhook.body"
"""Associated data of a sealed body: the ciphertext opens only as a webhook body."""


def seal_body(payload: dict[str, Any], body: Any, cipher: Any) -> None:
    """Put the body into a job payload sealed with the field cipher: a body may carry sensitive fields (a
    patient's phone and address) and job payloads and the delivery log are stored in plain JSON."""
    if cipher is None:
        payload["body"] = body
        return
    payload["body_sealed"] = cipher.encrypt(json.dumps(body, ensure_ascii=False), BODY_AD)


def open_body(payload: dict[str, Any], cipher: Any) -> Any:
    """The body to send, from a job payload written by ``seal_body`` (or by a release that did not seal)."""
    if "body_sealed" not in payload:
        return payload.get("body")
    return json.loads(cipher.decrypt(payload["body_sealed"], BODY_AD))
