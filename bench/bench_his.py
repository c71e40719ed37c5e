"""`his`: the HIS archive's initial load (PC-17) and the HL7 ADT processing rate.

* `his_bulk_import`: 100,000 fictional patients (seeded generator) in a CSV file, loaded with
  `runtime.his.bulk_import` (read and convert every cell, validate every row as a create, seal the
  sensitive fields with their blind indexes, COPY into a staging table, one INSERT ... ON CONFLICT
  upsert, audit) against PostgreSQL's own `COPY ... FROM STDIN` of the same rows (as our load stored
  them: ciphertext, blind indexes, system columns) into an empty copy of the entity table (`LIKE ...
  INCLUDING ALL`: its types, defaults, constraints and 22 indexes), in the same run; target 0.25x. On
  SQLite, which has no COPY, the baseline is a bare `executemany` of those rows into such a copy (reported).
* `his_bulk_import_vs_file` (reported): the same load against COPY of the raw file into a plain table with
  the file's 12 columns and no index: the bare text-parsing speed of the server.
* `his_bulk_db_write` (PostgreSQL, reported): the database part of our load alone against COPY of the stored
  rows into a plain table without indexes.
* `his_bulk_reimport` (reported): the same file loaded again (every row matched by `his_patient_id`, nothing
  changes), against the headline baseline.
* `hl7_adt`: HL7 v2 ADT messages per second through the HIS inbound processor (runtime/his), when
  it is installed; the baseline is parsing the same messages with the hl7 library alone.
"""

from __future__ import annotations

import csv
import io
import random
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.harness import Result, clock, throughput_result
from bench.setup_data import progress
from runtime.config import Settings
from runtime.fields.formats import cn_resident_id_check_char
from runtime.his.bulk_import import bulk_import
from runtime.records.context import Context
from runtime.services import Tessera
from tests.support.databases import fresh_database, pg_available

PACK_DIR = Path(__file__).resolve().parent.parent / "blueprints" / "patient_crm"
ENTITY = "patient"
KEY = "his_patient_id"
TARGET = 0.25
PLAIN_TABLE = "bench_plain_patients"
LIKE_TABLE = "bench_like_patients"
_SQLITE_INDEX = re.compile(r'CREATE (UNIQUE )?INDEX "?(\w+)"? ON "?\w+"? ')
COLUMNS = (
    "his_patient_id",
    "name",
    "gender",
    "birth_date",
    "id_number",
    "phone",
    "address",
    "ward",
    "disease",
    "diagnosis",
    "admitted_at",
    "his_updated_at",
)
WARDS = (
    "cardiology",
    "respiratory",
    "gastroenterology",
    "neurology",
    "endocrinology",
    "nephrology",
    "general_surgery",
    "orthopedics",
    "neurosurgery",
    "urology",
    "obgyn",
    "oncology",
)
DISEASES = ("diabetes", "hypertension", "coronary_heart_disease", "osteoarthritis", "copd", "cancer", "stroke", "other")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕彬鑫宇浩然轩欣怡涵诺"
_STREETS = ("人民路", "解放路", "中山路", "建设路", "和平街", "长江路", "黄河路", "新华街", "胜利路", "文化路")
_DIAGNOSES = ("2型糖尿病", "高血压病2级", "冠心病", "膝骨关节炎", "慢性阻塞性肺疾病", "脑梗死恢复期", "肺部感染")
CTX = Context(channel="import", lang="en", is_admin=True)


class PatientMaker:
    """Fictional, valid patients (the ID number agrees with birth date and gender), from a seeded RNG."""

    def __init__(self, seed: int = 20261123):
        self.rng = random.Random(seed)
        self.used: set[str] = set()
        """ID numbers handed out: they are unique per person (the entity refuses a second one)."""

    def make(self, i: int) -> dict[str, str]:
        r = self.rng
        while True:
            born = date(1935, 1, 1) + timedelta(days=r.randrange(85 * 365))
            male = r.random() < 0.5
            serial = r.randrange(100) * 10 + (r.choice((1, 3, 5, 7, 9)) if male else r.choice((0, 2, 4, 6, 8)))
            first17 = f"{r.choice(('110101', '310104', '440305', '510107', '330106'))}{born:%Y%m%d}{serial:03d}"
            if first17 not in self.used:
                self.used.add(first17)
                break
        admitted = datetime(2025, 5, 1) + timedelta(minutes=r.randrange(570 * 24 * 60))
        return {
            "his_patient_id": f"MRN{i:08d}",
            "name": r.choice(_SURNAMES) + r.choice(_GIVEN) + r.choice(_GIVEN),
            "gender": "male" if male else "female",
            "birth_date": born.isoformat(),
            "id_number": first17 + cn_resident_id_check_char(first17),
            "phone": f"1{r.choice('3456789')}{r.randrange(10**9):09d}",
            "address": f"虚构市{r.choice(_STREETS)}{r.randrange(1, 999)}号{r.randrange(1, 30)}栋",
            "ward": r.choice(WARDS),
            "disease": r.choice(DISEASES),
            "diagnosis": r.choice(_DIAGNOSES),
            "admitted_at": admitted.isoformat(timespec="seconds"),
            "his_updated_at": (admitted + timedelta(hours=r.randrange(1, 48))).isoformat(timespec="seconds"),
        }


