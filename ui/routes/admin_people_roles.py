"""Roles: the list (shipped by which pack, custom, customised), the permission matrix editor, reset and delete.

Saving goes through PeopleAdmin.update_role, the same function the API uses: it validates the role
document, stores the override, reloads the registry so every worker sees it, and writes the
before/after to the operation log.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from runtime.blueprints.model import label_text
from runtime.errors import Conflict, NotFound, RecordInvalid
from runtime.permissions.model import ACTIONS, RIGHTS, SCOPES, Role, role_from_document
from ui.routes.admin_people_common import AdminPage, admin_page, crumbs, field_errors, refusal_text, section_tabs
from ui.routes.admin_people_matrix import LEVELS, matrix, permissions_from_post
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/roles"


def _role_id(raw: str) -> str:
    if not raw or len(raw) > 40 or not raw.isascii():
        raise NotFound(f"no role '{raw[:40]}'")
    return raw


@router.get(BASE)
def roles_page(request: Request) -> Response:
    page = admin_page(request)
    holders = page.admin.role_holders()
    roles = page.admin.list_roles()
    labels = {r["id"]: label_text(r["label"], page.lang) for r in roles}
    for r in roles:
        r["name"] = labels[r["id"]]
        r["description_text"] = label_text(r.get("description"), page.lang)
        r["parent_name"] = labels.get(r.get("parent") or "", "")
        r["holders"] = holders.get(r["id"], 0)
    return render(
        request,
        "admin/people/roles.html",
        page.user,
        crumbs=crumbs(page.lang, Crumb(page.admin_label("roles"))),
        page_title="people.roles.title",
        tabs=section_tabs(page.lang, "roles"),
        roles=roles,
    )


@router.get(BASE + "/new")
def new_role(request: Request) -> Response:
    page = admin_page(request)
    return _new_page(request, page, {}, {})


@router.post(BASE + "/new")
async def create_role(request: Request) -> Response:
    page = admin_page(request)
    post = await request.form()
    typed = {k: v.strip() for k, v in post.items() if isinstance(v, str) and k != "csrf_token"}
    doc = _head(post)
    doc["id"] = typed.get("id", "")
    doc["permissions"] = []
    try:
        role = page.admin.create_role(doc)
    except RecordInvalid as exc:
        return _new_page(request, page, typed, field_errors(exc.errors, page.lang, typed), status=422)
    except Conflict:
        errors = {"id": [page.t("people.err.id.exists", value=doc["id"])]}
        return _new_page(request, page, typed, errors, status=422)
    flash(request, "success", page.t("people.role.created", name=label_text(role["label"], page.lang)))
    return RedirectResponse(f"{BASE}/{role['id']}", status_code=303)


@router.get(BASE + "/{role_id}")
def role_page(role_id: str, request: Request) -> Response:
    page = admin_page(request)
    role = page.app.registry.roles.get(_role_id(role_id))
    if role is None:
        raise NotFound(f"no role '{role_id[:40]}'")
    return _role_page(request, page, role, {})


@router.post(BASE + "/{role_id}")
async def save_role(role_id: str, request: Request) -> Response:
    page = admin_page(request)
    ident = _role_id(role_id)
    existing = page.app.registry.roles.get(ident)
    if existing is None:
        raise NotFound(f"no role '{ident}'")
    post = await request.form()
    doc = {"id": ident, **_head(post), "permissions": permissions_from_post(post, page.app.registry)}
    try:
        page.admin.update_role(ident, doc)
    except RecordInvalid as exc:
        shown = role_from_document({**doc, "label": doc.get("label") or ""}, pack_id=existing.pack_id)
        return _role_page(request, page, shown, field_errors(exc.errors, page.lang), status=422)
    flash(request, "success", page.t("people.role.saved", name=label_text(doc.get("label"), page.lang)))
    return RedirectResponse(f"{BASE}/{ident}", status_code=303)


@router.post(BASE + "/{role_id}/reset")
async def reset_role(role_id: str, request: Request) -> Response:
    page = admin_page(request)
    ident = _role_id(role_id)
    try:
        role = page.admin.reset_role(ident)
    except Conflict as exc:
        return _refused(request, page, ident, exc)
    flash(request, "success", page.t("people.role.reset_done", name=label_text(role["label"], page.lang)))
    return RedirectResponse(f"{BASE}/{ident}", status_code=303)


@router.post(BASE + "/{role_id}/delete")
async def delete_role(role_id: str, request: Request) -> Response:
    page = admin_page(request)
    ident = _role_id(role_id)
    role = page.admin.get_role(ident)
    try:
        page.admin.delete_role(ident)
    except Conflict as exc:
        return _refused(request, page, ident, exc)
    flash(request, "success", page.t("people.role.deleted", name=label_text(role["label"], page.lang)))
    return RedirectResponse(BASE, status_code=303)


# helpers ----------------------------------------------------------------------------------------
def _label(post: FormData, name: str) -> Any:
    """{"zh": ..., "en": ...} from two inputs, None when both are empty; NUL is dropped (JSON columns refuse it)."""
    raw = {lang: post.get(f"{name}_{lang}") for lang in ("zh", "en")}
    texts = {k: v.replace("\x00", "").strip() for k, v in raw.items() if isinstance(v, str)}
    texts = {k: v for k, v in texts.items() if v}
    return texts or None


def _head(post: FormData) -> dict[str, Any]:
    """Label, description, parent and global rights from the role form."""
    doc: dict[str, Any] = {"label": _label(post, "label")}
    description = _label(post, "description")
    if description:
        doc["description"] = description
    parent = post.get("parent")
    if isinstance(parent, str) and parent:
        doc["parent"] = parent
    rights = [r for r in post.getlist("rights") if r in RIGHTS]
    if rights:
        doc["rights"] = rights
    return doc


def _texts(label: Any) -> dict[str, str]:
    if isinstance(label, dict):
        return {"zh": label.get("zh", ""), "en": label.get("en", "")}
    return {"zh": label or "", "en": ""}


def _parents(page: AdminPage, role_id: str | None) -> list[dict[str, str]]:
    """Roles that may be the parent (not the role itself, nor a role below it: that would be a cycle)."""
    roles = page.app.registry.roles
    below = set()
    if role_id:
        below = {r.id for r in roles.values() if _descends(r, role_id, roles)}
    return [
        {"value": r.id, "label": r.label_in(page.lang)}
        for r in sorted(roles.values(), key=lambda r: r.id)
        if r.id != role_id and r.id not in below
    ]


def _descends(role: Role, ancestor: str, roles: dict[str, Role]) -> bool:
    seen, current = set(), role.parent
    while current and current not in seen:
        if current == ancestor:
            return True
        seen.add(current)
        current = roles[current].parent if current in roles else None
    return False


def _new_page(
    request: Request, page: AdminPage, typed: dict[str, str], errors: dict[str, list[str]], *, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "admin/people/role_new.html",
        page.user,
        status=status,
        crumbs=crumbs(page.lang, Crumb(page.admin_label("roles"), BASE), Crumb(page.t("people.role.new_title"))),
        page_title="people.role.new_title",
        tabs=section_tabs(page.lang, "roles"),
        typed=typed,
        errors=errors,
        parents=_parents(page, None),
    )


def _refused(request: Request, page: AdminPage, role_id: str, exc: Conflict) -> HTMLResponse:
    role = page.app.registry.roles.get(role_id)
    if role is None:
        raise NotFound(f"no role '{role_id}'")
    return _role_page(request, page, role, {}, problem=refusal_text(page.lang, exc), status=409)


def _role_page(
    request: Request,
    page: AdminPage,
    role: Role,
    errors: dict[str, list[str]],
    *,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    stored = page.app.registry.roles.get(role.id, role)
    shipped = page.admin.get_role(role.id)["shipped"] if role.id in page.app.registry.roles else False
    name = role.label_in(page.lang) or role.id
    return render(
        request,
        "admin/people/role.html",
        page.user,
        status=status,
        crumbs=crumbs(page.lang, Crumb(page.admin_label("roles"), BASE), Crumb(name)),
        page_title="people.role.title",
        tabs=section_tabs(page.lang, "roles"),
        role=role,
        name=name,
        label=_texts(role.label),
        description=_texts(role.description),
        shipped=shipped,
        customised=stored.customised,
        rows=matrix(role, page.app.registry, page.lang),
        actions=ACTIONS,
        scopes=SCOPES,
        levels=LEVELS,
        rights=RIGHTS,
        parents=_parents(page, role.id),
        holders=page.admin.role_holders().get(role.id, 0),
        errors=errors,
        problem=problem,
    )
