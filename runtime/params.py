"""System parameters and module switches (PL-22).

Every parameter is declared in code with its type, default, bounds and label; the database
(``tessera_params``) only holds the values an administrator changed. Reading a parameter never
fails: an unset (or unreadable) value falls back to its declared default.

Module switches are parameters too: ``module.<pack_id>`` is on unless switched off. A switched-off
module disappears from menus and its records API answers 404.

Values are cached per process and re-read at most once per ``ttl`` seconds, so every worker sees
another worker's change within that time; a change made in this process is visible at once.
Other parts of the platform declare their own parameters with ``declare(Param(...))`` at import.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from runtime.clock import Clock, SystemClock
from runtime.errors import NotFound, RecordInvalid
from runtime.oplog import Actor, record_operation
from runtime.storage.database import Database
from runtime.storage.platform_tables import params as params_table
from runtime.validation.errors import FieldError

log = logging.getLogger("tessera.params")

MODULE_PREFIX = "module."
_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "text"}
_TYPE_NAMES_ZH = {bool: "布尔值", int: "整数", float: "数字", str: "文本"}


def _has_type(value: Any, kind: type) -> bool:
    """JSON types, strictly: true is not the number 1, and 5.0 is not an integer."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


@dataclass(frozen=True)
class Param:
    key: str
    type: type
    default: Any
    label: dict[str, str] = field(default_factory=dict)
    min: float | None = None
    """Lowest number, or shortest text."""
    max: float | None = None
    """Highest number, or longest text."""
    choices: tuple[Any, ...] | None = None
    description: dict[str, str] = field(default_factory=dict)
    """One or two sentences per language: what the parameter changes, for the settings page."""
    secret: bool = False
    """A credential (a gateway token, a webhook signing secret): stored encrypted with the field cipher,
    never shown or returned again (only whether it is set), and logged as changed without its value."""

    def check(self, value: Any, lang: str = "en") -> Any:
        """The value to store, or RecordInvalid naming what is wrong."""
        zh = lang == "zh"
        if not _has_type(value, self.type):
            got = "null" if value is None else type(value).__name__
            msg = f"必须是{_TYPE_NAMES_ZH[self.type]}" if zh else f"must be a {_TYPE_NAMES[self.type]}, not {got}"
            raise RecordInvalid([FieldError("value", msg, "type")])
        if self.type is float:
            value = float(value)
            if not math.isfinite(value):
                raise RecordInvalid(
                    [FieldError("value", "必须是有限数字" if zh else "must be a finite number", "type")]
                )
        if self.type is str and "\x00" in value:
            raise RecordInvalid(
                [FieldError("value", "包含空字符" if zh else "contains a NUL character", "nul_character")]
            )
        if self.type is not bool:
            size = len(value) if self.type is str else value
            unit = ("个字符" if zh else " characters") if self.type is str else ""
            if self.min is not None and size < self.min:
                msg = f"至少 {self.min:g}{unit}" if zh else f"must be at least {self.min:g}{unit}"
                raise RecordInvalid([FieldError("value", msg, "minimum")])
            if self.max is not None and size > self.max:
                msg = f"至多 {self.max:g}{unit}" if zh else f"must be at most {self.max:g}{unit}"
                raise RecordInvalid([FieldError("value", msg, "maximum")])
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(str(c) for c in self.choices)
            msg = f"必须是 {allowed} 之一" if zh else f"must be one of {allowed}"
            raise RecordInvalid([FieldError("value", msg, "enum")])
        return value

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "type": _TYPE_NAMES[self.type], "default": self.default}
        out["label"] = self.label
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.choices is not None:
            out["choices"] = list(self.choices)
        if self.description:
            out["description"] = self.description
        if self.secret:
            out["secret"] = True
            out["default"] = ""
        return out


DECLARED: dict[str, Param] = {}


def declare(param: Param) -> Param:
    """Add a parameter; its default must pass its own checks."""
    if param.key.startswith(MODULE_PREFIX):
        raise ValueError("module.* keys are module switches, not declared parameters")
    if param.type not in _TYPE_NAMES:
        raise ValueError(f"parameter {param.key}: unsupported type {param.type}")
    param.check(param.default)
    DECLARED[param.key] = param
    return param


