"""Pages of the account area."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
