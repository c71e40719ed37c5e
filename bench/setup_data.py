"""Benchmark setup (never timed): fresh databases, the bench pack, realistic records and bulk loading.

Records are generated from a seeded RNG, so every run and both backends see the same data. Visit
dates rise with the row number (visits are entered day by day), departments are uniform over ten
options (~1/10 of the rows each).
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runtime.config import Settings
from runtime.fields.formats import cn_resident_id_check_char
from runtime.records.convert import to_db_values
from runtime.services import Tessera
from tests.support.databases import fresh_database, pg_available

PACK_DIR = Path(__file__).parent / "packs" / "bench_core"
ENTITY = "visit"
FIRST_DAY = date(2019, 1, 1)
DAYS = 7 * 365  # 2019-01-01 .. 2025-12-29
NOW = datetime(2026, 1, 5, 9, 0, 0)

DEPARTMENTS = [
    "cardiology",
    "oncology",
    "orthopedics",
    "pediatrics",
    "neurology",
    "dermatology",
    "gynecology",
    "ophthalmology",
    "respiratory",
    "emergency",
]
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鑫宇浩然子轩欣怡梓涵一诺"
_COMPLAINTS = [
    "胸闷气短三天",
    "反复咳嗽两周",
    "腰背疼痛加重一周",
    "发热伴头痛一天",
    "皮疹瘙痒五天",
    "视物模糊一月",
    "头晕乏力三天",
    "例行复查",
    "术后随访",
    "血压控制不佳",
]
_DIAGNOSES = [
    "高血压病2级，建议低盐饮食，规律服药，一个月后复查血压。",
    "急性上呼吸道感染，对症治疗，多饮水，注意休息。",
    "腰椎间盘突出症，建议理疗及核心肌群锻炼，避免久坐。",
    "过敏性皮炎，外用药物治疗，避免接触过敏原。",
    "2型糖尿病，调整降糖方案，监测空腹及餐后血糖。",
    "冠状动脉粥样硬化性心脏病，继续二级预防治疗。",
    None,
]
_NOTES = [
    "患者依从性好，已告知复诊时间。",
    "家属陪同就诊，已详细解释病情及注意事项。",
    "检查结果已出，需结合影像学进一步评估。",
    None,
    None,
]
_TAGS = ["vip", "医保", "慢病", "转诊", "随访", "新患者", "老年", "儿童", "孕产", "夜诊"]
_SYMPTOMS = ["fever", "cough", "pain", "fatigue", "rash", "dizziness"]


def _id_numbers(rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
        first17 = f"{rng.choice(['110101', '310104', '440305', '510107'])}{born:%Y%m%d}{rng.randrange(1000):03d}"
        out.append(first17 + cn_resident_id_check_char(first17))
    return out


class RecordMaker:
    """Valid JSON-shaped `visit` records (what an API client sends), from a seeded RNG."""

    def __init__(self, seed: int = 20260105):
        self.rng = random.Random(seed)
        self.ids = _id_numbers(self.rng, 997)

    def make(self, i: int, total: int) -> dict[str, Any]:
        r = self.rng
        day = FIRST_DAY + timedelta(days=i * DAYS // max(total, 1))
        seen_at = datetime(day.year, day.month, day.day, 8 + r.randrange(10), r.randrange(60), r.randrange(60))
        follow = r.random() < 0.3
        symptoms = r.sample(_SYMPTOMS, r.randrange(3))
        tags = r.sample(_TAGS, r.randrange(4))
        fee = round(r.uniform(20, 3000), 2)
        return {
            "patient_name": r.choice(_SURNAMES) + r.choice(_GIVEN) + r.choice(_GIVEN),
            "patient_phone": f"1{r.choice('3456789')}{r.randrange(10**9):09d}",
            "patient_email": f"patient{i}@example.cn" if r.random() < 0.6 else None,
            "id_number": self.ids[i % len(self.ids)],
            "age": r.randrange(0, 100),
            "gender": r.choice(("female", "male")),
            "department": DEPARTMENTS[r.randrange(10)],
            "visit_date": day.isoformat(),
            "checked_in_at": seen_at.isoformat(),
            "appointment_time": f"{seen_at.hour:02d}:{(seen_at.minute // 15) * 15:02d}",
            "visit_type": r.choice(("outpatient", "outpatient", "follow_up", "emergency", "telehealth")),
            "referral_source": r.choice(("walk_in", "gp", "hospital", "online", "other", None)),
            "is_first_visit": r.random() < 0.4,
            "fee": fee,
            "insurance_paid": round(fee * r.choice((0, 0.5, 0.7, 0.9)), 2),
            "discount": r.choice((0, 0, 5, 10, 12.5)),
            "weight_kg": round(r.uniform(3, 120), 1),
            "height_cm": r.randrange(50, 200),
            "temperature": round(r.uniform(36.0, 39.5), 1),
            "systolic_bp": r.randrange(90, 180),
            "diastolic_bp": r.randrange(55, 110),
            "chief_complaint": r.choice(_COMPLAINTS),
            "symptoms": symptoms or None,
            "diagnosis": r.choice(_DIAGNOSES),
            "doctor_notes": r.choice(_NOTES),
            "tags": tags or None,
            "satisfaction": r.randrange(1, 6),
            "nps": r.randrange(0, 11),
            "follow_up_needed": follow,
            "follow_up_date": (day + timedelta(days=r.choice((7, 14, 30)))).isoformat() if follow else None,
        }


def system_values(now: datetime) -> dict[str, Any]:
    """The system columns the records service fills on create (no user: channel 'system')."""
    return {
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": None,
        "updated_by": None,
        "owner_id": None,
        "department_id": None,
    }


def python_row(tessera: Tessera, record: dict[str, Any], now: datetime = NOW) -> dict[str, Any]:
    """A JSON record as the column values a raw insert gets (dates, Decimals), system columns included."""
    return {**to_db_values(tessera.registry.entity(ENTITY).fields, record), **system_values(now)}


# databases ----------------------------------------------------------------------------------------
@contextmanager
def bench_tessera(backend: str, workdir: Path) -> Iterator[Tessera]:
    """A Tessera on a fresh database of `backend` with the bench pack deployed; the database is
    dropped (PostgreSQL) or left in `workdir` for the caller's temporary directory to remove."""
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


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bulk_load(tessera: Tessera, rows: int, *, batch: int = 10_000, quiet: bool = False) -> float:
    """Insert `rows` generated visits as fast as the backend allows; returns the seconds it took."""
    maker = RecordMaker()
    table = tessera.registry.tables[ENTITY].main
    started = time.perf_counter()
    load = _copy_batches if tessera.db.dialect == "postgresql" else _insert_batches
    done = 0
    for done in load(tessera, table, maker, rows, batch):
        if not quiet and (done % 100_000 == 0 or done == rows):
            rate = done / (time.perf_counter() - started)
            progress(f"  loaded {done:>9,} / {rows:,} rows ({rate:,.0f} rows/s)")
    _analyze(tessera)
    elapsed = time.perf_counter() - started
    if not quiet:
        progress(f"  load + analyze of {done:,} rows took {elapsed:.1f} s")
    return elapsed


