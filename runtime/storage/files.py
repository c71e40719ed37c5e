"""Uploaded files for file and image fields: content on disk by id, metadata in tessera_files."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import sqlalchemy as sa

from runtime.clock import Clock
from runtime.errors import BadRequest, NotFound
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database

MAX_FILE_BYTES = 20 * 1024 * 1024


class FileStore:
    def __init__(self, db: Database, root: Path, clock: Clock):
        self.db = db
        self.root = root
        self.clock = clock

    def save(self, name: str, content_type: str, data: bytes, user_id: int | None) -> dict:
        if not data:
            raise BadRequest("the file is empty")
        if len(data) > MAX_FILE_BYTES:
            raise BadRequest(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        file_id = uuid.uuid4().hex
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / file_id).write_bytes(data)
        meta = {
            "id": file_id,
            "name": Path(name).name[:255] or "file",
            "size": len(data),
            "content_type": content_type[:100],
        }
        with self.db.write() as conn:
            conn.execute(
                sa.insert(pt.files).values(
                    **meta, sha256=hashlib.sha256(data).hexdigest(), created_at=self.clock.now(), created_by=user_id
                )
            )
        return meta

    def open(self, file_id: str) -> tuple[dict, bytes]:
        with self.db.read() as conn:
            row = conn.execute(sa.select(pt.files).where(pt.files.c.id == file_id)).first()
        path = self.root / file_id
        if row is None or not path.exists():
            raise NotFound(f"file {file_id} does not exist")
        return {"id": row.id, "name": row.name, "size": row.size, "content_type": row.content_type}, path.read_bytes()
