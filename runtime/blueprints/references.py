"""Cross-file checks that a JSON Schema cannot express: names that must exist, ids that must be unique,
expressions that must compile, options that must fit the field type."""

from __future__ import annotations

import re
from collections.abc import Iterable

from runtime.blueprints.errors import PackError, pointer
from runtime.blueprints.model import CHILD_SYSTEM_FIELDS, SYSTEM_FIELDS, Entity, Field, Pack
from runtime.demo_dates import PREFIXES as RELATIVE_DATE_PREFIXES
from runtime.demo_dates import is_relative_date
from runtime.expressions import check_expression
from runtime.fields.types import FIELD_TYPES

AUTONUMBER_TOKEN = re.compile(r"\{(yyyy|yy|mm|dd|seq(?::\d)?)\}")
DATE_TYPES = ("date", "datetime")
OWNERSHIP_FIELDS = {"owner_field": "user", "department_field": "department"}
"""Entity keys naming the fields data scopes use, and the field type each must have."""
UNINDEXABLE = ("child_table", "long_text", "json", "multiselect", "tags", "file", "image", "region")
"""Types stored as JSON or long text: no useful B-tree index, hence no unique constraint either."""


class _Checker:
    def __init__(self, pack: Pack, known_entities: set[str], known_option_sets: set[str]):
        self.pack = pack
        self.entities = set(pack.entities) | known_entities
        self.option_sets = set(pack.option_sets) | known_option_sets
        self.errors: list[PackError] = []
        self.files = {kind_id(rel, doc): rel for rel, doc in pack.documents.items()}

    def error(self, file: str, path: Iterable[object], message: str) -> None:
        self.errors.append(PackError(file, pointer(*path), message))

    def run(self) -> list[PackError]:
        self.check_duplicate_ids()
        for entity in self.pack.entities.values():
            self.check_entity(entity)
        self.check_forms()
        self.check_views()
        self.check_option_sets()
        self.check_menus()
        self.check_demo()
        self.check_roles()
        return self.errors

    def file_of(self, folder: str, ident: str) -> str:
        return self.files.get((folder, ident), f"{folder}/{ident}.json")

    def check_duplicate_ids(self) -> None:
        seen: dict[tuple[str, str], str] = {}
        for rel, doc in sorted(self.pack.documents.items()):
            key = kind_id(rel, doc)
            if key[0] in ("pack.json", "menus.json", "demo"):
                continue
            if key in seen:
                self.error(rel, ["id"], f"the id '{key[1]}' is already used by {seen[key]}")
            else:
                seen[key] = rel

    # entities -------------------------------------------------------------------------------
    def check_entity(self, entity: Entity) -> None:
        file = self.file_of("entities", entity.id)
        self.check_fields(file, entity.fields, ["fields"], entity, top_level=True)
        names = set(entity.field_names)
        if entity.raw.get("title_field") and entity.raw["title_field"] not in names:
            self.error(file, ["title_field"], f"unknown field '{entity.raw['title_field']}'")
        for i, index in enumerate(entity.raw.get("indexes", [])):
            for j, name in enumerate(index["fields"]):
                f = entity.field(name)
                if f is None and name not in SYSTEM_FIELDS:
                    self.error(file, ["indexes", i, "fields", j], f"unknown field '{name}'")
                elif f is not None and f.type in UNINDEXABLE:
                    self.error(file, ["indexes", i, "fields", j], f"a field of type {f.type} cannot be indexed")
        for i, rule in enumerate(entity.raw.get("validations", [])):
            self.check_validation(file, ["validations", i], rule, names)
        for key, wanted in OWNERSHIP_FIELDS.items():
            name = entity.raw.get(key)
            f = entity.field(name) if name else None
            if name and (f is None or f.type != wanted):
                self.error(file, [key], f"'{name}' is not a {wanted} field of this entity")
            elif f is not None and f.sensitive:
                self.error(file, [key], f"'{name}' is encrypted (sensitive) and cannot decide who may see a record")

    def check_fields(self, file: str, fields: list[Field], path: list[object], entity: Entity, top_level: bool) -> None:
        seen: set[str] = set()
        names = {f.name for f in fields}
        if not top_level:
            names |= set(entity.field_names)  # row expressions may read the parent's fields
        for i, f in enumerate(fields):
            here = [*path, i]
            if f.name in seen:
                self.error(file, [*here, "name"], f"the field name '{f.name}' is used twice")
            seen.add(f.name)
            reserved = SYSTEM_FIELDS if top_level else CHILD_SYSTEM_FIELDS
            if f.name in reserved:
                what = "record" if top_level else "child-table row"
                self.error(
                    file, [*here, "name"], f"'{f.name}' is a system field every {what} already has; choose another name"
                )
            self.check_field(file, here, f, names | set(SYSTEM_FIELDS))
            if f.type == "child_table":
                if not top_level:
                    self.error(file, [*here, "type"], "child tables cannot be nested inside child tables")
                else:
                    self.check_fields(file, f.children, [*here, "fields"], entity, top_level=False)

    def check_field(self, file: str, path: list[object], f: Field, names: set[str]) -> None:
        t = f.type
        if t == "reference" and f.opt("entity") not in self.entities:
            self.error(file, [*path, "entity"], f"the referenced entity '{f.opt('entity')}' does not exist")
        if t in ("select", "multiselect") and f.opt("option_set") not in self.option_sets:
            self.error(file, [*path, "option_set"], f"the option set '{f.opt('option_set')}' does not exist")
        if t == "autonumber":
            fmt = f.opt("format")
            if "{seq" not in fmt:
                self.error(file, [*path, "format"], "an auto-number format needs a {seq} or {seq:N} part")
            leftover = AUTONUMBER_TOKEN.sub("", fmt)
            if "{" in leftover or "}" in leftover:
                self.error(
                    file, [*path, "format"], "unknown placeholder: use {yyyy}, {yy}, {mm}, {dd}, {seq} or {seq:N}"
                )
        if f.opt("pattern"):
            try:
                re.compile(f.opt("pattern"))
            except re.error as exc:
                self.error(file, [*path, "pattern"], f"invalid regular expression: {exc}")
        if f.opt("min") is not None and f.opt("max") is not None and f.opt("min") > f.opt("max"):
            self.error(file, [*path, "min"], "min is greater than max")
        if f.unique and t in (*UNINDEXABLE, "computed"):
            self.error(file, [*path, "unique"], f"a field of type {t} cannot be unique")
        for key in ("expression", "visible_when", "required_when", "read_only_when"):
            if f.opt(key):
                self.check_expr(file, [*path, key], f.opt(key), names)
        default = f.opt("default")
        if isinstance(default, dict) and "expression" in default and t != "json":
            self.check_expr(file, [*path, "default", "expression"], default["expression"], names)
        if t not in FIELD_TYPES:
            self.error(file, [*path, "type"], f"unknown field type '{t}'")

    def check_validation(self, file: str, path: list[object], rule: dict, names: set[str]) -> None:
        scope = names | set(SYSTEM_FIELDS)
        self.check_expr(file, [*path, "rule"], rule["rule"], scope)
        if rule.get("when"):
            self.check_expr(file, [*path, "when"], rule["when"], scope)
        if rule.get("field") and rule["field"] not in names:
            self.error(file, [*path, "field"], f"unknown field '{rule['field']}'")

    def check_expr(self, file: str, path: list[object], source: str, names: set[str]) -> None:
        for problem in check_expression(source, names):
            self.error(file, path, f"expression '{source}': {problem}")

    # forms ----------------------------------------------------------------------------------
    def check_forms(self) -> None:
        for form in self.pack.forms.values():
            file = self.file_of("forms", form.id)
            entity = self.pack.entities.get(form.entity)
            if entity is None:
                msg = "is defined in another pack; forms must belong to the pack of their entity"
                self.error(
                    file,
                    ["entity"],
                    f"the entity '{form.entity}' " + ("does not exist" if form.entity not in self.entities else msg),
                )
                continue
            names = set(entity.field_names)
            seen: set[str] = set()
            for path, name in _form_field_paths(form.raw):
                if name not in names:
                    self.error(file, path, f"the field '{name}' does not exist in entity '{entity.id}'")
                elif name in seen:
                    self.error(file, path, f"the field '{name}' appears twice in the form")
                seen.add(name)
            for name, conds in form.raw.get("conditions", {}).items():
                if name not in names:
                    self.error(file, ["conditions", name], f"the field '{name}' does not exist in entity '{entity.id}'")
                for key, source in conds.items():
                    self.check_expr(file, ["conditions", name, key], source, names | set(SYSTEM_FIELDS))
            for i, rule in enumerate(form.raw.get("validations", [])):
                self.check_validation(file, ["validations", i], rule, names)

    # views ----------------------------------------------------------------------------------
    def check_views(self) -> None:
        for view in self.pack.views.values():
            file = self.file_of("views", view.id)
            entity = self.pack.entities.get(view.entity)
            if entity is None:
                self.error(file, ["entity"], f"the entity '{view.entity}' does not exist in this pack")
                continue
            self.check_view(file, view.raw, entity)

    def check_view(self, file: str, raw: dict, entity: Entity) -> None:
        def known(name: str, path: list[object]) -> Field | None:
            f = entity.field(name)
            if f is None and name not in SYSTEM_FIELDS:
                self.error(file, path, f"the field '{name}' does not exist in entity '{entity.id}'")
            return f

        for i, name in enumerate(raw.get("columns", [])):
            f = known(name, ["columns", i])
            if f is not None and f.type == "child_table":
                self.error(file, ["columns", i], "a child table cannot be a list column")
        for i, flt in enumerate(raw.get("filters", [])):
            f = known(flt["field"], ["filters", i, "field"])
            if f is not None and flt["op"] not in _ops(f):
                self.error(file, ["filters", i, "op"], f"the filter '{flt['op']}' does not apply to a {f.type} field")
        for key in ("quick_filters", "search_fields"):
            for i, name in enumerate(raw.get(key, [])):
                known(name, [key, i])
        for i, s in enumerate(raw.get("sort", [])):
            f = known(s["field"], ["sort", i, "field"])
            if f is not None and not FIELD_TYPES[f.type].sortable:
                self.error(file, ["sort", i, "field"], f"a {f.type} field cannot be sorted")
        if raw.get("group_by"):
            f = known(raw["group_by"], ["group_by"])
            if f is not None and f.type != "select":
                self.error(file, ["group_by"], "kanban columns come from a select field")
        if raw.get("date_field"):
            f = known(raw["date_field"], ["date_field"])
            if f is not None and f.type not in DATE_TYPES:
                self.error(file, ["date_field"], "a calendar needs a date or datetime field")
        if raw.get("form"):
            form = self.pack.forms.get(raw["form"])
            if form is None:
                self.error(file, ["form"], f"the form '{raw['form']}' does not exist")
            elif form.entity != entity.id:
                self.error(file, ["form"], f"the form '{raw['form']}' is for entity '{form.entity}', not '{entity.id}'")

    # option sets, menus, demo ---------------------------------------------------------------
    def check_option_sets(self) -> None:
        for oset in self.pack.option_sets.values():
            file = self.file_of("option_sets", oset.id)
            self._check_options(file, oset.raw["options"], ["options"], set(), bool(oset.raw.get("tree")))

    def _check_options(self, file: str, options: list[dict], path: list[object], seen: set[str], tree: bool) -> None:
        for i, opt in enumerate(options):
            if opt["value"] in seen:
                self.error(file, [*path, i, "value"], f"the value '{opt['value']}' is used twice")
            seen.add(opt["value"])
            if opt.get("children"):
                if not tree:
                    self.error(file, [*path, i, "children"], 'only a tree option set ("tree": true) may have children')
                self._check_options(file, opt["children"], [*path, i, "children"], seen, tree)

    def check_menus(self) -> None:
        def walk(items: list[dict], path: list[object]) -> None:
            for i, item in enumerate(items):
                if item.get("view") and item["view"] not in self.pack.views:
                    self.error("menus.json", [*path, i, "view"], f"the view '{item['view']}' does not exist")
                if item.get("entity") and item["entity"] not in self.entities:
                    self.error("menus.json", [*path, i, "entity"], f"the entity '{item['entity']}' does not exist")
                walk(item.get("items", []), [*path, i, "items"])

        walk(self.pack.menus, ["menus"])

    def check_demo(self) -> None:
        """Demo records name an entity of this pack; the demo organisation's codes, usernames and roles exist,
        and '@user:' / '@department:' references in records name a demo user / department of this pack."""
        organisations = [doc for doc in self.pack.demo if "entity" not in doc]
        departments = {d["code"] for doc in organisations for d in doc["departments"]}
        users = {u["username"] for doc in organisations for u in doc["users"]}
        for doc in organisations:
            self._check_organisation(doc, departments)
        known = {"user": users, "department": departments}
        for doc in self.pack.demo:
            if "entity" not in doc:
                continue
            if doc["entity"] not in self.pack.entities:
                self.error(doc["_file"], ["entity"], f"the entity '{doc['entity']}' does not exist in this pack")
            for i, record in enumerate(doc["records"]):
                for name, value in record.items():
                    kind, key = demo_reference(value)
                    if kind in known and key not in known[kind]:
                        self.error(
                            doc["_file"], ["records", i, name], f"no demo {kind} '{key}' is declared in this pack"
                        )
                    elif kind in RELATIVE_DATE_PREFIXES and not is_relative_date(value):
                        self.error(
                            doc["_file"],
                            ["records", i, name],
                            f"'{value}' is not a relative date: use @date:-30, @datetime:-3 14:30 or @month:-5",
                        )

    def _check_organisation(self, doc: dict, departments: set[str]) -> None:
        file = doc["_file"]
        codes: set[str] = set()
        for i, dept in enumerate(doc["departments"]):
            if dept["code"] in codes:
                self.error(file, ["departments", i, "code"], f"the code '{dept['code']}' is used twice")
            codes.add(dept["code"])
            if dept.get("parent") is not None and dept["parent"] not in departments:
                self.error(file, ["departments", i, "parent"], f"no demo department '{dept['parent']}' is declared")
        names: set[str] = set()
        for i, user in enumerate(doc["users"]):
            if user["username"] in names:
                self.error(file, ["users", i, "username"], f"the username '{user['username']}' is used twice")
            names.add(user["username"])
            if user.get("department") is not None and user["department"] not in departments:
                self.error(file, ["users", i, "department"], f"no demo department '{user['department']}' is declared")
            for j, role in enumerate(user["roles"]):
                if role not in self.pack.roles:
                    self.error(file, ["users", i, "roles", j], f"the role '{role}' does not exist in this pack")

    # roles ----------------------------------------------------------------------------------
    def check_roles(self) -> None:
        roles = self.pack.roles
        for role in roles.values():
            file = self.file_of("roles", role.id)
            for path, message in role_problems(role.raw, self.entities, self.pack.entities, set(roles)):
                self.error(file, path, message)
        for role_id in hierarchy_cycles({r.id: r.parent for r in roles.values()}):
            self.error(self.file_of("roles", role_id), ["parent"], f"the role '{role_id}' is its own ancestor (cycle)")


