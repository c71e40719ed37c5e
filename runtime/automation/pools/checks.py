"""Cross-checks of pool documents: the owner, status and activity fields must exist with fitting types,
the pool values must be allowed status values, and roles and the assignment spec must make sense."""

from __future__ import annotations

from typing import Any

from runtime.blueprints.errors import PackError, pointer

DATE_TYPES = ("date", "datetime")


def check_pools(pack: Any, docs: dict[str, dict]) -> list[PackError]:
    errors: list[PackError] = []
    for rel, doc in docs.items():

        def err(msg: str, *parts: object, rel: str = rel) -> None:
            errors.append(PackError(rel, pointer(*parts), msg))

        entity = pack.entities.get(doc["entity"])
        if entity is None:
            err(
                f"unknown entity '{doc['entity']}' (entities of this pack: {', '.join(sorted(pack.entities))})",
                "entity",
            )
            continue
        owner = entity.field(doc["owner_field"])
        if doc["owner_field"] != "owner_id" and (owner is None or owner.type != "user"):
            err(f"'{doc['owner_field']}' must be a user field of '{entity.id}' (or owner_id)", "owner_field")
        status = entity.field(doc["status_field"]) if doc.get("status_field") else None
        if not doc.get("status_field"):
            pass  # in the pool = no holder
        elif status is None or status.type not in ("text", "select"):
            err(f"'{doc['status_field']}' must be a text or select field of '{entity.id}'", "status_field")
        elif status.type == "select" and status.opt("option_set") in pack.option_sets:
            allowed = set(pack.option_sets[status.opt("option_set")].values(active_only=False))
            for i, value in enumerate(doc["pool_values"]):
                if value not in allowed:
                    err(f"'{value}' is not an option of '{status.opt('option_set')}'", "pool_values", i)
            for i, value in enumerate(doc.get("active_values") or []):
                if value not in allowed:
                    err(f"'{value}' is not an option of '{status.opt('option_set')}'", "active_values", i)
            if doc.get("held_value") and doc["held_value"] not in allowed:
                err(f"'{doc['held_value']}' is not an option of '{status.opt('option_set')}'", "held_value")
        if doc.get("held_value") and doc.get("held_value") in doc["pool_values"]:
            err("held_value must differ from the pool values (a held record would still look free)", "held_value")
        last = doc.get("last_activity_field")
        if last is not None:
            f = entity.field(last)
            if f is None or f.type not in DATE_TYPES:
                err(f"'{last}' must be a date or datetime field of '{entity.id}'", "last_activity_field")
        act = doc.get("activity")
        if act is not None:
            other = pack.entities.get(act["entity"])
            if other is None:
                err(f"unknown entity '{act['entity']}'", "activity", "entity")
            else:
                via = other.field(act["via"])
                if via is None or via.type != "reference" or via.opt("entity") != entity.id:
                    err(f"'{act['via']}' must be a reference field of '{other.id}' to '{entity.id}'", "activity", "via")
                f = other.field(act["date_field"])
                if f is None or f.type not in DATE_TYPES:
                    err(
                        f"'{act['date_field']}' must be a date or datetime field of '{other.id}'",
                        "activity",
                        "date_field",
                    )
        if doc.get("recycle_after_days") and not (last or act):
            err("auto-recycle needs last_activity_field or activity (what counts as a follow-up)", "recycle_after_days")
        if doc.get("recycle_after_days") and doc.get("warn_before_days", 0) >= doc["recycle_after_days"]:
            err("warn_before_days must be less than recycle_after_days", "warn_before_days")
        for key in ("claim_roles", "assign_roles"):
            for i, role in enumerate(doc.get(key, [])):
                if pack.roles and role not in pack.roles:
                    err(f"unknown role '{role}' (roles of this pack: {', '.join(sorted(pack.roles))})", key, i)
        spec = doc.get("assignment")
        if spec is not None:
            problem = spec_problem(spec, pack)
            if problem:
                err(problem, "assignment")
    return errors


def spec_problem(spec: Any, pack: Any) -> str | None:
    """A plain sentence when an assignment spec is malformed (shared shape with rules and follow-ups)."""
    if not isinstance(spec, dict):
        return "an assignment is an object"
    if "rules" in spec:
        for rule in spec["rules"] if isinstance(spec["rules"], list) else [None]:
            if not isinstance(rule, dict) or "when" not in rule or "assign" not in rule:
                return "each assignment rule has 'when' (an expression) and 'assign' (a spec)"
            found = spec_problem(rule["assign"], pack)
            if found:
                return found
        return spec_problem(spec["default"], pack) if spec.get("default") else None
    if not any(k in spec for k in ("user", "field", "owner", "role")):
        return "an assignment names user, field, owner, role or rules"
    if "role" in spec:
        if spec.get("strategy", "round_robin") not in ("round_robin", "load_balanced"):
            return f"unknown strategy '{spec.get('strategy')}' (round_robin or load_balanced)"
        if pack.roles and spec["role"] not in pack.roles:
            return f"unknown role '{spec['role']}'"
    return None
