"""A datetime filter bound given as a bare date covers whole days (the list's from-to date filters):
``__gte`` starts at that day's midnight, ``__lte`` includes the whole day, ``__between`` both."""

from __future__ import annotations

from datetime import datetime

import pytest

from runtime.blueprints.model import Entity, field_from_raw
from runtime.errors import BadRequest
from runtime.records.query import parse_filter


@pytest.fixture
def entity() -> Entity:
    raw = {
        "id": "stay",
        "label": {"zh": "住院", "en": "Stay"},
        "fields": [
            {"name": "admitted_at", "type": "datetime", "label": {"zh": "入院", "en": "Admitted"}},
            {"name": "born", "type": "date", "label": {"zh": "出生", "en": "Born"}},
        ],
    }
    return Entity(raw["id"], raw["label"], [field_from_raw(f) for f in raw["fields"]], raw)


def _value(entity: Entity, op: str, raw: str) -> object:
    return parse_filter(entity, "admitted_at", op, raw).value


def _as_dt(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def test_pc01_date_only_bounds_on_a_datetime_cover_whole_days(entity: Entity) -> None:
    assert _as_dt(_value(entity, "gte", "2026-11-01")) == datetime(2026, 11, 1, 0, 0, 0)
    assert _as_dt(_value(entity, "lte", "2026-11-30")) == datetime(2026, 11, 30, 23, 59, 59)
    assert _as_dt(_value(entity, "gt", "2026-11-30")) == datetime(2026, 11, 30, 23, 59, 59)
    assert _as_dt(_value(entity, "lt", "2026-11-30")) == datetime(2026, 11, 30, 0, 0, 0)
    low, high = _value(entity, "between", "2026-11-01,2026-11-30")  # type: ignore[misc]
    assert (_as_dt(low), _as_dt(high)) == (datetime(2026, 11, 1), datetime(2026, 11, 30, 23, 59, 59))
    # a full timestamp is kept as it is; a date field is untouched
    assert _as_dt(_value(entity, "lte", "2026-11-30T08:00:00")) == datetime(2026, 11, 30, 8, 0, 0)
    assert str(parse_filter(entity, "born", "lte", "2026-11-30").value).startswith("2026-11-30")


def test_pc01_a_bad_date_bound_is_a_clear_400(entity: Entity) -> None:
    with pytest.raises(BadRequest) as info:
        parse_filter(entity, "admitted_at", "lte", "2026-13-45")
    assert "admitted_at" in str(info.value)
