"""UI texts of the task inbox, task and workflow pages (Chinese first, then English)."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {}
