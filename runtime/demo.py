"""Demo data shipped in packs (demo/*.json), loaded through the records service like any import.

A demo file holds either records of one entity or the demo organisation: departments (by code, shared
between packs: an existing code is reused) and users with their roles (an existing username is reused).
Records may refer to each other as "@entity:key" where key is the value of the field named by the
demo file's "key", to a demo user as "@user:username" and to a demo department as "@department:code".
Dates may be relative to the day the demo loads ("@date:-30", "@datetime:-3 14:30", "@month:-5";
runtime/demo_dates.py), so the demo never ages.
Loading is skipped for an entity that already has records, so running the demo twice never duplicates
data. A demo file with ``"snapshot": true`` already holds what the pack's automation made of its records
(the visit and discharge-call tasks of its admissions, the opinions of its calls, the template follow-ups of
its discharges): its records load with write-triggered automation paused (runtime/automation/pause.py), so
that work is not duplicated and no message goes out again; date rules still watch them, so an open task in
the demo still escalates on time.

Demo users share one generated password. Like the admin login (admin-password.txt), it is never
written into the pack: it is kept with the list of demo logins in DEMO_USERS_FILE in the data directory,
and demo_login_lines() gives the lines `tessera serve --demo` can print.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runtime.automation.pause import write_automation_paused
from runtime.blueprints.model import Pack
from runtime.clock import Clock
from runtime.demo_dates import PREFIXES as RELATIVE_DATE_PREFIXES
from runtime.demo_dates import resolve_relative_date
from runtime.identity.policy import generate_password
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.records.service import joined_transaction
from runtime.services import Tessera
from runtime.storage import platform_tables as pt

DEMO_CONTEXT = Context(channel="system", lang="en", is_admin=True)
DEMO_USERS_FILE = "demo-users.txt"
PASSWORD_PREFIX = "password: "
PLATFORM_REFERENCES = ("user", "department")
"""'@user:username' and '@department:code' name people, not demo records."""

Keys = dict[tuple[str, str], int]
BATCH = 500
"""Demo records written per transaction: each still goes through the records service (validation, audit,
rules) in its own savepoint, but thousands of records do not pay one commit (an fsync on SQLite) each."""


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    department: str
    roles: str
    title: str = ""


def _resolve(value: Any, keys: Keys, clock: Clock) -> Any:
    if isinstance(value, str) and value.startswith("@") and ":" in value:
        entity, key = value[1:].split(":", 1)
        if entity in RELATIVE_DATE_PREFIXES:
            return resolve_relative_date(value, clock)
        if (entity, key) not in keys:
            what = f"demo {entity}" if entity in PLATFORM_REFERENCES else "loaded record"
            raise ValueError(f"demo reference {value} does not match any {what}")
        return keys[(entity, key)]
    if isinstance(value, list):
        return [_resolve(v, keys, clock) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, keys, clock) for k, v in value.items()}
    return value


def load_demo(app: Tessera, pack: Pack, ctx: Context = DEMO_CONTEXT) -> dict[str, int]:
    """Create the pack's demo organisation and records; returns how many records were created per entity."""
    keys: Keys = load_organisation(app, pack)
    created: dict[str, int] = {}
    for doc in pack.demo:
        if "entity" not in doc:
            continue
        entity = doc["entity"]
        table = app.registry.tables[entity].main
        key_field = doc.get("key")
        with app.db.read() as conn:
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one():
                if key_field:  # already loaded (or hand-made data): later files may still refer to these
                    rows = conn.execute(sa.select(table.c.id, table.c[key_field])).all()
                    keys.update({(entity, str(row[1])): row.id for row in rows})
                continue
        with write_automation_paused() if doc.get("snapshot") else nullcontext():
            records = doc["records"]
            for start in range(0, len(records), BATCH):
                with app.db.write() as conn, joined_transaction(conn):  # one commit per batch, not per record
                    for raw in records[start : start + BATCH]:
                        record = app.records.create(entity, _resolve(raw, keys, app.clock), ctx)
                        if key_field:
                            keys[(entity, str(raw[key_field]))] = record["id"]
                        created[entity] = created.get(entity, 0) + 1
    return created


