"""Editing one's own profile: display name, e-mail, phone and preferred notification channels.

Only these fields: roles, department, organisation, administrator and active flags stay with the
administrators (runtime.permissions.admin). The rules match the administrators' screens (same
phone and e-mail formats, same channels), with messages in Chinese and English. Changing the
e-mail address also needs the current password, because the e-mail receives password-reset links:
otherwise a borrowed session could take the account over.

Every change leaves one audit-trail row (entity ``tessera_user``, the account id, ``update``) with
``{"field": [before, after]}``; e-mail and phone are personal data, so like sensitive record fields
they are stored as ``{"changed": true, "before": <ciphertext>, "after": <ciphertext>}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from runtime.errors import NotFound
from runtime.fields.formats import is_cn_phone, is_email
from runtime.identity.account import confirm_current_password
from runtime.identity.events import Caller
from runtime.identity.throttle import LoginGuard
from runtime.identity.users import User
from runtime.storage import platform_tables as pt

if TYPE_CHECKING:
    from runtime.services import Tessera

AUDIT_ENTITY = "tessera_user"
NOTIFY_CHANNELS = ("in_app", "email", "sms", "wechat")
"""The same channels the administrators' user form accepts (runtime.permissions.admin)."""
EDITABLE = ("display_name", "email", "phone", "notify_channels")
PERSONAL = frozenset({"email", "phone"})
LIMITS = {"display_name": 100, "email": 254, "phone": 32}

_MESSAGES = {
    "required": ("请填写此项", "this field is required"),
    "too_long": ("最多 {limit} 个字符", "at most {limit} characters"),
    "bad_text": ("包含无法保存的字符", "contains characters that cannot be stored"),
    "email": ("不是有效的邮箱地址", "is not a valid e-mail address"),
    "phone": ("不是有效的电话号码（手机 13812345678 或座机 010-12345678）", "is not a valid phone number"),
    "channel": ("未知的通知方式", "unknown notification channel"),
    "password_for_email": ("修改邮箱需要输入当前密码", "enter your current password to change the e-mail address"),
}


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    display_name: str
    email: str | None
    phone: str | None
    notify_channels: tuple[str, ...]


@dataclass
class ProfileInvalid(Exception):
    """Field -> messages for everything wrong with the submitted profile (nothing was written)."""

    errors: dict[str, list[str]] = field(default_factory=dict)


def _message(key: str, lang: str, **params: Any) -> str:
    zh, en = _MESSAGES[key]
    return (en if lang == "en" else zh).format(**params)


def get_profile(app: Tessera, user_id: int) -> Profile:
    with app.db.read() as conn:
        row = conn.execute(sa.select(pt.users).where(pt.users.c.id == user_id, pt.users.c.active.is_(True))).first()
    if row is None:
        raise NotFound(f"no user {user_id}")
    return Profile(row.id, row.username, row.display_name, row.email, row.phone, tuple(row.notify_channels or ()))


def _text(data: Mapping[str, Any], name: str, lang: str, errors: dict[str, list[str]]) -> str | None:
    raw = data.get(name)
    value = raw.strip() if isinstance(raw, str) else ""
    if not value:
        if name == "display_name":
            errors.setdefault(name, []).append(_message("required", lang))
        return None
    if "\x00" in value or not _encodable(value):
        errors.setdefault(name, []).append(_message("bad_text", lang))
    elif len(value) > LIMITS[name]:
        errors.setdefault(name, []).append(_message("too_long", lang, limit=LIMITS[name]))
    elif name == "email" and not is_email(value):
        errors.setdefault(name, []).append(_message("email", lang))
    elif name == "phone" and not is_cn_phone(value):
        errors.setdefault(name, []).append(_message("phone", lang))
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_profile(data: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Validated values of the editable fields present in ``data``; raises ProfileInvalid."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("display_name", "email", "phone"):
        if name in data:
            values[name] = _text(data, name, lang, errors)
    if "notify_channels" in data:
        channels = data["notify_channels"] or []
        if not isinstance(channels, list | tuple) or any(c not in NOTIFY_CHANNELS for c in channels):
            errors.setdefault("notify_channels", []).append(_message("channel", lang))
        else:
            values["notify_channels"] = [c for c in NOTIFY_CHANNELS if c in channels]
    if errors:
        raise ProfileInvalid(errors)
    return values


def update_own_profile(
    app: Tessera,
    user: User,
    values: Mapping[str, Any],
    *,
    caller: Caller,
    guard: LoginGuard,
    current_password: str | None,
    lang: str,
) -> Profile:
    """Write validated values (see :func:`clean_profile`) and audit what changed, in one transaction.
    A new e-mail address needs ``current_password`` (ProfileInvalid when missing; WrongCurrentPassword,
    AccountLocked or TooManyAttempts from the login guard when wrong)."""
    user_id = user.id
    before = get_profile(app, user_id)
    changes = {
        name: [getattr(before, name) if name != "notify_channels" else list(before.notify_channels), value]
        for name, value in values.items()
        if name in EDITABLE
    }
    changes = {name: pair for name, pair in changes.items() if pair[0] != pair[1]}
    if not changes:
        return before
    if "email" in changes:
        if not current_password:
            raise ProfileInvalid({"current_password": [_message("password_for_email", lang)]})
        confirm_current_password(guard, user, current_password, caller=caller, lang=lang)
    with app.db.write() as conn:
        conn.execute(
            sa.update(pt.users).where(pt.users.c.id == user_id).values(**{k: v[1] for k, v in changes.items()})
        )
        conn.execute(
            sa.insert(pt.audit).values(
                at=app.clock.now(),
                entity=AUDIT_ENTITY,
                record_id=user_id,
                action="update",
                actor_id=user_id,
                channel=caller.channel,
                request_id=(caller.request_id or None) and caller.request_id[:64],
                changes={name: _audited(app, name, pair) for name, pair in changes.items()},
            )
        )
    return get_profile(app, user_id)


def _audited(app: Tessera, name: str, pair: list[Any]) -> Any:
    if name not in PERSONAL:
        return pair
    entry: dict[str, Any] = {"changed": True}
    try:
        entry["before"], entry["after"] = (
            None if v is None else app.cipher.encrypt(json.dumps(v, ensure_ascii=False)) for v in pair
        )
    except Exception:  # noqa: BLE001 - no usable key: keep the marker, never the plain value
        entry = {"changed": True}
    return entry
