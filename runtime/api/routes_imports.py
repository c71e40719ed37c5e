"""Record import over REST: any entity, from an .xlsx workbook or a .csv file (runtime.records.imports).

* ``POST /api/v1/records/{entity}/import?mode=preview|commit&skip_invalid=false&key=a,b`` (multipart form
  with a ``file``): per-row results (create / update / unchanged / error with per-field errors); a preview
  writes nothing.
* ``GET /api/v1/records/{entity}/import/template?format=xlsx|csv``: an empty file with the column headers.

Registered before the records routes, or ``/import`` would be read as a record id.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Request, Response

from runtime.api.deps import client_ip, context, current_user, tessera
from runtime.errors import BadRequest
from runtime.records.imports import MAX_UPLOAD, RecordImport, template_headers

router = APIRouter(prefix="/api/v1/records", tags=["records"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TRUE = ("1", "true", "yes")


async def read_upload(request: Request) -> tuple[bytes, str]:
    """The uploaded file of a multipart form (field ``file``), at most 10 MB."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("upload the file as multipart/form-data in a field named 'file'")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:  # noqa: BLE001 - malformed multipart bodies raise several kinds
        raise BadRequest("the upload is not a valid multipart form") from exc
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise BadRequest("upload the file in a form field named 'file'")
    content = await upload.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise BadRequest("the file is larger than 10 MB")
    return content, upload.filename or "upload.xlsx"


@router.post(
    "/{entity}/import",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def import_records(entity: str, request: Request) -> dict[str, Any]:
    """Preview or commit an import of records from a spreadsheet (per-row errors; rows matched by key)."""
    user = current_user(request)
    app = tessera(request)
    mode = request.query_params.get("mode", "preview")
    if mode not in ("preview", "commit"):
        raise BadRequest("mode must be preview or commit")
    key = [k.strip() for k in request.query_params.get("key", "").split(",") if k.strip()]
    ctx = context(request, user)
    app.permissions.require(ctx, app.registry.entity(entity), "import")
    content, filename = await read_upload(request)
    return RecordImport(app).run(
        entity,
        content,
        filename,
        ctx,
        commit=mode == "commit",
        skip_invalid=request.query_params.get("skip_invalid", "").lower() in TRUE,
        key=key or None,
        actor={"actor_id": user.id, "username": user.username, "ip": client_ip(request), "request_id": ctx.request_id},
    )


@router.get("/{entity}/import/template")
def import_template(entity: str, request: Request) -> Response:
    """An empty import file for the entity: one header row with the labels of the importable fields."""
    user = current_user(request)
    app = tessera(request)
    ent = app.registry.entity(entity)
    ctx = context(request, user)
    app.permissions.require(ctx, ent, "import")
    headers = template_headers(ent, ctx.lang)
    fmt = request.query_params.get("format", "xlsx")
    if fmt == "csv":
        out = io.StringIO()
        csv.writer(out).writerow(headers)
        body, media = ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, media = template_workbook(ent.label_in(ctx.lang), headers), XLSX
    else:
        raise BadRequest("format must be xlsx or csv")
    disposition = f'attachment; filename="{ent.id}-import.{fmt}"'
    return Response(body, media_type=media, headers={"Content-Disposition": disposition})


def template_workbook(title: str, headers: list[str]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31] or "import"
    sheet.append(headers)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
