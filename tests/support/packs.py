"""Pack variants for tests: copy a pack directory and change some of its documents."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

Documents = dict[str, Any]


def pack_variant(source: Path, target: Path, change: Callable[[Documents], None]) -> Path:
    """Copy `source` to `target` and let `change` edit its parsed documents by relative path."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    docs = {p.relative_to(target).as_posix(): json.loads(p.read_text("utf-8")) for p in target.rglob("*.json")}
    before = json.dumps(docs, sort_keys=True)
    change(docs)
    if json.dumps(docs, sort_keys=True) != before:
        for p in target.rglob("*.json"):
            p.unlink()
        for rel, doc in docs.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), "utf-8")
    return target


def field_named(entity_doc: dict, name: str) -> dict:
    return next(f for f in entity_doc["fields"] if f["name"] == name)
