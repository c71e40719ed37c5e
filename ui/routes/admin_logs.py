"""Pages of the admin_logs area: the administration hub, the audit / operation / error log viewers,
the settings page and a record's history fragment. One module per page, registered here."""

from __future__ import annotations

from fastapi import APIRouter

from ui.routes import admin_logs_audit, admin_logs_errors, admin_logs_hub, admin_logs_oplog, admin_logs_settings

router = APIRouter()
for module in (admin_logs_hub, admin_logs_audit, admin_logs_oplog, admin_logs_errors, admin_logs_settings):
    router.include_router(module.router)
