"""Importing users and departments from an .xlsx or .csv file: upload, preview, confirm.

The upload is only previewed (PeopleImport.run without commit: the whole import runs in a
transaction that is rolled back), so nothing is written until the administrator confirms. A file
with any error cannot be confirmed: the page lists every bad row and the administrator fixes the
file and uploads it again (the runtime could import only the good rows, but a partial import of
people is easy to miss and hard to undo). The confirmed file travels back in the confirm form
(base64 in chunks below Starlette's per-field limit, with its SHA-256), so any worker can commit
it; the commit validates every row again and is logged to the operation log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from runtime.errors import BadRequest
from runtime.permissions.people_import import (
    DEPARTMENT_COLUMNS,
    TEMPLATE_HEADERS,
    USER_COLUMNS,
    PeopleImport,
    template_workbook,
)
from ui.routes.admin_people_common import AdminPage, admin_page, crumbs, error_text, section_tabs
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
BASE = "/admin/users/import"
MAX_UPLOAD = 10 * 1024 * 1024
CHUNK = 512 * 1024
"""Base64 characters per hidden field: well below the 1 MB a form field may hold."""
KINDS = ("users", "departments")


@router.get(BASE)
def import_page(request: Request) -> Response:
    page = admin_page(request)
    return _page(request, page)


@router.get(BASE + "/template.xlsx")
def download_template(request: Request) -> Response:
    admin_page(request)
    return Response(
        template_workbook(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="people-import-template.xlsx"'},
    )


@router.post(BASE)
async def preview_import(request: Request) -> Response:
    page = admin_page(request)
    post = await request.form()
    kind = _kind(post)
    upload = post.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, page, kind=kind, file_error=page.t("people.import.no_file"), status=422)
    content = await upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return _page(request, page, kind=kind, file_error=page.t("people.import.too_large"), status=422)
    return _run(request, page, content, upload.filename, kind, commit=False)


@router.post(BASE + "/confirm")
async def confirm_import(request: Request) -> Response:
    page = admin_page(request)
    post = await request.form()
    kind = _kind(post)
    filename = str(post.get("filename") or "upload.xlsx")[:200]
    try:
        content = base64.b64decode("".join(str(c) for c in post.getlist("content")), validate=True)
    except (binascii.Error, ValueError):
        content = b""
    if not content or hashlib.sha256(content).hexdigest() != post.get("sha256"):
        return _page(request, page, kind=kind, file_error=page.t("people.import.damaged"), status=400)
    return _run(request, page, content, filename, kind, commit=True)


def _kind(post: FormData) -> str:
    kind = post.get("kind")
    return kind if isinstance(kind, str) and kind in KINDS else "users"


def _run(request: Request, page: AdminPage, content: bytes, filename: str, kind: str, *, commit: bool) -> Response:
    try:
        report = PeopleImport(page.admin).run(content, filename, kind=kind, commit=commit, actor=page.ctx)
    except BadRequest as exc:
        return _page(request, page, kind=kind, file_error=_file_problem(page, exc.message), status=422)
    if report["committed"]:
        counts = _totals(report)
        flash(request, "success", page.t("people.import.done", **counts))
        return _page(request, page, kind=kind, report=_shown(page, report), filename=filename, committed=True)
    encoded = base64.b64encode(content).decode("ascii")
    return _page(
        request,
        page,
        kind=kind,
        report=_shown(page, report),
        filename=filename,
        chunks=[encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)],
        sha256=hashlib.sha256(content).hexdigest(),
        status=409 if commit else 200,
    )


def _totals(report: dict[str, Any]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
    for kind in KINDS:
        for key, n in report.get(kind, {}).get("summary", {}).items():
            counts[key] += n
    return counts


def _shown(page: AdminPage, report: dict[str, Any]) -> dict[str, Any]:
    """The runtime's report with each row error's column and message in the page language."""
    sheets = []
    for kind in ("departments", "users"):
        sheet = report.get(kind)
        if sheet is None:
            continue
        for row in sheet["rows"]:
            row["problems"] = [
                {
                    "column": _column(page, kind, e["field"]),
                    "message": error_text(page.lang, e["field"], e.get("code", ""), e["message"], value=row["key"]),
                }
                for e in row["errors"]
            ]
        sheets.append({"kind": kind, **sheet})
    totals = _totals(report)
    return {"sheets": sheets, "totals": totals, "ok": totals["error"] == 0}


def _headers(kind: str) -> dict[str, tuple[str, str]]:
    """column key -> (the template's Chinese header, the English header), in template order."""
    columns = USER_COLUMNS if kind == "users" else DEPARTMENT_COLUMNS
    return {key: (zh, names[0]) for (key, names), zh in zip(columns.items(), TEMPLATE_HEADERS[kind], strict=True)}


def _column(page: AdminPage, kind: str, field: str) -> str:
    """The column as the template names it (账号, 部门编码...) so the administrator finds it in the file."""
    headers = _headers(kind)
    if field == "department_id" and kind == "users":
        field = "department_code"
    if field not in headers:
        return field
    zh, en = headers[field]
    return zh if page.lang == "zh" else en


def _file_problem(page: AdminPage, message: str) -> str:
    """Whole-file problems (not .xlsx/.csv, missing columns, too many rows) keep the runtime's details."""
    return page.t("people.import.file_problem", message=message)


def _page(
    request: Request,
    page: AdminPage,
    *,
    kind: str = "users",
    file_error: str | None = None,
    report: dict[str, Any] | None = None,
    filename: str | None = None,
    chunks: list[str] | None = None,
    sha256: str | None = None,
    committed: bool = False,
    status: int = 200,
) -> Response:
    return render(
        request,
        "admin/people/import.html",
        page.user,
        status=status,
        crumbs=crumbs(page.lang, Crumb(page.admin_label("users"), "/admin/users"), Crumb(page.admin_label("import"))),
        page_title="people.import.title",
        tabs=section_tabs(page.lang, "import"),
        kind=kind,
        file_error=file_error,
        report=report,
        filename=filename,
        chunks=chunks or [],
        sha256=sha256,
        committed=committed,
        columns={k: [(key, zh, en) for key, (zh, en) in _headers(k).items()] for k in ("departments", "users")},
    )
