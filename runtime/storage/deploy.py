"""Deploying a pack: check it against what is deployed, plan, and apply the plan in one transaction.

Everything (DDL, the stored pack documents, the deployment record) happens in a single database
transaction, so a deploy that fails at any step leaves the database exactly as it was; SQLite
and PostgreSQL both support transactional DDL once pysqlite's implicit commits are disabled
(see runtime.storage.database).

Encrypting, decrypting or re-indexing the existing values of a field whose sensitivity changed is
part of the same transaction: a deploy never leaves a column half plaintext, half ciphertext.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from sqlalchemy.engine import Connection

from runtime import __version__ as platform_version
from runtime.blueprints.errors import PackError, PackInvalid
from runtime.blueprints.loader import load_pack_from_documents
from runtime.blueprints.model import Entity, Pack, field_from_raw
from runtime.fields.storage import BLIND_INDEX, blind_index_column
from runtime.security.crypto import DecryptError, FieldCipher
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database
from runtime.storage.entity_tables import build_tables
from runtime.storage.plan import Plan, Step, compute_plan, crypt_description, storage_from_dict

CRYPT_STEPS = ("encrypt_column", "decrypt_column", "reindex_column")
REWRITE_BATCH = 500


class DeployRefused(Exception):
    """The plan contains a change that would lose data, or the pack does not fit what is installed."""

    def __init__(self, problems: list[str], plan: Plan | None = None):
        self.problems = problems
        self.plan = plan
        super().__init__("; ".join(problems))


@dataclass
class DeployResult:
    plan: Plan
    deployment_id: int


def deployed_documents(conn: Connection) -> dict[str, dict]:
    rows = conn.execute(sa.select(pt.packs.c.id, pt.packs.c.documents)).all()
    return {r.id: r.documents for r in rows}


def deployed_packs(conn: Connection) -> dict[str, Pack]:
    """Packs as stored at their last deploy; they were fully checked then, so dependencies resolve across packs."""
    docs = deployed_documents(conn)
    all_entities = {
        d["id"] for documents in docs.values() for rel, d in documents.items() if rel.startswith("entities/")
    }
    all_sets = {
        d["id"] for documents in docs.values() for rel, d in documents.items() if rel.startswith("option_sets/")
    }
    return {
        pack_id: load_pack_from_documents(documents, known_entities=all_entities, known_option_sets=all_sets)
        for pack_id, documents in docs.items()
    }


def check_compatibility(pack: Pack, others: dict[str, Pack]) -> list[PackError]:
    """Platform version, dependencies, and ids that must be unique across installed packs."""
    errors: list[PackError] = []
    try:
        if Version(platform_version) not in SpecifierSet(pack.manifest["platform"]):
            errors.append(
                PackError(
                    "pack.json", "/platform", f"needs platform {pack.manifest['platform']}, this is {platform_version}"
                )
            )
    except InvalidSpecifier:
        errors.append(
            PackError(
                "pack.json", "/platform", f"'{pack.manifest['platform']}' is not a version range such as '>=0.1,<2'"
            )
        )
    for dep, spec in pack.manifest.get("depends", {}).items():
        installed = others.get(dep)
        if installed is None:
            errors.append(PackError("pack.json", f"/depends/{dep}", f"depends on pack '{dep}', which is not deployed"))
        elif Version(installed.version) not in SpecifierSet(spec):
            errors.append(
                PackError("pack.json", f"/depends/{dep}", f"needs '{dep}' {spec}, deployed is {installed.version}")
            )
    for other in others.values():
        for kind, mine, theirs in (
            ("entity", pack.entities, other.entities),
            ("option set", pack.option_sets, other.option_sets),
            ("form", pack.forms, other.forms),
            ("view", pack.views, other.views),
        ):
            for ident in sorted(set(mine) & set(theirs)):
                errors.append(
                    PackError(pack.id, "", f"the {kind} id '{ident}' is already defined by pack '{other.id}'")
                )
    return errors


def plan_deploy(conn: Connection, pack: Pack) -> Plan:
    installed = deployed_packs(conn)
    previous = installed.pop(pack.id, None)
    errors = check_compatibility(pack, installed)
    if errors:
        raise PackInvalid(errors)
    old_entities: dict[str, Entity] = previous.entities if previous else {}
    plan = compute_plan(pack.id, previous.version if previous else None, pack.version, old_entities, pack.entities)
    for step in plan.steps:
        if step.action in CRYPT_STEPS:  # the preview says how much data the step rewrites
            t = sa.table(step.table, sa.column(step.column))
            q = sa.select(sa.func.count()).select_from(t).where(t.c[step.column].is_not(None))
            step.data["values"] = conn.execute(q).scalar_one()
            step.description = crypt_description(step.action, step.table, step.column, step.data["values"])
    return plan


def known_names(conn: Connection, excluding: str | None = None) -> tuple[set[str], set[str]]:
    """Entity and option-set ids of the other deployed packs, for cross-pack references."""
    docs = deployed_documents(conn)
    entities, sets = set(), set()
    for pack_id, documents in docs.items():
        if pack_id == excluding:
            continue
        for rel, d in documents.items():
            if rel.startswith("entities/"):
                entities.add(d["id"])
            elif rel.startswith("option_sets/"):
                sets.add(d["id"])
    return entities, sets


def deploy(
    db: Database,
    pack: Pack,
    *,
    actor: str = "cli",
    now: datetime | None = None,
    cipher: FieldCipher | None = None,
    within: Callable[[Connection, DeployResult], None] | None = None,
) -> DeployResult:
    """`within` runs inside the deploy's transaction once everything is applied (the builder records its
    version row there), so the caller's bookkeeping commits or rolls back together with the deploy."""
    now = now or datetime.utcnow()
    with db.write() as conn:
        plan = plan_deploy(conn, pack)
        if plan.problems:
            raise DeployRefused(plan.problems, plan)
        _apply(conn, plan, pack, now, cipher)
        _store(conn, pack, now, actor)
        deployment_id = conn.execute(
            sa.insert(pt.deployments).values(
                pack_id=pack.id,
                from_version=plan.from_version,
                to_version=pack.version,
                plan=plan.as_dict(),
                deployed_at=now,
                deployed_by=actor,
            )
        ).inserted_primary_key[0]
        result = DeployResult(plan, deployment_id)
        if within is not None:
            within(conn, result)
    return result


