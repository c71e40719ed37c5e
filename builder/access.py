"""Who may use the builder: administrators and holders of the global 'designer' right (PL-18)."""

from __future__ import annotations

from typing import Any

from runtime.errors import Forbidden
from runtime.records.context import Context


def is_designer(app: Any, ctx: Context) -> bool:
    """True for administrators and users whose roles carry the 'designer' right."""
    if ctx.is_admin:
        return True
    try:
        return bool(app.permissions.has_right(ctx, "designer"))
    except Exception:  # noqa: BLE001 - an unknown or anonymous subject has no rights, never a crash
        return False


def require_designer(app: Any, ctx: Context) -> None:
    """Raise Forbidden unless the context may design blueprints."""
    if not is_designer(app, ctx):
        raise Forbidden("the builder needs the 'designer' right")
