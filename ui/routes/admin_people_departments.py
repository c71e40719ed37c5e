"""The department tree: add (top level or under a department), rename, move, delete.

The runtime refuses what would break something — a move under the department itself or one of its
own sub-departments (cycle), deleting a department that still has sub-departments, users or
records — and the page says so next to the form that was used, in the user's language.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from runtime.errors import Conflict, RecordInvalid
from runtime.permissions.admin import parse_id
from ui.routes.admin_people_common import (
    AdminPage,
    admin_page,
    crumbs,
    department_options,
    field_errors,
    refusal_text,
    section_tabs,
)
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/departments"


@router.get(BASE)
def departments_page(request: Request) -> Response:
    page = admin_page(request)
    raw = request.query_params.get("selected") or ""
    selected = int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else None
    return _page(request, page, selected)


@router.post(BASE + "/new")
async def create_department(request: Request) -> Response:
    page = admin_page(request)
    post = await request.form()
    data = _values(post, ("name", "code", "organisation"))
    parent = _id_or_raw(post.get("parent_id"))
    if parent is not None:
        data["parent_id"] = parent
    try:
        dept = page.admin.create_department(data)
    except RecordInvalid as exc:
        selected = parent if isinstance(parent, int) else None
        form = "child" if selected else "root"
        errors = {form: field_errors(exc.errors, page.lang, data)}
        return _page(request, page, selected, errors=errors, typed={form: data}, status=422)
    flash(request, "success", page.t("people.dept.created", name=dept["name"]))
    return RedirectResponse(f"{BASE}?selected={dept['id']}", status_code=303)


@router.post(BASE + "/{dept_id}/edit")
async def rename_department(dept_id: str, request: Request) -> Response:
    page = admin_page(request)
    ident = parse_id(dept_id)
    post = await request.form()
    data = _values(post, ("name", "code", "organisation"))
    sort = (post.get("sort") or "").strip() if isinstance(post.get("sort"), str) else ""
    if sort:
        data["sort"] = int(sort) if sort.lstrip("-").isdigit() and len(sort) < 12 else sort
    try:
        dept = page.admin.update_department(ident, data)
    except RecordInvalid as exc:
        errors = {"edit": field_errors(exc.errors, page.lang, data)}
        return _page(request, page, ident, errors=errors, typed={"edit": data}, status=422)
    flash(request, "success", page.t("people.dept.saved", name=dept["name"]))
    return RedirectResponse(f"{BASE}?selected={ident}", status_code=303)


@router.post(BASE + "/{dept_id}/move")
async def move_department(dept_id: str, request: Request) -> Response:
    page = admin_page(request)
    ident = parse_id(dept_id)
    post = await request.form()
    parent = _id_or_raw(post.get("parent_id"))
    try:
        dept = page.admin.move_department(ident, parent)  # type: ignore[arg-type] - a forged value is reported
    except RecordInvalid as exc:
        errors = {"move": field_errors(exc.errors, page.lang)}
        return _page(request, page, ident, errors=errors, status=422)
    flash(request, "success", page.t("people.dept.moved", name=dept["name"]))
    return RedirectResponse(f"{BASE}?selected={ident}", status_code=303)


@router.post(BASE + "/{dept_id}/delete")
async def delete_department(dept_id: str, request: Request) -> Response:
    page = admin_page(request)
    ident = parse_id(dept_id)
    dept = page.admin.get_department(ident)
    try:
        page.admin.delete_department(ident)
    except Conflict as exc:
        problem = page.t("people.dept.delete_refused", name=dept["name"], reason=refusal_text(page.lang, exc))
        return _page(request, page, ident, problem=problem, status=409)
    flash(request, "success", page.t("people.dept.deleted", name=dept["name"]))
    parent = dept["parent_id"]
    return RedirectResponse(f"{BASE}?selected={parent}" if parent else BASE, status_code=303)


# helpers ----------------------------------------------------------------------------------------
def _values(post: FormData, keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in keys:
        raw = post.get(key)
        if isinstance(raw, str):
            out[key] = raw.strip() or None
    return out


def _id_or_raw(raw: Any) -> Any:
    """'' -> None (top level); digits -> int; anything else goes to the runtime, which names the problem."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    raw = raw.strip()
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 2**63 else raw


def _subtree(tree: list[dict[str, Any]], dept_id: int) -> set[int]:
    """The department and everything below it (not a valid new parent: that would be a cycle)."""

    def walk(nodes: list[dict[str, Any]], inside: bool) -> set[int]:
        found: set[int] = set()
        for n in nodes:
            here = inside or n["id"] == dept_id
            if here:
                found.add(n["id"])
            found |= walk(n["children"], here)
        return found

    return walk(tree, False)


def _page(
    request: Request,
    page: AdminPage,
    selected_id: int | None,
    *,
    errors: dict[str, dict[str, list[str]]] | None = None,
    typed: dict[str, dict[str, Any]] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    tree = page.admin.department_tree()
    flat = {int(o["value"]): o for o in department_options(tree)}
    members = page.admin.department_members()
    selected = page.admin.get_department(selected_id) if selected_id in flat else None
    blocked = _subtree(tree, selected["id"]) if selected else set()
    parent_name = flat[selected["parent_id"]]["label"] if selected and selected["parent_id"] in flat else None
    return render(
        request,
        "admin/people/departments.html",
        page.user,
        status=status,
        crumbs=crumbs(page.lang, Crumb(page.admin_label("departments"))),
        page_title="people.dept.title",
        tabs=section_tabs(page.lang, "departments"),
        tree=tree,
        options=list(flat.values()),
        members=members,
        selected=selected,
        parent_name=parent_name,
        blocked=blocked,
        errors=errors or {},
        typed=typed or {},
        problem=problem,
        total=len(flat),
    )