def write_patients_csv(path: Path, n: int, seed: int = 20261123) -> list[dict[str, str]]:
    """Write ``n`` generated patients to ``path`` (UTF-8, header = field names); returns the rows."""
    maker = PatientMaker(seed)
    rows = [maker.make(i) for i in range(n)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


# the baseline ---------------------------------------------------------------------------------------------
def create_plain_table(tessera: Tessera) -> None:
    """A plain table with the file's columns, typed as the entity table types them; no index, no constraint."""
    entity_table = tessera.registry.tables[ENTITY].main
    with tessera.db.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {PLAIN_TABLE}")
        columns = ", ".join(f"{c} {entity_table.c[c].type.compile(dialect=conn.dialect)}" for c in COLUMNS)
        conn.exec_driver_sql(f"CREATE TABLE {PLAIN_TABLE} ({columns})")


def baseline_load(tessera: Tessera, path: Path) -> float:
    """Seconds to load the file into the plain table: PostgreSQL's COPY FROM STDIN, or (SQLite) a bare
    executemany of the parsed CSV rows in one transaction."""
    create_plain_table(tessera)
    names = ", ".join(COLUMNS)
    if tessera.db.dialect == "postgresql":
        raw = tessera.db.engine.raw_connection()
        try:
            start = clock()
            with path.open("r", encoding="utf-8") as fh, raw.cursor() as cur:
                cur.copy_expert(f"COPY {PLAIN_TABLE} ({names}) FROM STDIN WITH (FORMAT csv, HEADER true)", fh)
            raw.commit()
            return clock() - start
        finally:
            raw.close()
    database = tessera.db.engine.url.database
    start = clock()
    with sqlite3.connect(database) as conn, path.open("r", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        marks = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO {PLAIN_TABLE} ({names}) VALUES ({marks})", reader)
    return clock() - start


# ours ------------------------------------------------------------------------------------------------------
def ours_load(tessera: Tessera, path: Path) -> tuple[float, Any]:
    start = clock()
    report = bulk_import(tessera, ENTITY, path, key=KEY, ctx=CTX, stamp="his_updated_at")
    elapsed = clock() - start
    if not report.committed:
        first = [e.as_dict(report.file) for e in report.errors[:5]]
        raise RuntimeError(f"the bulk import wrote nothing: {report.error_count} errors, first: {first}")
    return elapsed, report


def verify(tessera: Tessera, rows: list[dict[str, str]], *, sample: int = 200) -> list[str]:
    """Problems (empty: none): every row is stored once, a sample reads back equal through the records
    service (decrypted), and sensitive values are ciphertext in the table."""
    problems: list[str] = []
    table = tessera.registry.tables[ENTITY].main
    with tessera.db.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        if count != len(rows):
            problems.append(f"{count} patients stored, {len(rows)} in the file")
        step = max(1, len(rows) // sample)
        wanted = rows[::step]
        stored = {
            r.his_patient_id: r
            for r in conn.execute(
                sa.select(table.c.id, table.c.his_patient_id, table.c.phone, table.c.id_number).where(
                    table.c.his_patient_id.in_([w[KEY] for w in wanted])
                )
            )
        }
    system = Context(channel="system", lang="en", is_admin=True)
    for want in wanted:
        raw = stored.get(want[KEY])
        if raw is None:
            problems.append(f"{want[KEY]} is missing")
            continue
        if raw.phone == want["phone"] or not str(raw.phone).startswith("v1:"):
            problems.append(f"{want[KEY]}: the phone is not encrypted at rest")
        got = tessera.records.get(ENTITY, raw.id, system)
        for name in COLUMNS:
            value = got.get(name)
            expected = want[name]
            if name in ("admitted_at", "his_updated_at") and isinstance(value, str):
                value = value[:19]
            if value != expected:
                problems.append(f"{want[KEY]}.{name}: stored {value!r}, file {expected!r}")
    return problems


def stored_rows_copy(tessera: Tessera, columns: list[str]) -> io.StringIO:
    """The entity table's rows as COPY CSV (ciphertext, blind indexes and system columns as stored)."""
    table = tessera.registry.tables[ENTITY].main.name
    buffer = io.StringIO()
    raw = tessera.db.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY (SELECT {', '.join(columns)} FROM {table}) TO STDOUT WITH (FORMAT csv)", buffer)
        raw.commit()
    finally:
        raw.close()
    buffer.seek(0)
    return buffer


def baseline_stored_copy(tessera: Tessera, columns: list[str]) -> float:
    """Seconds for PostgreSQL's COPY of exactly the rows our load wrote (same columns, same ciphertext)
    into a plain table with those columns (no index): the database work of the load without staging,
    upsert and indexes."""
    entity_table = tessera.registry.tables[ENTITY].main
    buffer = stored_rows_copy(tessera, columns)
    with tessera.db.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {PLAIN_TABLE}_rows")
        typed = ", ".join(f"{c} {entity_table.c[c].type.compile(dialect=conn.dialect)}" for c in columns)
        conn.exec_driver_sql(f"CREATE TABLE {PLAIN_TABLE}_rows ({typed})")
    return _copy_in(tessera, f"{PLAIN_TABLE}_rows", columns, buffer)


def baseline_table_copy(tessera: Tessera, columns: list[str]) -> float:
    """Seconds for the database's own load of exactly the rows our load wrote (same columns, same
    ciphertext) into a copy of the entity table: the same column types, defaults, constraints and all of
    its indexes, empty. PostgreSQL: ``COPY ... FROM STDIN``; SQLite (no COPY): one bare executemany.
    This is the headline baseline: the same patients stored where the archive stores them."""
    table = tessera.registry.tables[ENTITY].main.name
    if tessera.db.dialect == "postgresql":
        buffer = stored_rows_copy(tessera, columns)
        with tessera.db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {LIKE_TABLE}")
            conn.exec_driver_sql(f"CREATE TABLE {LIKE_TABLE} (LIKE {table} INCLUDING ALL)")
        return _copy_in(tessera, LIKE_TABLE, columns, buffer)
    like = tessera.registry.tables[ENTITY].main.to_metadata(sa.MetaData(), name=LIKE_TABLE)
    with tessera.db.engine.begin() as conn:
        stored = conn.exec_driver_sql(f"SELECT {', '.join(columns)} FROM {table}").all()
        like.drop(conn, checkfirst=True)
        like.create(conn)
        indexes = conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,)
        ).scalars()
        for sql in list(indexes):  # the deploy's indexes, renamed (index names are per database in SQLite)
            conn.exec_driver_sql(_SQLITE_INDEX.sub(rf"CREATE \1INDEX {LIKE_TABLE}_\2 ON {LIKE_TABLE} ", sql, 1))
    database = tessera.db.engine.url.database
    marks = ", ".join("?" for _ in columns)
    start = clock()
    with sqlite3.connect(database) as conn:
        conn.executemany(f"INSERT INTO {LIKE_TABLE} ({', '.join(columns)}) VALUES ({marks})", stored)
    return clock() - start


def _copy_in(tessera: Tessera, table: str, columns: list[str], buffer: io.StringIO) -> float:
    raw = tessera.db.engine.raw_connection()
    try:
        start = clock()
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)
        raw.commit()
        return clock() - start
    finally:
        raw.close()


