"""argon2id password hashing via argon2-cffi (never a home-made hash).

argon2-cffi's defaults are argon2id with the RFC 9106 "low memory" profile. A check against a
missing hash (unknown user, account without a password) still runs one real verification against
a dummy hash, so the answer takes about as long as for a real account and timing does not reveal
which usernames exist.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def _bytes(password: str) -> bytes:
    # "surrogatepass": a lone surrogate from JSON ("\\ud800") is a wrong password, not a crash.
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    return _hasher.hash(_bytes(password))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("tessera-dummy-password-for-constant-time-checks")


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _verify(_dummy_hash(), password)
        return False
    return _verify(password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, _bytes(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters; rehash after the next successful login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
