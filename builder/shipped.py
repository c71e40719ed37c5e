"""Reading a shipped pack for an upgrade: a pack directory, or a zip of one (uploaded through the API).

A zip may hold the pack at its root or inside one top folder. Members are checked before anything is
extracted (no absolute paths, no '..', a bounded total size) so an upload cannot write outside its
temporary folder.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from runtime.blueprints.errors import PackError, PackInvalid
from runtime.blueprints.loader import MANIFEST, read_pack_documents, read_pack_workflows

MAX_UNZIPPED = 50 * 1024 * 1024
MAX_MEMBERS = 5000


def read_shipped(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """(documents, workflows) of a shipped pack; PackInvalid lists every file that cannot be read."""
    with pack_folder(path) as folder:
        documents, errors = read_pack_documents(folder)
        workflows, bpmn_errors = read_pack_workflows(folder)
    if errors or bpmn_errors:
        raise PackInvalid(errors + bpmn_errors)
    return documents, workflows


@contextmanager
def pack_folder(path: Path) -> Iterator[Path]:
    """The folder holding pack.json: `path` itself, or a zip extracted to a temporary folder."""
    if path.is_dir():
        yield path
        return
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise PackInvalid([PackError(path.name, "", "is neither a pack folder nor a zip file")])
    with tempfile.TemporaryDirectory(prefix="tessera-upgrade-") as tmp:
        root = Path(tmp)
        _safe_extract(path, root)
        yield _pack_root(root, path.name)


def _safe_extract(path: Path, root: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise PackInvalid([PackError(path.name, "", "the zip is too large for a pack")])
            for m in members:
                name = PurePosixPath(m.filename)
                if name.is_absolute() or ".." in name.parts or "\\" in m.filename:
                    raise PackInvalid([PackError(m.filename, "", "unsafe path in the zip")])
            for m in members:
                if PurePosixPath(m.filename).parts[0] in ("__MACOSX",):
                    continue
                zf.extract(m, root)
    except zipfile.BadZipFile as exc:
        raise PackInvalid([PackError(path.name, "", f"not a readable zip file: {exc}")]) from None


def _pack_root(root: Path, name: str) -> Path:
    if (root / MANIFEST).is_file():
        return root
    tops = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "__MACOSX"))]
    if len(tops) == 1 and (tops[0] / MANIFEST).is_file():
        return tops[0]
    raise PackInvalid([PackError(name, "", "the zip holds no pack.json at its root or in one top folder")])
