"""User accounts: create, find, authenticate, change passwords, sign out everywhere.

Times come from a :class:`~runtime.clock.Clock` (the Tessera clock) so tests can move time; every
method that stamps a time also accepts an explicit ``now``.

``session_epoch`` is a counter on the account: a browser session remembers the value it was
signed in under, and a session whose value differs from the account's is no longer valid. Bumping
it (logout everywhere, password change or reset) therefore signs out every session at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from runtime.clock import Clock, SystemClock
from runtime.identity.passwords import hash_password, verify_password
from runtime.identity.policy import check_password
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    is_admin: bool
    department_id: int | None
    language: str
    email: str | None = None
    session_epoch: int = 0


def _user(row: sa.Row) -> User:
    return User(
        row.id,
        row.username,
        row.display_name,
        row.is_admin,
        row.department_id,
        row.language,
        row.email,
        row.session_epoch or 0,
    )


class Users:
    def __init__(self, db: Database, clock: Clock | None = None):
        self.db = db
        self.clock = clock or SystemClock()

    def _now(self, now: datetime | None) -> datetime:
        return now or self.clock.now()

    def create(
        self,
        username: str,
        display_name: str,
        password: str | None,
        *,
        is_admin: bool = False,
        email: str | None = None,
        language: str = "zh",
        now: datetime | None = None,
        enforce_policy: bool = False,
    ) -> User:
        """Create an account. Screens where a person chooses the password pass ``enforce_policy=True``
        (admin create); seeding and generated first-run passwords may skip the rules."""
        if password and enforce_policy:
            check_password(password, username, lang=language)
        stamp = self._now(now)
        with self.db.write() as conn:
            uid = conn.execute(
                sa.insert(pt.users).values(
                    username=username,
                    display_name=display_name,
                    password_hash=hash_password(password) if password else None,
                    email=email,
                    is_admin=is_admin,
                    active=True,
                    language=language,
                    created_at=stamp,
                    password_changed_at=stamp if password else None,
                )
            ).inserted_primary_key[0]
        found = self.get(uid)
        assert found is not None
        return found

    def get(self, user_id: int) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(pt.users).where(pt.users.c.id == user_id, pt.users.c.active.is_(True))).first()
        return _user(row) if row else None

    def by_username(self, username: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(sa.select(pt.users).where(pt.users.c.username == username)).first()
        return _user(row) if row else None

    def by_login(self, name_or_email: str) -> User | None:
        """The active account with this username, or else the only active account with this email."""
        with self.db.read() as conn:
            active = pt.users.c.active.is_(True)
            row = conn.execute(sa.select(pt.users).where(pt.users.c.username == name_or_email, active)).first()
            if row is None and "@" in name_or_email:
                rows = conn.execute(
                    sa.select(pt.users)
                    .where(sa.func.lower(pt.users.c.email) == name_or_email.strip().lower(), active)
                    .limit(2)
                ).all()
                row = rows[0] if len(rows) == 1 else None
        return _user(row) if row else None

    def set_password(
        self,
        user_id: int,
        password: str,
        *,
        enforce_policy: bool = True,
        sign_out_sessions: bool = True,
        lang: str | None = None,
        now: datetime | None = None,
    ) -> int:
        """Set a new password (rules applied unless told otherwise), clear any lockout and, by default,
        bump the session epoch so existing sessions are signed out. Returns the new epoch."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(pt.users.c.username, pt.users.c.language).where(pt.users.c.id == user_id)
            ).first()
        if row is None:
            raise LookupError(f"no user {user_id}")
        if enforce_policy:
            check_password(password, row.username, lang=lang or row.language)
        values: dict[str, object] = {
            "password_hash": hash_password(password),
            "password_changed_at": self._now(now),
            "failed_logins": 0,
            "locked_until": None,
        }
        if sign_out_sessions:
            values["session_epoch"] = pt.users.c.session_epoch + 1
        with self.db.write() as conn:
            conn.execute(sa.update(pt.users).where(pt.users.c.id == user_id).values(**values))
            return int(conn.execute(sa.select(pt.users.c.session_epoch).where(pt.users.c.id == user_id)).scalar_one())

    def bump_session_epoch(self, user_id: int) -> int:
        """Sign out every session of this account (logout everywhere); returns the new epoch."""
        with self.db.write() as conn:
            conn.execute(
                sa.update(pt.users).where(pt.users.c.id == user_id).values(session_epoch=pt.users.c.session_epoch + 1)
            )
            return int(conn.execute(sa.select(pt.users.c.session_epoch).where(pt.users.c.id == user_id)).scalar_one())

    def check_password(self, user_id: int, password: str) -> bool:
        """Whether ``password`` is this active account's current password (no throttling here)."""
        with self.db.read() as conn:
            password_hash = conn.execute(
                sa.select(pt.users.c.password_hash).where(pt.users.c.id == user_id, pt.users.c.active.is_(True))
            ).scalar()
        return verify_password(password_hash, password)

    def authenticate(self, username: str, password: str) -> User | None:
        """Check a username and password only. Sign-in screens should use
        :class:`runtime.identity.throttle.LoginGuard`, which adds lockout, throttling and logging."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(pt.users).where(pt.users.c.username == username, pt.users.c.active.is_(True))
            ).first()
        if row is None:
            verify_password(None, password)
            return None
        return _user(row) if verify_password(row.password_hash, password) else None
