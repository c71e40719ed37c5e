"""Self-service password reset by an e-mailed one-time link (PL-21).

* A token is 32 random bytes, URL-safe base64; only its SHA-256 is stored, so a copy of the
  database does not contain usable links.
* It is valid for 30 minutes and for one use. Using it (``consume``) is a single conditional UPDATE,
  so two simultaneous uses cannot both succeed. A successful reset also voids every other open
  link of the account.
* At most ``max_open`` (3) links are issued per account per validity period, so nobody can flood a
  person's mailbox through the public "forgot password" form.

The flow around the tokens (looking the account up, mailing the link, applying the password rules,
logging) is ``runtime.identity.reset_mail``, used by the API (``runtime.api.routes_auth``) and the
forgot/reset password pages alike.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa

from runtime.clock import Clock
from runtime.errors import BadRequest
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database

TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
VALIDITY = timedelta(minutes=30)


class ResetTokenInvalid(BadRequest):
    """Unknown, used or expired link: one answer for all three, so probing learns nothing."""

    code = "reset_token_invalid"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ResetTokens:
    def __init__(self, db: Database, clock: Clock, *, validity: timedelta = VALIDITY, max_open: int = 3):
        self.db = db
        self.clock = clock
        self.validity = validity
        self.max_open = max_open

    def issue(self, user_id: int) -> str | None:
        """A new raw token for the account (store nothing but its hash), or None when too many are open."""
        now = self.clock.now()
        resets = pt.password_resets
        with self.db.write() as conn:
            recent = conn.execute(
                sa.select(sa.func.count())
                .select_from(resets)
                .where(resets.c.user_id == user_id, resets.c.created_at > now - self.validity)
            ).scalar_one()
            if recent >= self.max_open:
                return None
            token = secrets.token_urlsafe(TOKEN_BYTES)
            conn.execute(
                sa.insert(resets).values(
                    token_hash=token_hash(token), user_id=user_id, created_at=now, expires_at=now + self.validity
                )
            )
        return token

    def _usable(self, token: str, now: datetime) -> sa.ColumnElement[bool]:
        resets = pt.password_resets
        return sa.and_(resets.c.token_hash == token_hash(token), resets.c.used_at.is_(None), resets.c.expires_at > now)

    def peek(self, token: str, message: str = "this password reset link is invalid, used or expired") -> int:
        """The account a still-usable token belongs to (nothing is changed), or raise ResetTokenInvalid."""
        if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
            raise ResetTokenInvalid(message)
        with self.db.read() as conn:
            user_id = conn.execute(
                sa.select(pt.password_resets.c.user_id).where(self._usable(token, self.clock.now()))
            ).scalar()
        if user_id is None:
            raise ResetTokenInvalid(message)
        return int(user_id)

    def consume(self, token: str, message: str = "this password reset link is invalid, used or expired") -> int:
        """Mark the token used (exactly once) and void the account's other open links; returns the account id."""
        user_id = self.peek(token, message)
        now = self.clock.now()
        resets = pt.password_resets
        with self.db.write() as conn:
            used = conn.execute(sa.update(resets).where(self._usable(token, now)).values(used_at=now)).rowcount
            if used != 1:
                raise ResetTokenInvalid(message)
            conn.execute(
                sa.update(resets).where(resets.c.user_id == user_id, resets.c.used_at.is_(None)).values(used_at=now)
            )
        return user_id
