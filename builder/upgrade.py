"""Upgrading an edited pack to a new shipped version without losing the local edits (PL-19).

base   = the shipped pack the installation was last deployed or upgraded from (tessera_builder_bases),
theirs = the new shipped pack (a folder or zip),
ours   = what is published now (the shipped base plus the local edits).
The manifest's version is not merged: the result carries the shipped version, with a '+local.N'
suffix while local edits remain, so the next shipped release still compares greater.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from builder import store
from builder.diff import diff_contents
from builder.merge import MergeResult, merge_pack
from builder.shipped import read_shipped
from runtime.blueprints.errors import PackError, PackInvalid
from runtime.blueprints.loader import MANIFEST
from runtime.errors import BadRequest, Conflict

if TYPE_CHECKING:
    from builder.workspace import Workspace

CHOICES = ("ours", "theirs")


def _sides(ws: Workspace, pack_id: str, shipped: Path) -> tuple[tuple, tuple, tuple]:
    ws.ensure_history(pack_id)
    theirs = read_shipped(shipped)
    shipped_id = theirs[0].get(MANIFEST, {}).get("id") if isinstance(theirs[0].get(MANIFEST), dict) else None
    if shipped_id != pack_id:
        raise PackInvalid([PackError(MANIFEST, "/id", f"the shipped pack is '{shipped_id}', not '{pack_id}'")])
    with ws.db.read() as conn:
        live = ws.live(conn, pack_id)
        base_row = store.load_base(conn, pack_id)
    base = (base_row["documents"], base_row["workflows"]) if base_row else (live.documents, live.workflows)
    ours_docs = copy.deepcopy(live.documents)
    base_version = base[0].get(MANIFEST, {}).get("version")
    if MANIFEST in ours_docs and base_version is not None:
        ours_docs[MANIFEST]["version"] = base_version  # the version is the shipped one's, never a conflict
    return base, (ours_docs, live.workflows), theirs


def _merge(ws: Workspace, pack_id: str, shipped: Path, resolutions: dict[str, str]) -> tuple[MergeResult, tuple]:
    base, ours, theirs = _sides(ws, pack_id, shipped)
    return merge_pack(base, ours, theirs, resolutions), theirs


def upgrade_preview(ws: Workspace, pack_id: str, shipped: Path) -> dict:
    """{"merged_documents", "merged_workflows", "conflicts", "auto", "changes", "version"}: nothing is changed.

    "changes" is the readable diff from what is published now to the merged result.
    """
    result, theirs = _merge(ws, pack_id, shipped, {})
    with ws.db.read() as conn:
        live = ws.live(conn, pack_id)
    version = _target_version(ws, pack_id, result, theirs)
    merged = copy.deepcopy(result.documents)
    if isinstance(merged.get(MANIFEST), dict):  # the version is reported on its own, not as a content change
        merged[MANIFEST]["version"] = live.version
    return {
        "merged_documents": result.documents,
        "merged_workflows": result.workflows,
        "conflicts": result.conflicts,
        "auto": result.auto,
        "changes": diff_contents((live.documents, live.workflows), (merged, result.workflows)),
        "version": version,
    }


def _target_version(ws: Workspace, pack_id: str, result: MergeResult, theirs: tuple) -> str:
    """The shipped version, with '+local.N' (N = the version number it will get) while local edits remain."""
    shipped_version = theirs[0][MANIFEST]["version"]
    local = result.documents != theirs[0] or result.workflows != theirs[1]
    next_number = ws.versions(pack_id)[0]["number"] + 1
    return f"{shipped_version.split('+', 1)[0]}+local.{next_number}" if local else shipped_version


def apply_upgrade(
    ws: Workspace, pack_id: str, shipped: Path, *, resolutions: dict[str, str], user: str, user_id: int | None
) -> dict:
    """Publish the merged pack as an "upgrade" version; it becomes the new shipped base."""
    bad = {cid: choice for cid, choice in resolutions.items() if choice not in CHOICES}
    if bad:
        raise BadRequest("a resolution is 'ours' or 'theirs': " + ", ".join(f"{k}={v!r}" for k, v in bad.items()))
    if ws.draft(pack_id).dirty:
        raise Conflict(f"pack '{pack_id}' has unpublished draft changes: publish or discard them before upgrading")
    result, theirs = _merge(ws, pack_id, shipped, resolutions)
    ids = {c["id"] for c in result.conflicts}
    unknown = sorted(set(resolutions) - ids)
    if unknown:
        raise BadRequest("no such conflict: " + ", ".join(unknown))
    open_ = [c for c in result.conflicts if c["id"] not in resolutions]
    if open_:
        raise PackInvalid(
            [
                PackError(c["file"], c["pointer"], f"conflict '{c['id']}': choose 'ours' (local) or 'theirs' (shipped)")
                for c in open_
            ]
        )
    shipped_version = theirs[0][MANIFEST]["version"]
    return ws.publish_content(
        pack_id,
        result.documents,
        result.workflows,
        kind="upgrade",
        user=user,
        user_id=user_id,
        comment=f"upgrade to shipped {shipped_version}",
        version=_target_version(ws, pack_id, result, theirs),
        new_base=(shipped_version, theirs[0], theirs[1]),
    )