# the demo organisation -------------------------------------------------------------------------------
def load_organisation(app: Tessera, pack: Pack) -> Keys:
    """Departments and users of the pack's demo organisation, created when missing; their ids by
    ('department', code) and ('user', username)."""
    docs = [doc for doc in pack.demo if "entity" not in doc]
    keys: Keys = {}
    if not docs:
        return keys
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    for doc in docs:
        for dept in doc["departments"]:
            keys[("department", dept["code"])] = _department(app, admin, dept, keys)
    names = {dept["code"]: dept["name"] for doc in docs for dept in doc["departments"]}
    password = demo_password(app)
    new: list[DemoLogin] = []
    for doc in docs:
        for user in doc["users"]:
            uid, login = _user(app, admin, user, keys, names, password)
            keys[("user", user["username"])] = uid
            if login is not None:
                new.append(login)
    if new:
        _remember(app, password, new)
    return keys


def _department(app: Tessera, admin: PeopleAdmin, dept: dict[str, Any], keys: Keys) -> int:
    with app.db.read() as conn:
        found = conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.code == dept["code"])).scalar()
    if found is not None:
        return int(found)
    values: dict[str, Any] = {"name": dept["name"], "code": dept["code"]}
    if dept.get("parent"):
        values["parent_id"] = keys[("department", dept["parent"])]
    if dept.get("organisation"):
        values["organisation"] = dept["organisation"]
    return int(admin.create_department(values)["id"])


def _user(
    app: Tessera, admin: PeopleAdmin, user: dict[str, Any], keys: Keys, names: dict[str, str], password: str
) -> tuple[int, DemoLogin | None]:
    existing = app.users.by_username(user["username"])
    if existing is not None:
        return existing.id, None
    values: dict[str, Any] = {
        "username": user["username"],
        "display_name": user["display_name"],
        "roles": user["roles"],
        "password": password,
    }
    if user.get("department"):
        values["department_id"] = keys[("department", user["department"])]
    uid = int(admin.create_user(values)["id"])
    roles = app.registry.roles
    labels = "、".join(roles[r].label_in("zh") if r in roles else r for r in user["roles"])
    dept_name = names.get(user.get("department") or "", "")
    return uid, DemoLogin(user["username"], user["display_name"], dept_name, labels, user.get("title", ""))


# the demo password and the list of logins -------------------------------------------------------------
def demo_users_file(app: Tessera) -> Path:
    return app.settings.data_dir / DEMO_USERS_FILE


def demo_password(app: Tessera) -> str:
    """The password every demo user of this installation shares: generated once, kept in the data directory."""
    path = demo_users_file(app)
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            if line.startswith(PASSWORD_PREFIX):
                return line[len(PASSWORD_PREFIX) :].strip()
    return generate_password()


def _remember(app: Tessera, password: str, logins: list[DemoLogin]) -> None:
    path = demo_users_file(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        header = [
            "Tessera demo users (演示用户), created with the shipped packs' demo data; all share this password:",
            f"{PASSWORD_PREFIX}{password}",
            "",
            "# username, name, department, roles, title (tab-separated)",
        ]
        path.write_text("\n".join(header) + "\n", "utf-8")
        path.chmod(0o600)
    lines = ["\t".join((x.username, x.display_name, x.department, x.roles, x.title)).rstrip() for x in logins]
    with path.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def demo_logins(app: Tessera) -> tuple[str | None, list[DemoLogin]]:
    """The shared demo password and the demo users created with it (empty when there is no demo)."""
    path = demo_users_file(app)
    if not path.exists():
        return None, []
    password, logins = None, []
    for line in path.read_text("utf-8").splitlines():
        if line.startswith(PASSWORD_PREFIX):
            password = line[len(PASSWORD_PREFIX) :].strip()
        elif "\t" in line:
            parts = [*line.split("\t"), "", ""]
            logins.append(DemoLogin(parts[0], parts[1], parts[2], parts[3], parts[4]))
    return password, logins


def demo_login_lines(app: Tessera) -> list[str]:
    """What `serve --demo` prints under the admin login: each demo user and the shared password."""
    password, logins = demo_logins(app)
    if not logins:
        return []
    width = max(len(x.username) for x in logins)
    lines = [f"  demo users (password {password}; list in {demo_users_file(app)}):"]
    lines += [f"    {x.username.ljust(width)}  {x.display_name}  {x.roles}  {x.department}".rstrip() for x in logins]
    return lines
