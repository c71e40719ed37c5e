"""Export a pack as a zip, and upgrade it to a newly shipped version while keeping the hospital's local edits.

The upgrade is two steps because an administrator must see the three-way merge before anything
changes: the uploaded zip is unpacked into the data directory under a random token, the merge
result and conflicts are shown, and the apply step names the token and one choice per conflict.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from runtime.blueprints.errors import PackInvalid
from runtime.errors import BadRequest, NotFound
from runtime.storage.deploy import DeployRefused
from ui.routes.builder_common import Designer, crumbs, pack_errors, problem_rows, require_designer
from ui.routes.builder_home import pack_context
from ui.routes.builder_versions import readable
from ui.session import flash
from ui.templating import Crumb, render

router = APIRouter()
MAX_ZIP = 50 * 1024 * 1024
MAX_FILES = 2000


@router.get("/builder/{pack_id}/export")
def export_zip(pack_id: str, request: Request) -> Response:
    """The published pack as <pack>.zip; `tessera pack validate` and `deploy` accept it unchanged."""
    d = require_designer(request)
    pack_context(d, pack_id)  # 404 for an unknown pack
    folder = Path(tempfile.mkdtemp(prefix="tessera-export-"))
    path = d.workspace().export(pack_id, folder / pack_id, as_zip=True)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"{pack_id}.zip",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


def uploads_dir(d: Designer) -> Path:
    return Path(d.app.settings.data_dir) / "builder_uploads"


def unpack_zip(data: bytes, dest: Path) -> Path:
    """Extract a pack zip safely (no absolute or '..' paths) and return the folder holding pack.json."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        archive = zipfile.ZipFile(_bytes_file(data))
    except zipfile.BadZipFile:
        raise BadRequest("not a zip file / 不是 zip 文件") from None
    with archive:
        names = archive.namelist()
        if len(names) > MAX_FILES:
            raise BadRequest("the zip holds too many files / zip 中文件过多")
        for name in names:
            parts = PurePosixPath(name).parts
            if name.startswith("/") or ".." in parts or "\\" in name:
                raise BadRequest(f"unsafe path in the zip: {name}")
        archive.extractall(dest)
    manifests = sorted(dest.rglob("pack.json"), key=lambda p: len(p.parts))
    if not manifests:
        raise BadRequest("the zip holds no pack.json / zip 中没有 pack.json")
    return manifests[0].parent


def _bytes_file(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def _token_dir(d: Designer, pack_id: str, token: str) -> Path:
    if not token or not token.isalnum() or len(token) > 64:
        raise BadRequest("bad upload token")
    folder = uploads_dir(d) / f"{pack_id}-{token}"
    if not folder.is_dir():
        raise NotFound("the uploaded pack is gone; upload it again")
    manifests = sorted(folder.rglob("pack.json"), key=lambda p: len(p.parts))
    if not manifests:
        raise NotFound("the uploaded pack is gone; upload it again")
    return manifests[0].parent


def _page(request: Request, d: Designer, pack_id: str, **context: Any) -> HTMLResponse:
    pc = pack_context(d, pack_id)
    base: dict[str, Any] = {
        "merge": None,
        "conflicts": [],
        "auto": [],
        "token": "",
        "errors": [],
        "chosen": {},
        "filename": "",
    }
    base.update(context)
    return render(
        request,
        "builder/versions_upgrade.html",
        d.user,
        status=base.pop("status", 200),
        crumbs=crumbs(d, pack_id, pc["pack"]["name"], Crumb(d.t("builder.tab.packs"))),
        page_title=d.t("builder.tab.packs"),
        pack=pc["pack"],
        **base,
    )


@router.get("/builder/{pack_id}/upgrade")
def upgrade_page(pack_id: str, request: Request) -> HTMLResponse:
    d = require_designer(request)
    return _page(request, d, pack_id)


def conflict_rows(conflicts: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(c.get("id")),
            "file": c.get("file") or "",
            "pointer": c.get("pointer") or "",
            "base": readable(c.get("base"), lang),
            "ours": readable(c.get("ours"), lang),
            "theirs": readable(c.get("theirs"), lang),
        }
        for c in conflicts
    ]


def auto_rows(auto: list[Any], lang: str) -> list[str]:
    """Changes merged without a question, as sentences (the merge may give dicts or plain strings)."""
    out = []
    for a in auto:
        if isinstance(a, dict):
            summary = a.get("summary")
            if isinstance(summary, dict):
                out.append(str(summary.get(lang) or summary.get("zh") or summary.get("en")))
            else:
                where = " ".join(str(a.get(k)) for k in ("file", "pointer") if a.get(k))
                side = a.get("source") or a.get("side") or a.get("from") or ""
                out.append(f"{where} {side}".strip())
        else:
            out.append(str(a))
    return out


@router.post("/builder/{pack_id}/upgrade")
async def upgrade_upload(pack_id: str, request: Request) -> Response:
    """Unpack the uploaded shipped pack and show the three-way merge with its conflicts."""
    d = require_designer(request)
    form = await request.form()
    upload = form.get("pack_zip")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(request, d, pack_id, errors=[{"message": d.t("builder.upgrade.no_file")}], status=422)
    data = await upload.read(MAX_ZIP + 1)
    if len(data) > MAX_ZIP:
        return _page(request, d, pack_id, errors=[{"message": d.t("builder.upgrade.too_big")}], status=413)
    token = secrets.token_hex(16)
    folder = uploads_dir(d) / f"{pack_id}-{token}"
    try:
        shipped = unpack_zip(data, folder)
        merge = d.workspace().upgrade_preview(pack_id, shipped)
    except (BadRequest, PackInvalid) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return _page(request, d, pack_id, errors=problem_rows(pack_errors(exc), d.lang), status=422)
    return _page(
        request,
        d,
        pack_id,
        merge=merge,
        token=token,
        filename=upload.filename,
        conflicts=conflict_rows(merge.get("conflicts") or [], d.lang),
        auto=auto_rows(merge.get("auto") or [], d.lang),
    )


@router.post("/builder/{pack_id}/upgrade/apply")
async def upgrade_apply(pack_id: str, request: Request) -> Response:
    """Publish the merge with the administrator's choice (ours/theirs) for each conflict."""
    d = require_designer(request)
    form = await request.form()
    token = str(form.get("token") or "")
    shipped = _token_dir(d, pack_id, token)
    resolutions = {
        key.removeprefix("conflict-"): str(value)
        for key, value in form.multi_items()
        if key.startswith("conflict-") and value in ("ours", "theirs")
    }
    try:
        version = d.workspace().upgrade(
            pack_id, shipped, resolutions=resolutions, user=d.user.username, user_id=d.user.id
        )
    except (PackInvalid, DeployRefused, BadRequest) as exc:
        merge = d.workspace().upgrade_preview(pack_id, shipped)
        errors = [{"message": p} for p in exc.problems] if isinstance(exc, DeployRefused) else pack_errors(exc)
        return _page(
            request,
            d,
            pack_id,
            merge=merge,
            token=token,
            conflicts=conflict_rows(merge.get("conflicts") or [], d.lang),
            auto=auto_rows(merge.get("auto") or [], d.lang),
            errors=problem_rows(errors, d.lang),
            chosen=resolutions,
            status=422,
        )
    shutil.rmtree(uploads_dir(d) / f"{pack_id}-{token}", ignore_errors=True)
    flash(request, "success", d.t("builder.upgraded", number=version["number"]))
    return RedirectResponse(f"/builder/{pack_id}/versions", status_code=303)
