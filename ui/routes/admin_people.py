"""Pages of the admin_people area."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
