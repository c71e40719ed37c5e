"""PL-07: list pages are read on the raw driver cursor through cached SQL (runtime/records/fetch.py).

That fast path must give exactly what the detail read gives, for every field type, on both
databases, and its cursors must walk every sort without skipping or repeating a record.
"""

from __future__ import annotations

from typing import Any

import pytest

from runtime.records import Context, ListQuery
from runtime.records.query import parse_query_params
from runtime.services import Tessera
from tests.test_records_service import valid_id_number

API = Context(channel="api", lang="en", is_admin=True, user_id=None)
LIST_SYSTEM = ("id", "version", "created_at", "updated_at", "owner_id")


def full_specimen(tessera: Tessera, n: int, office_id: int) -> dict[str, Any]:
    return {
        "title": f"样本 {n} <b>",
        "notes": "多行\n文本" if n % 2 else None,
        "beds": n * 7 if n != 2 else None,
        "ratio": [0.125, 1.5, 99.999, None][n % 4],
        "price": [12.35, 0.1, 1999.99, 7][n % 4],
        "discount": [0, 12.5, 100, 33.33][n % 4],
        "visit_date": f"2026-0{1 + n % 9}-1{n % 10}",
        "visited_at": None if n == 3 else f"2026-11-2{n % 10}T0{n % 10}:15:4{n % 10}",
        "opens_at": f"0{n % 10}:30",
        "active": n % 2 == 0,
        "level": ["2A", "3B", "3A"][n % 3],
        "specialties": [["cardiology"], ["cardiology", "oncology"], []][n % 3],
        "office": office_id,
        "phone": f"1380013{n:04d}",
        "email": f"p{n}@example.cn",
        "id_number": valid_id_number(seq=f"{n:03d}"),
        "region": ["110000", "110100", "110105"] if n % 2 else None,
        "stars": 1 + n % 5,
        "nps": n % 11,
        "tags": ["vip", f"t{n % 3}"],
        "extra": {"nested": {"n": n, "list": [1, "two", None]}},
    }


@pytest.fixture
def specimens(tessera: Tessera) -> list[dict[str, Any]]:
    office = tessera.records.create("region_office", {"name": "West"}, API)
    return [tessera.records.create("specimen", full_specimen(tessera, n, office["id"]), API) for n in range(1, 8)]


def without_children(tessera: Tessera, record: dict[str, Any]) -> dict[str, Any]:
    entity = tessera.registry.entity("specimen")
    keep = set(LIST_SYSTEM) | {f.name for f in entity.fields if f.type != "child_table"}
    return {k: v for k, v in record.items() if k in keep}


def test_pl07_list_items_equal_the_detail_read_for_every_field_type(
    tessera: Tessera, specimens: list[dict[str, Any]]
) -> None:
    page = tessera.records.list("specimen", ListQuery(limit=50, sort=[("id", False)]), API)
    assert [r["id"] for r in page.items] == sorted(s["id"] for s in specimens)
    for item in page.items:
        detail = without_children(tessera, tessera.records.get("specimen", item["id"], API))
        assert item == detail, f"list item {item['id']} differs from its detail read"
    first = page.items[0]
    assert first["phone"] == "13800130001", "sensitive fields come back decrypted"
    assert isinstance(first["price"], float) and isinstance(first["active"], bool)
    assert first["extra"] == {"nested": {"n": 1, "list": [1, "two", None]}}


def test_pl07_a_changed_list_value_is_never_shared_between_reads(
    tessera: Tessera, specimens: list[dict[str, Any]]
) -> None:
    """Option lists are parsed once per text on SQLite; every read must still get its own copy."""
    one = tessera.records.list("specimen", ListQuery(limit=50), API).items
    one[0]["tags"].append("changed by a caller")
    two = tessera.records.list("specimen", ListQuery(limit=50), API).items
    assert "changed by a caller" not in two[0]["tags"]


SORTS = ["title", "-beds", "ratio", "-price", "visit_date", "-visited_at", "opens_at", "level", "-stars", "created_at"]


@pytest.mark.parametrize("sort", SORTS)
def test_pl07_cursor_pages_walk_every_sort_exactly_once(
    tessera: Tessera, specimens: list[dict[str, Any]], sort: str
) -> None:
    entity = tessera.registry.entity("specimen")
    expected = tessera.records.list("specimen", parse_query_params(entity, [("sort", sort), ("limit", "50")]), API)
    seen: list[int] = []
    cursor: str | None = None
    for _ in range(20):
        params = [("sort", sort), ("limit", "2")] + ([("cursor", cursor)] if cursor else [])
        page = tessera.records.list("specimen", parse_query_params(entity, params), API)
        seen += [r["id"] for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [r["id"] for r in expected.items]
    assert sorted(seen) == sorted(s["id"] for s in specimens)


def test_pl07_filters_with_lists_and_scopes_use_the_same_cached_sql_with_new_values(
    tessera: Tessera, specimens: list[dict[str, Any]]
) -> None:
    """IN lists of different lengths and new values reuse a shape's SQL without mixing up values."""
    entity = tessera.registry.entity("specimen")

    def ids(params: list[tuple[str, str]]) -> list[int]:
        return [r["id"] for r in tessera.records.list("specimen", parse_query_params(entity, params), API).items]

    by_level = {lv: [s["id"] for s in specimens if s["level"] == lv] for lv in ("2A", "3B", "3A")}
    for _ in range(2):
        assert sorted(ids([("level__in", "2A")])) == sorted(by_level["2A"])
        assert sorted(ids([("level__in", "2A,3B")])) == sorted(by_level["2A"] + by_level["3B"])
        assert sorted(ids([("level__in", "3A,3B")])) == sorted(by_level["3A"] + by_level["3B"])
        assert sorted(ids([("level", "3B")])) == sorted(by_level["3B"])
        assert sorted(ids([("level", "3A")])) == sorted(by_level["3A"])
    phone = specimens[2]["phone"]
    assert ids([("phone", phone)]) == [specimens[2]["id"]], "blind-index filters bind fresh values too"
    assert ids([("visited_at__gte", "2026-11-25T00:00:00")]) == [
        s["id"] for s in reversed(specimens) if s["visited_at"] and s["visited_at"] >= "2026-11-25"
    ]