def _store(conn: Connection, pack: Pack, now: datetime, actor: str) -> None:
    values = {"version": pack.version, "documents": pack.documents, "deployed_at": now, "deployed_by": actor}
    updated = conn.execute(sa.update(pt.packs).where(pt.packs.c.id == pack.id).values(**values)).rowcount
    if not updated:
        conn.execute(sa.insert(pt.packs).values(id=pack.id, **values))


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _apply(conn: Connection, plan: Plan, pack: Pack, now: datetime, cipher: FieldCipher | None = None) -> None:
    ops = Operations(MigrationContext.configure(conn))
    metadata = sa.MetaData()
    tables = {e.id: build_tables(e, metadata) for e in pack.entities.values()}
    stamp = now.strftime("%Y%m%d%H%M%S")
    for step in plan.ordered():
        if step.action in CRYPT_STEPS:
            _apply_crypt_step(conn, ops, step, cipher)
        else:
            _apply_step(conn, ops, step, tables, stamp, now)


def _apply_step(conn: Connection, ops: Operations, step: Step, tables: dict, stamp: str, now: datetime) -> None:
    q = lambda name: _quote(conn, name)  # noqa: E731
    match step.action:
        case "create_table":
            entity_tables = tables[step.data["entity"]]
            table = entity_tables.children[step.data["child"]] if "child" in step.data else entity_tables.main
            table.create(conn)
        case "add_column":
            storage = storage_from_dict(step.data["storage"])
            ops.add_column(step.table, sa.Column(step.column, storage.sa_type(), nullable=True))
            if storage.encrypted:
                ops.add_column(step.table, _blind_index(step.column))
        case "widen_column":
            if conn.dialect.name != "sqlite":  # SQLite does not enforce lengths or scales: nothing to do
                ops.alter_column(
                    step.table,
                    step.column,
                    type_=storage_from_dict(step.data["to"]).sa_type(),
                    existing_type=storage_from_dict(step.data["from"]).sa_type(),
                )
        case "archive_column":
            archived = f"arch_{step.column}_{stamp}"[:63]
            conn.exec_driver_sql(f"ALTER TABLE {q(step.table)} RENAME COLUMN {q(step.column)} TO {q(archived)}")
            conn.execute(
                sa.insert(pt.archived_columns).values(
                    table_name=step.table,
                    field_name=step.column,
                    column_name=archived,
                    field_spec=step.data["field"],
                    archived_at=now,
                )
            )
            if (step.data.get("storage") or {}).get("encrypted"):
                ops.drop_column(step.table, blind_index_column(step.column))  # derived data: rebuilt from the key
        case "archive_table":
            conn.exec_driver_sql(f"ALTER TABLE {q(step.table)} RENAME TO {q(f'arch_{stamp}_{step.table}'[:63])}")
        case "create_index":
            ops.create_index(step.data["name"], step.table, step.data["columns"], unique=step.data["unique"])
        case "drop_index":
            ops.drop_index(step.data["name"], table_name=step.table)
        case "note":
            pass
        case _:
            raise ValueError(f"unknown plan step {step.action}")


