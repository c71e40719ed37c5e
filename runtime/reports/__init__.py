"""Reports and dashboards (PL-13): blueprint-defined measures over dimensions, run as grouped SQL.

    app.reports.run("business_volume", ctx, {"from": "2026-01-01", "to": "2026-12-31", "grain": "month"})
    app.reports.export("business_volume", ctx, params, "xlsx") -> (filename, media type, bytes)

Modules: model (documents -> dataclasses, shared with the pack checks), periods (grains, ranges, SQL date
truncation per dialect), sql (the grouped SELECT), engine (scope, field rights, comparisons, totals,
drill-down), output (screen texts, CSV, Excel), items (dashboard items beyond one report: combined side-by-side
reports, the viewer's schedule, quick-create buttons), subscriptions (scheduled delivery).
"""

from __future__ import annotations

from typing import Any

from runtime.records.context import Context
from runtime.reports.engine import ReportEngine, ReportResult

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Reports:
    """The application's report service (app.reports)."""

    def __init__(self, app: Any):
        self.app = app
        self.engine = ReportEngine(app)
        from runtime.reports.subscriptions import install_delivery

        install_delivery(app, self)

    def run(self, report_id: str, ctx: Context, params: dict[str, str] | None = None) -> ReportResult:
        return self.engine.run(report_id, ctx, params)

    def export(self, report_id: str, ctx: Context, params: dict[str, str] | None, fmt: str) -> tuple[str, str, bytes]:
        """(file name, media type, content); exporting needs the export action besides analyse."""
        from runtime.errors import BadRequest
        from runtime.reports.output import to_csv, to_xlsx

        if fmt not in FORMATS:
            raise BadRequest(f"unknown export format '{fmt[:20]}'; use csv or xlsx")
        report = self.engine.report(report_id)
        self.app.permissions.require(ctx, report.entity, "export")
        result = self.run(report_id, ctx, params)
        data = to_csv(result) if fmt == "csv" else to_xlsx(result)
        stamp = f"{result.window.start:%Y%m%d}-{result.window.end:%Y%m%d}"
        return f"{report_id}_{stamp}.{fmt}", FORMATS[fmt], data

    def dashboards(self) -> dict[str, dict[str, Any]]:
        return self.app.registry.extras("dashboard")

    def home_dashboard(self, ctx: Context) -> dict[str, Any] | None:
        """The first dashboard naming one of the viewer's roles (by id order)."""
        roles = set(self.app.permissions.subject(ctx).roles)
        for _id, doc in sorted(self.dashboards().items()):
            if roles & set(doc.get("roles", [])):
                return doc
        return None


__all__ = ["Reports", "ReportEngine", "ReportResult", "FORMATS"]
