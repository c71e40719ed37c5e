"""The pack's HIS mapping (``his/*.json``, kind ``his_mapping``) as a typed object, plus value conversion.

The mapping is data: which entity is the patient and which the stay, and which HL7/FHIR path fills
which field. Values are converted by the TARGET field's type (a ``date`` field reads ``19850312`` from
HL7 and ``1985-03-12`` from FHIR), so no message type needs code of its own.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from runtime.blueprints.model import Entity
from runtime.clock import local_zone
from runtime.his.paths import FhirPath, Hl7Path

KIND = "his_mapping"
DEFAULT_EVENTS = {"A01": "admit", "A04": "admit", "A03": "discharge", "A08": "update", "A11": "cancel", "A40": "merge"}
HL7_DTM = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$")


class ValueProblem(ValueError):
    """A value in a message that cannot fill its field; ``path`` names where it came from."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class Source:
    paths: tuple[str, ...]
    join: str = ""
    map: str | None = None
    default: Any = None

    @classmethod
    def from_raw(cls, raw: Any) -> Source:
        if isinstance(raw, str):
            return cls((raw,))
        path = raw.get("path", ())
        paths = (path,) if isinstance(path, str) else tuple(path)
        return cls(paths, raw.get("join", ""), raw.get("map"), raw.get("default"))

    @property
    def first_path(self) -> str:
        return self.paths[0] if self.paths else "(default)"


@dataclass(frozen=True)
class HisMapping:
    id: str
    patient_entity: str
    patient_key: str
    stay_entity: str
    stay_key: str
    stay_patient_field: str
    patient_updated_at: str | None = None
    stay_updated_at: str | None = None
    merged_into: str | None = None
    merged_set: dict[str, Any] = field(default_factory=dict)
    mirror: dict[str, str] = field(default_factory=dict)
    stay_status_field: str | None = None
    stay_status: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVENTS))
    merge_from: str = "MRG-1.1"
    hl7_patient: dict[str, Source] = field(default_factory=dict)
    hl7_stay: dict[str, Source] = field(default_factory=dict)
    fhir_patient: dict[str, Source] = field(default_factory=dict)
    fhir_stay: dict[str, Source] = field(default_factory=dict)
    fhir_stay_patient: str = "subject.reference"
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> HisMapping:
        patient, stay = doc["patient"], doc["stay"]
        hl7, fhir = doc.get("hl7", {}), doc.get("fhir", {})

        def sources(raw: dict[str, Any] | None) -> dict[str, Source]:
            return {name: Source.from_raw(spec) for name, spec in (raw or {}).items()}

        return cls(
            id=doc["id"],
            patient_entity=patient["entity"],
            patient_key=patient["key"],
            stay_entity=stay["entity"],
            stay_key=stay["key"],
            stay_patient_field=stay["patient_field"],
            patient_updated_at=patient.get("updated_at"),
            stay_updated_at=stay.get("updated_at"),
            merged_into=patient.get("merged_into"),
            merged_set=dict(patient.get("merged_set", {})),
            mirror=dict(patient.get("mirror", {})),
            stay_status_field=stay.get("status_field"),
            stay_status=dict(stay.get("status", {})),
            events={**DEFAULT_EVENTS, **hl7.get("events", {})},
            merge_from=hl7.get("merge_from", "MRG-1.1"),
            hl7_patient=sources(hl7.get("patient")),
            hl7_stay=sources(hl7.get("stay")),
            fhir_patient=sources(fhir.get("patient")),
            fhir_stay=sources(fhir.get("stay")),
            fhir_stay_patient=fhir.get("stay_patient", "subject.reference"),
            value_maps=dict(doc.get("value_maps", {})),
        )


_CACHE: weakref.WeakKeyDictionary[Any, tuple[int, HisMapping | None]] = weakref.WeakKeyDictionary()


