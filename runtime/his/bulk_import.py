"""Bulk load of an entity's records from a CSV file, keyed by an external id (PC-17: the HIS archive's
initial load of 100,000+ patients, `tessera his import-patients FILE.csv`).

This is the one documented path that writes an entity table without going through the records service
per record: a per-record write costs a transaction, a read-back, an audit row and a rule evaluation each,
far too slow for a whole archive. What the records service would do for these rows is done here in bulk:

* every row is read like the record import reads a cell (runtime/records/imports.py: options by value or
  label, dates as people type them, references by title) and validated like a create or an update would
  validate it (JSON schema of the entity, computed fields, conditional requiredness, the entity's
  cross-field validations, unique fields within the file and against the table); every problem is
  reported as file, line, field and sentence, and if there is one, nothing is written (all or nothing);
* an existing record (same key) is validated merged with its stored values, and only the file's
  non-empty cells change it (an empty cell leaves the stored value, as in the record import); a new
  record gets the field defaults;
* sensitive fields are sealed with the field cipher, with their blind index, exactly as a create stores
  them (runtime.records.convert.to_db_values);
* system columns are filled as a create/update fills them (version, created/updated at/by, owner);
* the whole load is one transaction and leaves one audit entry and one operation-log entry;
* with a ``stamp`` field (his_updated_at), a row never overwrites a record the live HIS stream updated
  more recently (the same rule as the HIS message processing: no out-of-order overwrite).

Only administrators (the CLI) may run it: field rights and data scopes are not applied row by row.

Rules are not run per row (an initial load is not a stream of changes; the HIS stream that follows is).

On PostgreSQL the rows are COPYed into a temporary staging table and moved with one
``INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE``; on SQLite an executemany of the same upsert.
A re-run of the same file changes nothing: the update only touches a row whose values differ
(encrypted fields compared through their blind index, since ciphertext differs on every write).
"""

from __future__ import annotations

import csv
import dataclasses
import gc
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from runtime.blueprints.model import Entity, Field, label_text
from runtime.errors import BadRequest, Forbidden
from runtime.fields.storage import blind_index_column, is_encrypted
from runtime.fields.types import field_type
from runtime.his.parallel import check_in_parallel
from runtime.oplog import record_operation
from runtime.records import logic
from runtime.records.context import Context
from runtime.records.convert import record_to_json
from runtime.records.imports import CellError, Cells, _text, column_map
from runtime.storage.entity_tables import index_name
from runtime.storage.platform_tables import audit
from runtime.validation.errors import FieldError

IMPORT_CTX = Context(channel="import", lang="en", is_admin=True)
CHUNK = 5000
"""Keys per IN (...) lookup, rows per executemany batch."""
MAX_ERRORS = 1000
"""Errors kept in the report (the count is always exact): a broken export should not print 100,000 lines."""
AUDIT_ACTION = "bulk_import"
REBUILD_MIN_ROWS = 20_000
"""From this many rows, the initial load of an empty table rebuilds its secondary indexes afterwards
(see BulkImport._drop_indexes)."""
MESSAGES = {
    "key_missing": {"zh": "用于匹配记录，不能为空", "en": "is needed to match the row"},
    "key_twice": {"zh": "与第 {line} 行重复", "en": "repeats line {line} of the file"},
    "unique_file": {
        "zh": "与第 {line} 行的值相同，必须唯一",
        "en": "has the same value as line {line}; must be unique",
    },
    "unique_db": {"zh": "已被另一条记录使用，必须唯一", "en": "is already used by another record; must be unique"},
}


class _Rollback(Exception):
    """Leave the load's transaction without writing (errors found, or a dry run)."""


