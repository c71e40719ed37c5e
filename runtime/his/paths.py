"""Paths into HIS messages: HL7 v2 field paths (``PID-5.1``, ``PV1-3.3``) and FHIR element paths
(``name[0].family``, ``telecom[system=phone].value``), parsed once and evaluated many times.

The grammar is deliberately small: it is what a mapping author writes in a pack, and the pack check
(runtime/his/checks.py) must be able to say precisely which path is wrong before anything is deployed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HL7_PATH = re.compile(r"^([A-Z][A-Z0-9]{2})-([1-9][0-9]{0,2})(?:\.([1-9][0-9]?))?(?:\.([1-9][0-9]?))?$")
FHIR_STEP = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:\[(?:([0-9]{1,3})|([A-Za-z][A-Za-z0-9_]*)=([^\]]+))\])?$")
FHIR_RESOURCES = ("Patient", "Encounter")


class PathSyntaxError(ValueError):
    """A path a mapping names does not follow the grammar."""


@dataclass(frozen=True)
class Hl7Path:
    segment: str
    field: int
    component: int | None = None
    subcomponent: int | None = None

    @classmethod
    def parse(cls, text: str) -> Hl7Path:
        found = HL7_PATH.match(text)
        if found is None:
            raise PathSyntaxError(
                f"'{text}' is not an HL7 v2 path: write SEGMENT-FIELD[.COMPONENT[.SUBCOMPONENT]], e.g. PID-5.1"
            )
        seg, fld, comp, sub = found.groups()
        return cls(seg, int(fld), int(comp) if comp else None, int(sub) if sub else None)

    @property
    def field_name(self) -> str:
        """The segment-field an error names (``PID-7``), as HL7 ERR segments and people say it."""
        return f"{self.segment}-{self.field}"

    def __str__(self) -> str:
        text = self.field_name
        if self.component:
            text += f".{self.component}"
            if self.subcomponent:
                text += f".{self.subcomponent}"
        return text


@dataclass(frozen=True)
class FhirStep:
    name: str
    index: int | None = None
    match: tuple[str, str] | None = None


@dataclass(frozen=True)
class FhirPath:
    text: str
    steps: tuple[FhirStep, ...]

    @classmethod
    def parse(cls, text: str, resource: str | None = None) -> FhirPath:
        parts = text.split(".")
        if parts and parts[0] in FHIR_RESOURCES:
            if resource is not None and parts[0] != resource:
                raise PathSyntaxError(f"'{text}' is a path into {parts[0]}, not {resource}")
            parts = parts[1:]
        if not parts or any(p == "" for p in parts):
            raise PathSyntaxError(f"'{text}' is not a FHIR path: write element[.element], e.g. name[0].family")
        steps = []
        for part in parts:
            found = FHIR_STEP.match(part)
            if found is None:
                raise PathSyntaxError(
                    f"'{text}': '{part}' is not a FHIR path step (element, element[0] or element[key=value])"
                )
            name, index, key, value = found.groups()
            steps.append(FhirStep(name, int(index) if index else None, (key, value) if key else None))
        return cls(text, tuple(steps))

    def first(self, resource: dict[str, Any]) -> Any:
        """The first value the path reaches (lists are read at [0] unless indexed or matched), or None."""
        current: Any = resource
        for step in self.steps:
            if isinstance(current, list):
                current = current[0] if current else None
            if not isinstance(current, dict):
                return None
            current = current.get(step.name)
            if step.index is not None or step.match is not None:
                if not isinstance(current, list):
                    current = [current] if current is not None else []
                if step.match is not None:
                    key, value = step.match
                    current = next((c for c in current if isinstance(c, dict) and str(c.get(key)) == value), None)
                else:
                    current = current[step.index] if step.index < len(current) else None
        if isinstance(current, list):
            current = current[0] if current else None
        return current

    def __str__(self) -> str:
        return self.text


class Hl7Reader:
    """Reads field paths from one parsed python-hl7 message, unescaping HL7 escape sequences."""

    def __init__(self, message: Any):
        self.message = message
        self.separators = message.separators  # segment, field, repetition, component, subcomponent

    def segment(self, name: str) -> Any | None:
        try:
            return self.message.segment(name)
        except KeyError:
            return None

    def value(self, path: Hl7Path) -> str:
        """The text at the path ('' when absent): first repetition, then component and subcomponent."""
        seg = self.segment(path.segment)
        if seg is None or path.field >= len(seg):
            return ""
        text = str(seg[path.field])
        if path.segment == "MSH" and path.field in (1, 2):
            return text
        _, _, rep, comp, sub = self.separators[:5] if len(self.separators) >= 5 else ("\r", "|", "~", "^", "&")
        text = text.split(rep)[0]
        if path.component is not None:
            comps = text.split(comp)
            text = comps[path.component - 1] if path.component <= len(comps) else ""
            if path.subcomponent is not None:
                subs = text.split(sub)
                text = subs[path.subcomponent - 1] if path.subcomponent <= len(subs) else ""
        elif comp in text:
            text = text.split(comp)[0]  # a path without component means the first one (PID-3 = PID-3.1)
        return self.message.unescape(text) if "\\" in text else text
