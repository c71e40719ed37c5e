"""User accounts: create, find, authenticate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from runtime.identity.passwords import hash_password, verify_password
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


def _user(row: sa.Row) -> User:
    return User(row.id, row.username, row.display_name, row.is_admin, row.department_id, row.language)


class Users:
    def __init__(self, db: Database):
        self.db = db

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
    ) -> User:
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
                    created_at=now or datetime.now(),
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

    def set_password(self, user_id: int, password: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                sa.update(pt.users).where(pt.users.c.id == user_id).values(password_hash=hash_password(password))
            )

    def authenticate(self, username: str, password: str) -> User | None:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(pt.users).where(pt.users.c.username == username, pt.users.c.active.is_(True))
            ).first()
        if row is None:
            verify_password(None, password)
            return None
        return _user(row) if verify_password(row.password_hash, password) else None
