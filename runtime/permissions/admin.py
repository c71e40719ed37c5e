"""Managing people: users, the department tree, roles and who holds which role.

Every change is validated with a message naming the field (RecordInvalid -> 422 with per-field errors);
unknown ids are NotFound, changes that would break something (a cycle in the tree, deleting a
department still in use, deleting a shipped role) are Conflict. After each change the permission
caches are invalidated, and role edits reload the registry so every worker process picks them up.

Only real administrators (users.is_admin) may grant or revoke is_admin; nobody may deactivate or
demote their own account (no lock-out by mistake).

Every change that alters who may do what (a user's roles, administrator flag, activation, password or
department; the department tree; a role's definition) leaves a ``permission_change`` entry in the
operation log, written in the same transaction as the change and naming the operator (an
:class:`runtime.oplog.Actor`). The API and the web pages build the service with
:meth:`PeopleAdmin.for_admin`, so both check the same right and log the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.blueprints.loader import document_errors
from runtime.blueprints.references import hierarchy_cycles, role_problems
from runtime.clock import Clock, SystemClock
from runtime.errors import BadRequest, Conflict, NotFound, RecordInvalid
from runtime.fields.formats import is_cn_phone, is_email
from runtime.identity.passwords import hash_password
from runtime.identity.policy import violations
from runtime.oplog import Actor, record_operation
from runtime.permissions.enforce import PermissionService
from runtime.permissions.model import Role, role_from_document, shipped_roles
from runtime.permissions.store import load_roles, save_role
from runtime.permissions.subjects import DepartmentTree
from runtime.records.context import Context
from runtime.registry import Registry
from runtime.storage import platform_tables as pt
from runtime.storage.database import Database
from runtime.validation.errors import FieldError

if TYPE_CHECKING:
    from runtime.services import Tessera

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
NOTIFY_CHANNELS = ("in_app", "email", "sms", "wechat")
LANGUAGES = ("zh", "en")
USER_KEYS = (
    "username",
    "display_name",
    "password",
    "department_id",
    "organisation",
    "phone",
    "email",
    "notify_channels",
    "active",
    "is_admin",
    "language",
    "roles",
)
DEPARTMENT_KEYS = ("name", "parent_id", "code", "organisation", "sort")
MAX_ID = 2**63 - 1
LOGGED_USER_KEYS = ("roles", "is_admin", "active", "department_id", "password")
"""User changes that alter what the person may do: each leaves an operation-log entry."""


class Refused(Conflict):
    """A Conflict that also says why in machine-readable form (``reason`` and ``params``), so a page can
    word it in the user's language; the API answers with the same 409 and message as a plain Conflict."""

    def __init__(self, message: str, reason: str, **params: Any):
        super().__init__(message)
        self.reason = reason
        self.params = params


