"""The audit trail (PL-21): every create, update and delete through the records service leaves one row.

Registered on ``Hooks.after_write``, so it runs inside the write transaction: the audit row commits
or rolls back with the change itself, for every channel (UI, API, import, workflow, rule, system).
A write that fails validation never reaches the hook and so leaves no row.

``changes`` always has one shape, ``{"field": [before, after]}``, so one renderer serves every action:

* update — only the fields whose value changed;
* create — a full snapshot of the non-empty values as ``[null, value]``;
* delete — a full snapshot of the non-empty values as ``[value, null]``.

Child tables are compared and stored as lists of rows (row ids dropped: rows are rewritten on every
update, so their ids are not part of the content). Fields marked ``sensitive`` (phone numbers, ID
numbers) never reach the audit table in plain text: their entry is ``{"changed": true}``, and, when
the container offers a cipher (``tessera.cipher``, runtime.security.FieldCipher: ``encrypt(str) -> str``
with empty associated data), also ``before`` and ``after``: each the ciphertext of the JSON-encoded
value (``json.loads(cipher.decrypt(token))`` gives it back), or null. Sensitive columns inside
child rows are replaced by ``{"redacted": true}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa

from runtime.blueprints.model import Entity, Field
from runtime.clock import Clock
from runtime.records.hooks import WriteEvent
from runtime.storage.platform_tables import audit

log = logging.getLogger("tessera.audit")

TRACKED_SYSTEM = ("owner_id", "department_id")
"""System columns worth a line in the timeline when they change (ownership moves)."""
SENSITIVE_MARKER_KEY = "changed"
REDACTED = {"redacted": True}


class Cipher(Protocol):
    def encrypt(self, plaintext: str) -> str: ...


CipherSource = Callable[[], Cipher | None]


class AuditTrail:
    """The after-write hook. ``cipher`` is looked up at write time, so it may be installed later."""

    def __init__(self, clock: Clock, cipher: CipherSource | None = None):
        self.clock = clock
        self.cipher = cipher or (lambda: None)

    def __call__(self, event: WriteEvent) -> None:
        if event.record_id is None:
            return
        changes = compute_changes(event.entity, event.action, event.before, event.after, self._cipher())
        if event.action == "update" and not changes:
            return  # a save that changed nothing is not a change
        event.conn.execute(
            sa.insert(audit),  # values as parameters: one cached compiled statement for every write
            {
                "at": self.clock.now(),
                "entity": event.entity.id,
                "record_id": event.record_id,
                "action": event.action,
                "actor_id": event.ctx.user_id,
                "channel": event.ctx.channel,
                "request_id": (event.ctx.request_id or None) and event.ctx.request_id[:64],
                "changes": changes,
            },
        )

    def _cipher(self) -> Cipher | None:
        try:
            cipher = self.cipher()
        except Exception:  # noqa: BLE001 - a missing or half-configured cipher means "markers only"
            return None
        return cipher if callable(getattr(cipher, "encrypt", None)) else None


def compute_changes(
    entity: Entity,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    cipher: Cipher | None = None,
) -> dict[str, Any]:
    """The ``changes`` document for one write (see the module docstring for its shape)."""
    before, after = before or {}, after or {}
    out: dict[str, Any] = {}
    for name, field in _tracked(entity):
        old = _normalise(field, before.get(name))
        new = _normalise(field, after.get(name))
        if action == "update":
            if old == new:
                continue
        elif action == "create":
            if _empty(new):
                continue
            old = None
        elif action == "delete":
            if _empty(old):
                continue
            new = None
        else:
            raise ValueError(f"unknown action {action}")
        if field is not None and field.sensitive:
            out[name] = _sensitive_entry(old, new, cipher)
        elif field is not None and field.type == "child_table":
            out[name] = [_redact_rows(field, old), _redact_rows(field, new)]
        else:
            out[name] = [old, new]
    return out


def _tracked(entity: Entity) -> list[tuple[str, Field | None]]:
    return [(f.name, f) for f in entity.fields] + [(n, None) for n in TRACKED_SYSTEM]


def _normalise(field: Field | None, value: Any) -> Any:
    """JSON-ready, comparable values; child rows without their ids."""
    if field is not None and field.type == "child_table":
        rows = value or []
        return [{k: _jsonable(v) for k, v in row.items() if k != "id"} for row in rows if isinstance(row, dict)]
    return _jsonable(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _sensitive_entry(old: Any, new: Any, cipher: Cipher | None) -> dict[str, Any]:
    entry: dict[str, Any] = {SENSITIVE_MARKER_KEY: True}
    if cipher is not None:
        try:
            sealed = {
                "before": None if old is None else cipher.encrypt(json.dumps(old, ensure_ascii=False)),
                "after": None if new is None else cipher.encrypt(json.dumps(new, ensure_ascii=False)),
            }
        except Exception:  # noqa: BLE001 - no usable key: keep the marker, never the plain value
            log.warning("audit: could not encrypt a sensitive value; only the change marker is kept", exc_info=True)
        else:
            entry.update(sealed)
    return entry


def _redact_rows(field: Field, rows: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if rows is None:
        return None
    secret = {c.name for c in field.children if c.sensitive}
    if not secret:
        return rows
    return [{k: (REDACTED if k in secret and not _empty(v) else v) for k, v in row.items()} for row in rows]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return str(value)
