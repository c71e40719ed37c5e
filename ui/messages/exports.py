"""UI texts of the exports pages (Chinese first, then English)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {}