def active_mapping(registry: Any) -> HisMapping | None:
    """The deployed HIS mapping (the first by id when several packs declare one); parsed once per registry
    generation (a deploy or reload makes a new one), since every message needs it."""
    generation = getattr(registry, "generation", None)
    cached = _CACHE.get(registry)
    if cached is not None and cached[0] == generation:
        return cached[1]
    docs = registry.extras(KIND)
    found = HisMapping.from_doc(docs[sorted(docs)[0]]) if docs else None
    if generation is not None:
        _CACHE[registry] = (generation, found)
    return found


# value conversion ------------------------------------------------------------------------------


def hl7_datetime(path: str, text: str) -> datetime:
    """An HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]) as naive UTC; without an offset it is hospital time."""
    found = HL7_DTM.match(text)
    if found is None:
        raise ValueProblem(path, f"'{text}' is not a date/time (YYYYMMDDHHMM[SS])")
    year, month, day, hour, minute, second, offset = found.groups()
    try:
        local = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError as exc:
        raise ValueProblem(path, f"'{text}' is not a date/time ({exc})") from None
    if offset:
        sign = 1 if offset[0] == "+" else -1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
        from datetime import timedelta, timezone

        aware = local.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    else:
        aware = local.replace(tzinfo=local_zone())
    return aware.astimezone(UTC).replace(tzinfo=None)


def hl7_date(path: str, text: str) -> date:
    found = re.fullmatch(r"(\d{4})(\d{2})(\d{2})(\d{0,6}(?:\.\d{1,4})?(?:[+-]\d{4})?)", text)
    if found is None:
        raise ValueProblem(path, f"'{text}' is not a date (YYYYMMDD)")
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise ValueProblem(path, f"'{text}' is not a date") from None


def fhir_datetime(path: str, text: str) -> datetime:
    try:
        if len(text) == 10:
            parsed = datetime.fromisoformat(text)
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueProblem(path, f"'{text}' is not a date/time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local_zone())
    return parsed.astimezone(UTC).replace(tzinfo=None)


def fhir_date(path: str, text: str) -> date:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ValueProblem(path, f"'{text}' is not a date") from None


def convert(entity: Entity, name: str, source: Source, raw: Any, syntax: str, maps: dict[str, dict]) -> Any:
    """The JSON value for field ``name`` from the raw message text, by the field's type.

    Returns None for an empty value (the field is then left as it is, HL7 '""' clears it)."""
    path = source.first_path
    if raw is None or raw == "":
        return source.default
    if raw == '""':
        return ""  # HL7 explicit null: clear the field
    if source.map is not None:
        table = maps.get(source.map, {})
        key = str(raw)
        if key not in table and "*" in table:
            key = "*"  # the map's fallback for codes it does not list
        if key not in table:
            known = ", ".join(sorted(str(k) for k in table)[:20])
            raise ValueProblem(path, f"'{key}' is not a known code (value map {source.map}: {known})")
        raw = table[key]
        if raw is None:
            return None
    f = entity.field(name)
    kind = f.type if f is not None else "text"
    text = str(raw).strip()
    if kind == "date":
        return (hl7_date(path, text) if syntax == "hl7" else fhir_date(path, text)).isoformat()
    if kind == "datetime":
        value = hl7_datetime(path, text) if syntax == "hl7" else fhir_datetime(path, text)
        return value.isoformat(timespec="seconds")
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueProblem(path, f"'{text}' is not a whole number") from None
    if kind == "decimal":
        try:
            return str(Decimal(text))
        except InvalidOperation:
            raise ValueProblem(path, f"'{text}' is not a number") from None
    if kind == "boolean":
        return text.lower() in ("y", "yes", "true", "1", "t")
    return raw if isinstance(raw, bool | int | float) and kind in ("select",) else text


def hl7_paths(source: Source) -> list[Hl7Path]:
    return [Hl7Path.parse(p) for p in source.paths]


def fhir_paths(source: Source, resource: str) -> list[FhirPath]:
    return [FhirPath.parse(p, resource) for p in source.paths]