def written_columns(tessera: Tessera) -> list[str]:
    """The columns a load of the generated file writes: the file's fields, their blind indexes, the computed
    age and the system columns."""
    table = tessera.registry.tables[ENTITY].main
    wanted = {*COLUMNS, "age", "version", "created_at", "updated_at", "created_by", "updated_by", "owner_id"}
    wanted |= {"department_id", "follow_up_status", "category", "points", "birthday_greetings", "contact_opt_out"}
    return [c.name for c in table.columns if c.name in wanted or c.name.removesuffix("__bidx") in COLUMNS]


def run_his_import(tessera: Tessera, backend: str, n: int, workdir: Path) -> list[Result]:
    """End to end (file -> committed) against the database's own load of the same stored rows into a copy of
    the entity table (the target); reported beside it, against COPY of the raw file into a plain table and,
    on PostgreSQL, the database part alone against COPY of the stored rows into a plain table; then the same
    file loaded again (every row matched, nothing changes)."""
    path = workdir / f"patients-{n}.csv"
    rows = write_patients_csv(path, n)
    file_s = baseline_load(tessera, path)
    ours_s, report = ours_load(tessera, path)
    problems = verify(tessera, rows)
    columns = written_columns(tessera)
    table_s = baseline_table_copy(tessera, columns)
    phases = {k: round(v, 3) for k, v in report.seconds.items()}
    first = throughput_result(
        "his_bulk_import",
        backend,
        n,
        ours_s,
        table_s,
        TARGET,
        rows=n,
        created=report.created,
        phases_s=phases,
        columns=len(columns),
        ours_us_per_record=ours_s / n * 1e6,
        baseline_us_per_record=table_s / n * 1e6,
        same_rows=not problems,
        problems=problems[:10],
    )
    if backend != "postgresql":  # the target is against PostgreSQL's COPY; SQLite has none
        _report_only(first)
    results = [first, _report_only(throughput_result("his_bulk_import_vs_file", backend, n, ours_s, file_s, 0.0))]
    if backend == "postgresql":
        copy_s = baseline_stored_copy(tessera, columns)
        db_write = throughput_result(
            "his_bulk_db_write",
            backend,
            n,
            report.seconds["write"],
            copy_s,
            0.0,
            rows=n,
            columns=len(columns),
            indexes=_index_count(tessera),
            ours_us_per_record=report.seconds["write"] / n * 1e6,
            baseline_us_per_record=copy_s / n * 1e6,
        )
        results.append(_report_only(db_write))
    ours2_s, report2 = ours_load(tessera, path)
    again = throughput_result(
        "his_bulk_reimport",
        backend,
        n,
        ours2_s,
        table_s,
        0.0,
        rows=n,
        unchanged=report2.unchanged,
        updated=report2.updated,
        phases_s={k: round(v, 3) for k, v in report2.seconds.items()},
        ours_us_per_record=ours2_s / n * 1e6,
        baseline_us_per_record=table_s / n * 1e6,
        same_rows=report2.unchanged == n,
    )
    results.append(_report_only(again))
    return results