@dataclass
class BulkError:
    line: int
    field: str
    code: str
    message: str

    def as_dict(self, file: str) -> dict[str, Any]:
        return {"file": file, "line": self.line, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class BulkReport:
    """What a bulk load did (or, with errors, why it wrote nothing)."""

    entity: str
    file: str
    key: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    committed: bool = False
    error_count: int = 0
    errors: list[BulkError] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, line: int, name: str, code: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(BulkError(line, name, code, message))

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["errors"] = [e.as_dict(self.file) for e in self.errors]
        return out


_Checked = tuple[dict[str, Any], Sequence[FieldError]]
"""A checked row: its column values (empty when it has errors) and its errors."""


@dataclass
class _Slice:
    """What checking a slice of the rows gives: per row (values, errors) and the COPY text of its rows."""

    rows: list[_Checked]
    copy_text: str


class _CopyText:
    """Checked rows as COPY CSV text in a fixed column order (NULL: an unquoted empty field)."""

    def __init__(self, converters: list[tuple[str, Callable[[Any], Any] | None]]):
        self.converters = converters
        self.known = {c for c, _ in converters}
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)

    def add(self, db: dict[str, Any]) -> None:
        if not db.keys() <= self.known:  # a value with no column would be lost silently
            raise RuntimeError(f"bulk import: no staging column for {sorted(db.keys() - self.known)}")
        self.writer.writerow([v if (v := db.get(c)) is None or fn is None else fn(v) for c, fn in self.converters])

    def text(self) -> str:
        return self.buffer.getvalue()


@dataclass
class _Row:
    line: int
    key: str
    values: dict[str, Any]
    """The row's JSON values, only its non-empty cells (what the record import would send)."""
    db: dict[str, Any] = field(default_factory=dict)


