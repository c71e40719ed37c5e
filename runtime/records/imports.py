"""Import records of any entity from an xlsx workbook or a CSV file: preview first, then commit.

The first row names the columns: a field's name, or its label in Chinese or English ("月份", "Month",
"month"); other columns are listed as ignored. Cells are read the way a person types them and turned into
the values the records service takes: dates as 2026-03-01, 2026/3/1, 2026-03 or 2026年3月 (a month gives
its first day), numbers, yes/no (是/否), options by value or label, several options separated by commas,
a reference by the id or the title of the referenced record (a project by its name), a user by username
or display name, a department by code or name.

Rows are matched by a key so importing the same file twice changes nothing the second time: the fields
given as ``key`` (e.g. project + month), else the first unique index or unique field whose columns are all
in the file. A row whose key matches an existing record updates it (only the columns in the file, empty
cells leave the stored value); otherwise it creates one. Without a key every row creates a record.

Every row goes through the records service on the ``import`` channel (validation, permissions, audit,
rules) and is reported with its row number and per-field errors. The whole import runs in one transaction:
a preview rolls it back; a commit with errors writes nothing unless ``skip_invalid`` is set, in which case
the valid rows are written. The caller needs the ``import`` right on the entity. A commit (or a refused
commit) leaves an ``import`` entry in the operation log.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from runtime.blueprints.model import Entity, Field, label_text
from runtime.errors import BadRequest, TesseraError
from runtime.oplog import record_operation
from runtime.records.context import Context
from runtime.records.query import Filter, ListQuery
from runtime.records.service import joined_transaction
from runtime.storage import platform_tables as pt

MAX_ROWS = 5000
MAX_UPLOAD = 10 * 1024 * 1024
NOT_IMPORTED = ("computed", "autonumber", "child_table", "file", "image", "json")
"""Field types a spreadsheet cell cannot fill (produced by the runtime, or not a single value)."""
TRUE = ("1", "true", "yes", "y", "是", "有", "对")
FALSE = ("0", "false", "no", "n", "否", "无", "不")
SEPARATORS = ("，", ";", "；", "、", "|")
MONTH_ONLY = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
FULL_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


class _Rollback(Exception):
    pass


CELL_MESSAGES: dict[str, dict[str, str]] = {
    "datetime": {"zh": "“{text}”不是日期时间（如 2026-03-01 14:30）",
                 "en": "'{text}' is not a date and time such as 2026-03-01 14:30"},
    "whole": {"zh": "“{text}”不是整数", "en": "'{text}' is not a whole number"},
    "number": {"zh": "“{text}”不是数字", "en": "'{text}' is not a number"},
    "flag": {"zh": "“{text}”请填 是/否", "en": "'{text}' is not yes or no (是/否)"},
    "option": {"zh": "“{text}”不是可选值：{shown}", "en": "'{text}' is not one of: {shown}"},
    "no_record": {"zh": "找不到{what}“{text}”（或无权查看）", "en": "no {what} '{text}' (or you may not see it)"},
    "several": {"zh": "“{text}”对应多条{what}，请填编号", "en": "'{text}' names several {what} records: use the id"},
    "no_person": {"zh": "找不到{what}“{text}”", "en": "no {what} '{text}'"},
    "several_people": {"zh": "“{text}”对应多个{what}，请填{unique}", "en": "'{text}' names several: use the {unique}"},
    "date": {"zh": "“{text}”不是日期（如 2026-03-01、2026/3/1 或 2026-03）",
             "en": "'{text}' is not a date such as 2026-03-01, 2026/3/1 or 2026-03"},
    "real_date": {"zh": "“{text}”不是有效日期", "en": "'{text}' is not a real date"},
}  # fmt: skip
PEOPLE_WORDS = {
    "user": {"zh": ("用户", "账号"), "en": ("user", "username")},
    "department": {"zh": ("部门", "部门编码"), "en": ("department", "code")},
}


class CellError(Exception):
    """A cell that cannot be read as its field's value (the row is reported, the import goes on)."""

    def __init__(self, key: str, **params: Any):
        self.key, self.params = key, params
        super().__init__(self.text("en"))

    def text(self, lang: str) -> str:
        return CELL_MESSAGES[self.key]["zh" if lang == "zh" else "en"].format(**self.params)


@dataclass
class RowResult:
    row: int
    action: str = "unchanged"  # create, update, unchanged, error
    record_id: int | None = None
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "action": self.action, "id": self.record_id, "errors": self.errors}


