"""Pack check of HIS mappings (``his/*.json``): every entity, field, path, value map and option value a
mapping names must exist, so a typo is reported at validate time (file + JSON pointer), not when the
first admission arrives from the HIS at night."""

from __future__ import annotations

from typing import Any

from runtime.blueprints.errors import PackError, pointer
from runtime.his.mapping import Source
from runtime.his.paths import FhirPath, Hl7Path, PathSyntaxError

TEXT_TYPES = ("text", "cn_id", "phone", "email")


def _option_values(pack: Any, set_id: str | None) -> set[str] | None:
    found = pack.option_sets.get(set_id) if set_id else None
    if found is None:
        return None
    values: set[str] = set()

    def walk(options: Any) -> None:
        for option in options:
            values.add(option.value)
            walk(option.children)

    walk(found.options)
    return values


class _Checker:
    def __init__(self, pack: Any, rel: str, doc: dict[str, Any]):
        self.pack, self.rel, self.doc = pack, rel, doc
        self.errors: list[PackError] = []

    def error(self, message: str, *where: object) -> None:
        self.errors.append(PackError(self.rel, pointer(*where), message))

    def entity(self, name: str, *where: object) -> Any:
        found = self.pack.entities.get(name)
        if found is None:
            self.error(f"unknown entity '{name}' (entities: {', '.join(sorted(self.pack.entities))})", *where)
        return found

    def field(self, entity: Any, name: str | None, types: tuple[str, ...] | None, *where: object) -> Any:
        if entity is None or name is None:
            return None
        found = entity.field(name)
        if found is None:
            self.error(f"entity '{entity.id}' has no field '{name}'", *where)
        elif types is not None and found.type not in types:
            self.error(f"field '{entity.id}.{name}' is {found.type}; it must be {' or '.join(types)}", *where)
        return found

    def reference(self, entity: Any, name: str | None, target: str, *where: object) -> None:
        found = self.field(entity, name, ("reference",), *where)
        if found is not None and found.opt("entity") != target:
            self.error(f"field '{entity.id}.{name}' refers to '{found.opt('entity')}', not to '{target}'", *where)

    def value(self, entity: Any, name: str, value: Any, *where: object) -> None:
        f = entity.field(name) if entity is not None else None
        if f is None or f.type != "select" or value is None or value == "":
            return
        allowed = _option_values(self.pack, f.opt("option_set"))
        if allowed is not None and str(value) not in allowed:
            self.error(
                f"'{value}' is not a value of option set '{f.opt('option_set')}' ({', '.join(sorted(allowed))})",
                *where,
            )

    def sources(self, entity: Any, raw: dict[str, Any], syntax: str, resource: str, *where: object) -> None:
        maps = self.doc.get("value_maps", {})
        for name, spec in raw.items():
            at = (*where, name)
            self.field(entity, name, None, *at)
            source = Source.from_raw(spec)
            for index, path in enumerate(source.paths):
                path_at = (
                    at
                    if isinstance(spec, str)
                    else (*at, "path")
                    if isinstance(spec["path"], str)
                    else (
                        *at,
                        "path",
                        index,
                    )
                )
                try:
                    Hl7Path.parse(path) if syntax == "hl7" else FhirPath.parse(path, resource)
                except PathSyntaxError as exc:
                    self.error(str(exc), *path_at)
            if source.map is not None:
                if source.map not in maps:
                    self.error(f"unknown value map '{source.map}' (value_maps: {', '.join(sorted(maps))})", *at, "map")
                else:
                    for code, value in maps[source.map].items():
                        self.value(entity, name, value, "value_maps", source.map, code)
            elif source.default is not None:
                self.value(entity, name, source.default, *at, "default")

    def run(self) -> list[PackError]:
        doc = self.doc
        patient = self.entity(doc["patient"]["entity"], "patient", "entity")
        stay = self.entity(doc["stay"]["entity"], "stay", "entity")
        p, s = doc["patient"], doc["stay"]
        self.field(patient, p["key"], TEXT_TYPES, "patient", "key")
        if patient is not None and patient.field(p["key"]) is not None and not patient.field(p["key"]).unique:
            self.error(
                f"field '{patient.id}.{p['key']}' must be unique: it identifies the HIS patient", "patient", "key"
            )
        self.field(patient, p.get("updated_at"), ("datetime",), "patient", "updated_at")
        if patient is not None and p.get("merged_into"):
            self.reference(patient, p["merged_into"], patient.id, "patient", "merged_into")
        for name, value in p.get("merged_set", {}).items():
            if self.field(patient, name, None, "patient", "merged_set", name) is not None:
                self.value(patient, name, value, "patient", "merged_set", name)
        for mine, theirs in p.get("mirror", {}).items():
            self.field(patient, mine, None, "patient", "mirror", mine)
            self.field(stay, theirs, None, "patient", "mirror", mine)
        self.field(stay, s["key"], TEXT_TYPES, "stay", "key")
        if patient is not None:
            self.reference(stay, s["patient_field"], patient.id, "stay", "patient_field")
        self.field(stay, s.get("updated_at"), ("datetime",), "stay", "updated_at")
        status = self.field(stay, s.get("status_field"), ("select", "text"), "stay", "status_field")
        if status is not None:
            for event, value in s.get("status", {}).items():
                self.value(stay, status.name, value, "stay", "status", event)
        hl7, fhir = doc.get("hl7", {}), doc.get("fhir", {})
        self.sources(patient, hl7.get("patient", {}), "hl7", "", "hl7", "patient")
        self.sources(stay, hl7.get("stay", {}), "hl7", "", "hl7", "stay")
        if "merge_from" in hl7:
            try:
                Hl7Path.parse(hl7["merge_from"])
            except PathSyntaxError as exc:
                self.error(str(exc), "hl7", "merge_from")
        if p["key"] not in hl7.get("patient", {}):
            self.error(f"hl7.patient must map the key field '{p['key']}' (e.g. PID-3.1)", "hl7", "patient")
        if hl7.get("stay") and s["key"] not in hl7["stay"]:
            self.error(f"hl7.stay must map the key field '{s['key']}' (e.g. PV1-19)", "hl7", "stay")
        self.sources(patient, fhir.get("patient", {}), "fhir", "Patient", "fhir", "patient")
        self.sources(stay, fhir.get("stay", {}), "fhir", "Encounter", "fhir", "stay")
        if "stay_patient" in fhir:
            try:
                FhirPath.parse(fhir["stay_patient"], "Encounter")
            except PathSyntaxError as exc:
                self.error(str(exc), "fhir", "stay_patient")
        return self.errors


def check_his_mappings(pack: Any, docs: dict[str, dict]) -> list[PackError]:
    errors: list[PackError] = []
    for rel, doc in docs.items():
        errors.extend(_Checker(pack, rel, doc).run())
    return errors
