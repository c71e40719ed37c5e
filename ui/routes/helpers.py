"""Small htmx endpoints used inside pages: the reference picker, file uploads, kanban moves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from runtime.api.deps import record_id as parse_record_id
from runtime.api.deps import tessera as get_tessera
from runtime.errors import BadRequest, RecordInvalid, StaleVersion
from runtime.records import ListQuery
from runtime.records.titles import record_titles
from ui.i18n import t
from ui.session import flash, require_user, ui_context
from ui.templating import render_fragment

router = APIRouter()
PICKER_LIMIT = 12


@router.get("/ui/ref/{entity_id}")
def reference_search(entity_id: str, request: Request, q: str = "") -> HTMLResponse:
    """Records of the target entity whose title (or search fields) match what was typed."""
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    entity = app.registry.entity(entity_id)
    view = app.registry.default_view(entity.id)
    search_fields = list(view.opt("search_fields", [])) if view else []
    query = ListQuery(
        search=q.strip()[:200] or None,
        search_fields=search_fields or [entity.title_field],
        limit=PICKER_LIMIT,
        count="none",
    )
    page = app.records.list(entity.id, query, ctx)
    titles = record_titles(app, entity, page.items, ctx)
    items = [{"id": item["id"], "title": titles[item["id"]], "hint": f"#{item['id']}"} for item in page.items]
    return HTMLResponse(render_fragment(request, "partials/ref_results.html", user, items=items))


@router.post("/ui/upload")
async def upload(request: Request) -> HTMLResponse:
    """Store uploaded files and return chips holding their metadata as hidden inputs of the field."""
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    form = await request.form()
    field_name = str(form.get("_field") or "")
    is_image = form.get("_kind") == "image"
    files: list[dict[str, Any]] = []
    error = None
    for upload in form.getlist("_upload"):
        if not isinstance(upload, UploadFile) or not upload.filename:
            continue
        content_type = upload.content_type or "application/octet-stream"
        if is_image and not content_type.startswith("image/"):
            error = t(ctx.lang, "error.upload", message=upload.filename)
            continue
        try:
            files.append(app.files.save(upload.filename, content_type, await upload.read(), user.id))
        except BadRequest as exc:
            error = t(ctx.lang, "error.upload", message=exc.message)
    html = render_fragment(
        request,
        "partials/file_chips.html",
        user,
        files=files,
        field_name=field_name,
        is_image=is_image,
        error=error,
    )
    return HTMLResponse(html)


@router.post("/v/{view_id}/move")
async def kanban_move(view_id: str, request: Request) -> Response:
    """A card dropped on another column: set the group-by field, guarded by the card's version."""
    user = require_user(request)
    app, ctx = get_tessera(request), ui_context(request, user)
    view = app.registry.view(view_id)
    group = view.opt("group_by")
    if view.type != "kanban" or not group:
        raise BadRequest("this view is not a board")
    form = await request.form()
    ident = parse_record_id(str(form.get("id") or ""))
    raw_version = str(form.get("version") or "")
    value = str(form.get("value") or "") or None
    try:
        record = app.records.update(
            view.entity,
            ident,
            {group: value},
            ctx,
            expected_version=int(raw_version) if raw_version.isdigit() else None,
            form_id=view.opt("form"),
        )
    except StaleVersion:
        flash(request, "warning", t(ctx.lang, "kanban.stale"))
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    except RecordInvalid as exc:
        flash(
            request, "warning", t(ctx.lang, "form.problem", message="; ".join(e.message for e in exc.errors))
        )
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return Response(
        status_code=204,
        headers={"HX-Trigger": f'{{"tf:moved": {{"id": {ident}, "version": {record["version"]}}}}}'},
    )
