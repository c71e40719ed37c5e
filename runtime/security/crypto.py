"""Encryption at rest for sensitive fields (PL-21): AES-256-GCM per value, and a keyed blind index.

Why this shape:
- AES-GCM authenticates as well as encrypts, so a value altered in the database is detected instead
  of being shown as garbage; a fresh random 96-bit nonce per value means equal phone numbers give
  different ciphertexts, so the column reveals nothing about who shares a number.
- The stored text `v1:<key_id>:<base64url(nonce + ciphertext)>` names its key: rotation finds the
  values still under an old key, and several keys can be in use while a rotation runs.
- The associated data is `<table>.<column>`: a ciphertext copied into another column (say a
  patient's ID number pasted into a visible notes field by someone with database access) fails to
  decrypt rather than leaking.
- Random ciphertext cannot be searched, so each encrypted column has a blind index beside it:
  HMAC-SHA256 of the normalised value under a key derived (HKDF) from a separate, long-lived index
  secret, also bound to `<table>.<column>`. Exact match, `in`, unique checks and unique indexes work
  on it; substring search, ranges and sorting cannot, and are refused with a plain message.
- A value that fails to decrypt is logged and read as empty: one damaged value must not take a
  whole list page down.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from runtime.blueprints.model import Field
from runtime.fields.storage import blind_index_column

if TYPE_CHECKING:
    from runtime.security.keys import KeyProvider

log = logging.getLogger("tessera.security")

FORMAT = "v1"
NONCE_BYTES = 12
BLIND_HEX = 32
_SEPARATORS = re.compile(r"[\s\-]+")


class DecryptError(Exception):
    """A stored value that cannot be decrypted: altered, from another column, or under an unknown key."""


@lru_cache(maxsize=8)
def _blind_key(index_secret: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tessera blind index v1")
    return hkdf.derive(index_secret)


@lru_cache(maxsize=16)
def _aead(key: bytes) -> AESGCM:
    return AESGCM(key)


def normalise(f: Field, value: str) -> str:
    """The form of a value that the blind index covers, so '138 0013 8000' finds 13800138000.

    Phone and ID numbers drop spaces and hyphens (ID numbers also upper-case their check
    character); e-mail addresses compare case-insensitively; other text only loses surrounding
    blanks. Full-width characters typed by Chinese input methods are folded (NFKC) first.
    """
    text = unicodedata.normalize("NFKC", value).strip()
    if f.type in ("phone", "cn_id"):
        text = _SEPARATORS.sub("", text)
    if f.type == "cn_id":
        text = text.upper()
    elif f.type == "email":
        text = text.lower()
    return text


class FieldCipher:
    """Seals and opens single values; one per process, shared by every channel."""

    def __init__(self, keys: KeyProvider):
        self.keys = keys

    @staticmethod
    def key_id(token: str) -> str | None:
        parts = token.split(":", 2) if isinstance(token, str) else []
        return parts[1] if len(parts) == 3 and parts[0] == FORMAT else None

    def encrypt(self, plaintext: str, ad: str = "") -> str:
        """Seal one value; `ad` is '<table>.<column>' for field values, '' for values kept elsewhere (audit)."""
        ring = self.keys.ring()
        nonce = os.urandom(NONCE_BYTES)
        sealed = _aead(ring.keys[ring.current]).encrypt(nonce, plaintext.encode("utf-8"), ad.encode("utf-8"))
        return f"{FORMAT}:{ring.current}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, token: str, ad: str = "") -> str:
        kid = self.key_id(token)
        if kid is None:
            raise DecryptError("not an encrypted value")
        key = self.keys.ring().keys.get(kid) or self.keys.reload().keys.get(kid)
        if key is None:
            raise DecryptError(f"the key '{kid}' is not available (see `tessera keys status`)")
        data = token.split(":", 2)[2]
        try:
            raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
            plain = _aead(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], ad.encode("utf-8"))
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise DecryptError("authentication failed: the value was altered or belongs to another column") from exc
        return plain.decode("utf-8")

    def blind_index(self, ad: str, normalised: str) -> str:
        key = _blind_key(self.keys.ring().index_secret)
        message = ad.encode("utf-8") + b"\x00" + normalised.encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).hexdigest()[:BLIND_HEX]

    def for_table(self, table: str) -> TableCrypt:
        return TableCrypt(self, table)


class TableCrypt:
    """The cipher bound to one table: associated data and blind indexes are per column."""

    def __init__(self, cipher: FieldCipher, table: str):
        self.cipher = cipher
        self.table = table

    def ad(self, f: Field) -> str:
        return f"{self.table}.{f.name}"

    def blind(self, f: Field, value: str) -> str:
        return self.cipher.blind_index(self.ad(f), normalise(f, value))

    def seal(self, f: Field, value: str | None) -> dict[str, str | None]:
        """The column values to store for a field: ciphertext and blind index (both None when empty)."""
        if value is None:
            return {f.name: None, blind_index_column(f.name): None}
        return {f.name: self.cipher.encrypt(value, self.ad(f)), blind_index_column(f.name): self.blind(f, value)}

    def sealer(self, f: Field) -> Callable[[str], tuple[str, str]]:
        """``seal`` for many values of one field (a bulk load of 100,000 rows seals 300,000 values): the key,
        the associated data and the keyed HMAC state are set up once instead of per value. Returns
        (ciphertext, blind index) of a non-empty value, the same as seal() stores."""
        ring = self.cipher.keys.ring()
        aead = _aead(ring.keys[ring.current])
        prefix = f"{FORMAT}:{ring.current}:"
        ad = self.ad(f).encode("utf-8")
        keyed = hmac.new(_blind_key(ring.index_secret), ad + b"\x00", hashlib.sha256)  # copied per value
        encode, urandom = base64.urlsafe_b64encode, os.urandom

        def seal_one(value: str) -> tuple[str, str]:
            nonce = urandom(NONCE_BYTES)
            token = prefix + encode(nonce + aead.encrypt(nonce, value.encode("utf-8"), ad)).decode().rstrip("=")
            blind = keyed.copy()
            blind.update(normalise(f, value).encode("utf-8"))
            return token, blind.hexdigest()[:BLIND_HEX]

        return seal_one

    def open(self, f: Field, token: Any, record_id: Any = None) -> str | None:
        if token is None:
            return None
        try:
            return self.cipher.decrypt(token, self.ad(f))
        except DecryptError as exc:
            log.error("cannot decrypt %s of record #%s: %s; the field is shown empty", self.ad(f), record_id, exc)
            return None
