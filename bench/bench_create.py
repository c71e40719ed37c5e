"""`create`: the records service's create, one record per call and transaction, against a bare
SQLAlchemy Core insert of the same rows, one per `engine.begin()` transaction, on the same engine.

The baseline gets values already converted (dates, Decimals, system columns); ours gets the JSON a
client sends and does everything a real write does (clean, defaults, validate, convert, insert,
read back). Both sides write to the same table, alternating in rounds so neither profits from a
warmer cache or a smaller table.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bench.harness import Result, clock, throughput_result
from bench.setup_data import ENTITY, RecordMaker, python_row
from runtime.records.context import Context
from runtime.services import Tessera

TARGET = 0.5
CTX = Context(channel="system", lang="en")


def run_create(tessera: Tessera, backend: str, n: int = 2_000, *, rounds: int = 4, warmup: int = 20) -> Result:
    maker = RecordMaker(seed=7)
    total = 2 * (n + warmup)
    records = [maker.make(i, total) for i in range(total)]
    ours_records, base_records = records[: n + warmup], records[n + warmup :]
    base_rows = [python_row(tessera, r) for r in base_records]
    table = tessera.registry.tables[ENTITY].main
    engine = tessera.db.engine

    def ours(batch: list[dict[str, Any]]) -> float:
        start = clock()
        for record in batch:
            tessera.records.create(ENTITY, record, CTX)
        return clock() - start

    def baseline(batch: list[dict[str, Any]]) -> float:
        start = clock()
        for row in batch:
            with engine.begin() as conn:
                conn.execute(sa.insert(table).values(**row))
        return clock() - start

    ours(ours_records[:warmup])  # compiles the validator, fills statement caches
    baseline(base_rows[:warmup])
    ours_records, base_rows = ours_records[warmup:], base_rows[warmup:]
    ours_s = base_s = 0.0
    size = -(-n // rounds)
    for r in range(rounds):
        chunk = slice(r * size, min(n, (r + 1) * size))
        if r % 2:
            base_s += baseline(base_rows[chunk])
            ours_s += ours(ours_records[chunk])
        else:
            ours_s += ours(ours_records[chunk])
            base_s += baseline(base_rows[chunk])
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return throughput_result(
        "create",
        backend,
        n,
        ours_s,
        base_s,
        TARGET,
        records_per_side=n,
        ours_us_per_record=ours_s / n * 1e6,
        baseline_us_per_record=base_s / n * 1e6,
        rows_in_table=stored,
    )
