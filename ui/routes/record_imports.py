"""/r/{entity}/import: import records of any entity from an .xlsx or .csv file - upload, preview, confirm.

The upload is only previewed (RecordImport.run without commit: the whole import runs in a transaction that
is rolled back), so nothing is written until the user confirms. A file with bad rows can be fixed and
uploaded again, or its good rows imported alone. The confirmed file travels back in the confirm form (base64
in chunks below Starlette's per-field limit, with its SHA-256), so any worker can commit it; the commit checks
every row again. The page is there for whoever has the ``import`` right on the entity.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from runtime.api.deps import client_ip
from runtime.api.deps import tessera as get_tessera
from runtime.blueprints.model import Entity
from runtime.errors import BadRequest, Forbidden
from runtime.records.imports import MAX_UPLOAD, RecordImport, importable_fields
from ui.i18n import t
from ui.routes.records import list_url
from ui.session import flash, require_user, ui_context
from ui.templating import Crumb, render

router = APIRouter()
CHUNK = 512 * 1024
"""Base64 characters per hidden field: well below the 1 MB a form field may hold."""


def _entity(request: Request, entity_id: str) -> tuple[Any, Any, Any, Entity]:
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    if not app.permissions.can(ctx, entity, "import"):
        raise Forbidden(f"you may not import {entity.label_in('en')} records")
    return user, app, ctx, entity


@router.get("/r/{entity_id}/import")
def import_page(entity_id: str, request: Request) -> Response:
    user, app, ctx, entity = _entity(request, entity_id)
    return _page(request, user, app, ctx, entity)


@router.post("/r/{entity_id}/import")
async def preview_import(entity_id: str, request: Request) -> Response:
    user, app, ctx, entity = _entity(request, entity_id)
    post = await request.form()
    upload = post.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, user, app, ctx, entity, file_error=t(ctx.lang, "import.no_file"), status=422)
    content = await upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        return _page(request, user, app, ctx, entity, file_error=t(ctx.lang, "import.too_large"), status=422)
    return _run(request, user, app, ctx, entity, content, upload.filename, commit=False)


@router.post("/r/{entity_id}/import/confirm")
async def confirm_import(entity_id: str, request: Request) -> Response:
    user, app, ctx, entity = _entity(request, entity_id)
    post = await request.form()
    filename = str(post.get("filename") or "upload.xlsx")[:200]
    try:
        content = base64.b64decode("".join(str(c) for c in post.getlist("content")), validate=True)
    except (binascii.Error, ValueError):
        content = b""
    if not content or hashlib.sha256(content).hexdigest() != post.get("sha256"):
        return _page(request, user, app, ctx, entity, file_error=t(ctx.lang, "import.damaged"), status=400)
    skip = post.get("skip_invalid") == "1"
    return _run(request, user, app, ctx, entity, content, filename, commit=True, skip_invalid=skip)


def _run(
    request: Request,
    user: Any,
    app: Any,
    ctx: Any,
    entity: Entity,
    content: bytes,
    filename: str,
    *,
    commit: bool,
    skip_invalid: bool = False,
) -> Response:
    actor = {"actor_id": user.id, "username": user.username, "ip": client_ip(request), "request_id": ctx.request_id}
    try:
        report = RecordImport(app).run(
            entity.id, content, filename, ctx, commit=commit, skip_invalid=skip_invalid, actor=actor
        )
    except BadRequest as exc:
        problem = t(ctx.lang, "import.file_problem", message=exc.message)
        return _page(request, user, app, ctx, entity, file_error=problem, status=422)
    shown = _shown(entity, report, ctx.lang)
    if report["committed"]:
        flash(request, "success", t(ctx.lang, "import.done", **report["summary"]))
        return _page(request, user, app, ctx, entity, report=shown, filename=filename, committed=True)
    encoded = base64.b64encode(content).decode("ascii")
    return _page(
        request,
        user,
        app,
        ctx,
        entity,
        report=shown,
        filename=filename,
        chunks=[encoded[i : i + CHUNK] for i in range(0, len(encoded), CHUNK)],
        sha256=hashlib.sha256(content).hexdigest(),
        status=409 if commit else 200,
    )


def _shown(entity: Entity, report: dict[str, Any], lang: str) -> dict[str, Any]:
    """The runtime's report with each row error's column named as the file's header (or the field label)."""
    headers = {name: header for header, name in report["columns"].items()}
    for row in report["rows"]:
        row["problems"] = []
        for e in row["errors"]:
            name = e["field"].split(".")[0]
            f = entity.field(name)
            column = headers.get(name) or (f.label_in(lang) if f else "")
            row["problems"].append({"column": column, "message": e["message"]})
    summary = report["summary"]
    return {**report, "ok": summary["error"] == 0, "good": summary["create"] + summary["update"]}


def _page(
    request: Request,
    user: Any,
    app: Any,
    ctx: Any,
    entity: Entity,
    *,
    file_error: str | None = None,
    report: dict[str, Any] | None = None,
    filename: str | None = None,
    chunks: list[str] | None = None,
    sha256: str | None = None,
    committed: bool = False,
    status: int = 200,
) -> Response:
    lang = ctx.lang
    back = list_url(app, entity)
    title = t(lang, "import.title", entity=entity.label_in(lang))
    key = _key_names(entity, lang)
    return render(
        request,
        "record_import.html",
        user,
        status=status,
        active_entity=entity.id,
        crumbs=[Crumb(t(lang, "nav.home"), "/"), Crumb(entity.label_in(lang), back), Crumb(t(lang, "import.button"))],
        page_title=title,
        title=title,
        entity=entity,
        base=f"/r/{entity.id}/import",
        back_url=back,
        file_error=file_error,
        report=report,
        filename=filename,
        chunks=chunks or [],
        sha256=sha256,
        committed=committed,
        key_text=key,
        columns=[(f.label_in(lang), f.name, bool(f.opt("required"))) for f in importable_fields(entity)],
    )


def _key_names(entity: Entity, lang: str) -> str | None:
    """How rows are matched when the file has these columns: the first unique index, else a unique field."""
    for index in entity.raw.get("indexes", []):
        if index.get("unique"):
            fields = [entity.field(n) for n in index["fields"]]
            return " + ".join(f.label_in(lang) for f in fields if f is not None)
    for f in entity.fields:
        if f.opt("unique"):
            return f.label_in(lang)
    return None
