"""What every people-administration page shares: the admin check, crumbs, tree options, error wording.

Pages build the people service exactly as the API does (:meth:`PeopleAdmin.for_admin`): the same
'admin' right is checked (403 page for anyone else, login redirect for anonymous visitors) and the
same operator is named in the operation log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from runtime.api.deps import client_ip
from runtime.api.deps import tessera as get_tessera
from runtime.identity.users import User
from runtime.permissions.admin import PeopleAdmin, Refused
from runtime.records import Context
from runtime.services import Tessera
from runtime.validation.errors import FieldError
from ui.i18n import MESSAGES, t
from ui.session import require_user, ui_context
from ui.templating import Crumb

SECTIONS = (
    ("users", "/admin/users", "bi-people"),
    ("departments", "/admin/departments", "bi-diagram-3"),
    ("roles", "/admin/roles", "bi-shield-lock"),
    ("import", "/admin/users/import", "bi-upload"),
)


@dataclass
class AdminPage:
    """The signed-in administrator, their context and the people service, for one request."""

    user: User
    ctx: Context
    admin: PeopleAdmin
    app: Tessera

    @property
    def lang(self) -> str:
        return self.ctx.lang

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)

    def admin_label(self, section: str) -> str:
        """The name of one people page ("用户管理") for crumbs."""
        return t(self.lang, f"people.section.{section}")


def admin_page(request: Request) -> AdminPage:
    """Sign-in required (redirect), then the 'admin' right (403 page) — checked before anything is read."""
    user = require_user(request)
    ctx = ui_context(request, user)
    app = get_tessera(request)
    admin = PeopleAdmin.for_admin(app, ctx, username=user.username, ip=client_ip(request))
    return AdminPage(user, ctx, admin, app)


def crumbs(lang: str, *tail: Crumb) -> list[Crumb]:
    return [Crumb(t(lang, "nav.home"), "/"), Crumb(t(lang, "nav.system_admin"), "/admin"), *tail]


def section_tabs(lang: str, active: str) -> list[dict[str, Any]]:
    """The sub-navigation shown above every people page."""
    return [
        {"key": key, "href": href, "icon": icon, "label": t(lang, f"people.section.{key}"), "active": key == active}
        for key, href, icon in SECTIONS
    ]


def department_options(tree: list[dict[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    """The tree flattened in display order, with depth for indented <option>s."""
    out: list[dict[str, Any]] = []
    for node in tree:
        out.append({"value": str(node["id"]), "label": node["name"], "depth": depth, "code": node.get("code")})
        out.extend(department_options(node.get("children", []), depth + 1))
    return out


def role_choices(app: Tessera, lang: str) -> list[dict[str, Any]]:
    from runtime.blueprints.model import label_text

    return [
        {
            "value": role.id,
            "label": role.label_in(lang),
            "description": label_text(role.description, lang) if role.description else "",
        }
        for role in sorted(app.registry.roles.values(), key=lambda r: r.id)
    ]


# error wording ------------------------------------------------------------------------------------
def error_text(lang: str, field: str, code: str, message: str, **params: Any) -> str:
    """The runtime's per-field message in the page language: a catalogue entry for the field and code,
    else for the code, else the runtime's own words (English, or already localised like password rules)."""
    for key in (f"people.err.{field}.{code}", f"people.err.{code}"):
        if key in MESSAGES:
            return t(lang, key, **params)
    return message


def field_errors(
    errors: Iterable[FieldError | dict[str, Any]], lang: str, values: dict[str, Any] | None = None
) -> dict[str, list[str]]:
    """field -> messages, in the page language; ``values`` fills in {value} (e.g. the duplicate username)."""
    out: dict[str, list[str]] = {}
    for e in errors:
        field, code, message = (
            (e.field, e.code, e.message) if isinstance(e, FieldError) else (e["field"], e["code"], e["message"])
        )
        value = (values or {}).get(field, "")
        out.setdefault(field, []).append(error_text(lang, field, code, message, value=value))
    return out


def refusal_text(lang: str, exc: Exception) -> str:
    """A Conflict the runtime refused with a reason (department in use, shipped role...) in the page language."""
    if isinstance(exc, Refused):
        key = f"people.refused.{exc.reason}"
        if key in MESSAGES:
            params = {k: ", ".join(v) if isinstance(v, list) else v for k, v in exc.params.items()}
            return t(lang, key, **params)
    return getattr(exc, "message", str(exc))
