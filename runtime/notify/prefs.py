"""Per-user channel preferences: which channels a user wants for which kind of notification.

Resolution for (user, kind, channel): the user's row for that kind, else their row for every kind
("*"), else the channels of their profile (tessera_users.notify_channels) when set, else the platform
default (in-app and e-mail on, SMS and group robot off). A caller naming channels explicitly still
respects a user's explicit "off".
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.notify.channels import CHANNELS
from runtime.notify.tables import notify_prefs

ALL_KINDS = "*"
DEFAULTS = {"in_app": True, "email": True, "sms": False, "webhook": False}


def stored(conn: Connection, user_id: int) -> dict[tuple[str, str], bool]:
    rows = conn.execute(sa.select(notify_prefs).where(notify_prefs.c.user_id == user_id)).all()
    return {(r.kind, r.channel): bool(r.enabled) for r in rows}


def wanted(
    prefs: dict[tuple[str, str], bool], profile_channels: Iterable[str] | None, kind: str, channel: str
) -> bool | None:
    """True/False from an explicit row; None when the user never chose (the caller's default applies)."""
    for k in (kind, ALL_KINDS):
        if (k, channel) in prefs:
            return prefs[(k, channel)]
    return None


def channels_for(
    prefs: dict[tuple[str, str], bool],
    profile_channels: list[str] | None,
    kind: str,
    requested: list[str] | None,
) -> dict[str, bool]:
    """{channel: send?} for one user: requested channels (or all), each decided by the rules above."""
    out: dict[str, bool] = {}
    for channel in requested if requested is not None else CHANNELS:
        explicit = wanted(prefs, profile_channels, kind, channel)
        if explicit is not None:
            out[channel] = explicit
        elif requested is not None:
            out[channel] = True
        elif profile_channels:
            out[channel] = channel in profile_channels
        else:
            out[channel] = DEFAULTS.get(channel, False)
    return out


def effective(conn: Connection, user: Any, kinds: list[str]) -> dict[str, dict[str, bool]]:
    """The preference grid of the account page: {kind: {channel: on?}} with defaults filled in."""
    prefs = stored(conn, user.id)
    return {kind: channels_for(prefs, list(user.notify_channels or []), kind, None) for kind in kinds}


def save(conn: Connection, user_id: int, grid: dict[str, dict[str, bool]], now: datetime) -> None:
    """Replace the user's rows with the grid they submitted (every kind × channel, on or off)."""
    conn.execute(sa.delete(notify_prefs).where(notify_prefs.c.user_id == user_id))
    rows = [
        {"user_id": user_id, "kind": kind, "channel": channel, "enabled": bool(on), "updated_at": now}
        for kind, channels in grid.items()
        for channel, on in channels.items()
        if channel in CHANNELS
    ]
    if rows:
        conn.execute(sa.insert(notify_prefs), rows)