class Invalid:
    """Collects per-field errors; raise() throws RecordInvalid when there are any."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str, code: str = "invalid") -> None:
        self.errors.append(FieldError(field, message, code))

    def raise_if_any(self) -> None:
        if self.errors:
            raise RecordInvalid(self.errors)


def _object(data: Any, keys: tuple[str, ...], errors: Invalid) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    for key in data:
        if key not in keys:
            errors.add(str(key)[:64], f"unknown property; use {', '.join(keys)}", "unknown")
    return {k: v for k, v in data.items() if k in keys}


def _text(value: Any, field: str, errors: Invalid, *, max_len: int, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.add(field, "is required", "required")
        return None
    if not isinstance(value, str):
        errors.add(field, "must be text", "type")
        return None
    value = value.strip()
    if "\x00" in value:
        errors.add(field, "contains a NUL character", "nul_character")
        return None
    if len(value) > max_len:
        errors.add(field, f"may have at most {max_len} characters", "max_length")
        return None
    return value


def _id(value: Any, field: str, errors: Invalid) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        errors.add(field, "must be the id (a positive whole number) of an existing record", "type")
        return None
    return value


def _bool(value: Any, field: str, errors: Invalid) -> bool | None:
    if not isinstance(value, bool):
        errors.add(field, "must be true or false", "type")
        return None
    return value


def parse_id(raw: str) -> int:
    """A path id: ASCII digits in range, else 404 (never a 422 or a database error)."""
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"no record with id '{raw[:40]}'")
    return int(raw)


class PeopleAdmin:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        permissions: PermissionService,
        *,
        clock: Clock | None = None,
        operator: Actor | None = None,
    ):
        self.db = db
        self.registry = registry
        self.permissions = permissions
        self.clock = clock or SystemClock()
        self.operator = operator or Actor()

    @classmethod
    def for_admin(
        cls, app: Tessera, ctx: Context, *, username: str | None = None, ip: str | None = None
    ) -> PeopleAdmin:
        """The service for an administrator or a holder of the 'admin' right; Forbidden for anyone else.

        Both the API and the web pages build it here, so both check the same right and name the same
        operator in the operation log."""
        app.permissions.require_right(ctx, "admin")
        operator = Actor(ctx.user_id, username, ip, ctx.request_id)
        return cls(app.db, app.registry, app.permissions, clock=app.clock, operator=operator)

    def log_operation(self, conn: Connection, kind: str, detail: dict[str, Any]) -> None:
        """One operation-log entry in the caller's transaction (it commits or rolls back with the change)."""
        record_operation(conn, kind, **self.operator.fields(), detail=detail, at=self.clock.now())

    # users ----------------------------------------------------------------------------------------
    def list_users(
        self,
        *,
        search: str | None = None,
        department_id: int | None = None,
        active: bool | None = None,
        role: str | None = None,
        limit: int = 50,
        after_id: int | None = None,
    ) -> dict[str, Any]:
        u = pt.users.c
        q = sa.select(pt.users).order_by(u.id).limit(limit + 1)
        q = q.where(*_user_filters(search, department_id, active, role))
        if after_id is not None:
            q = q.where(u.id > after_id)
        with self.db.read() as conn:
            rows = conn.execute(q).all()
            more = len(rows) > limit
            rows = rows[:limit]
            items = self._users_json(conn, rows)
        return {"items": items, "next_after_id": rows[-1].id if more and rows else None}

    def count_users(
        self,
        *,
        search: str | None = None,
        department_id: int | None = None,
        active: bool | None = None,
        role: str | None = None,
    ) -> int:
        """How many users match the same filters as list_users (for "N users" above a paged list)."""
        q = sa.select(sa.func.count()).select_from(pt.users).where(*_user_filters(search, department_id, active, role))
        with self.db.read() as conn:
            return int(conn.execute(q).scalar_one())

    def role_holders(self) -> dict[str, int]:
        """role id -> how many users hold it directly."""
        ur = pt.user_roles.c
        q = sa.select(ur.role_id, sa.func.count()).group_by(ur.role_id)
        with self.db.read() as conn:
            return {role_id: int(n) for role_id, n in conn.execute(q).all()}

    def department_members(self) -> dict[int, int]:
        """department id -> how many users belong to it directly."""
        u = pt.users.c
        q = sa.select(u.department_id, sa.func.count()).where(u.department_id.is_not(None)).group_by(u.department_id)
        with self.db.read() as conn:
            return {dept_id: int(n) for dept_id, n in conn.execute(q).all()}

    def get_user(self, user_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            return self._user_json(conn, user_id)

    def _user_json(self, conn: Connection, user_id: int) -> dict[str, Any]:
        row = conn.execute(sa.select(pt.users).where(pt.users.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"no user with id {user_id}")
        return self._users_json(conn, [row])[0]

    def _users_json(self, conn: Connection, rows: list) -> list[dict[str, Any]]:
        ids = [r.id for r in rows]
        roles: dict[int, list[str]] = {i: [] for i in ids}
        if ids:
            for ur in conn.execute(
                sa.select(pt.user_roles).where(pt.user_roles.c.user_id.in_(ids)).order_by(pt.user_roles.c.role_id)
            ):
                roles[ur.user_id].append(ur.role_id)
        dept_ids = {r.department_id for r in rows if r.department_id is not None}
        names = {}
        if dept_ids:
            names = dict(
                conn.execute(
                    sa.select(pt.departments.c.id, pt.departments.c.name).where(pt.departments.c.id.in_(dept_ids))
                ).all()
            )
        return [
            {
                "id": r.id,
                "username": r.username,
                "display_name": r.display_name,
                "department_id": r.department_id,
                "department": names.get(r.department_id),
                "organisation": r.organisation,
                "phone": r.phone,
                "email": r.email,
                "notify_channels": r.notify_channels or [],
                "active": bool(r.active),
                "is_admin": bool(r.is_admin),
                "language": r.language,
                "roles": roles.get(r.id, []),
                "created_at": r.created_at.isoformat(timespec="seconds") if r.created_at else None,
                "last_login_at": r.last_login_at.isoformat(timespec="seconds") if r.last_login_at else None,
            }
            for r in rows
        ]

    def user_values(
        self, conn: Connection, data: Mapping[str, Any], existing: Any | None, errors: Invalid, actor: Context | None
    ) -> tuple[dict[str, Any], list[str] | None]:
        """Validated column values (and the role list, when given) for a new user or a change."""
        values: dict[str, Any] = {}
        creating = existing is None
        if "username" in data or creating:
            name = _text(data.get("username"), "username", errors, max_len=64, required=True)
            if name is not None:
                if not USERNAME.match(name):
                    errors.add("username", "use 2 to 64 letters, digits and . _ @ -", "pattern")
                else:
                    clash = conn.execute(sa.select(pt.users.c.id).where(pt.users.c.username == name)).scalar()
                    if clash is not None and (creating or clash != existing.id):
                        errors.add("username", f"the username '{name}' is already used", "unique")
                    values["username"] = name
        if "display_name" in data or creating:
            display = _text(data.get("display_name"), "display_name", errors, max_len=100, required=True)
            if display is not None:
                values["display_name"] = display
        if data.get("password") is not None:
            password = data["password"]
            if not isinstance(password, str):
                errors.add("password", "must be text", "type")
            elif actor is not None and existing is not None and existing.id == actor.user_id:
                errors.add("password", "change your own password with your current one (account settings)", "self")
            else:
                username = values.get("username") or (existing.username if existing is not None else None)
                for v in violations(password, username):
                    errors.add("password", v.message_en if actor and actor.lang == "en" else v.message_zh, v.code)
                values["_password"] = password  # hashed when written
        if "department_id" in data:
            dept = _id(data["department_id"], "department_id", errors)
            if (
                dept is not None
                and conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.id == dept)).first() is None
            ):
                errors.add("department_id", f"the department #{dept} does not exist", "reference")
            elif data["department_id"] is None or dept is not None:
                values["department_id"] = dept
        if "organisation" in data:
            values["organisation"] = _text(data["organisation"], "organisation", errors, max_len=100)
        if "phone" in data:
            phone = _text(data["phone"], "phone", errors, max_len=32)
            if phone is not None and not is_cn_phone(phone):
                errors.add("phone", "is not a valid phone number (mobile 13812345678 or 010-12345678)", "format")
            values["phone"] = phone
        if "email" in data:
            email = _text(data["email"], "email", errors, max_len=254)
            if email is not None and not is_email(email):
                errors.add("email", "is not a valid email address", "format")
            values["email"] = email
        if "notify_channels" in data:
            channels = data["notify_channels"]
            if channels is None:
                values["notify_channels"] = []
            elif not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
                errors.add("notify_channels", f"must be a list of: {', '.join(NOTIFY_CHANNELS)}", "type")
            else:
                bad = [c[:20] for c in channels if c not in NOTIFY_CHANNELS]
                if bad:
                    errors.add(
                        "notify_channels",
                        f"unknown channel {', '.join(bad)}; use {', '.join(NOTIFY_CHANNELS)}",
                        "enum",
                    )
                values["notify_channels"] = list(dict.fromkeys(channels))
        if "active" in data:
            active = _bool(data["active"], "active", errors)
            if active is False and actor is not None and existing is not None and existing.id == actor.user_id:
                errors.add("active", "you cannot deactivate your own account", "self")
            if active is not None:
                values["active"] = active
        if "is_admin" in data:
            is_admin = _bool(data["is_admin"], "is_admin", errors)
            current = bool(existing.is_admin) if existing is not None else False
            if is_admin is not None and is_admin != current:
                if actor is not None and not (actor.is_admin and actor.roles is None):
                    errors.add("is_admin", "only administrators may grant or revoke administrator rights", "forbidden")
                elif actor is not None and existing is not None and existing.id == actor.user_id:
                    errors.add("is_admin", "you cannot remove your own administrator rights", "self")
            if is_admin is not None:
                values["is_admin"] = is_admin
        if "language" in data:
            if data["language"] not in LANGUAGES:
                errors.add("language", "must be zh or en", "enum")
            else:
                values["language"] = data["language"]
        roles = None
        if "roles" in data:
            roles = self._role_list(data["roles"], errors)
        return values, roles

    def _role_list(self, raw: Any, errors: Invalid, field: str = "roles") -> list[str] | None:
        if raw is None:
            return []
        if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
            errors.add(field, "must be a list of role ids", "type")
            return None
        unknown = [r[:40] for r in raw if r not in self.registry.roles]
        if unknown:
            errors.add(field, f"unknown role {', '.join(unknown)}", "reference")
            return None
        return list(dict.fromkeys(raw))

    def create_user(self, data: Any, actor: Context | None = None) -> dict[str, Any]:
        errors = Invalid()
        data = _object(data, USER_KEYS, errors)
        with self.db.write() as conn:
            values, roles = self.user_values(conn, data, None, errors, actor)
            errors.raise_if_any()
            uid = self.insert_user(conn, values, roles)
            result = self._user_json(conn, uid)
            self._log_user(conn, "user_created", result, set(data))
        self.permissions.subjects.invalidate([uid])
        return result

    def _log_user(self, conn: Connection, event: str, user: dict[str, Any], keys: set[str]) -> None:
        """A permission_change entry when roles, admin flag, activation, password or department are set or change."""
        changed = sorted(k for k in keys if k in LOGGED_USER_KEYS)
        if event == "user_changed" and not changed:
            return
        detail: dict[str, Any] = {
            "target": "user",
            "event": event,
            "user_id": user["id"],
            "username": user["username"],
            "changed": changed,
            **{k: user[k] for k in ("roles", "is_admin", "active", "department_id")},
        }
        self.log_operation(conn, "permission_change", detail)

    def insert_user(self, conn: Connection, values: dict[str, Any], roles: list[str] | None) -> int:
        values = dict(values)
        password = values.pop("_password", None)
        now = self.clock.now()
        uid = conn.execute(
            sa.insert(pt.users).values(
                **{
                    "active": True,
                    "is_admin": False,
                    "language": "zh",
                    "notify_channels": [],
                    **values,
                    "password_hash": hash_password(password) if password else None,
                    "password_changed_at": now if password else None,
                    "created_at": now,
                }
            )
        ).inserted_primary_key[0]
        if roles:
            conn.execute(sa.insert(pt.user_roles), [{"user_id": uid, "role_id": r} for r in roles])
        return uid

    def update_user(self, user_id: int, data: Any, actor: Context | None = None) -> dict[str, Any]:
        errors = Invalid()
        data = _object(data, USER_KEYS, errors)
        with self.db.write() as conn:
            existing = conn.execute(sa.select(pt.users).where(pt.users.c.id == user_id)).first()
            if existing is None:
                raise NotFound(f"no user with id {user_id}")
            values, roles = self.user_values(conn, data, existing, errors, actor)
            errors.raise_if_any()
            before = self._users_json(conn, [existing])[0]
            self.apply_user_change(conn, existing, values, roles)
            result = self._user_json(conn, user_id)
            changed = {k for k in LOGGED_USER_KEYS if k != "password" and before[k] != result[k]}
            self._log_user(conn, "user_changed", result, changed | ({"password"} if "_password" in values else set()))
        self.permissions.subjects.invalidate([user_id])
        return result

    def apply_user_change(
        self, conn: Connection, existing: Any, values: dict[str, Any], roles: list[str] | None
    ) -> None:
        values = dict(values)
        password = values.pop("_password", None)
        if password:
            values["password_hash"] = hash_password(password)
            values["password_changed_at"] = self.clock.now()
        signs_out = password or values.get("active") is False or ("is_admin" in values and not values["is_admin"])
        if signs_out:
            values["session_epoch"] = pt.users.c.session_epoch + 1
        if values:
            conn.execute(sa.update(pt.users).where(pt.users.c.id == existing.id).values(**values))
        if roles is not None:
            self._replace_roles(conn, existing.id, roles)

    def _replace_roles(self, conn: Connection, user_id: int, roles: list[str]) -> None:
        conn.execute(sa.delete(pt.user_roles).where(pt.user_roles.c.user_id == user_id))
        if roles:
            conn.execute(sa.insert(pt.user_roles), [{"user_id": user_id, "role_id": r} for r in roles])

    def deactivate_user(self, user_id: int, actor: Context | None = None) -> dict[str, Any]:
        return self.update_user(user_id, {"active": False}, actor)

    def set_user_roles(self, user_id: int, roles: Any, actor: Context | None = None) -> dict[str, Any]:
        return self.update_user(user_id, {"roles": roles}, actor)

    # departments ------------------------------------------------------------------------------------
    def list_departments(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(pt.departments).order_by(pt.departments.c.sort, pt.departments.c.id)).all()
        return [_department_json(r) for r in rows]

    def department_tree(self) -> list[dict[str, Any]]:
        """Nested: each department with its 'children', roots first, ordered by sort then id."""
        flat = self.list_departments()
        by_id = {d["id"]: {**d, "children": []} for d in flat}
        roots = []
        for d in flat:
            node = by_id[d["id"]]
            parent = by_id.get(d["parent_id"]) if d["parent_id"] is not None else None
            (parent["children"] if parent else roots).append(node)
        return roots

    def get_department(self, dept_id: int) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(sa.select(pt.departments).where(pt.departments.c.id == dept_id)).first()
        if row is None:
            raise NotFound(f"no department with id {dept_id}")
        return _department_json(row)

    def department_values(
        self, conn: Connection, data: Mapping[str, Any], dept_id: int | None, errors: Invalid
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        creating = dept_id is None
        if "name" in data or creating:
            name = _text(data.get("name"), "name", errors, max_len=100, required=True)
            if name is not None:
                values["name"] = name
        if "code" in data:
            code = _text(data["code"], "code", errors, max_len=40)
            if code is not None:
                clash = conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.code == code)).scalar()
                if clash is not None and clash != dept_id:
                    errors.add("code", f"the code '{code}' is already used by department #{clash}", "unique")
            values["code"] = code
        if "organisation" in data:
            values["organisation"] = _text(data["organisation"], "organisation", errors, max_len=100)
        if "sort" in data:
            sort = data["sort"]
            if isinstance(sort, bool) or not isinstance(sort, int) or not -(2**31) <= sort < 2**31:
                errors.add("sort", "must be a whole number", "type")
            else:
                values["sort"] = sort
        if "parent_id" in data:
            parent = _id(data["parent_id"], "parent_id", errors)
            if parent is not None:
                tree = _tree(conn)
                if parent not in tree.parents:
                    errors.add("parent_id", f"the department #{parent} does not exist", "reference")
                elif dept_id is not None and parent in tree.subtree(dept_id):
                    errors.add(
                        "parent_id",
                        "a department cannot move under itself or one of its own sub-departments (cycle)",
                        "cycle",
                    )
                else:
                    values["parent_id"] = parent
            elif data["parent_id"] is None:
                values["parent_id"] = None
        return values

    def create_department(self, data: Any) -> dict[str, Any]:
        errors = Invalid()
        data = _object(data, DEPARTMENT_KEYS, errors)
        with self.db.write() as conn:
            values = self.department_values(conn, data, None, errors)
            errors.raise_if_any()
            dept_id = conn.execute(sa.insert(pt.departments).values(**{"sort": 0, **values})).inserted_primary_key[0]
            row = conn.execute(sa.select(pt.departments).where(pt.departments.c.id == dept_id)).first()
            self._log_department(conn, "department_created", row)
        self.permissions.subjects.invalidate_departments()
        return _department_json(row)

    def update_department(self, dept_id: int, data: Any) -> dict[str, Any]:
        errors = Invalid()
        data = _object(data, DEPARTMENT_KEYS, errors)
        with self.db.write() as conn:
            before = conn.execute(sa.select(pt.departments).where(pt.departments.c.id == dept_id)).first()
            if before is None:
                raise NotFound(f"no department with id {dept_id}")
            values = self.department_values(conn, data, dept_id, errors)
            errors.raise_if_any()
            if values:
                conn.execute(sa.update(pt.departments).where(pt.departments.c.id == dept_id).values(**values))
            row = conn.execute(sa.select(pt.departments).where(pt.departments.c.id == dept_id)).first()
            changed = sorted(k for k, v in values.items() if getattr(before, k) != v)
            if changed:
                event = "department_moved" if "parent_id" in changed else "department_changed"
                self._log_department(conn, event, row, changed=changed, before_parent_id=before.parent_id)
        self.permissions.subjects.invalidate_departments()
        return _department_json(row)

    def move_department(self, dept_id: int, parent_id: int | None) -> dict[str, Any]:
        return self.update_department(dept_id, {"parent_id": parent_id})

    def delete_department(self, dept_id: int) -> None:
        """Only an empty department: no sub-departments, no users and no records belong to it."""
        with self.db.write() as conn:
            if conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.id == dept_id)).first() is None:
                raise NotFound(f"no department with id {dept_id}")
            children = conn.execute(
                sa.select(sa.func.count()).select_from(pt.departments).where(pt.departments.c.parent_id == dept_id)
            ).scalar_one()
            if children:
                raise Refused(
                    f"department #{dept_id} has {children} sub-department(s); move or delete them first",
                    "children",
                    count=children,
                )
            users = conn.execute(
                sa.select(sa.func.count()).select_from(pt.users).where(pt.users.c.department_id == dept_id)
            ).scalar_one()
            if users:
                raise Refused(
                    f"department #{dept_id} still has {users} user(s); move them elsewhere first", "users", count=users
                )
            for entity_id, tables in self.registry.tables.items():
                t = tables.main
                n = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.department_id == dept_id)).scalar()
                if n:
                    message = f"department #{dept_id} still owns {n} {entity_id} record(s)"
                    raise Refused(message, "records", count=n, entity=entity_id)
            row = conn.execute(sa.select(pt.departments).where(pt.departments.c.id == dept_id)).first()
            conn.execute(sa.delete(pt.departments).where(pt.departments.c.id == dept_id))
            self._log_department(conn, "department_deleted", row)
        self.permissions.subjects.invalidate_departments()

    def _log_department(self, conn: Connection, event: str, row: Any, **extra: Any) -> None:
        """The tree decides the department and subtree data scopes, so its changes are permission changes."""
        detail = {"target": "department", "event": event, **_department_json(row), **extra}
        self.log_operation(conn, "permission_change", detail)

    # roles ------------------------------------------------------------------------------------------
    def list_roles(self) -> list[dict[str, Any]]:
        shipped = shipped_roles(self.registry.packs)
        return [_role_json(r, r.id in shipped) for r in sorted(self.registry.roles.values(), key=lambda r: r.id)]

    def get_role(self, role_id: str) -> dict[str, Any]:
        role = self.registry.roles.get(role_id)
        if role is None:
            raise NotFound(f"no role '{role_id[:40]}'")
        return _role_json(role, role_id in shipped_roles(self.registry.packs))

    def _check_role(self, doc: Any, role_id: str | None) -> dict[str, Any]:
        if not isinstance(doc, dict):
            raise BadRequest("the request body must be a JSON object (a role document)")
        if role_id is not None:
            if doc.get("id", role_id) != role_id:
                raise RecordInvalid([FieldError("id", "the id of a role cannot change", "immutable")])
            doc = {**doc, "id": role_id}
        errors = Invalid()
        for ptr, message in document_errors("role", doc):
            errors.add(ptr.strip("/").replace("/", ".") or "role", message, "schema")
        errors.raise_if_any()
        roles = self.registry.roles
        for path, message in role_problems(
            doc, set(self.registry.entities), dict(self.registry.entities), set(roles) | {doc["id"]}
        ):
            errors.add(".".join(str(p) for p in path), message, "reference")
        parents = {r.id: r.parent for r in roles.values()}
        parents[doc["id"]] = doc.get("parent")
        if doc["id"] in hierarchy_cycles(parents):
            errors.add("parent", "the role would be its own ancestor (cycle in the role hierarchy)", "cycle")
        errors.raise_if_any()
        return doc

    def create_role(self, doc: Any) -> dict[str, Any]:
        doc = self._check_role(doc, None)
        if doc["id"] in self.registry.roles:
            raise Conflict(f"the role '{doc['id']}' already exists")
        role = role_from_document(doc)
        with self.db.write() as conn:
            if conn.execute(sa.select(pt.roles.c.id).where(pt.roles.c.id == role.id)).first() is not None:
                raise Conflict(f"the role '{role.id}' already exists")
            save_role(conn, role, self.clock.now())
            self._log_role(conn, "role_created", None, role)
        self._roles_changed()
        return self.get_role(role.id)

    def update_role(self, role_id: str, doc: Any) -> dict[str, Any]:
        existing = self.registry.roles.get(role_id)
        if existing is None:
            raise NotFound(f"no role '{role_id[:40]}'")
        doc = self._check_role(doc, role_id)
        role = role_from_document(doc, pack_id=existing.pack_id, customised=existing.pack_id is not None)
        with self.db.write() as conn:
            save_role(conn, role, self.clock.now())
            self._log_role(conn, "role_changed", existing, role)
        self._roles_changed()
        return self.get_role(role_id)

    def reset_role(self, role_id: str) -> dict[str, Any]:
        """Back to the definition its pack ships (undo administrators' changes)."""
        shipped = shipped_roles(self.registry.packs).get(role_id)
        if shipped is None:
            if role_id not in self.registry.roles:
                raise NotFound(f"no role '{role_id[:40]}'")
            raise Refused(f"the role '{role_id}' was created by an administrator; no pack ships it", "custom_role")
        with self.db.write() as conn:
            save_role(conn, shipped, self.clock.now())
            self._log_role(conn, "role_reset", self.registry.roles.get(role_id), shipped)
        self._roles_changed()
        return self.get_role(role_id)

    def delete_role(self, role_id: str) -> None:
        role = self.registry.roles.get(role_id)
        if role is None:
            raise NotFound(f"no role '{role_id[:40]}'")
        if role_id in shipped_roles(self.registry.packs):
            raise Refused(
                f"the role '{role_id}' is shipped by pack '{role.pack_id}'; edit or reset it instead",
                "shipped_role",
                pack=role.pack_id,
            )
        children = sorted(r.id for r in self.registry.roles.values() if r.parent == role_id)
        if children:
            raise Refused(
                f"the role '{role_id}' is the parent of {', '.join(children)}; change them first",
                "parent_role",
                children=children,
            )
        with self.db.write() as conn:
            holders = conn.execute(sa.delete(pt.user_roles).where(pt.user_roles.c.role_id == role_id)).rowcount
            conn.execute(sa.delete(pt.roles).where(pt.roles.c.id == role_id))
            self._log_role(conn, "role_deleted", role, None, holders=holders)
        self._roles_changed()

    def _log_role(self, conn: Connection, event: str, before: Role | None, after: Role | None, **extra: Any) -> None:
        """Before and after of the role's definition (who may do what), as in a pack's role file."""
        role_id = (after or before).id  # type: ignore[union-attr]
        detail: dict[str, Any] = {"target": "role", "event": event, "role_id": role_id, **extra}
        detail["before"] = before.document() if before is not None else None
        detail["after"] = after.document() if after is not None else None
        self.log_operation(conn, "permission_change", detail)

    def _roles_changed(self) -> None:
        self.registry.reload()
        self.permissions.subjects.invalidate()

    def stored_roles(self) -> dict[str, Role]:
        with self.db.read() as conn:
            return load_roles(conn)