def _insert_batches(tessera: Tessera, table: sa.Table, maker: RecordMaker, rows: int, batch: int) -> Iterator[int]:
    """SQLite: Core executemany, 10k rows per statement, 100k rows per transaction."""
    fields = tessera.registry.entity(ENTITY).fields
    system = system_values(NOW)
    done = 0
    while done < rows:
        with tessera.db.engine.begin() as conn:
            for _ in range(10):
                n = min(batch, rows - done)
                if n <= 0:
                    break
                values = [{**to_db_values(fields, maker.make(done + k, rows)), **system} for k in range(n)]
                conn.execute(sa.insert(table), values)
                done += n
        yield done


def _copy_batches(tessera: Tessera, table: sa.Table, maker: RecordMaker, rows: int, batch: int) -> Iterator[int]:
    """PostgreSQL: COPY ... FROM STDIN (CSV) through psycopg2, 100k rows per COPY and commit."""
    fields = [f.name for f in tessera.registry.entity(ENTITY).fields]
    columns = [*fields, "version", "created_at", "updated_at"]
    sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
    stamp = NOW.isoformat(sep=" ")
    raw = tessera.db.engine.raw_connection()
    try:
        done = 0
        while done < rows:
            n = min(batch * 10, rows - done)
            buf = io.StringIO()
            writer = csv.writer(buf)
            for k in range(n):
                rec = maker.make(done + k, rows)
                writer.writerow([_csv_value(rec[name]) for name in fields] + [1, stamp, stamp])
            buf.seek(0)
            with raw.cursor() as cur:
                cur.copy_expert(sql, buf)
            raw.commit()
            done += n
            yield done
    finally:
        raw.close()


def _csv_value(value: Any) -> Any:
    """JSON value -> COPY CSV text; None becomes an unquoted empty field, which COPY reads as NULL."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _analyze(tessera: Tessera) -> None:
    """What autovacuum / a DBA would have done on a table this size: statistics (and the visibility map)."""
    if tessera.db.dialect == "postgresql":
        with tessera.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE e_visit")
    else:
        with tessera.db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
