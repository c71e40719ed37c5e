"""HL7 v2 ADT in, HL7 ACK out: parse with python-hl7, read fields through the pack's mapping, answer
AA / AE / AR with MSA-2 = the message control id and an ERR segment naming the segment-field at fault.

AR (reject) means the message was not understood (not HL7, not ADT, unknown trigger event, no control
id); AE (error) means it was understood but its data cannot be applied (a bad date, no patient id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import hl7

from runtime.clock import local_zone
from runtime.his.mapping import HisMapping, Source, ValueProblem, convert, hl7_datetime
from runtime.his.paths import Hl7Path, Hl7Reader
from runtime.his.service import HisService, Inbound, Outcome, Rejection

LOCATION = re.compile(r"^([A-Z][A-Z0-9]{2})(?:-([0-9]+))?")
ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))


@dataclass
class Header:
    """What an ACK echoes from the message header (MSH), read even from a message that fails later."""

    sending_app: str = ""
    sending_facility: str = ""
    receiving_app: str = "TESSERA"
    receiving_facility: str = ""
    control_id: str = ""
    event: str = ""
    version: str = "2.5"
    processing_id: str = "P"


def decode(raw: bytes | str) -> str:
    """Message text with segments ending in CR (files and HTTP clients often send LF or CRLF)."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
    else:
        text = raw
    text = text.replace("\x00", "\\x00").replace("\r\n", "\r").replace("\n", "\r")
    return text.strip("\r \t\x0b\x1c")


def read_header(text: str) -> Header:
    """The MSH fields an ACK needs, split by hand so a message python-hl7 cannot parse still gets a reply."""
    header = Header()
    if not text.startswith("MSH") or len(text) < 8:
        return header
    sep = text[3]
    fields = text.split("\r", 1)[0].split(sep)
    comp = text[4] if len(text) > 4 else "^"

    def at(n: int) -> str:  # MSH-n is fields[n-1]: MSH-1 is the separator itself
        return fields[n - 1] if n - 1 < len(fields) else ""

    header.sending_app, header.sending_facility = at(3).split(comp)[0], at(4).split(comp)[0]
    header.receiving_app = at(5).split(comp)[0] or "TESSERA"
    header.receiving_facility = at(6).split(comp)[0]
    kind = at(9).split(comp)
    header.event = kind[1] if len(kind) > 1 else ""
    header.control_id = at(10)[:199]
    header.processing_id = at(11).split(comp)[0] or "P"
    header.version = at(12).split(comp)[0] or "2.5"
    return header


def escape(text: str) -> str:
    for plain, escaped in ESCAPES:
        text = text.replace(plain, escaped)
    return text.replace("\r", " ").replace("\n", " ")


def _error_code(code: str, text: str) -> str:
    if code == "AR":
        return "201^Unsupported event code^HL70357" if "event" in text else "200^Unsupported message type^HL70357"
    if "missing" in text or "required" in text:
        return "101^Required field missing^HL70357"
    if "is not a" in text:
        return "102^Data type error^HL70357"
    return "207^Application internal error^HL70357"


def build_ack(header: Header, code: str, error: str | None, now: datetime) -> str:
    """An HL7 ACK: MSH (addresses swapped), MSA (code, control id, text) and, for AE/AR, an ERR segment."""
    stamp = now.replace(tzinfo=local_zone()).strftime("%Y%m%d%H%M%S") if now.tzinfo else now.strftime("%Y%m%d%H%M%S")
    ack_id = ("ACK" + header.control_id)[:199] if header.control_id else "ACK"
    trigger = f"ACK^{escape(header.event)}^ACK" if header.event else "ACK"
    msh = "|".join(
        [
            "MSH",
            "^~\\&",
            escape(header.receiving_app),
            escape(header.receiving_facility),
            escape(header.sending_app),
            escape(header.sending_facility),
            stamp,
            "",
            trigger,
            escape(ack_id),
            escape(header.processing_id),
            escape(header.version),
        ]
    )
    segments = [msh, "|".join(["MSA", code, escape(header.control_id), escape((error or "")[:200])])]
    if code != "AA" and error:
        found = LOCATION.match(error)
        where = ""
        if found:
            where = found.group(1) + "^1" + (f"^{found.group(2)}" if found.group(2) else "")
        segments.append("|".join(["ERR", "", where, _error_code(code, error), "E", "", "", "", escape(error[:500])]))
    return "\r".join(segments) + "\r"


def ack_code(reply: str) -> str:
    """MSA-1 of an ACK text."""
    for segment in reply.split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    return "AE"


def _local_now(service: HisService) -> datetime:
    from datetime import UTC

    return service.tessera.clock.now().replace(tzinfo=UTC).astimezone(local_zone()).replace(tzinfo=None)


