"""Page routes of the web UI, one module per kind of page."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ui.csrf import verify_csrf
from ui.routes import account, admin_logs, admin_people, auth, exports, helpers, home, lists, records, tasks

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
"""Every UI route checks the CSRF token on unsafe methods; the API routes are not part of this router."""
for module in (auth, home, helpers, account, admin_people, admin_logs, exports, tasks, records, lists):
    router.include_router(module.router)

__all__ = ["router"]