declare(
    Param(
        "site.name",
        str,
        "Tessera",
        {"zh": "站点名称", "en": "Site name"},
        min=1,
        max=100,
        description={
            "zh": "显示在浏览器标题和通知中的系统名称。",
            "en": "The system's name as shown in browser titles and notifications.",
        },
    )
)
declare(
    Param(
        "login.max_failures",
        int,
        5,
        {"zh": "锁定前允许的连续登录失败次数", "en": "Failed logins before the account is locked"},
        min=1,
        max=100,
        description={
            "zh": "同一账户连续输错密码达到此次数后被临时锁定，防止暴力猜测密码。",
            "en": "An account is locked for a while after this many wrong passwords in a row, against guessing.",
        },
    )
)
declare(
    Param(
        "login.lockout_minutes",
        int,
        15,
        {"zh": "账户锁定时长（分钟）", "en": "Lockout duration (minutes)"},
        min=1,
        max=1440,
        description={
            "zh": "账户被锁定后需等待多少分钟才能再次尝试登录。",
            "en": "How many minutes a locked account must wait before it may try to sign in again.",
        },
    )
)


def module_key(pack_id: str) -> str:
    return MODULE_PREFIX + pack_id


def module_param(pack_id: str) -> Param:
    return Param(module_key(pack_id), bool, True, {"zh": f"模块 {pack_id}", "en": f"Module {pack_id}"})


def _logged(p: Param, old: Any, new: Any) -> list[Any]:
    """[old, new] for the operation log and the caller; a secret's values are never written there."""
    if not p.secret:
        return [old, new]
    return ["(set)" if old else "(empty)", "(set)" if new else "(empty)"]