def _user_filters(
    search: str | None, department_id: int | None, active: bool | None, role: str | None
) -> list[sa.ColumnElement[bool]]:
    u = pt.users.c
    where: list[sa.ColumnElement[bool]] = []
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(sa.or_(u.username.ilike(pattern, escape="\\"), u.display_name.ilike(pattern, escape="\\")))
    if department_id is not None:
        where.append(u.department_id == department_id)
    if active is not None:
        where.append(u.active.is_(active))
    if role:
        where.append(u.id.in_(sa.select(pt.user_roles.c.user_id).where(pt.user_roles.c.role_id == role)))
    return where


def _tree(conn: Connection) -> DepartmentTree:
    rows = conn.execute(sa.select(pt.departments.c.id, pt.departments.c.parent_id, pt.departments.c.organisation))
    rows = rows.all()
    return DepartmentTree({r.id: r.parent_id for r in rows}, {r.id: r.organisation for r in rows})


def _department_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "parent_id": row.parent_id,
        "code": row.code,
        "organisation": row.organisation,
        "sort": row.sort,
    }


def _role_json(role: Role, shipped: bool) -> dict[str, Any]:
    return {
        **role.document(),
        "pack_id": role.pack_id,
        "shipped": shipped,
        "customised": role.customised,
    }