def _blind_index(column: str) -> sa.Column:
    return sa.Column(blind_index_column(column), BLIND_INDEX.sa_type(), nullable=True)


def _apply_crypt_step(conn: Connection, ops: Operations, step: Step, cipher: FieldCipher | None) -> None:
    """Encrypt, decrypt or re-index a column's existing values (the column type changes on PostgreSQL only:
    SQLite does not enforce VARCHAR lengths, so ciphertext fits the old column as it is)."""
    if cipher is None:
        raise RuntimeError(f"{step.description}: this deploy needs the field cipher")
    pg = conn.dialect.name != "sqlite"
    text, bidx = sa.Text(), blind_index_column(step.column)
    if step.action == "encrypt_column":
        if pg:
            plain = storage_from_dict(step.data["plain"]).sa_type()
            ops.alter_column(step.table, step.column, type_=text, existing_type=plain)
        ops.add_column(step.table, _blind_index(step.column))
    _rewrite_values(conn, step, cipher)
    if step.action == "decrypt_column":
        if pg:
            plain = storage_from_dict(step.data["plain"]).sa_type()
            ops.alter_column(step.table, step.column, type_=plain, existing_type=text)
        ops.drop_column(step.table, bidx)


def _rewrite_values(conn: Connection, step: Step, cipher: FieldCipher) -> None:
    """Every non-empty value of the column, in batches by id; a value that cannot be decrypted refuses the deploy."""
    f, crypt, column = field_from_raw(step.data["field"]), cipher.for_table(step.table), step.column
    bidx = blind_index_column(column)
    t = sa.table(step.table, sa.column("id"), sa.column(column), sa.column(bidx))
    last = None
    while True:
        q = sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None)).order_by(t.c.id).limit(REWRITE_BATCH)
        rows = conn.execute(q if last is None else q.where(t.c.id > last)).all()
        if not rows:
            return
        last = rows[-1][0]
        updates = []
        for rid, value in rows:
            try:
                if step.action == "encrypt_column":
                    new = crypt.seal(f, value)
                elif step.action == "decrypt_column":
                    new = {column: cipher.decrypt(value, crypt.ad(f))}
                else:
                    new = {bidx: crypt.blind(f, cipher.decrypt(value, crypt.ad(f)))}
            except DecryptError as exc:
                raise DeployRefused([f"{step.table}.{column} of record #{rid} cannot be decrypted: {exc}"]) from exc
            updates.append({"dep_id": rid, **{f"dep_{k}": v for k, v in new.items()}})
        values = {k.removeprefix("dep_"): sa.bindparam(k) for k in updates[0] if k != "dep_id"}
        conn.execute(sa.update(t).where(t.c.id == sa.bindparam("dep_id")).values(**values), updates)
