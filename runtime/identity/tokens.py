"""API tokens for integrations (PL-21).

A token looks like ``tsr_<prefix>_<secret>``: ``tsr_`` marks it as a Tessera token (secret
scanners can match it), the 8-hex-character prefix identifies it in lists and logs, and the
secret is 32 random bytes (URL-safe base64). It is shown once, when created; the database keeps
only the SHA-256 of the whole token, so neither a database copy nor the token list can recreate
it. (A plain hash is enough for 256-bit random secrets; unlike an HMAC with the app secret, it
keeps tokens valid when the session secret is rotated.)

Clients send it as ``Authorization: Bearer tsr_...``; it works for the API only, never for
pages. A token belongs to one user and acts as that user. ``roles`` may narrow it further: a
token with roles acts with just those roles (never as administrator), and only with those the
user still holds; an empty list means "everything the user may do". So a token never has more
rights than its user. Revoked or expired tokens are refused with their own error codes;
``last_used_at`` is refreshed at most once a minute so busy integrations do not write on
every request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from runtime.clock import Clock
from runtime.errors import BadRequest, NotFound, TesseraError
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database

TOKEN_RE = re.compile(r"^tsr_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_NAME = 100


class TokenRejected(TesseraError):
    status = 401
    code = "token_invalid"


class TokenRevoked(TokenRejected):
    code = "token_revoked"


class TokenExpired(TokenRejected):
    code = "token_expired"


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    name: str
    prefix: str
    roles: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat(timespec="seconds") if at else None

        return {
            "id": self.id,
            "user_id": self.user_id,
            "name": self.name,
            "prefix": self.prefix,
            "roles": list(self.roles),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "last_used_at": iso(self.last_used_at),
            "revoked_at": iso(self.revoked_at),
        }


@dataclass(frozen=True)
class TokenAuth:
    """Who a valid token acts for. ``roles`` is None for an unrestricted token, else the roles it may use."""

    user_id: int
    token_id: int
    roles: tuple[str, ...] | None


def _info(row: sa.Row) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.user_id,
        row.name,
        row.prefix,
        tuple(row.roles or ()),
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
    )


def _storable(text: str) -> bool:
    """No NUL (PostgreSQL refuses it) and no lone surrogates (not encodable as UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(value: str) -> bool:
    return bool(TOKEN_RE.fullmatch(value))


class ApiTokens:
    def __init__(self, db: Database, clock: Clock):
        self.db = db
        self.clock = clock

    # roles ----------------------------------------------------------------------------------------
    def user_roles(self, user_id: int) -> set[str]:
        with self.db.read() as conn:
            return set(
                conn.execute(sa.select(pt.user_roles.c.role_id).where(pt.user_roles.c.user_id == user_id)).scalars()
            )

    def _check_roles(self, user_id: int, is_admin: bool, roles: list[str]) -> tuple[str, ...]:
        if len(roles) != len(set(roles)):
            raise BadRequest("roles: each role may be listed once")
        if not roles:
            return ()
        with self.db.read() as conn:
            known = set(conn.execute(sa.select(pt.roles.c.id).where(pt.roles.c.id.in_(roles))).scalars())
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise BadRequest(f"roles: unknown role(s) {', '.join(unknown)}")
        if not is_admin:
            held = self.user_roles(user_id)
            missing = [r for r in roles if r not in held]
            if missing:
                raise BadRequest(
                    f"roles: the token's user does not hold {', '.join(missing)}; a token cannot have more rights"
                )
        return tuple(roles)

    # managing -------------------------------------------------------------------------------------
    def create(
        self,
        user_id: int,
        name: str,
        *,
        is_admin: bool,
        roles: list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token: returns the raw token (show it once, it is not kept) and its stored description."""
        name = name.strip()
        if not name or len(name) > MAX_NAME or not _storable(name):
            raise BadRequest(f"name: give the token a name of 1 to {MAX_NAME} characters")
        checked = self._check_roles(user_id, is_admin, list(roles or []))
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise BadRequest("expires_at: must be in the future")
        prefix = secrets.token_hex(4)
        token = f"tsr_{prefix}_{secrets.token_urlsafe(32)}"
        with self.db.write() as conn:
            token_id = conn.execute(
                sa.insert(pt.api_tokens).values(
                    user_id=user_id,
                    name=name,
                    prefix=prefix,
                    token_hash=token_hash(token),
                    roles=list(checked),
                    created_at=now,
                    expires_at=expires_at,
                )
            ).inserted_primary_key[0]
        return token, self.get(int(token_id))

    def get(self, token_id: int) -> TokenInfo:
        with self.db.read() as conn:
            row = conn.execute(sa.select(pt.api_tokens).where(pt.api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"no API token {token_id}")
        return _info(row)

    def list(self, user_id: int | None = None) -> list[TokenInfo]:
        """The tokens of one user (or of everybody when user_id is None), newest first."""
        stmt = sa.select(pt.api_tokens).order_by(pt.api_tokens.c.id.desc())
        if user_id is not None:
            stmt = stmt.where(pt.api_tokens.c.user_id == user_id)
        with self.db.read() as conn:
            return [_info(row) for row in conn.execute(stmt)]

    def revoke(self, token_id: int) -> TokenInfo:
        """Revoke for good (the row stays for the record); revoking twice keeps the first time."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(pt.api_tokens)
                .where(pt.api_tokens.c.id == token_id, pt.api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=self.clock.now())
            )
        return self.get(token_id)

    # authenticating ------------------------------------------------------------------------------
    def authenticate(self, token: str) -> TokenAuth:
        """Who the token acts for, or raise TokenRejected / TokenRevoked / TokenExpired (all HTTP 401)."""
        if not looks_like_token(token):
            raise TokenRejected("the API token is malformed; expected Authorization: Bearer tsr_<prefix>_<secret>")
        with self.db.read() as conn:
            row = conn.execute(sa.select(pt.api_tokens).where(pt.api_tokens.c.token_hash == token_hash(token))).first()
        if row is None:
            raise TokenRejected("the API token is not known")
        now = self.clock.now()
        if row.revoked_at is not None:
            raise TokenRevoked(f"the API token {row.prefix} was revoked")
        with self.db.read() as conn:
            owner = conn.execute(
                sa.select(pt.users.c.is_admin).where(pt.users.c.id == row.user_id, pt.users.c.active.is_(True))
            ).first()
        if owner is None:
            raise TokenRejected(f"the API token {row.prefix} belongs to a deactivated account")
        if row.expires_at is not None and row.expires_at <= now:
            raise TokenExpired(f"the API token {row.prefix} expired at {row.expires_at.isoformat(timespec='seconds')}")
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            with self.db.write() as conn:
                conn.execute(sa.update(pt.api_tokens).where(pt.api_tokens.c.id == row.id).values(last_used_at=now))
        roles: tuple[str, ...] | None = None
        if row.roles:
            roles = tuple(row.roles)
            if not owner.is_admin:
                held = self.user_roles(row.user_id)
                roles = tuple(r for r in roles if r in held)
        return TokenAuth(row.user_id, row.id, roles)
