"""FHIR R4 in: a Patient, an Encounter, or a batch/transaction Bundle of them, validated with
fhir.resources (R4B models, which R4 resources of these two kinds satisfy) and applied through the
same HIS service as HL7. Bad entries of a bundle get an OperationOutcome naming the element path; the
other entries are applied (each one its own transaction, like a FHIR batch; a transaction Bundle is
processed the same way and answered with a batch-response)."""

from __future__ import annotations

import json
from typing import Any

from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from runtime.his.mapping import HisMapping, ValueProblem, convert, fhir_datetime
from runtime.his.paths import FhirPath
from runtime.his.service import HisService, Inbound, Outcome, Rejection

MODELS = {"Patient": Patient, "Encounter": Encounter}
STATUS_TEXT = {200: "200 OK", 201: "201 Created", 400: "400 Bad Request", 422: "422 Unprocessable Entity"}


def outcome_resource(severity: str, code: str, text: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": text}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def _validation_outcome(resource_type: str, exc: ValidationError) -> tuple[str, dict[str, Any]]:
    issues, texts = [], []
    for error in exc.errors()[:20]:
        path = ".".join([resource_type, *(str(p) for p in error["loc"] if not str(p).startswith("function-"))])
        text = f"{path}: {error['msg']}"
        texts.append(text)
        issues.append({"severity": "error", "code": "invalid", "diagnostics": text, "expression": [path]})
    return "; ".join(texts), {"resourceType": "OperationOutcome", "issue": issues}


def _values(
    resource: dict, resource_type: str, m: HisMapping, entity_id: str, sources: dict, registry: Any, paths: dict
) -> dict[str, Any]:
    entity = registry.entity(entity_id)
    values: dict[str, Any] = {}
    for name, source in sources.items():
        parts = [FhirPath.parse(p, resource_type).first(resource) for p in source.paths]
        present = [p for p in parts if p not in (None, "")]
        raw: Any = source.join.join(str(p) for p in present) if len(parts) > 1 else (parts[0] if parts else None)
        if isinstance(raw, dict | list):
            raise ValueProblem(f"{resource_type}.{source.first_path}", "names an element, not a value")
        paths[(entity_id, name)] = f"{resource_type}.{source.first_path}"
        try:
            value = convert(entity, name, source, raw, "fhir", m.value_maps)
        except ValueProblem as exc:  # name the element as FHIR does: Patient.gender
            where = exc.path if exc.path.startswith(resource_type) else f"{resource_type}.{exc.path}"
            raise ValueProblem(where, exc.message) from None
        if value is not None:
            values[name] = value
    return values


def _key(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.rsplit("/", 1)[-1] if "/" in text else text or None


def translate(resource: dict[str, Any], m: HisMapping, registry: Any, msg: Inbound, full_url: str | None) -> Inbound:
    kind = resource.get("resourceType")
    meta = resource.get("meta") if isinstance(resource.get("meta"), dict) else {}
    last_updated = meta.get("lastUpdated")
    if full_url and meta.get("versionId"):
        msg.control_id = f"{full_url}|{meta['versionId']}"
    elif resource.get("id") and last_updated:
        msg.control_id = f"{kind}/{resource['id']}|{last_updated}"
    msg.event_time = fhir_datetime(f"{kind}.meta.lastUpdated", last_updated) if last_updated else None
    if kind == "Patient":
        msg.patient = _values(resource, kind, m, m.patient_entity, m.fhir_patient, registry, msg.paths)
        msg.patient_key = _key(msg.patient.pop(m.patient_key, None))
        if not msg.patient_key:
            source = m.fhir_patient.get(m.patient_key)
            raise Rejection(
                "the patient identifier is missing", path=f"Patient.{source.first_path if source else 'identifier'}"
            )
        return msg
    msg.patient_must_exist = True
    msg.stay = _values(resource, kind, m, m.stay_entity, m.fhir_stay, registry, msg.paths)
    where = f"Encounter.{m.fhir_stay_patient}"
    msg.paths[(m.patient_entity, m.patient_key)] = where
    msg.patient_key = _key(FhirPath.parse(m.fhir_stay_patient, "Encounter").first(resource))
    if not msg.patient_key:
        raise Rejection("the patient reference is missing", path=where)
    if not msg.stay.get(m.stay_key):
        source = m.fhir_stay.get(m.stay_key)
        raise Rejection("the encounter identifier is missing", path=f"Encounter.{source.first_path if source else '?'}")
    status = msg.stay.get(m.stay_status_field) if m.stay_status_field else None
    by_status = {value: event for event, value in m.stay_status.items()}
    msg.action = by_status.get(status, "update")
    return msg


def handle_resource(
    service: HisService, resource: Any, full_url: str | None = None
) -> tuple[int, dict[str, Any], Outcome | None]:
    """Apply one resource: (HTTP status, OperationOutcome, the service outcome when it got that far)."""
    raw = json.dumps(resource, ensure_ascii=False)
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    msg = Inbound(channel="fhir", message_type=str(kind or "?")[:40], raw=raw)

    def make_reply(code: str, error: str | None, detail: dict[str, Any]) -> str:
        if code == "AA":
            ids = {k: v.get("id") for k, v in detail.items() if isinstance(v, dict) and "id" in v}
            return json.dumps(outcome_resource("information", "informational", f"applied: {ids}"), ensure_ascii=False)
        expression = error.split(":", 1)[0] if error and ":" in error else None
        return json.dumps(
            outcome_resource("error", "invalid" if code == "AE" else "not-supported", error or "", expression),
            ensure_ascii=False,
        )

    if kind not in MODELS:
        text = f"resourceType: '{kind}' is not supported (Patient, Encounter, or a Bundle of them)"
        out = service.refuse(msg, make_reply, "AR", text, "rejected")
        return 400, json.loads(out.reply), out
    try:
        MODELS[kind].model_validate(resource)
    except ValidationError as exc:
        text, body = _validation_outcome(kind, exc)
        out = service.refuse(msg, lambda *_: json.dumps(body, ensure_ascii=False), "AE", text, "rejected")
        return 422, body, out
    try:
        translate(resource, service.mapping, service.tessera.registry, msg, full_url)
    except Rejection as exc:
        text = f"{exc.path}: {exc.message}" if exc.path else exc.message
        out = service.refuse(msg, make_reply, exc.code, text, "rejected")
        return (400 if exc.code == "AR" else 422), json.loads(out.reply), out
    except ValueProblem as exc:
        out = service.refuse(msg, make_reply, "AE", str(exc), "rejected")
        return 422, json.loads(out.reply), out
    out = service.process(msg, make_reply)
    if out.code != "AA":
        return 422, json.loads(out.reply), out
    created = any(isinstance(v, dict) and v.get("created") for v in out.detail.values())
    return (201 if created and out.outcome == "applied" else 200), json.loads(out.reply), out


def handle_fhir(service: HisService, body: Any) -> tuple[int, dict[str, Any]]:
    """A resource or a batch/transaction Bundle -> (HTTP status, response resource)."""
    if not isinstance(body, dict) or "resourceType" not in body:
        return 400, outcome_resource(
            "error", "structure", "the body must be a FHIR resource (a JSON object with resourceType)"
        )
    if body["resourceType"] != "Bundle":
        status, outcome, _ = handle_resource(service, body)
        return status, outcome
    kind = body.get("type")
    if kind not in ("batch", "transaction"):
        return 400, outcome_resource(
            "error", "not-supported", f"Bundle.type: '{kind}' is not supported (batch or transaction)", "Bundle.type"
        )
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        return 400, outcome_resource("error", "structure", "Bundle.entry: must be a list", "Bundle.entry")
    responses = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            text = f"Bundle.entry[{index}].resource: missing"
            responses.append(
                {"response": {"status": STATUS_TEXT[400], "outcome": outcome_resource("error", "required", text)}}
            )
            continue
        status, outcome, out = handle_resource(service, resource, entry.get("fullUrl"))
        if status >= 400:
            for issue in outcome.get("issue", []):
                issue["expression"] = [
                    f"Bundle.entry[{index}].resource.{e.split('.', 1)[-1]}" if "." in e else e
                    for e in issue.get("expression", [])
                ] or [f"Bundle.entry[{index}]"]
        response: dict[str, Any] = {"status": STATUS_TEXT.get(status, str(status)), "outcome": outcome}
        if out is not None and out.code == "AA":
            response["location"] = f"{resource.get('resourceType')}/{resource.get('id', '')}".rstrip("/")
        responses.append({"response": response})
    # a transaction is answered like a batch: each entry is one HIS message with its own transaction and
    # outcome, so one bad entry never holds back the others (the HIS resends just that one)
    return 200, {"resourceType": "Bundle", "type": "batch-response", "entry": responses}