class Params:
    def __init__(self, db: Database, *, clock: Clock | None = None, ttl: float = 1.0, cipher: Any = None):
        self.db = db
        self.clock = clock or SystemClock()
        self.cipher = cipher
        """runtime.security.crypto.FieldCipher for secret parameters (None: they are stored as typed)."""
        self.ttl = ttl
        self._lock = threading.Lock()
        self._rows: dict[str, dict[str, Any]] | None = None
        self._loaded_at = 0.0

    # reading --------------------------------------------------------------------------------------
    def param(self, key: str) -> Param:
        if key.startswith(MODULE_PREFIX) and len(key) > len(MODULE_PREFIX):
            return module_param(key[len(MODULE_PREFIX) :])
        p = DECLARED.get(key)
        if p is None:
            raise NotFound(f"unknown system parameter '{key}'")
        return p

    def get(self, key: str) -> Any:
        p = self.param(key)
        row = self._stored().get(key)
        if row is None:
            return p.default
        value = self._open(p, row["value"]) if p.secret else row["value"]
        try:
            return p.check(value)
        except RecordInvalid:
            return p.default  # a value stored under older rules that no longer fit: use the default

    def _open(self, p: Param, stored: Any) -> Any:
        if self.cipher is None or not isinstance(stored, str) or self.cipher.key_id(stored) is None:
            return stored  # stored before it was secret, or no cipher in this process
        try:
            return self.cipher.decrypt(stored, f"param:{p.key}")
        except Exception:  # noqa: BLE001 - a lost key must not break every page: the default applies
            log.warning("the secret parameter %s cannot be decrypted; using its default", p.key)
            return p.default

    def _seal(self, p: Param, value: Any) -> Any:
        if not p.secret or self.cipher is None or value == "":
            return value
        return self.cipher.encrypt(value, f"param:{p.key}")

    def is_set(self, key: str) -> bool:
        return self.get(key) not in ("", None)

    def all(self) -> list[dict[str, Any]]:
        """Every declared parameter with its current value (module switches: ``module_enabled``)."""
        stored = self._stored()
        out = []
        for key in sorted(DECLARED):
            out.append(self._describe(DECLARED[key], stored.get(key)))
        return out

    def describe(self, key: str) -> dict[str, Any]:
        return self._describe(self.param(key), self._stored().get(key))

    def _describe(self, p: Param, row: dict[str, Any] | None) -> dict[str, Any]:
        secret = {"is_set": self.is_set(p.key)} if p.secret else {}
        return {
            **p.describe(),
            **secret,
            "value": "" if p.secret else self.get(p.key),
            "updated_at": row["updated_at"].isoformat(timespec="seconds") if row else None,
            "updated_by": row["updated_by"] if row else None,
        }

    def module_enabled(self, pack_id: str) -> bool:
        return bool(self.get(module_key(pack_id)))

    # writing --------------------------------------------------------------------------------------
    def set(self, key: str, value: Any, *, actor_id: int | None = None, lang: str = "en") -> Any:
        """Validate and store; returns the stored value. Raises NotFound or RecordInvalid."""
        p = self.param(key)
        value = p.check(value, lang)
        now = self.clock.now()
        row = {"key": key, "value": self._seal(p, value), "updated_at": now, "updated_by": actor_id}
        insert = (postgresql if self.db.dialect == "postgresql" else sqlite).insert(params_table).values(**row)
        stmt = insert.on_conflict_do_update(
            index_elements=[params_table.c.key],
            set_={"value": insert.excluded.value, "updated_at": now, "updated_by": actor_id},
        )
        with self.db.write() as conn:
            conn.execute(stmt)
        self.invalidate()
        return value

    def set_module(
        self, pack_id: str, enabled: bool, *, actor_id: int | None = None, lang: str = "en", by: Actor | None = None
    ) -> bool:
        """Switch a module on or off; with ``by``, a real switch is written to the operation log."""
        old = self.module_enabled(pack_id)
        new = self.set(module_key(pack_id), enabled, actor_id=by.user_id if by else actor_id, lang=lang)
        if by is not None and old != new:
            self._log(by, {"module": pack_id, "enabled": [old, new]})
        return new

    def reset(self, key: str, *, by: Actor | None = None) -> None:
        """Back to the declared default; with ``by``, a change of value is written to the operation log."""
        p = self.param(key)
        old = self.get(key)
        with self.db.write() as conn:
            conn.execute(sa.delete(params_table).where(params_table.c.key == key))
        self.invalidate()
        if by is not None and old != p.default:
            self._log(by, {"params": {key: _logged(p, old, p.default)}})

    def problems(self, values: dict[str, Any], lang: str = "en") -> list[FieldError]:
        """Every problem of a set of new values, each named by its parameter key (unknown keys too)."""
        errors: list[FieldError] = []
        for key, value in values.items():
            try:
                self.param(key).check(value, lang)
            except NotFound as exc:
                errors.append(FieldError(key, exc.message, "unknown"))
            except RecordInvalid as exc:
                errors += [FieldError(key, e.message, e.code) for e in exc.errors]
        return errors

    def change(self, values: dict[str, Any], *, by: Actor, lang: str = "en") -> dict[str, list[Any]]:
        """Set several parameters at once, as an administrator does from the API or the settings page.

        All values are checked before any is stored (RecordInvalid names each bad key, nothing is
        stored); the values that really changed are written to the operation log as one
        ``param_change`` entry and returned as ``{key: [old, new]}``.
        """
        errors = self.problems(values, lang)
        if errors:
            raise RecordInvalid(errors)
        changed: dict[str, list[Any]] = {}
        for key, value in values.items():
            old = self.get(key)
            new = self.set(key, value, actor_id=by.user_id, lang=lang)
            if old != new:
                changed[key] = _logged(self.param(key), old, new)
        if changed:
            self._log(by, {"params": changed})
        return changed

    def _log(self, by: Actor, detail: dict[str, Any]) -> None:
        record_operation(self.db, "param_change", **by.fields(), detail=detail, at=self.clock.now())

    # cache ----------------------------------------------------------------------------------------
    def invalidate(self) -> None:
        with self._lock:
            self._rows = None

    def _stored(self) -> dict[str, dict[str, Any]]:
        rows = self._rows
        if rows is not None and time.monotonic() - self._loaded_at < self.ttl:
            return rows
        try:
            with self.db.read() as conn:
                fresh = {r["key"]: dict(r) for r in conn.execute(sa.select(params_table)).mappings()}
        except sa.exc.SQLAlchemyError:
            log.warning(
                "system parameters could not be read; using %s", "the last known values" if rows else "defaults"
            )
            return rows or {}  # never cached: the next call tries again
        with self._lock:
            self._rows = fresh
            self._loaded_at = time.monotonic()
        return fresh

    # menus ----------------------------------------------------------------------------------------
    def enabled_menus(self, registry: Any) -> list[dict[str, Any]]:
        """``registry.menus()`` without the menus of switched-off modules (for the UI's navigation)."""
        return [item for pack in registry.packs.values() if self.module_enabled(pack.id) for item in pack.menus]
