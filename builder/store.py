"""Rows of the builder tables: drafts, versions and shipped bases. Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from builder.tables import bases, drafts, versions

VERSION_COLUMNS = (
    versions.c.number,
    versions.c.pack_version,
    versions.c.kind,
    versions.c.author,
    versions.c.comment,
    versions.c.created_at,
    versions.c.deployment_id,
)


def load_draft(conn: Connection, pack_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(drafts).where(drafts.c.pack_id == pack_id)).first()
    return dict(row._mapping) if row else None


def save_draft(
    conn: Connection,
    pack_id: str,
    documents: dict[str, Any],
    workflows: dict[str, str],
    *,
    base_version: int | None,
    user: str,
    now: datetime,
) -> None:
    values = {
        "documents": documents,
        "workflows": workflows,
        "base_version": base_version,
        "updated_by": user,
        "updated_at": now,
    }
    done = conn.execute(sa.update(drafts).where(drafts.c.pack_id == pack_id).values(**values)).rowcount
    if not done:
        conn.execute(sa.insert(drafts).values(pack_id=pack_id, **values))


def delete_draft(conn: Connection, pack_id: str) -> None:
    conn.execute(sa.delete(drafts).where(drafts.c.pack_id == pack_id))


def draft_pack_ids(conn: Connection) -> set[str]:
    return set(conn.execute(sa.select(drafts.c.pack_id)).scalars())


def version_counts(conn: Connection) -> dict[str, int]:
    q = sa.select(versions.c.pack_id, sa.func.count()).group_by(versions.c.pack_id)
    return {pack_id: n for pack_id, n in conn.execute(q)}


def latest_version(conn: Connection, pack_id: str, *, with_content: bool = False) -> dict[str, Any] | None:
    cols = [versions] if with_content else list(VERSION_COLUMNS)
    q = sa.select(*cols).where(versions.c.pack_id == pack_id).order_by(versions.c.number.desc()).limit(1)
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def list_versions(conn: Connection, pack_id: str) -> list[dict[str, Any]]:
    q = sa.select(*VERSION_COLUMNS).where(versions.c.pack_id == pack_id).order_by(versions.c.number.desc())
    return [dict(r._mapping) for r in conn.execute(q)]


def get_version(conn: Connection, pack_id: str, number: int) -> dict[str, Any] | None:
    q = sa.select(versions).where(versions.c.pack_id == pack_id, versions.c.number == number)
    row = conn.execute(q).first()
    return dict(row._mapping) if row else None


def add_version(
    conn: Connection,
    pack_id: str,
    *,
    pack_version: str,
    kind: str,
    documents: dict[str, Any],
    workflows: dict[str, str],
    author: str | None,
    author_id: int | None,
    comment: str,
    deployment_id: int | None,
    now: datetime,
) -> int:
    """Insert the next numbered version; the unique (pack_id, number) keeps two concurrent publishes apart."""
    latest = conn.execute(sa.select(sa.func.max(versions.c.number)).where(versions.c.pack_id == pack_id)).scalar()
    number = (latest or 0) + 1
    conn.execute(
        sa.insert(versions).values(
            pack_id=pack_id,
            number=number,
            pack_version=pack_version,
            kind=kind,
            author=author,
            author_id=author_id,
            comment=comment,
            documents=documents,
            workflows=workflows,
            deployment_id=deployment_id,
            created_at=now,
        )
    )
    return number


def load_base(conn: Connection, pack_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(bases).where(bases.c.pack_id == pack_id)).first()
    return dict(row._mapping) if row else None


def save_base(
    conn: Connection,
    pack_id: str,
    pack_version: str,
    documents: dict[str, Any],
    workflows: dict[str, str],
    now: datetime,
) -> None:
    values = {"pack_version": pack_version, "documents": documents, "workflows": workflows, "recorded_at": now}
    done = conn.execute(sa.update(bases).where(bases.c.pack_id == pack_id).values(**values)).rowcount
    if not done:
        conn.execute(sa.insert(bases).values(pack_id=pack_id, **values))
