"""PL-04/PL-05/PL-06: the records service validates, fills and guards every write, whatever the channel."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.errors import Conflict, RecordInvalid, StaleVersion
from runtime.fields.formats import cn_resident_id_check_char
from runtime.records import Context
from runtime.services import Tessera

API = Context(channel="api", lang="en", is_admin=True, user_id=None)
ZH = Context(channel="ui", lang="zh")


def valid_id_number(birth: str = "19800101", seq: str = "123") -> str:
    body = f"110105{birth}{seq}"
    return body + cn_resident_id_check_char(body)


def field_errors(exc: pytest.ExceptionInfo[RecordInvalid]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


def test_pl04_defaults_computed_fields_and_auto_numbers(tessera: Tessera) -> None:
    first = tessera.records.create("specimen", {"title": "A", "price": 200, "discount": 15}, API)
    second = tessera.records.create("specimen", {"title": "B"}, API)
    assert first["code"] == "SP-202611-0001" and second["code"] == "SP-202611-0002"
    assert first["net_price"] == 170.0
    assert second["net_price"] is None, "a computed field of empty inputs is empty"
    assert first["visit_date"] == date(2026, 11, 23).isoformat(), "default expression today() uses the clock"
    assert first["active"] is True and first["discount"] == 15.0
    assert first["version"] == 1 and first["created_at"] == "2026-11-23T09:30:00"


def test_pl06_every_invalid_field_is_reported_once_with_a_readable_message(tessera: Tessera) -> None:
    bad = {
        "title": "",  # required text may not be empty? it is present; max_length is fine
        "beds": 20000,
        "phone": "12345",
        "email": "not-an-email",
        "id_number": "110105198001011234",
        "level": "9Z",
        "stars": 9,
        "nps": 11,
        "visit_date": "2026-02-30",
        "license": "ab123",
        "contacts": [{"name": "Li", "mobile": "999"}, {"mobile": "13800138000"}],
    }
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", bad, API)
    errors = field_errors(info)
    assert errors["beds"] == "must be at most 10000"
    assert errors["phone"].startswith("is not a valid phone number")
    assert errors["email"] == "is not a valid email address"
    assert errors["id_number"].startswith("is not a valid resident ID number")
    assert errors["level"] == "is not one of the allowed options"
    assert errors["stars"] == "must be at most 5" and errors["nps"] == "must be at most 10"
    assert errors["visit_date"] == "is not a valid date (YYYY-MM-DD)"
    assert errors["license"] == "two capital letters and six digits", "the field's own pattern message is used"
    assert errors["contacts.0.mobile"].startswith("is not a valid phone number")
    assert errors["contacts.1.name"] == "is required"


def test_pl06_messages_follow_the_users_language(tessera: Tessera) -> None:
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", {"beds": -1}, ZH)
    assert field_errors(info) == {"title": "必填", "beds": "不能小于 0"}


def test_pl04_valid_resident_id_and_unique_values(tessera: Tessera) -> None:
    number = valid_id_number()
    tessera.records.create("specimen", {"title": "A", "id_number": number}, API)
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", {"title": "B", "id_number": number}, API)
    assert field_errors(info)["id_number"] == "is already used by another record"


def test_pl05_conditional_requiredness_and_cross_field_rules(tessera: Tessera) -> None:
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", {"title": "Closed", "level": "1"}, API)
    assert field_errors(info) == {"close_reason": "is required"}
    ok = tessera.records.create("specimen", {"title": "Closed", "level": "1", "close_reason": "merged"}, API)
    assert ok["close_reason"] == "merged"
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", {"title": "Tiny", "level": "3A", "beds": 5}, API)
    assert field_errors(info) == {"beds": "a grade 3A hospital has at least 10 beds"}


def test_pl05_form_state_reevaluates_conditions_and_computed_values(tessera: Tessera) -> None:
    state = tessera.records.form_state(
        "specimen", {"level": "1", "price": 100, "discount": 10}, API, form_id="specimen_form"
    )
    assert state.states["close_reason"].visible and state.states["close_reason"].required
    assert float(state.computed["net_price"]) == 90.0
    state = tessera.records.form_state("specimen", {"level": "3A"}, API, form_id="specimen_form")
    assert not state.states["close_reason"].visible and not state.states["close_reason"].required


def test_pl06_references_must_exist_and_referenced_records_cannot_be_deleted(tessera: Tessera) -> None:
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", {"title": "A", "office": 999, "liaison": 555}, API)
    assert field_errors(info) == {
        "office": "refers to record #999, which does not exist",
        "liaison": "user #555 does not exist",
    }
    office = tessera.records.create("region_office", {"name": "West"}, API)
    tessera.records.create("specimen", {"title": "A", "office": office["id"]}, API)
    with pytest.raises(Conflict, match="1 Specimen record"):
        tessera.records.delete("region_office", office["id"], API)


def test_pl06_a_stale_update_is_refused_never_silently_overwritten(tessera: Tessera) -> None:
    record = tessera.records.create("specimen", {"title": "v1"}, API)
    tessera.records.update("specimen", record["id"], {"title": "v2"}, API, expected_version=1)
    with pytest.raises(StaleVersion) as info:
        tessera.records.update("specimen", record["id"], {"title": "mine"}, API, expected_version=1)
    assert info.value.current_version == 2
    assert tessera.records.get("specimen", record["id"], API)["title"] == "v2"


def test_pl04_read_only_and_runtime_filled_fields_cannot_be_typed_in(tessera: Tessera) -> None:
    with pytest.raises(RecordInvalid) as info:
        tessera.records.create("specimen", {"title": "A", "code": "MINE-1", "net_price": 1}, API)
    assert field_errors(info) == {"code": "is read-only", "net_price": "is read-only"}
    record = tessera.records.create("specimen", {"title": "A"}, API)
    echoed = tessera.records.update("specimen", record["id"], {**record, "title": "B"}, API, expected_version=1)
    assert echoed["code"] == record["code"] and echoed["title"] == "B", "sending back the record read is fine"


def test_pl03_child_rows_are_stored_in_their_own_table_and_replaced_on_update(tessera: Tessera) -> None:
    record = tessera.records.create(
        "specimen",
        {"title": "A", "contacts": [{"name": "Wang", "mobile": "13800138000", "is_primary": True}, {"name": "Li"}]},
        API,
    )
    assert [c["name"] for c in record["contacts"]] == ["Wang", "Li"]
    updated = tessera.records.update(
        "specimen", record["id"], {"contacts": [{"name": "Zhao"}]}, API, expected_version=1
    )
    assert [c["name"] for c in updated["contacts"]] == ["Zhao"]
    untouched = tessera.records.update("specimen", record["id"], {"title": "B"}, API, expected_version=2)
    assert [c["name"] for c in untouched["contacts"]] == ["Zhao"], "fields not sent keep their values"


def test_pl06_a_failed_write_leaves_nothing_behind(tessera: Tessera) -> None:
    with pytest.raises(RecordInvalid):
        tessera.records.create("specimen", {"title": "A", "contacts": [{"name": "ok"}, {"name": None}]}, API)
    from runtime.records.query import ListQuery

    assert tessera.records.list("specimen", ListQuery(count="exact"), API).total == 0
    import sqlalchemy as sa

    with tessera.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM e_specimen__contacts")).scalar_one() == 0
