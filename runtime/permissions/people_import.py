"""Import users and departments from an xlsx workbook or a CSV file: preview first, then commit.

Workbook: a sheet named "departments"/"部门" and/or a sheet named "users"/"用户" (departments are
imported first, so users can name a department created by the same file); a workbook with a single
sheet, and a CSV file, hold the kind given by the caller (users by default). The first row holds the
column names, in English or Chinese (see USER_COLUMNS / DEPARTMENT_COLUMNS).

Rows are matched by key, so importing the same file twice changes nothing the second time:
users by username, departments by code. An empty cell leaves the stored value as it is. A password
column only applies to new users (re-imports never reset passwords); users without a password sign
in after a password reset. Administrator rights are never imported.

Every row is validated with the same rules as the admin API and reported with its row number and
per-field errors. The whole import runs in one transaction: a preview rolls it back; a commit with
errors writes nothing unless `skip_invalid` is set, in which case the valid rows are written. A
commit leaves an ``import`` entry in the operation log (file, counts, whether it was written).

:func:`template_workbook` is the empty workbook an administrator fills in (both sheets, headers only).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime.errors import BadRequest
from runtime.permissions.admin import Invalid, PeopleAdmin
from runtime.records.context import Context
from runtime.storage import platform_tables as pt

MAX_ROWS = 5000
USER_COLUMNS: dict[str, tuple[str, ...]] = {
    "username": ("username", "账号", "用户名", "登录名"),
    "display_name": ("display_name", "name", "姓名"),
    "department_code": ("department_code", "department", "部门编码", "部门"),
    "organisation": ("organisation", "organization", "hospital", "医院", "机构"),
    "phone": ("phone", "mobile", "手机", "手机号", "电话"),
    "email": ("email", "邮箱"),
    "roles": ("roles", "role", "角色"),
    "notify_channels": ("notify_channels", "notify", "通知方式"),
    "active": ("active", "启用", "状态"),
    "password": ("password", "初始密码", "密码"),
}
DEPARTMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("code", "department_code", "部门编码", "编码"),
    "name": ("name", "department", "部门名称", "名称", "部门"),
    "parent_code": ("parent_code", "parent", "上级编码", "上级部门编码"),
    "organisation": ("organisation", "organization", "hospital", "医院", "机构"),
    "sort": ("sort", "排序"),
}
REQUIRED = {"users": ("username", "display_name"), "departments": ("code", "name")}
SHEET_NAMES = {"users": ("users", "user", "用户", "人员"), "departments": ("departments", "department", "部门")}
TRUE = ("1", "true", "yes", "y", "是", "启用", "在职", "有效")
FALSE = ("0", "false", "no", "n", "否", "停用", "禁用", "离职", "无效")
SEPARATORS = (",", "，", ";", "；", "、", "|")


class _Rollback(Exception):
    pass


@dataclass
class RowResult:
    row: int
    key: str
    action: str = "unchanged"  # create, update, unchanged, error
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "key": self.key, "action": self.action, "errors": self.errors}


@dataclass
class Sheet:
    kind: str
    name: str
    rows: list[tuple[int, dict[str, str]]]
    ignored_columns: list[str]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet(kind: str, name: str, table: list[list[Any]]) -> Sheet:
    if not table:
        raise BadRequest(f"the sheet '{name}' is empty: the first row must name the columns")
    columns = USER_COLUMNS if kind == "users" else DEPARTMENT_COLUMNS
    aliases = {alias.lower(): key for key, names in columns.items() for alias in names}
    header = [_cell(h).lower() for h in table[0]]
    keys = [aliases.get(h) for h in header]
    ignored = [table[0][i] for i, k in enumerate(keys) if k is None and _cell(table[0][i])]
    missing = [k for k in REQUIRED[kind] if k not in keys]
    if missing:
        names = "; ".join(f"'{k}' ({' / '.join(columns[k][1:])})" for k in missing)
        raise BadRequest(f"the sheet '{name}' needs the column(s) {names}")
    rows = []
    for number, raw in enumerate(table[1:], start=2):
        values = {k: _cell(raw[i]) for i, k in enumerate(keys) if k is not None and i < len(raw)}
        if any(values.values()):
            rows.append((number, values))
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"the sheet '{name}' has {len(rows)} rows; import at most {MAX_ROWS} at a time")
    return Sheet(kind, name, rows, [str(c) for c in ignored])


def read_sheets(content: bytes, filename: str, kind: str = "users") -> list[Sheet]:
    """The sheets of an upload, departments first."""
    if kind not in REQUIRED:
        raise BadRequest("kind must be users or departments")
    lower = filename.lower()
    if lower.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = content.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise BadRequest("the CSV file is neither UTF-8 nor GB18030 text")
        return [_sheet(kind, filename, list(csv.reader(io.StringIO(text))))]
    if not lower.endswith(".xlsx"):
        raise BadRequest("upload an .xlsx workbook or a .csv file")
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise BadRequest(f"the file is not a readable .xlsx workbook ({type(exc).__name__})") from exc
    try:
        found: dict[str, Sheet] = {}
        for ws in book.worksheets:
            name = ws.title.strip().lower()
            sheet_kind = next((k for k, names in SHEET_NAMES.items() if name in names), None)
            if sheet_kind is None and len(book.worksheets) == 1:
                sheet_kind = kind
            if sheet_kind is not None and sheet_kind not in found:
                table = [list(r) for r, _ in zip(ws.iter_rows(values_only=True), range(MAX_ROWS + 2), strict=False)]
                found[sheet_kind] = _sheet(sheet_kind, ws.title, table)
    finally:
        book.close()
    if not found:
        raise BadRequest("the workbook has no sheet named 'users'/'用户' or 'departments'/'部门'")
    return [found[k] for k in ("departments", "users") if k in found]


def _flag(text: str) -> bool | None:
    low = text.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    return None


def _split(text: str) -> list[str]:
    for sep in SEPARATORS[1:]:
        text = text.replace(sep, ",")
    return [p.strip() for p in text.split(",") if p.strip()]


class PeopleImport:
    def __init__(self, admin: PeopleAdmin):
        self.admin = admin
        self.db = admin.db

    def run(
        self,
        content: bytes,
        filename: str,
        *,
        kind: str = "users",
        commit: bool = False,
        skip_invalid: bool = False,
        actor: Context | None = None,
    ) -> dict[str, Any]:
        sheets = read_sheets(content, filename, kind)
        report: dict[str, Any] = {"mode": "commit" if commit else "preview", "committed": False}
        try:
            with self.db.write() as conn:
                for sheet in sheets:
                    if sheet.kind == "departments":
                        results = self._departments(conn, sheet)
                    else:
                        results = self._users(conn, sheet, actor)
                    report[sheet.kind] = _summary(sheet, results)
                failed = sum(report[s.kind]["summary"]["error"] for s in sheets)
                if not commit or (failed and not skip_invalid):
                    raise _Rollback
                report["committed"] = True
                self.admin.log_operation(conn, "import", _log_detail(filename, report, sheets))
        except _Rollback:
            pass
        if commit and not report["committed"]:  # refused: nothing written, but the attempt is on record
            with self.db.write() as conn:
                self.admin.log_operation(conn, "import", _log_detail(filename, report, sheets))
        if report["committed"]:
            self.admin.permissions.subjects.invalidate_departments()
        return report

    # departments ------------------------------------------------------------------------------------
    def _departments(self, conn: Connection, sheet: Sheet) -> list[RowResult]:
        d = pt.departments.c
        pending = list(sheet.rows)
        in_file = {values.get("code", "") for _, values in pending}
        results: dict[int, RowResult] = {}
        while pending:
            progress, later = False, []
            for number, values in pending:
                parent_code = values.get("parent_code", "")
                parent_ready = (
                    not parent_code
                    or parent_code not in in_file
                    or conn.execute(sa.select(d.id).where(d.code == parent_code)).first() is not None
                )
                if not parent_ready:
                    later.append((number, values))
                    continue
                progress = True
                results[number] = self._department_row(conn, number, values)
                if results[number].action == "error":
                    in_file.discard(values.get("code", ""))
            if not progress:
                for number, values in later:
                    results[number] = RowResult(
                        number,
                        values.get("code", ""),
                        "error",
                        [
                            {
                                "field": "parent_code",
                                "message": f"the parent '{values.get('parent_code')}' could not be imported "
                                "(it has errors or the parents form a cycle)",
                            }
                        ],
                    )
                break
            pending = later
        return [results[n] for n, _ in sheet.rows]

    def _department_row(self, conn: Connection, number: int, values: dict[str, str]) -> RowResult:
        d = pt.departments.c
        code = values.get("code", "")
        result = RowResult(number, code)
        errors = Invalid()
        existing = conn.execute(sa.select(pt.departments).where(d.code == code)).first() if code else None
        data: dict[str, Any] = {"code": code or None}
        for key in ("name", "organisation"):
            if values.get(key):
                data[key] = values[key]
        if existing is None and "name" not in data:
            data["name"] = None
        if values.get("sort"):
            try:
                data["sort"] = int(values["sort"])
            except ValueError:
                errors.add("sort", "must be a whole number", "type")
        parent_code = values.get("parent_code", "")
        if parent_code:
            parent = conn.execute(sa.select(d.id).where(d.code == parent_code)).scalar()
            if parent is None:
                errors.add("parent_code", f"no department has the code '{parent_code}'", "reference")
            else:
                data["parent_id"] = parent
        if not code:
            errors.add("code", "is required (departments are matched by code)", "required")
        dept_values = self.admin.department_values(conn, data, existing.id if existing else None, errors)
        if errors.errors:
            result.action, result.errors = "error", [e.as_dict() for e in errors.errors]
            return result
        if existing is None:
            conn.execute(sa.insert(pt.departments).values(**{"sort": 0, **dept_values}))
            result.action = "create"
        else:
            changed = {k: v for k, v in dept_values.items() if getattr(existing, k) != v}
            if changed:
                conn.execute(sa.update(pt.departments).where(d.id == existing.id).values(**changed))
                result.action = "update"
        return result

    # users ------------------------------------------------------------------------------------------
    def _users(self, conn: Connection, sheet: Sheet, actor: Context | None) -> list[RowResult]:
        return [self._user_row(conn, number, values, actor) for number, values in sheet.rows]

    def _user_row(self, conn: Connection, number: int, values: dict[str, str], actor: Context | None) -> RowResult:
        username = values.get("username", "")
        result = RowResult(number, username)
        errors = Invalid()
        existing = (
            conn.execute(sa.select(pt.users).where(pt.users.c.username == username)).first() if username else None
        )
        data: dict[str, Any] = {"username": username or None}
        for key in ("display_name", "organisation", "phone", "email"):
            if values.get(key):
                data[key] = values[key]
        if existing is None and "display_name" not in data:
            data["display_name"] = None
        if values.get("department_code"):
            code = values["department_code"]
            dept = conn.execute(sa.select(pt.departments.c.id).where(pt.departments.c.code == code)).scalar()
            if dept is None:
                errors.add("department_code", f"no department has the code '{code}'", "reference")
            else:
                data["department_id"] = dept
        if values.get("roles"):
            data["roles"] = _split(values["roles"])
        if values.get("notify_channels"):
            data["notify_channels"] = _split(values["notify_channels"])
        if values.get("active"):
            flag = _flag(values["active"])
            if flag is None:
                errors.add("active", "must be yes/no (是/否, 1/0, true/false)", "type")
            else:
                data["active"] = flag
        if values.get("password") and existing is None:
            data["password"] = values["password"]
        user_values, roles = self.admin.user_values(conn, data, existing, errors, actor)
        if errors.errors:
            result.action, result.errors = "error", [e.as_dict() for e in errors.errors]
            return result
        if existing is None:
            self.admin.insert_user(conn, user_values, roles)
            result.action = "create"
            return result
        changed = {k: v for k, v in user_values.items() if getattr(existing, k) != v}
        current_roles = sorted(
            conn.execute(sa.select(pt.user_roles.c.role_id).where(pt.user_roles.c.user_id == existing.id)).scalars()
        )
        role_change = roles if roles is not None and sorted(roles) != current_roles else None
        if changed or role_change is not None:
            self.admin.apply_user_change(conn, existing, changed, role_change)
            self.admin.permissions.subjects.invalidate([existing.id])
            result.action = "update"
        return result


def _summary(sheet: Sheet, results: list[RowResult]) -> dict[str, Any]:
    counts = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
    for r in results:
        counts[r.action] += 1
    return {
        "sheet": sheet.name,
        "summary": counts,
        "rows": [r.as_dict() for r in results],
        "ignored_columns": sheet.ignored_columns,
    }


def _log_detail(filename: str, report: dict[str, Any], sheets: list[Sheet]) -> dict[str, Any]:
    return {
        "what": "people",
        "file": filename[:200],
        "committed": report["committed"],
        **{s.kind: report[s.kind]["summary"] for s in sheets},
    }


TEMPLATE_HEADERS: dict[str, tuple[str, ...]] = {
    "departments": ("部门编码", "部门名称", "上级编码", "医院", "排序"),
    "users": ("账号", "姓名", "部门编码", "医院", "手机", "邮箱", "角色", "通知方式", "启用", "初始密码"),
}
"""Chinese column names (each an alias in USER_COLUMNS / DEPARTMENT_COLUMNS, so the file reads back)."""


def template_workbook() -> bytes:
    """An .xlsx with a 部门 and a 用户 sheet holding the expected column names, ready to fill in."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for kind, title in (("departments", "部门"), ("users", "用户")):
        ws = book.create_sheet(title)
        ws.append(list(TEMPLATE_HEADERS[kind]))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for i, name in enumerate(TEMPLATE_HEADERS[kind]):
            ws.column_dimensions[chr(ord("A") + i)].width = max(12, len(name) * 3)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