def role_problems(
    raw: dict, known_entities: set[str], entities: dict[str, Entity], role_ids: set[str]
) -> list[tuple[list[object], str]]:
    """Problems of one role document: unknown parent, entity or field (shared by packs and the admin API).

    Fields are checked for entities in `entities`; entities only known by id (other packs) are not.
    """
    problems: list[tuple[list[object], str]] = []
    parent = raw.get("parent")
    if parent is not None and parent not in role_ids:
        problems.append((["parent"], f"the parent role '{parent}' does not exist"))
    for i, perm in enumerate(raw.get("permissions", [])):
        entity_id = perm.get("entity")
        fields = perm.get("fields", {})
        if entity_id == "*":
            for key in ("read", "write", "masked"):
                if isinstance(fields.get(key), list):
                    problems.append((["permissions", i, "fields", key], "field lists need a specific entity, not '*'"))
            continue
        if entity_id not in known_entities and entity_id not in entities:
            problems.append((["permissions", i, "entity"], f"the entity '{entity_id}' does not exist"))
            continue
        entity = entities.get(entity_id)
        if entity is None:
            continue
        for key in ("read", "write", "masked"):
            names = fields.get(key)
            if not isinstance(names, list):
                continue
            for j, name in enumerate(names):
                if entity.field(name) is None:
                    problems.append(
                        (
                            ["permissions", i, "fields", key, j],
                            f"the field '{name}' does not exist in entity '{entity_id}'",
                        )
                    )
    return problems