def _values(
    reader: Hl7Reader, m: HisMapping, entity_id: str, sources: dict[str, Source], registry: Any, paths: dict
) -> dict[str, Any]:
    entity = registry.entity(entity_id)
    values: dict[str, Any] = {}
    for name, source in sources.items():
        parts = [reader.value(Hl7Path.parse(p)) for p in source.paths]
        raw = source.join.join(p for p in parts if p) if len(parts) > 1 else parts[0] if parts else ""
        paths[(entity_id, name)] = Hl7Path.parse(source.paths[0]).field_name if source.paths else name
        value = convert(entity, name, source, raw, "hl7", m.value_maps)
        if value is not None:
            values[name] = value
    return values


def translate(text: str, m: HisMapping, registry: Any, msg: Inbound) -> Inbound:
    """Fill ``msg`` from the message text; raises Rejection naming the segment-field at fault."""
    if not text.startswith("MSH"):
        raise Rejection("MSH: not an HL7 v2 message (it must start with an MSH segment)", code="AR")
    try:
        parsed = hl7.parse(text)
    except Exception as exc:  # noqa: BLE001 - python-hl7 raises plain errors for broken framing
        raise Rejection(f"MSH: the message cannot be parsed as HL7 v2 ({exc})", code="AR") from None
    reader = Hl7Reader(parsed)
    kind = reader.value(Hl7Path.parse("MSH-9.1"))
    event = reader.value(Hl7Path.parse("MSH-9.2")) or reader.value(Hl7Path.parse("EVN-1"))
    msg.message_type = f"{kind}^{event}" if event else kind or "?"
    msg.control_id = reader.value(Hl7Path.parse("MSH-10")) or None
    if kind != "ADT":
        raise Rejection(f"MSH-9: message type '{kind}' is not supported (ADT only)", code="AR")
    if event not in m.events:
        known = ", ".join(sorted(m.events))
        raise Rejection(f"MSH-9.2: trigger event '{event}' is not supported ({known})", code="AR")
    if not msg.control_id:
        raise Rejection("MSH-10: the message control id is missing", code="AR")
    msg.action = m.events[event]
    when = reader.value(Hl7Path.parse("EVN-2")) or reader.value(Hl7Path.parse("MSH-7"))
    where = "EVN-2" if reader.value(Hl7Path.parse("EVN-2")) else "MSH-7"
    msg.event_time = hl7_datetime(where, when) if when else None
    if reader.segment("PID") is None:
        raise Rejection("PID: segment missing (ADT messages carry the patient in PID)")
    key_source = m.hl7_patient.get(m.patient_key)
    key_path = key_source.first_path if key_source else "PID-3.1"
    msg.patient_key = reader.value(Hl7Path.parse(key_path)).strip() or None
    if not msg.patient_key:
        raise Rejection(f"{Hl7Path.parse(key_path).field_name}: the patient identifier is missing")
    msg.patient = _values(reader, m, m.patient_entity, m.hl7_patient, registry, msg.paths)
    msg.patient.pop(m.patient_key, None)
    if msg.action == "merge":
        if reader.segment("MRG") is None:
            raise Rejection("MRG: segment missing (A40 names the prior patient in MRG-1)")
        msg.merge_from = reader.value(Hl7Path.parse(m.merge_from)).strip() or None
        if not msg.merge_from:
            raise Rejection(f"{Hl7Path.parse(m.merge_from).field_name}: the prior patient identifier is missing")
        return msg
    if m.hl7_stay and reader.segment("PV1") is not None:
        msg.stay = _values(reader, m, m.stay_entity, m.hl7_stay, registry, msg.paths)
        if msg.action in ("admit", "discharge", "cancel") and not msg.stay.get(m.stay_key):
            source = m.hl7_stay.get(m.stay_key)
            path = Hl7Path.parse(source.first_path).field_name if source else "PV1-19"
            raise Rejection(f"{path}: the visit number is missing")
    elif msg.action in ("admit", "discharge", "cancel") and m.hl7_stay:
        raise Rejection("PV1: segment missing (admissions and discharges carry the visit in PV1)")
    return msg


def handle_hl7(service: HisService, raw: bytes | str, channel: str) -> Outcome:
    """Process one HL7 v2 message end to end and return the outcome with the ACK text to send."""
    text = decode(raw)
    header = read_header(text)
    msg = Inbound(channel=channel, message_type="?", raw=text or repr(raw)[:2000], control_id=header.control_id or None)

    def make_reply(code: str, error: str | None, _detail: dict[str, Any]) -> str:
        return build_ack(header, code, error, _local_now(service))

    try:
        mapping = service.mapping
        translate(text, mapping, service.tessera.registry, msg)
    except Rejection as exc:
        return service.refuse(msg, make_reply, exc.code, exc.message, "rejected")
    except ValueProblem as exc:
        return service.refuse(msg, make_reply, "AE", str(exc), "rejected")
    return service.process(msg, make_reply)
