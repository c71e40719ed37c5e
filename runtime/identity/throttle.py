"""Sign-in with login throttling and temporary lockout (PL-21).

:class:`LoginGuard` is the one way a person signs in, for the API and the web page alike:

* **Account lockout** – after ``max_failures`` (5) consecutive wrong passwords the account is
  locked for ``lockout`` (15 minutes). While locked, sign-in answers :class:`AccountLocked`
  (HTTP 423, code ``locked``, with the unlock time) even for the right password; the lock ends by
  itself, or when the password is reset. A successful sign-in resets the counter.
* **Per-IP throttling** – when one IP address has ``ip_max_failures`` (20) failed sign-ins within
  ``ip_window`` (10 minutes), further attempts from it answer :class:`TooManyAttempts` (HTTP 429,
  code ``throttled``) with the seconds to wait (``Retry-After``) without checking the password.
  Refused attempts are not counted, so waiting always helps. Behind a reverse proxy run uvicorn with
  ``--proxy-headers`` (and ``--forwarded-allow-ips``) so the client's address is the real one.
* **Unknown usernames** take as long as real ones (a dummy argon2 check) and answer the same 401.
* Every success and failure is a row in ``tessera_login_attempts``; every success, failure and
  lockout is an operation-log entry (kinds ``login``, ``login_failed``, ``account_locked``).

The limits are system parameters (``login.max_failures``, ``login.lockout_minutes``,
``login.ip_max_failures``, ``login.ip_window_minutes``; see ``runtime.params``), or a
:class:`ThrottlePolicy` passed in. All times come from the Tessera clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.clock import Clock
from runtime.errors import TesseraError
from runtime.identity.passwords import hash_password, needs_rehash, verify_password
from runtime.identity.users import User, _user
from runtime.oplog import record_operation
from runtime.params import Param, Params, declare
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database

declare(
    Param(
        "login.ip_max_failures",
        int,
        20,
        {"zh": "同一地址在时间窗口内允许的登录失败次数", "en": "Failed logins from one address before it is throttled"},
        min=1,
        max=10000,
    )
)
declare(
    Param(
        "login.ip_window_minutes",
        int,
        10,
        {"zh": "按地址限制登录的时间窗口（分钟）", "en": "Time window for throttling by address (minutes)"},
        min=1,
        max=1440,
    )
)


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    ip_max_failures: int = 20
    ip_window: timedelta = timedelta(minutes=10)

    @classmethod
    def from_params(cls, params: Params) -> ThrottlePolicy:
        """The limits as set in the system parameters (``login.*``; their declared defaults otherwise)."""
        return cls(
            max_failures=int(params.get("login.max_failures")),
            lockout=timedelta(minutes=params.get("login.lockout_minutes")),
            ip_max_failures=int(params.get("login.ip_max_failures")),
            ip_window=timedelta(minutes=params.get("login.ip_window_minutes")),
        )


class WrongCredentials(TesseraError):
    status = 401
    code = "wrong_credentials"


class AccountLocked(TesseraError):
    status = 423
    code = "locked"

    def __init__(self, message: str, locked_until: datetime):
        super().__init__(message)
        self.locked_until = locked_until


class TooManyAttempts(TesseraError):
    status = 429
    code = "throttled"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


_TEXT = {
    "wrong": ("用户名或密码错误", "wrong username or password"),
    "locked": (
        "连续多次密码错误，账户已临时锁定，请于 {until} (UTC) 后再试，或通过邮件重置密码",
        "too many wrong passwords: the account is locked until {until} UTC; try again then or reset the password",
    ),
    "throttled": (
        "来自该地址的登录失败次数过多，请 {seconds} 秒后再试",
        "too many failed sign-ins from this address; try again in {seconds} seconds",
    ),
}


def _text(key: str, lang: str, **params: Any) -> str:
    zh, en = _TEXT[key]
    return (en if lang == "en" else zh).format(**params)


class LoginGuard:
    """Checks a username and password with lockout, throttling and logging."""

    def __init__(
        self, db: Database, clock: Clock, *, policy: ThrottlePolicy | None = None, params: Params | None = None
    ):
        self.db = db
        self.clock = clock
        self._policy = policy
        self._params = params

    @property
    def policy(self) -> ThrottlePolicy:
        """The explicit policy if one was given, else the current system parameters."""
        if self._policy is None:
            self._policy = ThrottlePolicy.from_params(self._params or Params(self.db, clock=self.clock))
        return self._policy

    def login(
        self,
        username: str,
        password: str,
        *,
        ip: str | None = None,
        request_id: str | None = None,
        lang: str = "zh",
    ) -> User:
        """The signed-in user, or raise WrongCredentials (401), AccountLocked (423) or TooManyAttempts (429)."""
        return self._check(username, password, ip=ip, request_id=request_id, lang=lang, signing_in=True)

    def verify_current_password(
        self, user: User, password: str, *, ip: str | None = None, request_id: str | None = None, lang: str = "zh"
    ) -> None:
        """For "change my password": the current password, under the same lockout, throttling and logging
        (a stolen session must not become an unlimited password-guessing oracle)."""
        self._check(user.username, password, ip=ip, request_id=request_id, lang=lang, signing_in=False)

    def unlock(self, user_id: int) -> None:
        with self.db.write() as conn:
            conn.execute(sa.update(pt.users).where(pt.users.c.id == user_id).values(failed_logins=0, locked_until=None))

    def _check(
        self, username: str, password: str, *, ip: str | None, request_id: str | None, lang: str, signing_in: bool
    ) -> User:
        # NUL and lone surrogates cannot be stored or looked up (PostgreSQL refuses them): drop them.
        username = username[:64].replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
        now = self.clock.now()
        policy = self.policy
        if ip:
            self._check_ip(ip, now, policy, lang)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(pt.users).where(pt.users.c.username == username, pt.users.c.active.is_(True))
            ).first()
        log: dict[str, Any] = {"username": username, "ip": ip, "request_id": request_id, "at": now}
        wrong = "wrong_password" if signing_in else "wrong_current_password"

        if row is not None and row.locked_until is not None and row.locked_until > now:
            with self.db.write() as conn:
                self._attempt(conn, username, ip, now, success=False)
                record_operation(conn, "login_failed", actor_id=row.id, detail={"reason": "locked"}, **log)
            raise AccountLocked(_text("locked", lang, until=_stamp(row.locked_until)), row.locked_until)

        if row is None:
            verify_password(None, password)  # as slow as a real check: timing does not reveal unknown names
            with self.db.write() as conn:
                self._attempt(conn, username, ip, now, success=False)
                record_operation(conn, "login_failed", detail={"reason": "unknown_user"}, **log)
                self._note_ip_limit(conn, ip, now, policy, log)
            raise WrongCredentials(_text("wrong", lang))

        if verify_password(row.password_hash, password):
            values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
            if signing_in:
                values["last_login_at"] = now
            if row.password_hash and needs_rehash(row.password_hash):
                values["password_hash"] = hash_password(password)
            with self.db.write() as conn:
                conn.execute(sa.update(pt.users).where(pt.users.c.id == row.id).values(**values))
                if signing_in:
                    self._attempt(conn, username, ip, now, success=True)
                    record_operation(conn, "login", actor_id=row.id, detail={}, **log)
            return _user(row)

        with self.db.write() as conn:
            # One atomic increment, so simultaneous wrong guesses are all counted.
            conn.execute(
                sa.update(pt.users).where(pt.users.c.id == row.id).values(failed_logins=pt.users.c.failed_logins + 1)
            )
            failures = int(
                conn.execute(sa.select(pt.users.c.failed_logins).where(pt.users.c.id == row.id)).scalar_one()
            )
            locked_until = now + policy.lockout if failures >= policy.max_failures else None
            if locked_until is not None:  # the counter restarts, so after the lock there are again N tries
                conn.execute(
                    sa.update(pt.users)
                    .where(pt.users.c.id == row.id)
                    .values(failed_logins=0, locked_until=locked_until)
                )
            self._attempt(conn, username, ip, now, success=False)
            record_operation(
                conn,
                "login_failed",
                actor_id=row.id,
                detail={"reason": wrong, "consecutive_failures": failures},
                **log,
            )
            self._note_ip_limit(conn, ip, now, policy, log)
            if locked_until is not None:
                record_operation(
                    conn,
                    "account_locked",
                    actor_id=row.id,
                    detail={"failures": failures, "locked_until": locked_until, "minutes": _minutes(policy.lockout)},
                    **log,
                )
        if locked_until is not None:
            raise AccountLocked(_text("locked", lang, until=_stamp(locked_until)), locked_until)
        raise WrongCredentials(_text("wrong", lang))

    @staticmethod
    def _attempt(conn: Connection, username: str, ip: str | None, now: datetime, *, success: bool) -> None:
        conn.execute(
            sa.insert(pt.login_attempts).values(
                username=username[:64], ip=ip[:64] if ip else None, at=now, success=success
            )
        )

    @staticmethod
    def _ip_failures(conn: Connection, ip: str, now: datetime, policy: ThrottlePolicy) -> list[datetime]:
        attempts = pt.login_attempts
        return list(
            conn.execute(
                sa.select(attempts.c.at)
                .where(attempts.c.ip == ip[:64], attempts.c.success.is_(False))
                .where(attempts.c.at > now - policy.ip_window)
                .order_by(attempts.c.at)
            ).scalars()
        )

    def _check_ip(self, ip: str, now: datetime, policy: ThrottlePolicy, lang: str) -> None:
        with self.db.read() as conn:
            failures = self._ip_failures(conn, ip, now, policy)
        if len(failures) < policy.ip_max_failures:
            return
        # Wait until enough failures have left the window for one more attempt to be allowed.
        frees_at = failures[len(failures) - policy.ip_max_failures] + policy.ip_window
        seconds = max(1, math.ceil((frees_at - now).total_seconds()))
        raise TooManyAttempts(_text("throttled", lang, seconds=seconds), seconds)

    def _note_ip_limit(
        self, conn: Connection, ip: str | None, now: datetime, policy: ThrottlePolicy, log: dict[str, Any]
    ) -> None:
        """Log once, when this failure makes the address reach its limit."""
        if ip and len(self._ip_failures(conn, ip, now, policy)) == policy.ip_max_failures:
            detail = {"reason": "ip_throttled", "failures": policy.ip_max_failures}
            record_operation(
                conn, "login_failed", detail={**detail, "window_minutes": _minutes(policy.ip_window)}, **log
            )


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)
