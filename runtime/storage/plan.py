"""Migration plans: what deploying a pack will do to the database, in plain words, before it happens.

The plan compares the blueprints of the deployed version with the new ones (not the live schema):
blueprints are the source of truth, and comparing two of them gives intent ("the field was
removed") where a schema diff would only see a missing column.

Sensitive fields are stored encrypted (runtime.security): a field that becomes sensitive gets an
`encrypt_column` step that encrypts its existing values inside the deploy transaction, the reverse a
`decrypt_column` step, and an encrypted field whose type changes how values compare (phone -> text)
a `reindex_column` step that rebuilds its blind index. `plan_deploy` fills in how many values each
of these steps touches, so the preview says what will happen to the data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from runtime.blueprints.model import Entity, Field, label_text
from runtime.fields.storage import (
    BLIND_INDEX_SUFFIX,
    ENCRYPTABLE_TYPES,
    StorageType,
    blind_index_column,
    is_encrypted,
    plain_storage_type,
    storage_type,
    widening_allowed,
)
from runtime.storage.entity_tables import desired_indexes

ORDER = (
    "drop_index",
    "archive_column",
    "archive_table",
    "create_table",
    "add_column",
    "widen_column",
    "encrypt_column",
    "decrypt_column",
    "reindex_column",
    "create_index",
    "note",
)


@dataclass
class Step:
    action: str
    table: str
    description: str
    column: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    pack_id: str
    from_version: str | None
    to_version: str
    steps: list[Step] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def changes_schema(self) -> bool:
        return any(s.action != "note" for s in self.steps)

    def ordered(self) -> list[Step]:
        return sorted(self.steps, key=lambda s: ORDER.index(s.action))

    def describe(self) -> list[str]:
        """The plan as sentences, in the order it will be applied."""
        head = f"Pack {self.pack_id}: " + (
            f"upgrade {self.from_version} -> {self.to_version}"
            if self.from_version
            else f"first install of {self.to_version}"
        )
        lines = [head]
        lines += [f"  REFUSED: {p}" for p in self.problems]
        steps = self.ordered()
        lines += [f"  {i}. {s.description}" for i, s in enumerate(steps, 1)]
        if not steps and not self.problems:
            lines.append("  no changes")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "pack_id": self.pack_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "steps": [s.as_dict() for s in self.ordered()],
            "problems": self.problems,
        }


def _st(f: Field) -> dict[str, Any] | None:
    st = storage_type(f)
    return None if st is None else asdict(st)


def compute_plan(
    pack_id: str, from_version: str | None, to_version: str, old: dict[str, Entity], new: dict[str, Entity]
) -> Plan:
    plan = Plan(pack_id, from_version, to_version)
    for entity_id, entity in new.items():
        plan.problems += encryption_problems(entity)
        if entity_id not in old:
            _plan_new_entity(plan, entity)
        else:
            _plan_changed_entity(plan, old[entity_id], entity)
    for entity_id, entity in old.items():
        if entity_id not in new:
            for name, spec in desired_indexes(entity).items():
                plan.steps.append(Step("drop_index", spec.table, f"drop index {name}", data={"name": name}))
            children = [entity.child_table_name(f) for f in entity.fields if f.type == "child_table"]
            for table in [entity.table_name, *children]:
                plan.steps.append(
                    Step(
                        "archive_table",
                        table,
                        f"archive table {table} (entity '{entity_id}' removed; its records are kept)",
                    )
                )
    _plan_indexes(plan, old, new)
    return plan


def _plan_new_entity(plan: Plan, entity: Entity) -> None:
    plan.steps.append(
        Step(
            "create_table",
            entity.table_name,
            f"create table {entity.table_name} for entity '{entity.id}' ({label_text(entity.label)}) "
            f"with {len(entity.fields)} fields",
            data={"entity": entity.id},
        )
    )
    for child in (f for f in entity.fields if f.type == "child_table"):
        table = entity.child_table_name(child)
        plan.steps.append(
            Step(
                "create_table",
                table,
                f"create child table {table} for '{entity.id}.{child.name}'",
                data={"entity": entity.id, "child": child.name},
            )
        )


def _plan_changed_entity(plan: Plan, old: Entity, new: Entity) -> None:
    _plan_fields(plan, new, new.table_name, old.fields, new.fields, child_of=None)
    old_children = {f.name: f for f in old.fields if f.type == "child_table"}
    for f in new.fields:
        if f.type == "child_table" and f.name in old_children:
            table = new.child_table_name(f)
            _plan_fields(plan, new, table, old_children[f.name].children, f.children, child_of=f.name)
    if old.label != new.label:
        plan.steps.append(
            Step(
                "note",
                new.table_name,
                f"entity '{new.id}': label changed to '{label_text(new.label)}' (no database change)",
            )
        )


def _plan_fields(
    plan: Plan, entity: Entity, table: str, old_fields: list[Field], new_fields: list[Field], child_of: str | None
) -> None:
    old_by = {f.name: f for f in old_fields}
    new_by = {f.name: f for f in new_fields}
    where = f"{entity.id}.{child_of}" if child_of else entity.id
    for name, f in new_by.items():
        before = old_by.get(name)
        if before is None:
            if f.type == "child_table":
                child_table = entity.child_table_name(f)
                plan.steps.append(
                    Step(
                        "create_table",
                        child_table,
                        f"create child table {child_table} for '{entity.id}.{f.name}'",
                        data={"entity": entity.id, "child": f.name},
                    )
                )
            else:
                secret = f", encrypted at rest, with blind index {blind_index_column(name)}" if is_encrypted(f) else ""
                plan.steps.append(
                    Step(
                        "add_column",
                        table,
                        f"add column {table}.{name} ({f.type}, '{label_text(f.label)}'{secret}); "
                        "existing records get no value",
                        column=name,
                        data={"storage": _st(f), "child": child_of},
                    )
                )
            continue
        _plan_field_change(plan, entity, table, where, before, f, child_of)
    for name, f in old_by.items():
        if name not in new_by:
            if f.type == "child_table":
                child_table = entity.child_table_name(f)
                plan.steps.append(
                    Step(
                        "archive_table",
                        child_table,
                        f"archive child table {child_table} (field '{where}.{name}' removed; rows kept)",
                    )
                )
            else:
                plan.steps.append(
                    Step(
                        "archive_column",
                        table,
                        f"archive column {table}.{name} (field '{where}.{name}' removed; "
                        "its data is kept in an archived column"
                        + (", still encrypted; its blind index is dropped)" if is_encrypted(f) else ")"),
                        column=name,
                        data={"field": f.raw, "child": child_of, "storage": _st(f)},
                    )
                )


def _plan_field_change(
    plan: Plan, entity: Entity, table: str, where: str, before: Field, after: Field, child_of: str | None
) -> None:
    if (before.type == "child_table") != (after.type == "child_table"):
        plan.problems.append(
            f"field '{where}.{after.name}' cannot change between a child table and a plain field; "
            "add a new field instead"
        )
        return
    if after.type == "child_table":
        return
    old_st, new_st = storage_type(before), storage_type(after)
    assert old_st is not None and new_st is not None
    if old_st.encrypted or new_st.encrypted:
        if not _plan_encryption_change(plan, table, where, before, after, child_of):
            return
    elif old_st != new_st:
        if widening_allowed(old_st, new_st):
            plan.steps.append(
                Step(
                    "widen_column",
                    table,
                    f"widen column {table}.{after.name} from {old_st.describe()} to {new_st.describe()}; "
                    "values are kept",
                    column=after.name,
                    data={"from": asdict(old_st), "to": asdict(new_st), "child": child_of},
                )
            )
        else:
            plan.problems.append(
                f"field '{where}.{after.name}' cannot change from {before.type} ({old_st.describe()}) to {after.type} "
                f"({new_st.describe()}) without losing data; add a new field and copy the values instead"
            )
            return
    changed = sorted(
        k for k in set(before.raw) | set(after.raw) if k not in ("name",) and before.raw.get(k) != after.raw.get(k)
    )
    storage_keys: tuple[str, ...] = ("type", "max_length", "decimals", "result_type") if old_st != new_st else ()
    if old_st.encrypted or new_st.encrypted:  # covered by the encrypt, decrypt or reindex step
        storage_keys = ("type", "sensitive", "max_length") if old_st != new_st else ("type",)
    meta = [k for k in changed if k not in ("indexed", "unique", *storage_keys)]
    if meta:
        what = ", ".join(meta)
        plan.steps.append(
            Step("note", table, f"field '{where}.{after.name}': {what} changed (no database change)", column=after.name)
        )


def _plan_indexes(plan: Plan, old: dict[str, Entity], new: dict[str, Entity]) -> None:
    """Index changes of kept and new entities (a removed entity's indexes go with its table)."""
    before = {n: s for e in old.values() if e.id in new for n, s in desired_indexes(e).items()}
    after = {n: s for e in new.values() for n, s in desired_indexes(e).items()}
    for name, spec in after.items():
        if before.get(name) != spec:  # new, or same name over other columns (a field became sensitive)
            kind = "unique index" if spec.unique else "index"
            plan.steps.append(
                Step(
                    "create_index",
                    spec.table,
                    f"build {kind} {name} on {spec.table}({', '.join(spec.columns)})",
                    data={"name": name, "columns": list(spec.columns), "unique": spec.unique},
                )
            )
    for name, spec in before.items():
        if after.get(name) != spec:
            plan.steps.append(Step("drop_index", spec.table, f"drop index {name}", data={"name": name}))


def encryption_problems(entity: Entity) -> list[str]:
    """Sensitive fields that cannot be encrypted, and names that would clash with a blind-index column."""
    problems = []
    groups = [(entity.id, entity.fields)] + [
        (f"{entity.id}.{f.name}", f.children) for f in entity.fields if f.type == "child_table"
    ]
    for where, fields in groups:
        for f in fields:
            if f.sensitive and f.type not in ENCRYPTABLE_TYPES:
                problems.append(
                    f"field '{where}.{f.name}' is sensitive, but a {f.type} field cannot be encrypted at rest: only "
                    "text, long text, phone, email, ID number and select fields can (restrict who may read it instead)"
                )
            base = f.name.removesuffix(BLIND_INDEX_SUFFIX)
            if base != f.name and _has_encrypted(fields, base):
                problems.append(
                    f"field '{where}.{f.name}' clashes with the blind-index column of the sensitive field '{base}'; "
                    "rename it"
                )
    return problems


def _has_encrypted(fields: list[Field], name: str) -> bool:
    return any(f.name == name and is_encrypted(f) for f in fields)


def crypt_description(action: str, table: str, column: str, values: int | None) -> str:
    """The plain-words line of an encrypt, decrypt or reindex step; `values` is filled in by plan_deploy."""
    n = "existing values" if values is None else f"{values} value{'' if values == 1 else 's'}"
    bidx = blind_index_column(column)
    return {
        "encrypt_column": f"encrypt column {table}.{column} ({n}) and add its blind index {bidx}",
        "decrypt_column": f"decrypt column {table}.{column} ({n}) back to plain text and drop its blind index {bidx}",
        "reindex_column": f"rebuild the blind index {bidx} of encrypted column {table}.{column} ({n}) for its new type",
    }[action]


def _plan_encryption_change(
    plan: Plan, table: str, where: str, before: Field, after: Field, child_of: str | None
) -> bool:
    """Steps for a field that is or becomes encrypted; False when the change is refused."""
    old_plain, new_plain = plain_storage_type(before), plain_storage_type(after)
    assert old_plain is not None and new_plain is not None
    encrypting, decrypting = (
        is_encrypted(after) and not is_encrypted(before),
        is_encrypted(before) and not is_encrypted(after),
    )
    if (encrypting or decrypting) and not widening_allowed(old_plain, new_plain):
        plan.problems.append(
            f"field '{where}.{after.name}' cannot change from {before.type} to {after.type} while it is "
            f"{'encrypted' if encrypting else 'decrypted'}; deploy the two changes one after the other"
        )
        return False
    if encrypting or decrypting:
        action = "encrypt_column" if encrypting else "decrypt_column"
        plain = old_plain if encrypting else new_plain
        data = {"plain": asdict(plain), "field": after.raw, "child": child_of}
    elif before.type != after.type:  # both encrypted: the blind index may normalise values differently now
        action, data = "reindex_column", {"field": after.raw, "child": child_of}
    else:
        return True
    plan.steps.append(Step(action, table, crypt_description(action, table, after.name, None), after.name, data))
    return True


def storage_from_dict(data: dict[str, Any]) -> StorageType:
    return StorageType(**data)
