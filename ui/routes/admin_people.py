"""Pages of the admin_people area: users, the department tree, roles and the people import (PL-20).

Each page family lives in its own module; this one only gathers their routers. The import router
comes first so that /admin/users/import is not taken for a user id.
"""

from __future__ import annotations

from fastapi import APIRouter

from ui.routes import admin_people_departments, admin_people_import, admin_people_roles, admin_people_users

router = APIRouter()
for module in (admin_people_import, admin_people_users, admin_people_departments, admin_people_roles):
    router.include_router(module.router)
