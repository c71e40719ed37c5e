"""Field-encryption keys: where they come from, how they are made, rotated and retired.

Two sources, never mixed:
- the environment (production, several app machines): TESSERA_FIELD_KEY is the current key as
  `keyid:base64` (or bare base64: the id is then derived from the key), TESSERA_FIELD_KEYS_OLD lists
  earlier keys the same way, comma-separated, while their values are being rotated away, and
  TESSERA_FIELD_INDEX_KEY is the blind-index secret;
- a key file `<data_dir>/field-keys.json` (the embedded default): generated with mode 0600 on
  first run, outside the repository (data_dir is ./var, git-ignored), holding
  {"current": "k1", "keys": {"k1": "<base64>"}, "index_key": "<base64>"}.

Each stored value names the key that encrypted it, so old keys stay usable until `tessera keys
rotate` has re-encrypted every value, and `tessera keys retire` refuses to drop a key still in use.
The blind-index secret is separate and long-lived: rotating the encryption key leaves blind indexes
(and so exact-match search and unique indexes) untouched. Without TESSERA_FIELD_INDEX_KEY the
current field key doubles as the index secret; rotation then recomputes the blind indexes too.

The key material (this part) and the stored values (`encrypted_columns`, `key_usage`,
`rotate_values` below) live together because rotation is one operation on both.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.blueprints.model import Field
from runtime.fields.storage import ENCRYPTABLE_TYPES, blind_index_column, is_encrypted

if TYPE_CHECKING:
    from runtime.blueprints.model import Entity
    from runtime.config import Settings
    from runtime.security.crypto import FieldCipher
    from runtime.storage.database import Database

log = logging.getLogger("tessera.security")

KEY_FILE = "field-keys.json"
KEY_BYTES = 32  # AES-256
KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class KeyConfigError(ValueError):
    """The keys given are unusable; the message says which setting or file to fix."""


@dataclass(frozen=True)
class KeyRing:
    current: str
    keys: Mapping[str, bytes]
    index_secret: bytes
    origin: str
    """'environment' or the key file's path: said in messages so people know what to change."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def decode_key(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        altchars = b"-_" if ("-" in text or "_" in text) else None  # base64url is accepted too
        key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigError(f"{what} is not base64") from exc
    if len(key) != KEY_BYTES:
        raise KeyConfigError(f"{what} must be {KEY_BYTES} random bytes in base64, not {len(key)} bytes")
    return key


def parse_key_spec(spec: str, what: str) -> tuple[str, bytes]:
    """`keyid:base64` or bare base64; a bare key gets an id derived from it, stable across restarts."""
    kid, sep, b64 = spec.strip().rpartition(":")
    if not sep:
        key = decode_key(spec, what)
        return "k" + hashlib.sha256(key).hexdigest()[:8], key
    if not KEY_ID.match(kid):
        raise KeyConfigError(f"{what}: the key id '{kid}' may only hold letters, digits, '_', '.' and '-'")
    return kid, decode_key(b64, what)


def ring_from_settings(settings: Settings) -> KeyRing:
    """The keys given in the settings (from the environment, or explicitly by tests)."""
    current, key = parse_key_spec(settings.field_key or "", "TESSERA_FIELD_KEY")
    keys = {current: key}
    for spec in (s for s in (settings.field_keys_old or "").split(",") if s.strip()):
        kid, old = parse_key_spec(spec, "TESSERA_FIELD_KEYS_OLD")
        if kid in keys and keys[kid] != old:
            raise KeyConfigError(f"TESSERA_FIELD_KEYS_OLD: the key id '{kid}' is given twice with different keys")
        keys.setdefault(kid, old)
    index = decode_key(settings.field_index_key, "TESSERA_FIELD_INDEX_KEY") if settings.field_index_key else key
    return KeyRing(current, keys, index, "environment")