def _report_only(result: Result) -> Result:
    """A comparison reported for the reader, with no target of its own (bench/README.md says why)."""
    result.target = "report"
    result.passed = True
    return result


def _index_count(tessera: Tessera) -> int:
    table = tessera.registry.tables[ENTITY].main.name
    with tessera.db.engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM pg_indexes WHERE tablename = '{table}'").scalar())


# HL7 ADT processing rate -----------------------------------------------------------------------------------
def run_hl7_rate(tessera: Tessera, backend: str, count: int) -> Result | None:
    """ADT messages per second through the HIS inbound processor (runtime.his.hl7v2.handle_hl7: parse,
    map, lock per patient, idempotency check, records-service writes with validation, audit and rules, the
    message log), one message per transaction as the MLLP listener runs them. Baseline: the hl7 library's
    parse of the same messages plus one bare INSERT of the message's PID-3 and event per transaction into a
    plain table. None when the HIS processor is not installed."""
    try:
        import hl7

        from runtime.his.hl7v2 import handle_hl7
        from runtime.his.service import HisService
        from runtime.his.simulate import AdtSimulator
    except ImportError:
        return None
    messages = list(AdtSimulator(seed=11).messages(count))
    service = HisService(tessera)
    start = clock()
    outcomes: dict[str, int] = {}
    for raw in messages:
        outcome = handle_hl7(service, raw, "mllp")
        outcomes[outcome.outcome] = outcomes.get(outcome.outcome, 0) + 1
    ours_s = clock() - start
    with tessera.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_plain_adt")
        conn.exec_driver_sql("CREATE TABLE bench_plain_adt (pid text, event text, raw text)")
    start = clock()
    for raw in messages:
        parsed = hl7.parse(raw)
        pid, event = str(parsed.segment("PID")[3]), str(parsed.segment("MSH")[9])
        with tessera.db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO bench_plain_adt VALUES (:p, :e, :r)"), {"p": pid, "e": event, "r": raw})
    base_s = clock() - start
    result = throughput_result(
        "hl7_adt_messages", backend, len(messages), ours_s, base_s, 0.0, messages=len(messages), outcomes=outcomes
    )
    result.unit = "msg/s"
    result.target = "report"
    result.passed = outcomes.get("applied", 0) > 0  # a rate of refused messages measures nothing
    result.details["ours_ms_per_message"] = ours_s / len(messages) * 1e3
    return result


@contextmanager
def his_tessera(backend: str, workdir: Path) -> Iterator[Tessera]:
    """A Tessera on a fresh database of ``backend`` with the patient CRM pack deployed (dropped afterwards)."""
    if backend == "postgresql" and not pg_available():
        raise SystemExit("PostgreSQL is not reachable (TESSERA_TEST_PG_URL); use --backend sqlite")
    workdir.mkdir(parents=True, exist_ok=True)
    with fresh_database(backend, workdir) as url:
        progress(f"  {backend} database: {sa.engine.make_url(url).database}")
        settings = Settings(database_url=url, data_dir=workdir / "data", secret_key="bench-secret-key-" + "x" * 32)
        tessera = Tessera(settings)
        try:
            tessera.deploy(tessera.load_pack(PACK_DIR), actor="bench")
            yield tessera
        finally:
            tessera.close()