@dataclass
class Table:
    """The upload as header + rows of cell values (row numbers as the spreadsheet shows them)."""

    header: list[str]
    rows: list[tuple[int, list[Any]]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(content: bytes, filename: str) -> Table:
    """The first sheet of an .xlsx workbook, or a CSV file (UTF-8 or GB18030, as Excel saves it in China)."""
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
        try:
            table: list[list[Any]] = list(csv.reader(io.StringIO(text)))
        except csv.Error as exc:
            raise BadRequest(f"the CSV file cannot be read: {exc}") from exc
    elif lower.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
            raise BadRequest(f"the file is not a readable .xlsx workbook ({type(exc).__name__})") from exc
        try:
            ws = book.worksheets[0]
            table = [list(r) for r, _ in zip(ws.iter_rows(values_only=True), range(MAX_ROWS + 2), strict=False)]
        finally:
            book.close()
    else:
        raise BadRequest("upload an .xlsx workbook or a .csv file")
    if not table or not any(_text(c) for c in table[0]):
        raise BadRequest("the file is empty: the first row must name the columns")
    rows = [(n, list(r)) for n, r in enumerate(table[1:], start=2) if any(_text(c) for c in r)]
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"the file has {len(rows)} rows; import at most {MAX_ROWS} at a time")
    return Table([_text(h) for h in table[0]], rows)


def importable_fields(entity: Entity) -> list[Field]:
    return [f for f in entity.fields if f.type not in NOT_IMPORTED]


def column_map(entity: Entity, header: list[str]) -> tuple[dict[int, Field], list[str]]:
    """Column index -> field (by name or zh/en label, case-insensitive), and the ignored column headers."""
    names: dict[str, Field] = {}
    for f in importable_fields(entity):
        for alias in (f.name, f.label_in("zh"), f.label_in("en")):
            names.setdefault(alias.strip().lower(), f)
    mapping: dict[int, Field] = {}
    ignored: list[str] = []
    for i, head in enumerate(header):
        f = names.get(head.strip().lower())
        if f is None or any(m.name == f.name for m in mapping.values()):
            if head:
                ignored.append(head)
            continue
        mapping[i] = f
    return mapping, ignored


def template_headers(entity: Entity, lang: str) -> list[str]:
    """The column headers of an empty import file: the labels of the importable fields."""
    return [f.label_in(lang) for f in importable_fields(entity)]


