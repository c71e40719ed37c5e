"""Pages of the admin_logs area."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
