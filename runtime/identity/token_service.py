"""Managing API tokens for a person: expiry choices, create and revoke with an operation-log entry.

Shared by ``/api/v1/tokens`` and the account page ``/account/tokens`` so both parse expiry alike and
log ``token_created`` / ``token_revoked`` with the same detail (token id, prefix, name, owner).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from runtime.errors import BadRequest
from runtime.identity.events import Caller, log_identity_event
from runtime.identity.tokens import ApiTokens, TokenInfo
from runtime.identity.users import User

if TYPE_CHECKING:
    from runtime.services import Tessera

MAX_DAYS = 3650
EXPIRY_CHOICES = (30, 90, 365, None)
"""What the account page offers: days until the token expires, or None for "never"."""
_ISO_HINT = "expires_at: an ISO 8601 date-time such as 2027-01-31T18:00:00Z"


def parse_expiry(raw: object, days: object, now: datetime) -> datetime | None:
    """``expires_at`` (ISO 8601) or ``expires_in_days`` (1..MAX_DAYS), at most one of them; None: never."""
    if raw is not None and days is not None:
        raise BadRequest("send expires_at or expires_in_days, not both")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise BadRequest(f"expires_in_days: a whole number from 1 to {MAX_DAYS}")
        return now + timedelta(days=days)
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > 40:
        raise BadRequest(_ISO_HINT)
    try:
        at = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise BadRequest(_ISO_HINT) from exc
    if at.tzinfo is not None:
        try:
            at = at.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00 falls before year 1 in UTC
            raise BadRequest(_ISO_HINT) from exc
    if at > now + timedelta(days=MAX_DAYS):
        raise BadRequest(f"expires_at: at most {MAX_DAYS} days ahead")
    return at


def token_manager(app: Tessera) -> ApiTokens:
    return ApiTokens(app.db, app.clock)


def _log(app: Tessera, kind: str, actor: User, info: TokenInfo, caller: Caller) -> None:
    detail = {"token_id": info.id, "prefix": info.prefix, "name": info.name, "owner_id": info.user_id}
    log_identity_event(app, kind, caller, actor, **detail)


def create_token(
    app: Tessera,
    actor: User,
    owner: User,
    name: str,
    *,
    roles: list[str],
    expires_at: datetime | None,
    caller: Caller,
) -> tuple[str, TokenInfo]:
    """A new token of ``owner`` made by ``actor`` (themselves, or an administrator); returns the raw
    token, which is shown once and never stored, and its description."""
    raw, info = token_manager(app).create(owner.id, name, is_admin=owner.is_admin, roles=roles, expires_at=expires_at)
    _log(app, "token_created", actor, info, caller)
    return raw, info


def revoke_token(app: Tessera, actor: User, info: TokenInfo, *, caller: Caller) -> TokenInfo:
    """Revoke for good; only the first revocation is logged (revoking twice changes nothing)."""
    revoked = token_manager(app).revoke(info.id)
    if info.revoked_at is None:
        _log(app, "token_revoked", actor, revoked, caller)
    return revoked


def token_status(info: TokenInfo, now: datetime) -> str:
    """active, revoked or expired (revoked wins: it is the stronger statement)."""
    if info.revoked_at is not None:
        return "revoked"
    if info.expires_at is not None and info.expires_at <= now:
        return "expired"
    return "active"
