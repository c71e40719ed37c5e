"""Uploads for file and image fields."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import Response

from runtime.api.deps import current_user, tessera
from runtime.errors import BadRequest, NotFound

router = APIRouter(prefix="/api/v1/files", tags=["files"])


@router.post("", status_code=201)
async def upload(request: Request, file: UploadFile) -> dict[str, Any]:
    user = current_user(request)
    data = await file.read()
    if not file.filename:
        raise BadRequest("the upload has no file name")
    return tessera(request).files.save(file.filename, file.content_type or "application/octet-stream", data, user.id)


@router.get("/{file_id}")
def download(file_id: str, request: Request) -> Response:
    current_user(request)
    if len(file_id) != 32 or not all(c in "0123456789abcdef" for c in file_id):
        raise NotFound("no such file")
    meta, data = tessera(request).files.open(file_id)
    disposition = "inline" if meta["content_type"].startswith("image/") else "attachment"
    return Response(
        data,
        media_type=meta["content_type"],
        headers={"Content-Disposition": f"{disposition}; filename*=UTF-8''{_quote(meta['name'])}"},
    )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name)
