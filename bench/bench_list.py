"""`list_page`: a filtered, sorted page of `visit` through the records service against the same SQL
written by hand, on the same engine and the same (bulk-loaded) table.

Filter: department = 'cardiology' (an indexed select, ~1/10 of rows) AND visit_date between two
dates; sort: visit_date then id; 25 per page. Two measurements:

* deep page: the page after a cursor ~50,000 rows into the filtered result (keyset pagination:
  no count on cursor pages). The hand-written SQL has the service's two-phase shape (non-NULL
  sort values with a row-value bound, then NULL sort values only if the page is not full).
* first page: no cursor, with the capped count (`count="auto"`) against page + count of a
  LIMIT 10001 subquery.

Ours returns JSON-ready items (dates as ISO text, numbers as floats); the baseline returns
`dict(row)` of what the driver gives. Both must return the same rows (checked before timing).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import text

from bench.harness import Result, interleaved_medians, latency_result
from bench.setup_data import ENTITY
from runtime.records.context import Context
from runtime.records.query import COUNT_CAP, ListQuery, encode_cursor, parse_query_params
from runtime.services import Tessera

TARGET = 0.77  # "within 1.3x of raw SQL": raw_time / our_time >= 1 / 1.3
CTX = Context(channel="system", lang="en")
DEPARTMENT = "cardiology"
FROM, TO = date(2021, 1, 1), date(2024, 12, 31)
LIMIT = 25

WHERE = "department = :d AND visit_date BETWEEN :a AND :b"
PAGE_AFTER = (
    f"SELECT * FROM e_visit WHERE {WHERE} AND visit_date IS NOT NULL"
    " AND visit_date >= :v AND (visit_date, id) > (:v, :vid) ORDER BY visit_date, id LIMIT :n"
)
PAGE_FIRST = f"SELECT * FROM e_visit WHERE {WHERE} AND visit_date IS NOT NULL ORDER BY visit_date, id LIMIT :n"
PAGE_NULLS = f"SELECT * FROM e_visit WHERE {WHERE} AND visit_date IS NULL ORDER BY id LIMIT :n"
CAPPED_COUNT = f"SELECT count(*) FROM (SELECT 1 FROM e_visit WHERE {WHERE} LIMIT :cap) AS capped"
BOUNDARY = f"SELECT visit_date, id FROM e_visit WHERE {WHERE} ORDER BY visit_date, id LIMIT 1 OFFSET :k"
FILTERED = f"SELECT count(*) FROM e_visit WHERE {WHERE}"


def _day(value: Any, dialect: str) -> Any:
    """Dates as a hand-written query binds them: ISO text on SQLite (how it stores them), dates on PostgreSQL."""
    iso = value if isinstance(value, str) else value.isoformat()
    return iso if dialect == "sqlite" else date.fromisoformat(iso)


class HandWritten:
    """The baseline: the service's query shape as SQL strings, rows turned into plain dicts."""

    def __init__(self, tessera: Tessera):
        self.engine = tessera.db.engine
        self.dialect = tessera.db.dialect
        self.params = {"d": DEPARTMENT, "a": _day(FROM, self.dialect), "b": _day(TO, self.dialect)}

    def page(self, after: tuple[Any, int] | None) -> tuple[list[dict[str, Any]], tuple[Any, int] | None]:
        want = LIMIT + 1
        with self.engine.connect() as conn:
            if after is None:
                rows = conn.execute(text(PAGE_FIRST), {**self.params, "n": want}).all()
            else:
                v = _day(after[0], self.dialect)
                rows = conn.execute(text(PAGE_AFTER), {**self.params, "v": v, "vid": after[1], "n": want}).all()
            if len(rows) < want:
                rest = {**self.params, "n": want - len(rows)}
                rows += conn.execute(text(PAGE_NULLS), rest).all()
        items = [dict(r._mapping) for r in rows[:LIMIT]]
        last = items[-1] if len(rows) > LIMIT else None
        return items, (last["visit_date"], last["id"]) if last else None

    def first_page_with_count(self) -> tuple[list[dict[str, Any]], int]:
        items, _ = self.page(None)
        with self.engine.connect() as conn:
            n = conn.execute(text(CAPPED_COUNT), {**self.params, "cap": COUNT_CAP + 1}).scalar_one()
        return items, min(n, COUNT_CAP)


def make_query(tessera: Tessera, cursor: str | None) -> ListQuery:
    """What the API builds from ?department=..&visit_date__between=..&sort=visit_date&limit=25."""
    params = [
        ("department", DEPARTMENT),
        ("visit_date__between", f"{FROM.isoformat()},{TO.isoformat()}"),
        ("sort", "visit_date"),
        ("limit", str(LIMIT)),
        ("count", "auto"),
    ]
    if cursor:
        params.append(("cursor", cursor))
    return parse_query_params(tessera.registry.entity(ENTITY), params)


