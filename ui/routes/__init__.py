"""Page routes of the web UI, one module per kind of page."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ui.csrf import verify_csrf
from ui.routes import (
    account,
    admin_jobs,
    admin_logs,
    admin_people,
    auth,
    builder_editors,
    builder_entities,
    builder_flows,
    builder_forms,
    builder_home,
    builder_packs,
    builder_versions,
    builder_views,
    bulk_actions,
    exports,
    followups,
    helpers,
    home,
    lists,
    notifications,
    pools,
    record_actions,
    record_imports,
    records,
    report_subscriptions,
    reports,
    scores,
    segments,
    tasks,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
"""Every UI route checks the CSRF token on unsafe methods; the API routes are not part of this router."""
router.include_router(record_imports.router)  # /r/{entity}/import, before the record pages (runtime/records/imports)
for module in (auth, home, helpers, account, admin_people, admin_logs, exports, tasks, records, lists):
    router.include_router(module.router)
router.include_router(admin_jobs.router)  # /admin/jobs (runtime/jobs)
router.include_router(notifications.router)  # bell, /notifications, /account/notifications, /admin/templates|deliveries
router.include_router(followups.router)  # work items and follow-up plans (runtime/automation/followups)
router.include_router(pools.router)  # pool pages (runtime/automation/pools)
router.include_router(scores.router)  # score panels and rankings (runtime/automation/scores)
router.include_router(record_actions.router)  # record action buttons and pages, /admin/rules (runtime/automation)
router.include_router(bulk_actions.router)  # /bulk/{entity}/{action}: one action on the records ticked in a list
router.include_router(reports.router)  # /reports, /dashboards (runtime/reports)
# the builder (issue 7): designers' pages of BB first, then BC's; editors last (literal paths per kind)
for module in (builder_forms, builder_entities, builder_views, builder_home, builder_versions, builder_packs):
    router.include_router(module.router)
router.include_router(builder_flows.router)  # /builder/{pack}/flows/{file}, /builder/_expression
router.include_router(builder_editors.router)  # /builder/{pack}/{rules|templates|scores|reports|followups}/{id}
router.include_router(report_subscriptions.router)  # /reports/{id}/subscriptions (scheduled delivery)
router.include_router(segments.router)  # /segments: saved target groups, "save as segment" (runtime/segments)
from ui.routes import admin_his  # noqa: E402 - /admin/his: the HIS message log (runtime/his)

router.include_router(admin_his.router)

__all__ = ["router"]