def read_csv(source: Path | str | bytes) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Header and (line number, cells) of a CSV file in UTF-8 or GB18030 (as Excel saves it in China);
    blank lines are skipped; line numbers are those an editor shows."""
    content = source if isinstance(source, bytes) else Path(source).read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise BadRequest("the CSV file is neither UTF-8 nor GB18030 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise BadRequest("the file is empty: the first line must name the columns") from None
    except csv.Error as exc:
        raise BadRequest(f"the CSV file cannot be read: {exc}") from exc

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for cells in reader:
                if any(c.strip() for c in cells):
                    yield reader.line_num, cells
        except csv.Error as exc:
            raise BadRequest(f"line {reader.line_num}: the CSV file cannot be read: {exc}") from exc

    return [h.strip() for h in header], rows()


class _Plan:
    """Per-field conversions decided once per load: records.convert.to_db_values and python_values look
    each field's type and sensitivity up again for every record, which is most of a 100,000-row load."""

    def __init__(self, entity: Entity, clock: Any, crypt: Any):
        self.fields = [f for f in entity.fields if f.type != "child_table"]
        self.by_name = {f.name: f for f in self.fields}
        self.to_db = {f.name: field_type(f).to_db for f in self.fields}
        self.encrypted = {f.name for f in self.fields if is_encrypted(f)}
        if self.encrypted and crypt is None:
            raise BadRequest(f"{entity.id} has encrypted fields and no field cipher is configured")
        self.sealers = {
            f.name: (crypt.sealer(f), blind_index_column(f.name)) for f in self.fields if f.name in self.encrypted
        }
        # defaults are the same for every row of one load (an expression default is read at the load's time)
        self.defaults = logic.apply_defaults(entity, {}, clock)

    def with_defaults(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **values} if self.defaults else dict(values)

    def db_values(self, values: dict[str, Any]) -> dict[str, Any]:
        """Column values of JSON values (records.convert.to_db_values): sensitive ones sealed with their index."""
        out: dict[str, Any] = {}
        to_db, by_name, sealers = self.to_db, self.by_name, self.sealers
        for name, value in values.items():
            convert = to_db.get(name)
            if convert is None:
                continue
            stored = convert(value, by_name[name])
            sealing = sealers.get(name)
            if sealing is None:
                out[name] = stored
            elif stored is None:
                out[name] = out[sealing[1]] = None
            else:
                out[name], out[sealing[1]] = sealing[0](stored)
        return out

    def python(self, values: dict[str, Any]) -> dict[str, Any]:
        """The values expressions see (records.convert.python_values), unreadable ones as None."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            convert = self.to_db.get(name)
            if convert is None:
                continue
            try:
                out[name] = convert(value, self.by_name[name])
            except (ValueError, TypeError, ArithmeticError):
                out[name] = None
        return out


class _Conditions:
    """Which fields of an entity are required, decided once: always-required fields are checked directly, and
    only fields with a visible_when / required_when condition evaluate it per row (logic.field_states
    evaluates every field's options for every row)."""

    def __init__(self, entity: Entity):
        self.always: list[str] = []
        self.conditional: list[tuple[str, str | None, str | None, bool]] = []
        for f in entity.fields:
            if f.is_system_filled:
                continue
            visible_when, required_when = f.opt("visible_when"), f.opt("required_when")
            if visible_when or required_when:
                self.conditional.append((f.name, visible_when, required_when, bool(f.required)))
            elif f.required:
                self.always.append(f.name)
        self.computed = any(f.type == "computed" for f in entity.fields)

    def missing(self, record: dict[str, Any], values: dict[str, Any], clock: Any, lang: str) -> list[FieldError]:
        message = "必填" if lang == "zh" else "is required"
        out = [FieldError(n, message, "required") for n in self.always if logic.is_empty(record.get(n))]
        for name, visible_when, required_when, required in self.conditional:
            if not logic.is_empty(record.get(name)):
                continue
            if not logic._truthy(visible_when, values, clock, True):  # noqa: SLF001 - the same evaluation
                continue
            if required or logic._truthy(required_when, values, clock, False):  # noqa: SLF001
                out.append(FieldError(name, message, "required"))
        return out


class BulkImport:
    """One bulk load of one entity (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        entity_id: str,
        *,
        key: str,
        ctx: Context = IMPORT_CTX,
        stamp: str | None = None,
        workers: int | None = None,
    ):
        self.app = app
        self.workers = workers
        """Processes checking rows (None: decided by the file's size and the machine's cores)."""
        self.entity: Entity = app.registry.entity(entity_id)
        if not ctx.is_admin:  # field rights and data scopes are not applied row by row here
            raise Forbidden(
                "the bulk import is for administrators (tessera his import-patients); use the record import"
            )
        self.ctx = dataclasses.replace(ctx, channel="import")
        self.key = key
        self.stamp = stamp
        if stamp is not None and (self.entity.field(stamp) is None or self.entity.field(stamp).type != "datetime"):
            raise BadRequest(f"'{stamp}' is not a date-time field of {entity_id}")
        key_field = self.entity.field(key)
        if key_field is None:
            raise BadRequest(f"'{key}' is not a field of {entity_id}")
        if not key_field.unique or is_encrypted(key_field):
            raise BadRequest(f"'{entity_id}.{key}' must be a unique, not encrypted field to key a bulk load")
        if any(f.type == "autonumber" for f in self.entity.fields):
            raise BadRequest(f"{entity_id} has autonumber fields: use the record import (they are numbered per record)")
        self.key_field = key_field
        self.table: sa.Table = app.registry.tables[entity_id].main
        self.crypt = app.cipher.for_table(self.table.name) if getattr(app, "cipher", None) else None
        self.validator = app.registry.validator(entity_id)
        self.conditions = _Conditions(self.entity)
        self.clock = app.clock
        self.plan = _Plan(self.entity, self.clock, self.crypt)
        self.unique_columns = [
            blind_index_column(f.name) if is_encrypted(f) else f.name
            for f in self.entity.fields
            if f.unique and f.name != key and f.type != "child_table"
        ]
        """The stored columns of the unique fields other than the key (what _check_unique compares)."""
        self.columns: list[str] = []
        self.copy_text: list[str] = []
        self.timings: dict[str, float] = {}
        """Seconds of the PostgreSQL write steps (stage, upsert, indexes), for the bench's report."""
        self.lang = self.ctx.lang

    # reading and checking ------------------------------------------------------------------------------
    def run(self, source: Path | str | bytes, *, filename: str | None = None, commit: bool = True) -> BulkReport:
        """Load the file. Python's cyclic garbage collector is paused meanwhile: a load builds hundreds of
        thousands of small dicts and lists that live until the end, which the collector would scan again and
        again for nothing (a third of a 100,000-row load); none of them forms a cycle."""
        paused = gc.isenabled()
        gc.disable()
        try:
            return self._run(source, filename=filename, commit=commit)
        finally:
            if paused:
                gc.enable()

    def _run(self, source: Path | str | bytes, *, filename: str | None, commit: bool) -> BulkReport:
        name = filename or (Path(source).name if not isinstance(source, bytes) else "upload.csv")
        report = BulkReport(self.entity.id, name, self.key)
        if self.ctx.user_id is not None:
            self.app.permissions.require(self.ctx, self.entity, "import")
        started = time.perf_counter()
        header, lines = read_csv(source)
        mapping, ignored = column_map(self.entity, header)
        report.columns = {header[i]: f.name for i, f in mapping.items()}
        report.ignored_columns = ignored
        if self.key not in report.columns.values():
            raise BadRequest(f"the file has no column for the key '{self.key}' ({self.key_field.label_in('en')})")
        self.columns = self._columns(mapping)
        rows = self._read(mapping, lines, report)
        report.rows = len(rows)
        report.seconds["read"] = time.perf_counter() - started
        try:
            with self.app.db.write() as conn:
                stored = self._stored(conn, [r.key for r in rows])
                mark = time.perf_counter()
                self._check(rows, stored, report)
                self._check_unique(conn, rows, report)
                report.seconds["validate"] = time.perf_counter() - mark
                if report.error_count or not commit:
                    raise _Rollback
                mark = time.perf_counter()
                changed = self._write(conn, rows) if rows else 0  # a file of only a header loads nothing
                report.created = sum(1 for r in rows if r.key not in stored)
                report.updated = changed - report.created
                report.unchanged = len(rows) - changed
                report.committed = True
                report.seconds["write"] = time.perf_counter() - mark
                report.seconds.update({f"write_{k}": v for k, v in self.timings.items()})
                self._log(conn, report)
        except _Rollback:
            pass
        if not report.committed and commit:
            with self.app.db.write() as conn:
                self._oplog(conn, report)
        report.seconds["total"] = time.perf_counter() - started
        return report

    def _read(
        self, mapping: dict[int, Field], lines: Iterable[tuple[int, list[str]]], report: BulkReport
    ) -> list[_Row]:
        cells = Cells(self.app, self.ctx)
        key_index = next(i for i, f in mapping.items() if f.name == self.key)
        plain = {i: f for i, f in mapping.items() if f.type in ("text", "long_text", "phone", "email", "cn_id")}
        options = {i: self._options(f) for i, f in mapping.items() if f.type == "select"}
        seen: dict[str, int] = {}
        rows: list[_Row] = []
        for line, raw in lines:
            values: dict[str, Any] = {}
            bad = False
            for i, f in mapping.items():
                text = raw[i].strip() if i < len(raw) else ""
                if text == "":
                    continue
                if i in plain:  # the common case, read as the record import reads it (stripped text)
                    values[f.name] = text
                    continue
                if i in options:  # an option by value or label, looked up in a dict (else Cells says why not)
                    found = options[i].get(text.lower())
                    if found is not None:
                        values[f.name] = found
                        continue
                try:
                    values[f.name] = cells.value(f, text)
                except CellError as exc:
                    report.add(line, f.name, "cell", exc.text(self.lang))
                    bad = True
            key = _text(raw[key_index]) if key_index < len(raw) else ""
            if key == "":
                report.add(line, self.key, "required", self._msg("key_missing"))
                continue
            if key in seen:
                report.add(line, self.key, "duplicate", self._msg("key_twice", line=seen[key]))
                continue
            seen[key] = line
            if not bad:
                rows.append(_Row(line, key, values))
        return rows

    def _options(self, f: Field) -> dict[str, str]:
        """An option set's values and zh/en labels (lower case) -> value, as Cells matches them."""
        found: dict[str, str] = {}
        for opt, _ in self.app.registry.option_set(f.opt("option_set")).flat():
            for alias in (opt.value, *(label_text(opt.label, lang) for lang in ("zh", "en"))):
                found.setdefault(alias.lower(), opt.value)
        return found

    def _stored(self, conn: Connection, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The stored rows whose key is in the file (they are updated, not created), as the table holds them:
        they are decrypted and read as JSON by the checking processes (``_check_rows``), in parallel."""
        column = self.table.c[self.key]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            for row in conn.execute(sa.select(self.table).where(column.in_(chunk))).mappings():
                found[row[self.key]] = dict(row)
        return found

    def _check(self, rows: list[_Row], stored: dict[str, dict[str, Any]], report: BulkReport) -> None:
        """Each row as the records service would validate its create (or its update, merged with the stored
        record), then turned into column values: sealed sensitive fields, computed fields. A large file is
        checked in several processes (runtime/his/parallel.py); the report is the same either way. On
        PostgreSQL the checking process also writes its rows as COPY text (``self.copy_text``), so that
        work is shared out too; a row then keeps only the values the unique check needs."""
        slices = check_in_parallel(self._check_rows, rows, stored, workers=self.workers, after_fork=self._forked)
        checked = [item for part in slices for item in part.rows]
        self.copy_text = [part.copy_text for part in slices if part.copy_text]
        for row, (db, errors) in zip(rows, checked, strict=True):
            row.db = db
            for e in errors:
                report.add(row.line, e.field, e.code, e.message)

    def _forked(self) -> None:
        """In a checking worker: never touch the parent's database connections (SQLAlchemy's advice for
        forked processes); anything that reads the database there opens its own."""
        self.app.db.engine.dispose(close=False)

    def _check_rows(self, rows: list[_Row], stored: dict[str, dict[str, Any]]) -> _Slice:
        """Checked rows (column values, errors) and, on PostgreSQL, their COPY text; no shared state is
        written, so it can run in a worker."""
        editable = [f.name for f in self.entity.fields if not f.is_system_filled]  # as records.update merges
        copy = self.copy_writer()
        out: list[_Checked] = []
        for row in rows:
            raw = stored.get(row.key)
            if raw is None:
                before = None
                record = self.plan.with_defaults(row.values)
            else:
                before = record_to_json(self.entity, raw, {}, self.app.cipher)
                record = {**{k: before.get(k) for k in editable}, **row.values}
            errors, computed = self._errors(record)
            if errors:
                out.append(({}, errors))
                continue
            db = self.plan.db_values(record if before is None else row.values)
            db.update(computed)
            if copy is None:
                out.append((db, ()))
            else:
                copy.add(db)
                out.append(({c: db.get(c) for c in self.unique_columns}, ()))
        return _Slice(out, copy.text() if copy is not None else "")

    def copy_writer(self) -> _CopyText | None:
        """Where checked rows are written as COPY text (PostgreSQL), or None (SQLite keeps the values)."""
        if self.app.db.dialect != "postgresql":
            return None
        return _CopyText([(c, _copy_converter(self.table.c[c].type)) for c in self.columns])

    def _errors(self, record: dict[str, Any]) -> tuple[list[FieldError], dict[str, Any]]:
        """records.service._validate without the database (schema, computed fields, conditional requiredness,
        the entity's validations), and the computed values to store. Requiredness is evaluated only for the
        fields whose requiredness depends on the record (``_Conditions``), the same answer as
        logic.field_states + conditional_errors without a form, at a fraction of the cost."""
        entity, lang = self.entity, self.lang
        errors = [] if self.validator.is_valid(record) else self.validator.errors(record, lang)
        bad = {e.field.split(".")[0] for e in errors}
        values = self.plan.python({k: v for k, v in record.items() if k not in bad} if bad else record)
        computed: dict[str, Any] = {}
        if self.conditions.computed:
            computed, computed_errors = logic.compute_fields(entity, values, self.clock, lang)
            values.update(computed)
            errors += computed_errors
        errors += [e for e in self.conditions.missing(record, values, self.clock, lang) if e.field not in bad]
        if not errors:
            errors += logic.rule_errors(entity, None, values, self.clock, lang)
        return errors, computed

    def _check_unique(self, conn: Connection, rows: list[_Row], report: BulkReport) -> None:
        """Unique fields other than the key: not twice in the file, not used by another stored record."""
        key_column = self.table.c[self.key]
        for f in self.entity.fields:
            if not f.unique or f.name == self.key or f.type == "child_table":
                continue
            column = blind_index_column(f.name) if is_encrypted(f) else f.name
            owner: dict[Any, _Row] = {}
            for row in rows:
                value = row.db.get(column)
                if value is None:
                    continue
                if value in owner:
                    report.add(row.line, f.name, "unique", self._msg("unique_file", line=owner[value].line))
                    continue
                owner[value] = row
            values = list(owner)
            for start in range(0, len(values), CHUNK):
                chunk = values[start : start + CHUNK]
                query = sa.select(self.table.c[column], key_column).where(self.table.c[column].in_(chunk))
                for value, stored_key in conn.execute(query):
                    row = owner.get(value)
                    if row is not None and stored_key != row.key:
                        report.add(row.line, f.name, "unique", self._msg("unique_db"))

    # writing ------------------------------------------------------------------------------------------------
    def _write(self, conn: Connection, rows: list[_Row]) -> int:
        """Upsert every row; returns how many records were inserted or changed."""
        now = self.clock.now()
        columns = self.columns
        system = {
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "created_by": self.ctx.user_id,
            "updated_by": self.ctx.user_id,
            "owner_id": self.ctx.user_id,
            "department_id": self.ctx.department_id,
        }
        if conn.dialect.name == "postgresql":
            return self._write_pg(conn, rows, columns, system)
        return self._write_sqlite(conn, rows, columns, system)

    def _columns(self, mapping: dict[int, Field]) -> list[str]:
        """The entity columns a row of this file can write, in table order: the file's fields, the fields with
        defaults, the computed fields, and the blind index of each encrypted one. A row that has no value for
        one of them gives NULL there, which the upsert reads as "not in the file" (the stored value stays)."""
        names = {f.name for f in mapping.values()} | set(self.plan.defaults)
        names |= {f.name for f in self.entity.fields if f.type == "computed"}
        used = set()
        for name in names:
            f = self.entity.field(name)
            if f is None or f.type == "child_table" or name not in self.table.c:
                continue
            used.add(name)
            if is_encrypted(f):
                used.add(blind_index_column(name))
        return [c.name for c in self.table.columns if c.name in used]

    def _upsert(self, insert: Any, columns: list[str]) -> Any:
        """ON CONFLICT (key) DO UPDATE: the file's non-empty values over the stored ones, version + 1, only
        where something differs (blind index instead of ciphertext for encrypted fields)."""
        t, new = self.table, insert.excluded
        values = {c: sa.func.coalesce(new[c], t.c[c]) for c in columns if c != self.key}
        compared = [c for c in columns if c != self.key and not self._is_cipher(c)]
        differs = sa.or_(sa.false(), *[t.c[c].is_distinct_from(sa.func.coalesce(new[c], t.c[c])) for c in compared])
        values.update(version=t.c.version + 1, updated_at=new.updated_at, updated_by=new.updated_by)
        if self.stamp is not None:  # an archive row older than what the HIS stream already applied changes nothing
            stored, given = t.c[self.stamp], new[self.stamp]
            differs = sa.and_(differs, sa.or_(stored.is_(None), sa.and_(given.is_not(None), given >= stored)))
        return insert.on_conflict_do_update(index_elements=[self.key], set_=values, where=differs)

    def _is_cipher(self, column: str) -> bool:
        f = self.entity.field(column)
        return f is not None and is_encrypted(f)

    def _write_sqlite(self, conn: Connection, rows: list[_Row], columns: list[str], system: dict[str, Any]) -> int:
        rebuilt = self._drop_indexes(conn) if len(rows) >= REBUILD_MIN_ROWS else []
        before = conn.exec_driver_sql("SELECT total_changes()").scalar()
        statement = self._upsert(sqlite.insert(self.table), columns)
        empty = dict.fromkeys(columns)
        for start in range(0, len(rows), CHUNK):
            batch = [{**empty, **row.db, **system} for row in rows[start : start + CHUNK]]
            conn.execute(statement, batch)
        changed = conn.exec_driver_sql("SELECT total_changes()").scalar() - before
        for definition in rebuilt:  # a violated unique index fails here: the whole load rolls back
            conn.exec_driver_sql(definition)
        return changed

    def _write_pg(self, conn: Connection, rows: list[_Row], columns: list[str], system: dict[str, Any]) -> int:
        started = time.perf_counter()
        staging = f"tessera_stage_{self.table.name}"[:60]
        names = ", ".join(f'"{c}"' for c in columns)
        conn.exec_driver_sql(
            f'CREATE TEMP TABLE "{staging}" ON COMMIT DROP AS SELECT {names} FROM "{self.table.name}" WITH NO DATA'
        )
        buffer = io.StringIO("".join(self.copy_text))  # written by the checking processes, in row order
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.copy_expert(f'COPY "{staging}" ({names}) FROM STDIN WITH (FORMAT csv)', buffer)
        finally:
            cursor.close()
        stage = sa.table(staging, *[sa.column(c) for c in columns])
        literal = [sa.literal(v, type_=self.table.c[k].type).label(k) for k, v in system.items()]
        select = sa.select(*[stage.c[c] for c in columns], *literal)
        insert = postgresql.insert(self.table).from_select([*columns, *system], select)
        rebuilt = self._drop_indexes(conn) if len(rows) >= REBUILD_MIN_ROWS else []
        self.timings["stage"] = time.perf_counter() - started
        written = conn.execute(self._upsert(insert, columns)).rowcount
        self.timings["upsert"] = time.perf_counter() - started - self.timings["stage"]
        for definition in rebuilt:  # a violated unique index fails here: the whole load rolls back
            conn.exec_driver_sql(definition)
        self.timings["indexes"] = time.perf_counter() - started - self.timings["stage"] - self.timings["upsert"]
        return written

    def _drop_indexes(self, conn: Connection) -> list[str]:
        """The initial load of an empty table: its secondary indexes are dropped and built again
        after the insert, in the same transaction, as pg_restore does: one sorted build per index costs a
        fraction of 100,000 single-row index insertions. The primary key and the key's unique index (ON
        CONFLICT needs it) stay. Returns the CREATE INDEX statements to run after the insert; nothing when
        the table has rows (a later load updates in place and keeps every index)."""
        if conn.execute(sa.select(self.table.c.id).limit(1)).first() is not None:
            return []
        keep = index_name("ux", self.table.name, (self.key,))
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            found = conn.exec_driver_sql(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = %(table)s::regclass AND NOT x.indisprimary "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
                {"table": self.table.name},
            ).all()
        else:  # SQLite: the indexes it made itself (constraints) have no SQL and stay
            found = conn.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                (self.table.name,),
            ).all()
        definitions = []
        for name, definition in found:
            if name == keep:
                continue
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
            definitions.append(definition)
        if definitions and postgres:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        return definitions

    # the audit trail -------------------------------------------------------------------------------------------
    def _log(self, conn: Connection, report: BulkReport) -> None:
        """One audit entry for the whole load (per-record entries would double a 100,000-row load) and the
        import entry of the operation log, as the record import leaves."""
        summary = {
            "file": report.file[:200],
            "key": self.key,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
        }
        conn.execute(
            sa.insert(audit).values(
                at=self.clock.now(),
                entity=self.entity.id,
                record_id=0,
                action=AUDIT_ACTION,
                actor_id=self.ctx.user_id,
                channel=self.ctx.channel,
                request_id=self.ctx.request_id[:64],
                changes={"bulk_import": [None, summary]},
            )
        )
        self._oplog(conn, report)

    def _oplog(self, conn: Connection, report: BulkReport) -> None:
        detail = {
            "entity": self.entity.id,
            "file": report.file[:200],
            "committed": report.committed,
            "bulk": True,
            "create": report.created,
            "update": report.updated,
            "unchanged": report.unchanged,
            "error": report.error_count,
        }
        record_operation(conn, "import", detail=detail, at=self.clock.now(), actor_id=self.ctx.user_id)

    def _msg(self, key: str, **params: Any) -> str:
        return MESSAGES[key]["zh" if self.lang == "zh" else "en"].format(**params)


def _copy_converter(column_type: sa.types.TypeEngine) -> Callable[[Any], Any] | None:
    """How a column's non-NULL values are written as COPY CSV text (None: as they are). NULL is an unquoted
    empty field; no empty string reaches here (an empty cell is no value)."""
    if isinstance(column_type, sa.JSON):
        return lambda v: json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(column_type, sa.Boolean):
        return lambda v: "t" if v else "f"
    if isinstance(column_type, sa.Date | sa.DateTime | sa.Time):
        return lambda v: v.isoformat()
    return None


def bulk_import(
    app: Any,
    entity_id: str,
    source: Path | str | bytes,
    *,
    key: str,
    ctx: Context = IMPORT_CTX,
    filename: str | None = None,
    commit: bool = True,
    stamp: str | None = None,
    workers: int | None = None,
) -> BulkReport:
    """Load ``source`` (a CSV file) into ``entity_id``, upserting by ``key``; see the module docstring.
    With ``stamp`` (a date-time field such as his_updated_at), a stored record whose stamp is newer than the
    row's is left as it is: the archive never overwrites what the live HIS stream applied since. ``workers``:
    processes that check rows (default: one per core for a large file, runtime/his/parallel.py)."""
    load = BulkImport(app, entity_id, key=key, ctx=ctx, stamp=stamp, workers=workers)
    return load.run(source, filename=filename, commit=commit)