def deep_boundary(tessera: Tessera, deep: int) -> tuple[Any, int, int]:
    """(visit_date, id) of the deep-th filtered row, found once with OFFSET (setup, not timed)."""
    hand = HandWritten(tessera)
    with tessera.db.engine.connect() as conn:
        filtered = conn.execute(text(FILTERED), hand.params).scalar_one()
        k = max(0, min(deep, filtered * 4 // 5) - 1)
        row = conn.execute(text(BOUNDARY), {**hand.params, "k": k}).one()
    return row[0], row[1], filtered


def _same(ours: list[dict[str, Any]], hand: list[dict[str, Any]]) -> bool:
    return [(r["id"], r["patient_name"], str(r["visit_date"])) for r in ours] == [
        (r["id"], r["patient_name"], str(r["visit_date"])) for r in hand
    ]


def run_list(tessera: Tessera, backend: str, *, repeats: int = 200, deep: int = 50_000) -> list[Result]:
    hand = HandWritten(tessera)
    boundary_date, boundary_id, filtered = deep_boundary(tessera, deep)
    cursor = encode_cursor([_day(boundary_date, "sqlite"), boundary_id])
    deep_query, first_query = make_query(tessera, cursor), make_query(tessera, None)
    records = tessera.records

    # correctness first: both sides must return the same rows (and the same count)
    ours_page = records.list(ENTITY, deep_query, CTX)
    hand_items, _ = hand.page((boundary_date, boundary_id))
    ours_first = records.list(ENTITY, first_query, CTX)
    hand_first, hand_total = hand.first_page_with_count()
    plans = explain(tessera, deep_query, first_query)

    deep_ours, deep_base, deep_spread = interleaved_medians(
        lambda: records.list(ENTITY, deep_query, CTX), lambda: hand.page((boundary_date, boundary_id)), repeats
    )
    first_ours, first_base, first_spread = interleaved_medians(
        lambda: records.list(ENTITY, first_query, CTX), hand.first_page_with_count, repeats
    )
    common = {"filtered_rows": filtered, "page_size": LIMIT}
    return [
        latency_result(
            "list_page_deep",
            backend,
            deep_ours,
            deep_base,
            TARGET,
            **common,
            position=filtered if filtered < deep else deep,
            same_rows=_same(ours_page.items, hand_items),
            ours_ids=[r["id"] for r in ours_page.items],
            baseline_ids=[r["id"] for r in hand_items],
            ours_total=ours_page.total,
            **deep_spread,
            plans=plans["deep"],
        ),
        latency_result(
            "list_page_first_count",
            backend,
            first_ours,
            first_base,
            TARGET,
            **common,
            same_rows=_same(ours_first.items, hand_first) and ours_first.total == hand_total,
            ours_ids=[r["id"] for r in ours_first.items],
            baseline_ids=[r["id"] for r in hand_first],
            ours_total=ours_first.total,
            baseline_total=hand_total,
            **first_spread,
            plans=plans["first"],
        ),
    ]


# query plans ----------------------------------------------------------------------------------------
def captured_statements(tessera: Tessera, query: ListQuery) -> list[tuple[str, Any]]:
    """The SQL the records service really sends for one list call, with its driver parameters."""
    seen: list[tuple[str, Any]] = []

    def grab(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001 - SQLAlchemy event
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(tessera.db.engine, "before_cursor_execute", grab)
    try:
        tessera.records.list(ENTITY, query, CTX)
    finally:
        sa.event.remove(tessera.db.engine, "before_cursor_execute", grab)
    return seen


def explain(tessera: Tessera, deep_query: ListQuery, first_query: ListQuery) -> dict[str, list[str]]:
    """EXPLAIN of every statement the service emitted (ANALYZE, BUFFERS on PostgreSQL)."""
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if tessera.db.dialect == "postgresql" else "EXPLAIN QUERY PLAN "
    out: dict[str, list[str]] = {}
    for name, query in (("deep", deep_query), ("first", first_query)):
        lines: list[str] = []
        for statement, params in captured_statements(tessera, query):
            with tessera.db.engine.connect() as conn:
                rows = conn.exec_driver_sql(prefix + statement, params).all()
            lines.append(" ".join(statement.split()))
            lines += ["    " + " ".join(str(c) for c in r if c is not None) for r in rows]
        out[name] = lines
    return out
