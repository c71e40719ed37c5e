"""Who is acting, through which channel: carried into every records-service call for permissions,
audit and messages in the user's language."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

CHANNELS = ("ui", "api", "import", "workflow", "rule", "system", "his")


@dataclass(frozen=True)
class Context:
    user_id: int | None = None
    channel: str = "system"
    lang: str = "zh"
    is_admin: bool = False
    department_id: int | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    roles: tuple[str, ...] | None = None
    """Restrict the user's rights to these roles (API tokens scoped to roles); None = all their roles."""
    organisation: str | None = None
    """The user's hospital/organisation when known to the caller; permissions read it from the database."""

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel}")

    @property
    def may_write_read_only(self) -> bool:
        """Rules, workflows, the system and the HIS interface fill read-only fields; people do not."""
        return self.channel in ("workflow", "rule", "system", "his")


SYSTEM = Context(channel="system", lang="en", is_admin=True)
