"""A datetime filter bound given as a bare date covers whole days of the hospital's calendar (the list's
from-to date filters): ``__gte`` starts at that day's local midnight, ``__lte`` includes the whole local day,
``__between`` both. Datetimes are stored in UTC; the hospital here is on Asia/Shanghai (UTC+8), so a patient
admitted at 07:00 on 30 November local time (29 November, 23:00 UTC) is in the list of 30 November."""

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


def test_pc01_date_only_bounds_on_a_datetime_cover_whole_local_days(
    entity: Entity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSERA_TIMEZONE", "Asia/Shanghai")
    last_moment = datetime(2026, 11, 30, 15, 59, 59, 999999)  # 23:59:59.999999 local
    assert _as_dt(_value(entity, "gte", "2026-11-01")) == datetime(2026, 10, 31, 16, 0, 0)  # local midnight
    assert _as_dt(_value(entity, "lte", "2026-11-30")) == last_moment
    assert _as_dt(_value(entity, "gt", "2026-11-30")) == last_moment
    assert _as_dt(_value(entity, "lt", "2026-11-30")) == datetime(2026, 11, 29, 16, 0, 0)
    low, high = _value(entity, "between", "2026-11-30,2026-11-30")  # type: ignore[misc]
    assert (_as_dt(low), _as_dt(high)) == (datetime(2026, 11, 29, 16, 0), last_moment)
    assert _as_dt(low) <= datetime(2026, 11, 29, 23, 0) <= _as_dt(high)  # admitted 07:00 local on the 30th
    # a full timestamp is kept as it is; a date field is untouched
    assert _as_dt(_value(entity, "lte", "2026-11-30T08:00:00")) == datetime(2026, 11, 30, 8, 0, 0)
    assert str(parse_filter(entity, "born", "lte", "2026-11-30").value).startswith("2026-11-30")


def test_pc01_the_day_bounds_follow_the_configured_time_zone(entity: Entity, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_TIMEZONE", "UTC")
    assert _as_dt(_value(entity, "gte", "2026-11-01")) == datetime(2026, 11, 1, 0, 0, 0)
    assert _as_dt(_value(entity, "lte", "2026-11-30")) == datetime(2026, 11, 30, 23, 59, 59, 999999)


def test_pc01_a_bad_date_bound_is_a_clear_400(entity: Entity) -> None:
    with pytest.raises(BadRequest) as info:
        parse_filter(entity, "admitted_at", "lte", "2026-13-45")
    assert "admitted_at" in str(info.value)
