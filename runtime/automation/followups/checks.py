"""Cross-reference checks of follow-up plans: the entity, anchor, forms and expressions they name must exist.

Called by the pack loader (runtime.blueprints.kinds) after the core pack is built; every problem is reported
with its file and JSON pointer, so an author fixes them all in one go.
"""

from __future__ import annotations

from typing import Any

from runtime.blueprints.errors import PackError
from runtime.expressions import check_expression
from runtime.notify.contacts import CHANNELS as CONTACT_CHANNELS
from runtime.notify.contacts import check_spec as check_contact

ANCHOR_TYPES = ("date", "datetime")
HUMAN = ("phone", "visit", "review")


def _assignee_errors(spec: Any, fields: dict[str, Any], rel: str, pointer: str) -> list[PackError]:
    """Only what can be checked without the assignment module: a named user field exists and is a user field."""
    errors: list[PackError] = []
    if not isinstance(spec, dict):
        return errors
    name = spec.get("field")
    if isinstance(name, str):
        f = fields.get(name)
        if f is None:
            errors.append(PackError(rel, f"{pointer}/field", f"field '{name}' does not exist on the plan's entity"))
        elif f.type != "user":
            errors.append(PackError(rel, f"{pointer}/field", f"field '{name}' is a {f.type} field, not a user field"))
    return errors


def check_followup_plans(pack: Any, documents: dict[str, dict[str, Any]]) -> list[PackError]:
    errors: list[PackError] = []
    for rel, doc in sorted(documents.items()):
        entity = pack.entities.get(doc.get("entity"))
        if entity is None:
            errors.append(PackError(rel, "/entity", f"entity '{doc.get('entity')}' does not exist in the pack"))
            continue
        fields = {f.name: f for f in entity.fields}
        anchor = fields.get(doc.get("anchor"))
        if anchor is None:
            errors.append(PackError(rel, "/anchor", f"field '{doc.get('anchor')}' does not exist on '{entity.id}'"))
        elif anchor.type not in ANCHOR_TYPES:
            errors.append(PackError(rel, "/anchor", f"anchor '{anchor.name}' is a {anchor.type} field, not a date"))
        if doc.get("applies_when"):
            for problem in check_expression(doc["applies_when"], list(fields)):
                errors.append(PackError(rel, "/applies_when", problem))
        seen: set[str] = set()
        for i, step in enumerate(doc.get("steps", [])):
            at = f"/steps/{i}"
            if step["id"] in seen:
                errors.append(PackError(rel, f"{at}/id", f"step id '{step['id']}' is used twice"))
            seen.add(step["id"])
            form = pack.forms.get(step.get("form")) if step.get("form") else None
            if step.get("form") and form is None:
                errors.append(PackError(rel, f"{at}/form", f"form '{step['form']}' does not exist in the pack"))
            if step["channel"] in HUMAN and not step.get("assignee"):
                errors.append(PackError(rel, f"{at}/assignee", f"a {step['channel']} step needs an assignee"))
            if step["channel"] not in HUMAN and not (step.get("template") or step.get("message")):
                errors.append(PackError(rel, f"{at}", f"a {step['channel']} step needs a template or a message"))
            if step.get("assignee"):
                errors += _assignee_errors(step["assignee"], fields, rel, f"{at}/assignee")
            if step.get("contact"):
                if step["channel"] not in CONTACT_CHANNELS:
                    errors.append(PackError(rel, f"{at}/contact", "only sms and email steps go to a contact"))
                for problem in check_contact(entity, step["contact"], pack.entities):
                    errors.append(PackError(rel, f"{at}/contact", problem))
            alerts = step.get("alerts", [])
            if alerts and form is None:
                errors.append(
                    PackError(rel, f"{at}/alerts", "alerts test the answers of a form: the step needs a form")
                )
            answer_fields = list(pack.entities[form.entity].field_names) if form is not None else None
            if step.get("answer_values"):
                if form is None:
                    errors.append(
                        PackError(
                            rel, f"{at}/answer_values", "answer_values fill a form's record: the step needs a form"
                        )
                    )
                for name, source in step["answer_values"].items():
                    if answer_fields is not None and name not in answer_fields:
                        problem = f"'{name}' is not a field of '{form.entity}', the entity of form '{form.id}'"
                        errors.append(PackError(rel, f"{at}/answer_values/{name}", problem))
                    for problem in check_expression(source, [*fields, "id", "due_at", "step_label"]):
                        errors.append(PackError(rel, f"{at}/answer_values/{name}", problem))
            for j, alert in enumerate(alerts):
                for problem in check_expression(alert["when"], answer_fields):
                    errors.append(PackError(rel, f"{at}/alerts/{j}/when", problem))
                errors += _assignee_errors(alert["notify"], fields, rel, f"{at}/alerts/{j}/notify")
    return errors
