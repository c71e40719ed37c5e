"""Security services of the runtime: encryption at rest for sensitive fields (crypto) and its keys (keys)."""

from runtime.security.crypto import DecryptError, FieldCipher, TableCrypt
from runtime.security.keys import KeyProvider, KeyRing

__all__ = ["DecryptError", "FieldCipher", "KeyProvider", "KeyRing", "TableCrypt"]