class RecordImport:
    """One import run for one entity (see the module docstring)."""

    def __init__(self, app: Any):
        self.app = app

    def run(
        self,
        entity_id: str,
        content: bytes,
        filename: str,
        ctx: Context,
        *,
        commit: bool = False,
        skip_invalid: bool = False,
        key: list[str] | None = None,
        actor: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        registry = self.app.registry
        entity = registry.entity(entity_id)
        self.app.permissions.require(ctx, entity, "import")
        ctx = dataclasses.replace(ctx, channel="import")
        table = read_table(content, filename)
        mapping, ignored = column_map(entity, table.header)
        if not mapping:
            wanted = ", ".join(f"{f.label_in(ctx.lang)} ({f.name})" for f in importable_fields(entity)[:12])
            raise BadRequest(f"no column of the file names a field of {entity.label_in('en')}; use: {wanted}")
        keys = self._key(entity, key, {f.name for f in mapping.values()})
        cells = Cells(self.app, ctx)
        report: dict[str, Any] = {
            "entity": entity.id,
            "mode": "commit" if commit else "preview",
            "committed": False,
            "columns": {table.header[i]: f.name for i, f in mapping.items()},
            "ignored_columns": ignored,
            "key": keys,
        }
        results: list[RowResult] = []
        try:
            with self.app.db.write() as conn, joined_transaction(conn):
                for number, raw in table.rows:
                    results.append(self._row(entity, mapping, keys, cells, number, raw, ctx))
                failed = sum(r.action == "error" for r in results)
                self._summarise(report, results)
                if not commit or (failed and not skip_invalid):
                    raise _Rollback
                report["committed"] = True
                self._log(conn, entity, filename, report, actor)
        except _Rollback:
            pass
        if commit and not report["committed"]:
            with self.app.db.write() as conn:
                self._log(conn, entity, filename, report, actor)
        return report

    # one row ------------------------------------------------------------------------------------------
    def _row(
        self,
        entity: Entity,
        mapping: dict[int, Field],
        keys: list[str],
        cells: Cells,
        number: int,
        raw: list[Any],
        ctx: Context,
    ) -> RowResult:
        result = RowResult(number)
        values: dict[str, Any] = {}
        for i, f in mapping.items():
            cell = raw[i] if i < len(raw) else None
            if _text(cell) == "":
                continue
            try:
                values[f.name] = cells.value(f, cell)
            except CellError as exc:
                result.errors.append({"field": f.name, "code": "cell", "message": exc.text(ctx.lang)})
        missing = [k for k in keys if values.get(k) is None]
        if result.errors or (keys and missing):
            if missing and not result.errors:
                needed = "用于匹配记录，不能为空" if ctx.lang == "zh" else "is needed to match the row"
                result.errors += [{"field": k, "code": "required", "message": needed} for k in missing]
            result.action = "error"
            return result
        try:
            existing = self._existing(entity, keys, values, ctx) if keys else None
            if existing is None:
                record = self.app.records.create(entity.id, values, ctx)
                result.action, result.record_id = "create", record["id"]
            else:
                changed = {k: v for k, v in values.items() if existing.get(k) != v}
                result.record_id = existing["id"]
                if changed:
                    self.app.records.update(entity.id, existing["id"], changed, ctx, expected_version=None)
                    result.action = "update"
        except TesseraError as exc:
            result.action = "error"
            errors = getattr(exc, "errors", None)
            if errors:
                result.errors = [e.as_dict() for e in errors]
            else:
                result.errors = [{"field": "", "code": exc.code, "message": exc.message}]
        return result

    def _existing(self, entity: Entity, keys: list[str], values: dict[str, Any], ctx: Context) -> dict | None:
        filters = [Filter(k, "eq", _filter_value(entity.field(k), values[k])) for k in keys]
        page = self.app.records.list(entity.id, ListQuery(filters=filters, limit=1, count="none"), ctx)
        return page.items[0] if page.items else None

    # the key ------------------------------------------------------------------------------------------
    @staticmethod
    def _key(entity: Entity, key: list[str] | None, names: set[str]) -> list[str]:
        if key:
            unknown = [k for k in key if entity.field(k) is None]
            if unknown:
                raise BadRequest(f"key: unknown field(s) {', '.join(unknown)} of {entity.id}")
            absent = [k for k in key if k not in names]
            if absent:
                raise BadRequest(f"key: the file has no column for {', '.join(absent)}")
            return list(key)
        for index in entity.raw.get("indexes", []):
            if index.get("unique") and all(n in names for n in index["fields"]):
                return list(index["fields"])
        for f in entity.fields:
            if f.name in names and f.opt("unique"):
                return [f.name]
        return []

    @staticmethod
    def _summarise(report: dict[str, Any], results: list[RowResult]) -> None:
        summary = {"create": 0, "update": 0, "unchanged": 0, "error": 0}
        for r in results:
            summary[r.action] += 1
        report["summary"] = summary
        report["rows"] = [r.as_dict() for r in results]

    def _log(
        self, conn: sa.Connection, entity: Entity, filename: str, report: dict[str, Any], actor: dict | None
    ) -> None:
        detail = {
            "entity": entity.id,
            "file": filename[:200],
            "committed": report["committed"],
            **{k: v for k, v in report.get("summary", {}).items()},
        }
        record_operation(conn, "import", detail=detail, at=self.app.clock.now(), **(actor or {}))


def _filter_value(f: Field | None, value: Any) -> Any:
    """A converted cell as the list filter compares it (dates as date objects)."""
    if f is not None and f.type == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if f is not None and f.type in ("decimal", "money", "percent") and isinstance(value, (int, float)):
        return Decimal(str(value))
    return value


class Cells:
    """Turns spreadsheet cells into the values the records service takes, looking names up as the user."""

    def __init__(self, app: Any, ctx: Context):
        self.app, self.ctx = app, ctx
        self._refs: dict[tuple[str, str], int] = {}
        self._people: dict[tuple[str, str], int] = {}

    def value(self, f: Field, cell: Any) -> Any:
        t = f.type
        text = _text(cell)
        if t == "date":
            return _date(cell, text).isoformat()
        if t == "datetime":
            if isinstance(cell, datetime):
                return cell.isoformat()
            try:
                return datetime.fromisoformat(text.replace("/", "-")).isoformat()
            except ValueError as exc:
                raise CellError("datetime", text=text) from exc
        if t in ("integer", "rating", "nps"):
            number = _number(cell, text)
            if number != int(number):
                raise CellError("whole", text=text)
            return int(number)
        if t in ("decimal", "money", "percent"):
            number = _number(cell, text)
            return int(number) if number == int(number) else float(number)  # a JSON number, as the API takes it
        if t == "boolean":
            low = text.lower()
            if low in TRUE:
                return True
            if low in FALSE:
                return False
            raise CellError("flag", text=text)
        if t == "select":
            return self._option(f, text)
        if t in ("multiselect", "tags"):
            parts = _split(text)
            return [self._option(f, p) for p in parts] if t == "multiselect" else parts
        if t == "reference":
            return self._reference(f, text)
        if t == "user":
            return self._user(text)
        if t == "department":
            return self._department(text)
        return text

    def _option(self, f: Field, text: str) -> str:
        oset = self.app.registry.option_set(f.opt("option_set"))
        for opt, _ in oset.flat():
            labels = {opt.value.lower(), *(label_text(opt.label, lang).lower() for lang in ("zh", "en"))}
            if text.lower() in labels:
                return opt.value
        shown = "、".join(label_text(o.label, self.ctx.lang) for o, _ in oset.flat()[:15])
        raise CellError("option", text=text, shown=shown)

    def _reference(self, f: Field, text: str) -> int:
        target = self.app.registry.entity(f.opt("entity"))
        cache = (target.id, text)
        if cache in self._refs:
            return self._refs[cache]
        found: list[dict[str, Any]] = []
        if target.title_field:
            query = ListQuery(filters=[Filter(target.title_field, "eq", text)], limit=2, count="none")
            found = self.app.records.list(target.id, query, self.ctx).items
        if not found and text.isdigit():
            query = ListQuery(filters=[Filter("id", "eq", int(text))], limit=1, count="none")
            found = self.app.records.list(target.id, query, self.ctx).items
        if not found:
            raise CellError("no_record", text=text, what=target.label_in(self.ctx.lang))
        if len(found) > 1:
            raise CellError("several", text=text, what=target.label_in(self.ctx.lang))
        self._refs[cache] = found[0]["id"]
        return found[0]["id"]

    def _user(self, text: str) -> int:
        u = pt.users.c
        return self._person(("user", text), sa.select(u.id).where(sa.or_(u.username == text, u.display_name == text)))

    def _department(self, text: str) -> int:
        d = pt.departments.c
        return self._person(("department", text), sa.select(d.id).where(sa.or_(d.code == text, d.name == text)))

    def _person(self, cache: tuple[str, str], query: sa.Select) -> int:
        if cache in self._people:
            return self._people[cache]
        words = PEOPLE_WORDS[cache[0]]["zh" if self.ctx.lang == "zh" else "en"]
        with self.app.db.read() as conn:
            ids = list(conn.execute(query.limit(2)).scalars())
        if not ids:
            raise CellError("no_person", text=cache[1], what=words[0])
        if len(ids) > 1:
            raise CellError("several_people", text=cache[1], what=words[0], unique=words[1])
        self._people[cache] = int(ids[0])
        return int(ids[0])


def _date(cell: Any, text: str) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    match = FULL_DATE.match(text)
    if match:
        y, m, d = (int(g) for g in match.groups())
    else:
        match = MONTH_ONLY.match(text)
        if match is None:
            raise CellError("date", text=text)
        (y, m), d = (int(g) for g in match.groups()), 1
    try:
        return date(y, m, d)
    except ValueError as exc:
        raise CellError("real_date", text=text) from exc


def _number(cell: Any, text: str) -> Decimal:
    if isinstance(cell, bool):
        raise CellError("number", text=text)
    if isinstance(cell, (int, float)):
        number = Decimal(str(cell))
        if not number.is_finite():
            raise CellError("number", text=text)
        return number
    cleaned = text.replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").strip()
    try:
        number = Decimal(cleaned)
    except InvalidOperation as exc:
        raise CellError("number", text=text) from exc
    if not number.is_finite():
        raise CellError("number", text=text)
    return number


def _split(text: str) -> list[str]:
    for sep in SEPARATORS:
        text = text.replace(sep, ",")
    return [p.strip() for p in text.split(",") if p.strip()]
