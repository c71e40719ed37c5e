"""People outside the user list (patients, a partner hospital's contact) as notification recipients.

Staff are users with preferences and an in-app inbox; a patient is a record with a mobile number. A
*contact spec* in a blueprint maps the contact's attributes to field paths of the record being
processed, one reference deep at most:

    {"phone": "patient.mobile", "name": "patient.name", "opt_out": "patient.no_sms"}

``opt_out`` names a boolean field: when true the person asked not to be messaged, and the delivery is
logged as skipped, never sent. Contacts only get SMS and e-mail: they have no in-app inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from runtime.blueprints.model import Entity
from runtime.errors import BadRequest
from runtime.records.context import SYSTEM

ATTRIBUTES = ("phone", "email", "name", "language", "opt_out")
CHANNELS = ("sms", "email")


@dataclass(frozen=True)
class Contact:
    """``ref`` ("patient:12") identifies the person for idempotency: one delivery per key, person, channel."""

    ref: str
    name: str = ""
    phone: str = ""
    email: str = ""
    language: str = "zh"
    opt_out: bool = False
    opt_out_ref: str = ""
    """Where the opt-out lives ("patient:12:sms_opt_out"), which the unsubscribe link sets
    (runtime/notify/unsubscribe.py)."""

    def as_recipient(self) -> dict[str, Any]:
        """The template variable ``recipient`` of a contact (same keys as a user's)."""
        return {
            "id": 0,
            "username": "",
            "display_name": self.name,
            "email": self.email,
            "phone": self.phone,
            "language": self.language,
        }


def check_spec(entity: Entity, spec: Any, entities: dict[str, Entity]) -> list[str]:
    """Problems of a contact spec against the entity it reads (for pack checks): unknown attributes,
    paths that do not exist or go through something other than a reference."""
    if not isinstance(spec, dict) or not spec:
        return ["a contact maps phone, email, name, language or opt_out to fields of the record"]
    known = ", ".join(ATTRIBUTES)
    problems = [f"unknown contact attribute '{k}' (known: {known})" for k in spec if k not in ATTRIBUTES]
    if not ("phone" in spec or "email" in spec):
        problems.append("a contact needs a phone or an email field")
    for attr, path in spec.items():
        if attr in ATTRIBUTES:
            problem = _path_problem(entity, path, entities)
            if problem:
                problems.append(f"contact {attr}: {problem}")
    return problems


def _path_problem(entity: Entity, path: Any, entities: dict[str, Entity]) -> str | None:
    if not isinstance(path, str) or not path or path.count(".") > 1:
        return f"'{path}' must be a field name or reference.field (one reference deep)"
    head, _, tail = path.partition(".")
    field = entity.field(head)
    if field is None:
        return f"the entity '{entity.id}' has no field '{head}'"
    if not tail:
        return None
    if field.type != "reference":
        return f"'{head}' is not a reference, so '{path}' cannot be followed"
    target = entities.get(field.opt("entity") or "")
    if target is None or target.field(tail) is None:
        return f"the entity referenced by '{head}' has no field '{tail}'"
    return None


class ContactResolver:
    """Reads a contact from a record (and the record one reference away) through the records service."""

    def __init__(self, app: Any):
        self.app = app
        self._cache: dict[tuple[str, int], dict[str, Any]] = {}

    def _record(self, entity_id: str, record_id: int) -> dict[str, Any]:
        key = (entity_id, record_id)
        if key not in self._cache:
            self._cache[key] = self.app.records.get(entity_id, record_id, SYSTEM)
        return self._cache[key]

    def resolve(self, entity_id: str, record: dict[str, Any], spec: dict[str, str]) -> Contact | None:
        """The contact named by ``spec`` for ``record``; None when it has neither a phone nor an e-mail."""
        entity = self.app.registry.entity(entity_id)
        values: dict[str, Any] = {}
        ref = f"{entity_id}:{record.get('id')}"
        opt_out_ref = ""
        for attr, path in spec.items():
            if attr not in ATTRIBUTES:
                raise BadRequest(f"unknown contact attribute '{attr}'")
            head, _, tail = path.partition(".")
            if not tail:
                values[attr] = record.get(head)
                if attr == "opt_out" and isinstance(record.get("id"), int):
                    opt_out_ref = f"{entity_id}:{record['id']}:{head}"
                continue
            target_id = record.get(head)
            if not isinstance(target_id, int):
                continue
            target_entity = entity.field(head).opt("entity")
            values[attr] = self._record(target_entity, target_id).get(tail)
            if attr == "opt_out":
                opt_out_ref = f"{target_entity}:{target_id}:{tail}"
            if attr in ("phone", "email"):
                ref = f"{target_entity}:{target_id}"  # the person is the referenced record (the patient)
        phone, email = _text(values.get("phone")), _text(values.get("email"))
        if not phone and not email:
            return None
        language = _text(values.get("language")) or "zh"
        return Contact(
            ref=ref,
            name=_text(values.get("name")),
            phone=phone,
            email=email,
            language="en" if language.startswith("en") else "zh",
            opt_out=values.get("opt_out") is True,
            opt_out_ref=opt_out_ref,
        )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
