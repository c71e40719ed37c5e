"""Pack checks of reports/ and dashboards/ (called by runtime.blueprints.kinds after a pack is built)."""

from __future__ import annotations

from typing import Any

from runtime.blueprints.errors import PackError
from runtime.reports.model import compile_dashboard, compile_report


def check_reports(pack: Any, documents: dict[str, dict[str, Any]]) -> list[PackError]:
    """Unknown entity, field or measure, a ratio without denominator, a sum over text...: file + JSON pointer."""
    errors: list[PackError] = []
    depends = bool(pack.manifest.get("depends"))
    for rel, doc in sorted(documents.items()):
        entity = pack.entities.get(doc.get("entity"))
        if entity is None and depends:
            continue  # an entity of a pack this one depends on: checked when the report runs
        _, problems = compile_report(doc, entity, pack.option_sets, entities=pack.entities)
        errors.extend(PackError(rel, p, m) for p, m in problems)
        roles = set(getattr(pack, "roles", {}) or {})
        for key in ("roles", "subscribers"):
            for i, role in enumerate(doc.get(key, [])):
                if roles and role not in roles and not depends:
                    errors.append(PackError(rel, f"/{key}/{i}", f"unknown role '{role}'"))
    return errors


def check_dashboards(pack: Any, documents: dict[str, dict[str, Any]]) -> list[PackError]:
    reports = pack.extras.get("report", {}) if getattr(pack, "extras", None) else {}
    if not reports:
        reports = {d["id"]: d for rel, d in pack.documents.items() if rel.startswith("reports/") and "id" in d}
    errors: list[PackError] = []
    for rel, doc in sorted(documents.items()):
        entities = None if pack.manifest.get("depends") else pack.entities
        problems = compile_dashboard(doc, reports, entities, pack.option_sets)
        errors.extend(PackError(rel, p, m) for p, m in problems)
        roles = set(getattr(pack, "roles", {}) or {})
        for i, role in enumerate(doc.get("roles", [])):
            if roles and role not in roles and not pack.manifest.get("depends"):
                errors.append(PackError(rel, f"/roles/{i}", f"unknown role '{role}'"))
    return errors
