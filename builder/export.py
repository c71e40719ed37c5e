"""Writing a pack's content as files: a directory named after the pack, or a zip holding that directory.

The result is an ordinary pack, so `tessera pack validate` and `tessera pack deploy` accept it; the
directory carries the pack id as its name because `Tessera.load_pack` uses the folder name to tell
the pack's own entities from those of other deployed packs.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from runtime.blueprints.loader import MANIFEST


def document_text(doc: Any) -> str:
    """Two-space JSON with Chinese left readable: exported packs are read and diffed by people."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def pack_files(documents: dict[str, Any], workflows: dict[str, str]) -> dict[str, str]:
    files = {rel: document_text(doc) for rel, doc in documents.items()}
    files.update(workflows)
    return dict(sorted(files.items()))


def write_pack(documents: dict[str, Any], workflows: dict[str, str], dest: Path, *, as_zip: bool = False) -> Path:
    """dest: a folder to create '<pack_id>/' (or '<pack_id>.zip') in, or a path ending in .zip.

    Refuses to overwrite: an existing non-empty pack folder or zip raises FileExistsError. The folder
    is written under a temporary name first, so a failure leaves no half-written pack behind.
    """
    pack_id = documents[MANIFEST]["id"]
    files = pack_files(documents, workflows)
    if as_zip or dest.suffix == ".zip":
        target = dest if dest.suffix == ".zip" else dest / f"{pack_id}.zip"
        if target.exists():
            raise FileExistsError(f"{target} already exists")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel, text in files.items():
                zf.writestr(f"{pack_id}/{rel}", text)
        tmp.replace(target)
        return target
    target = dest / pack_id
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} already exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pack_id}-", dir=dest))
    try:
        for rel, text in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def zip_bytes(documents: dict[str, Any], workflows: dict[str, str]) -> bytes:
    """The zip export in memory (the API's download)."""
    import io

    pack_id = documents[MANIFEST]["id"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rel, text in pack_files(documents, workflows).items():
            zf.writestr(f"{pack_id}/{rel}", text)
    return buf.getvalue()
