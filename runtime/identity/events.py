"""Operation-log entries for identity events (sign-out everywhere, password changes and resets, API tokens).

The API routes and the account pages both record these through :func:`log_identity_event`, so an
administrator reading the operation log sees one shape whatever screen the person used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runtime.oplog import record_operation

if TYPE_CHECKING:
    from runtime.identity.users import User
    from runtime.services import Tessera


@dataclass(frozen=True)
class Caller:
    """Where a request came from: the client address and request id go into the operation log."""

    ip: str | None = None
    request_id: str | None = None
    channel: str = "api"


def log_identity_event(
    app: Tessera, kind: str, caller: Caller, user: User | None, *, username: str | None = None, **detail: Any
) -> None:
    """One operation-log entry; ``username`` names the account when no user is known (unknown login)."""
    record_operation(
        app.db,
        kind,
        actor_id=user.id if user else None,
        username=user.username if user else username,
        ip=caller.ip,
        request_id=caller.request_id,
        detail=detail,
        at=app.clock.now(),
    )