def hierarchy_cycles(parents: dict[str, str | None]) -> list[str]:
    """Role ids that are their own ancestor (sorted); each id in a cycle is reported once."""
    bad: list[str] = []
    for start in sorted(parents):
        seen = {start}
        current = parents.get(start)
        while current is not None and current in parents:
            if current == start:
                bad.append(start)
                break
            if current in seen:
                break
            seen.add(current)
            current = parents.get(current)
    return bad


def demo_reference(value: object) -> tuple[str, str]:
    """('user', 'li.na') for a demo value '@user:li.na'; ('', '') for a value that is no reference."""
    if isinstance(value, str) and value.startswith("@") and ":" in value:
        kind, _, key = value[1:].partition(":")
        return kind, key
    return "", ""


def kind_id(rel: str, doc: object) -> tuple[str, str]:
    """A (folder, id) key for a document, used to find which file defined what."""
    folder = rel.split("/", 1)[0]
    return (folder, doc.get("id", "") if isinstance(doc, dict) else "")


def _ops(f: Field) -> tuple[str, ...]:
    from runtime.fields.types import field_type

    return field_type(f).filter_ops


def _form_field_paths(raw: dict) -> list[tuple[list[object], str]]:
    out: list[tuple[list[object], str]] = []
    if "tabs" in raw:
        for t, tab in enumerate(raw["tabs"]):
            for s, sec in enumerate(tab["sections"]):
                out.extend((["tabs", t, "sections", s, "fields", i], n) for i, n in enumerate(sec["fields"]))
    else:
        for s, sec in enumerate(raw.get("sections", [])):
            out.extend((["sections", s, "fields", i], n) for i, n in enumerate(sec["fields"]))
    return out


def check_references(pack: Pack, known_entities: set[str], known_option_sets: set[str]) -> list[PackError]:
    return _Checker(pack, known_entities, known_option_sets).run()