# the key file ------------------------------------------------------------------------------------
def read_key_file(path: Path) -> KeyRing:
    try:
        doc = json.loads(path.read_text("utf-8"))
        keys = {kid: decode_key(b64, f"{path}: key '{kid}'") for kid, b64 in doc["keys"].items()}
        current = doc["current"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyConfigError(f"cannot read the field-key file {path}: {exc}") from exc
    if current not in keys:
        raise KeyConfigError(f"{path}: the current key '{current}' is not among its keys")
    index = decode_key(doc["index_key"], f"{path}: index_key") if doc.get("index_key") else keys[current]
    return KeyRing(current, keys, index, str(path))


def write_key_file(path: Path, ring: KeyRing, *, create: bool = False) -> None:
    """Write atomically with mode 0600; `create` fails if another process made the file first."""
    doc = {
        "current": ring.current,
        "keys": {kid: encode_key(k) for kid, k in ring.keys.items()},
        "index_key": encode_key(ring.index_secret),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    try:
        if create:
            os.link(tmp, path)  # atomic and exclusive: two workers starting together agree on one key
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_key_file(path: Path) -> KeyRing:
    if not path.exists():
        try:
            write_key_file(path, KeyRing("k1", {"k1": new_key()}, new_key(), str(path)), create=True)
            log.warning("generated the field-encryption key file %s: back it up, encrypted data needs it", path)
        except FileExistsError:
            pass  # another process generated it a moment ago: use theirs
    return read_key_file(path)


def add_key(path: Path) -> KeyRing:
    """A new current key in the key file (k1, k2, ...); earlier keys stay until retired."""
    ring = read_key_file(path)
    numbers = [int(k[1:]) for k in ring.keys if re.fullmatch(r"k\d+", k)]
    kid = f"k{max(numbers, default=0) + 1}"
    while kid in ring.keys:
        kid += "x"
    updated = KeyRing(kid, {**ring.keys, kid: new_key()}, ring.index_secret, ring.origin)
    write_key_file(path, updated)
    return updated


def drop_key(path: Path, kid: str) -> KeyRing:
    ring = read_key_file(path)
    if kid == ring.current:
        raise KeyConfigError(f"'{kid}' is the current key; rotate to a new key first")
    if kid not in ring.keys:
        raise KeyConfigError(f"there is no key '{kid}' in {path}")
    updated = KeyRing(ring.current, {k: v for k, v in ring.keys.items() if k != kid}, ring.index_secret, ring.origin)
    write_key_file(path, updated)
    return updated


class KeyProvider:
    """The key ring of a running process.

    With a key file it follows the file (checked at most once a second, and at once when a value
    names an unknown key), so servers pick up a rotation made by `tessera keys rotate` beside them
    and encrypt new values with the new key before the old one is retired.
    """

    def __init__(self, settings: Settings):
        if not settings.field_key and (settings.field_keys_old or settings.field_index_key):
            raise KeyConfigError(
                "TESSERA_FIELD_KEYS_OLD or TESSERA_FIELD_INDEX_KEY is set without TESSERA_FIELD_KEY: "
                "set the current key too, or unset them to use the key file"
            )
        self.key_file: Path | None = None if settings.field_key else settings.data_dir / KEY_FILE
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp: tuple = ()
        if self.key_file is None:
            self._ring = ring_from_settings(settings)
        else:
            self._ring = load_or_create_key_file(self.key_file)
            self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple:
        assert self.key_file is not None
        st = self.key_file.stat()
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def ring(self) -> KeyRing:
        if self.key_file is not None and time.monotonic() - self._checked >= 1.0:
            self._checked = time.monotonic()
            if self._file_stamp() != self._stamp:
                return self.reload()
        return self._ring

    def reload(self) -> KeyRing:
        if self.key_file is not None:
            with self._lock:
                self._stamp = self._file_stamp()
                self._ring = read_key_file(self.key_file)
        return self._ring


# stored values -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EncryptedColumn:
    """A column holding ciphertext: a live sensitive field, or one kept in an archive."""

    table: str
    column: str
    ad: str
    """The associated data the values were sealed with: '<table>.<field>' at the time of writing."""
    field: Field | None = None
    """Set for live fields, whose blind index is kept beside them."""

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"


_ARCHIVED_TABLE = re.compile(r"^arch_\d{14}_(e_[a-z0-9_]+)$")


def encrypted_columns(conn: Connection, entities: Iterable[Entity]) -> list[EncryptedColumn]:
    """Every column that holds ciphertext: live sensitive fields, archived columns and archived tables.

    Archives count because no data may be lost on field removal (PL-23): their values are rotated
    too, or the old key could never be retired.
    """
    from runtime.storage import platform_tables as pt

    out: list[EncryptedColumn] = []
    for entity in entities:
        tables = [(entity.table_name, entity.fields)] + [
            (entity.child_table_name(f), f.children) for f in entity.fields if f.type == "child_table"
        ]
        for table, fields in tables:
            out += [EncryptedColumn(table, f.name, f"{table}.{f.name}", f) for f in fields if is_encrypted(f)]
    archived = conn.execute(sa.select(pt.archived_columns).where(pt.archived_columns.c.purged_at.is_(None)))
    for row in archived:
        spec = row.field_spec or {}
        if spec.get("sensitive") and spec.get("type") in ENCRYPTABLE_TYPES:
            out.append(EncryptedColumn(row.table_name, row.column_name, f"{row.table_name}.{row.field_name}"))
    inspector = sa.inspect(conn)
    for table in inspector.get_table_names():
        match = _ARCHIVED_TABLE.match(table)
        if not match:
            continue
        for col in inspector.get_columns(table):
            if isinstance(col["type"], sa.String) and _holds_ciphertext(conn, table, col["name"]):
                out.append(EncryptedColumn(table, col["name"], f"{match.group(1)}.{col['name']}"))
    return out


def _holds_ciphertext(conn: Connection, table: str, column: str) -> bool:
    t = sa.table(table, sa.column(column))
    q = sa.select(sa.literal(1)).select_from(t).where(t.c[column].like("v1:%:%")).limit(1)
    return conn.execute(q).first() is not None


def _key_id_expr(col: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """The key id inside 'v1:<key_id>:<data>', computed by the database so status needs no row transfer."""
    if dialect == "postgresql":
        kid = sa.func.split_part(col, ":", 2)
    else:
        rest = sa.func.substr(col, 4)
        kid = sa.func.substr(rest, 1, sa.func.instr(rest, ":") - 1)
    return sa.case((col.like("v1:%:%"), kid), else_=sa.literal("(not encrypted)"))


def key_usage(conn: Connection, columns: list[EncryptedColumn]) -> dict[str, dict[str, int]]:
    """Per column, how many values each key encrypts ('(not encrypted)' for anything else)."""
    out: dict[str, dict[str, int]] = {}
    for c in columns:
        t = sa.table(c.table, sa.column(c.column))
        kid = _key_id_expr(t.c[c.column], conn.dialect.name).label("kid")
        q = sa.select(kid, sa.func.count()).where(t.c[c.column].is_not(None)).group_by(kid)
        out[c.name] = {k: n for k, n in conn.execute(q)}
    if sa.inspect(conn).has_table(AUDIT_TABLE):
        counts: dict[str, int] = {}
        for _, changes in conn.execute(_audit_rows(None, 0)):
            for token in _tokens(changes):
                kid = _key_id(token)
                counts[kid] = counts.get(kid, 0) + 1
        out[AUDIT_NAME] = counts
    return out


@dataclass
class RotationCount:
    rotated: int = 0
    current: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)


def rotate_values(
    db: Database,
    columns: list[EncryptedColumn],
    cipher: FieldCipher,
    *,
    batch: int = 500,
    progress: Callable[[str, RotationCount], None] | None = None,
) -> dict[str, RotationCount]:
    """Re-encrypt every value not under the current key, and recompute its blind index.

    One transaction per table, rows in batches by id. Each update is guarded by the value it read,
    so a record saved meanwhile by a running server is never overwritten with stale data (it was
    written with the current key anyway, or is caught by the next run). Values that cannot be
    decrypted are left as they are and reported: the old key then stays needed.
    """
    from runtime.security.crypto import DecryptError, normalise

    counts: dict[str, RotationCount] = {}
    by_table: dict[str, list[EncryptedColumn]] = {}
    for c in columns:
        by_table.setdefault(c.table, []).append(c)
    for table, cols in by_table.items():
        with db.write() as conn:
            for c in cols:
                count = counts[c.name] = RotationCount()
                extra = [sa.column(blind_index_column(c.column))] if c.field is not None else []
                t = sa.table(table, sa.column("id"), sa.column(c.column), *extra)
                col, last = t.c[c.column], None
                while True:
                    q = sa.select(t.c.id, col).where(col.is_not(None)).order_by(t.c.id).limit(batch)
                    rows = conn.execute(q if last is None else q.where(t.c.id > last)).all()
                    if not rows:
                        break
                    last = rows[-1][0]
                    current = cipher.keys.ring().current
                    updates = []
                    for rid, token in rows:
                        if cipher.key_id(token) == current:
                            count.current += 1
                            continue
                        try:
                            plain = cipher.decrypt(token, c.ad)
                        except DecryptError as exc:
                            count.failed += 1
                            count.failures.append(f"{c.name} #{rid}: {exc}")
                            continue
                        update = {"rot_id": rid, "rot_old": token, "rot_new": cipher.encrypt(plain, c.ad)}
                        if c.field is not None:
                            update["rot_bidx"] = cipher.blind_index(c.ad, normalise(c.field, plain))
                        updates.append(update)
                    if updates:
                        values = {c.column: sa.bindparam("rot_new")}
                        if c.field is not None:
                            values[blind_index_column(c.column)] = sa.bindparam("rot_bidx")
                        stmt = sa.update(t).where(t.c.id == sa.bindparam("rot_id"), col == sa.bindparam("rot_old"))
                        conn.execute(stmt.values(**values), updates)
                        count.rotated += len(updates)
                if progress:
                    progress(c.name, count)
    counts[AUDIT_NAME] = _rotate_audit(db, cipher, batch)
    return counts


# the audit trail -----------------------------------------------------------------------------------
# It keeps before/after values of sensitive fields as ciphertext inside its JSON (runtime.audit), with
# empty associated data; they are counted and rotated with the rest so that retiring a key never
# makes history unreadable.
AUDIT_TABLE, AUDIT_NAME = "tessera_audit", "tessera_audit.changes"
_AUDIT = sa.table(AUDIT_TABLE, sa.column("id"), sa.column("changes", sa.JSON))


def _audit_rows(last: int | None, batch: int) -> sa.Select:
    q = sa.select(_AUDIT.c.id, _AUDIT.c.changes).where(sa.cast(_AUDIT.c.changes, sa.Text).like("%v1:%"))
    q = q.order_by(_AUDIT.c.id)
    q = q if last is None else q.where(_AUDIT.c.id > last)
    return q.limit(batch) if batch else q


def _key_id(token: str) -> str:
    return token.split(":", 2)[1]


def _tokens(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if re.match(r"^v1:[^:]+:", value) else []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [t for v in items for t in _tokens(v)]


def _rewrap(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value) if re.match(r"^v1:[^:]+:", value) else value
    if isinstance(value, dict):
        return {k: _rewrap(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrap(v, fn) for v in value]
    return value


def _rotate_audit(db: Database, cipher: FieldCipher, batch: int) -> RotationCount:
    """Audit rows are never changed otherwise, so a plain rewrite of the JSON is safe."""
    count, last = RotationCount(), None
    with db.write() as conn:
        if not sa.inspect(conn).has_table(AUDIT_TABLE):
            return count
        while rows := conn.execute(_audit_rows(last, batch)).all():
            last = rows[-1][0]
            current = cipher.keys.ring().current
            for rid, changes in rows:
                before = count.rotated
                rotate = functools.partial(_rotate_token, cipher, current, count, f"{AUDIT_NAME} #{rid}")
                rewritten = _rewrap(changes, rotate)
                if count.rotated != before:
                    conn.execute(sa.update(_AUDIT).where(_AUDIT.c.id == rid).values(changes=rewritten))
    return count


def _rotate_token(cipher: FieldCipher, current: str, count: RotationCount, where: str, token: str) -> str:
    from runtime.security.crypto import DecryptError

    if _key_id(token) == current:
        count.current += 1
        return token
    try:
        new = cipher.encrypt(cipher.decrypt(token))
    except DecryptError as exc:
        count.failed += 1
        count.failures.append(f"{where}: {exc}")
        return token
    count.rotated += 1
    return new
