"""Message templates (PL-10): merge fields checked at pack load, sandboxed rendering, the tables' migration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from runtime.notify.templates.render import RenderError, render
from runtime.services import Tessera
from tests.support.packs import pack_variant

PACK = Path(__file__).parent / "packs" / "notify_pack"


def _errors(tmp_path: Path, change: Callable[[dict], None]) -> list:
    with pytest.raises(PackInvalid) as caught:
        load_pack(pack_variant(PACK, tmp_path / "variant", change))
    return caught.value.errors


def test_pl10_unknown_merge_field_is_reported_at_load_with_file_and_pointer(tmp_path: Path) -> None:
    def misspell(docs: dict) -> None:
        docs["templates/lead_assigned.json"]["channels"]["sms"]["zh"] = "{{ record.hosptial.name }} 你好"

    [error] = _errors(tmp_path, misspell)
    assert error.file == "templates/lead_assigned.json"
    assert error.pointer == "/channels/sms/zh"
    assert error.message.startswith("unknown merge field 'record.hosptial'")
    assert "the entity 'lead' has no field 'hosptial'" in error.message


def test_pl10_merge_fields_follow_references_to_the_related_record(tmp_path: Path) -> None:
    def related(docs: dict) -> None:
        email = docs["templates/lead_assigned.json"]["channels"]["email"]
        email["subject"]["en"] = "{{ record.hospital.nmae }}"
        email["body"]["zh"] = "{{ record.owner.password_hash }} {{ recipient.salary }} {{ patient }}"

    errors = {(e.pointer, e.message.split(" — ")[0]) for e in _errors(tmp_path, related)}
    assert errors == {
        ("/channels/email/subject/en", "unknown merge field 'record.hospital.nmae'"),
        ("/channels/email/body/zh", "unknown merge field 'record.owner.password_hash'"),
        ("/channels/email/body/zh", "unknown merge field 'recipient.salary'"),
        ("/channels/email/body/zh", "unknown merge field 'patient'"),
    }


def test_pl10_template_syntax_error_names_the_line(tmp_path: Path) -> None:
    def broken(docs: dict) -> None:
        docs["templates/plain_notice.json"]["channels"]["sms"]["en"] = "line one\n{{ message }\nline three"

    [error] = _errors(tmp_path, broken)
    assert error.pointer == "/channels/sms/en"
    assert "template syntax error on line 2" in error.message


def test_pl10_loop_variables_and_declared_variables_are_known(tmp_path: Path) -> None:
    def loops(docs: dict) -> None:
        docs["templates/plain_notice.json"]["channels"]["sms"]["en"] = (
            "{% for word in message.split() %}{{ word | upper }}{{ loop.index }}{% endfor %}{% set x = 1 %}{{ x }}"
        )

    pack = load_pack(pack_variant(PACK, tmp_path / "ok", loops))
    assert "plain_notice" in pack.extras["message_template"]


def test_pl10_schema_requires_both_languages_or_one_text(tmp_path: Path) -> None:
    def half(docs: dict) -> None:
        docs["templates/plain_notice.json"]["channels"]["sms"] = {"zh": "只有中文"}

    errors = _errors(tmp_path, half)
    assert errors and all(e.file == "templates/plain_notice.json" for e in errors)
    assert any(e.pointer.startswith("/channels/sms") for e in errors)


def test_pl10_sandbox_refuses_python_internals_with_a_clear_error() -> None:
    with pytest.raises(RenderError, match="not allowed in a message template"):
        render("{{ record.__class__.__mro__ }}", {"record": {"name": "x"}})
    with pytest.raises(RenderError, match="not allowed in a message template"):
        render("{{ reason.__class__ }}", {"reason": "x"})
    with pytest.raises(RenderError, match="not allowed in a message template"):
        render("{% set _ = items.append(1) %}", {"items": []})
    with pytest.raises(RenderError, match="unknown merge field"):
        render("{{ missing }}", {})


def test_pl10_record_internals_are_unknown_merge_fields_at_load(tmp_path: Path) -> None:
    def sneaky(docs: dict) -> None:
        docs["templates/lead_assigned.json"]["channels"]["sms"]["en"] = "{{ record.__class__ }}"

    [error] = _errors(tmp_path, sneaky)
    assert "unknown merge field 'record.__class__'" in error.message


def test_pl23_notification_tables_match_their_migration(make_tessera: Callable[..., Tessera]) -> None:
    from runtime.notify.tables import deliveries, notify_prefs

    app = make_tessera()
    inspector = sa.inspect(app.db.engine)
    for table in (deliveries, notify_prefs):
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == set(table.columns.keys()), f"{table.name} drifted from its migration"
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("tessera_deliveries")}
    assert ("key", "user_id", "channel") in uniques
