"""Pack checks of rules/ and state_machines/ (PL-09, PL-08): a mistake is reported with its file, JSON
pointer and a plain sentence when the pack is loaded, never at run time; the run log has its migration."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from runtime.blueprints import load_pack
from runtime.blueprints.errors import PackInvalid
from runtime.services import Tessera
from tests.conftest import PACKS
from tests.support.packs import field_named, pack_variant

RULES = PACKS / "rules_pack"


def errors_of(tmp_path: Path, change: Callable[[dict], None]) -> list[tuple[str, str, str]]:
    with pytest.raises(PackInvalid) as caught:
        load_pack(pack_variant(RULES, tmp_path / "variant", change))
    return [(e.file, e.pointer, e.message) for e in caught.value.errors]


def test_pl09_the_rules_pack_loads() -> None:
    pack = load_pack(RULES)
    assert "contract_expiry" in pack.extras["rule"] and "lead_flow" in pack.extras["state_machine"]


@pytest.mark.parametrize(
    ("rel", "change", "pointer", "words"),
    [
        ("rules/contract_created.json", lambda d: d.update(entity="contrakt"), "/entity", "unknown entity 'contrakt'"),
        (
            "rules/contract_status_changed.json",
            lambda d: d.update(trigger={"field_change": ["stat"]}),
            "/trigger/field_change",
            "unknown field 'stat'",
        ),
        ("rules/contract_created.json", lambda d: d.update(condition="amount >"), "/condition", "does not compile"),
        (
            "rules/contract_created.json",
            lambda d: d.update(condition="amont > 3"),
            "/condition",
            "did you mean 'amount'",
        ),
        (
            "rules/contract_expiry.json",
            lambda d: d["trigger"]["date"].update(field="name"),
            "/trigger/date/field",
            "needs a date field",
        ),
        (
            "rules/contract_daily.json",
            lambda d: d["trigger"].update(cron="every day"),
            "/trigger/cron",
            "not a cron schedule",
        ),
        (
            "rules/contract_created.json",
            lambda d: d["actions"][0]["values"].update(nope="1"),
            "/actions/0/values/nope",
            "unknown field 'nope'",
        ),
        (
            "rules/contract_expiry.json",
            lambda d: d["actions"][1]["recipients"][0].update(field="name"),
            "/actions/1/recipients/0/field",
            "not a user field",
        ),
        (
            "rules/contract_expiry.json",
            lambda d: d["actions"][1]["recipients"].append({"role": "approver", "over": "name"}),
            "/actions/1/recipients/1/over",
            "not a user field",
        ),
        ("rules/contract_created.json", lambda d: d.pop("entity"), "/entity", "needs 'entity'"),
        ("state_machines/lead.json", lambda d: d.update(initial="fresh"), "/initial", "initial state 'fresh'"),
        (
            "state_machines/lead.json",
            lambda d: d["transitions"][0].update(to="won"),
            "/transitions/0/to",
            "unknown state 'won'",
        ),
        (
            "state_machines/lead.json",
            lambda d: d["transitions"][2].update(guard="scor > 1"),
            "/transitions/2/guard",
            "unknown variable 'scor'",
        ),
        (
            "state_machines/lead.json",
            lambda d: d["transitions"][1].update(form="nope"),
            "/transitions/1/form",
            "unknown form 'nope'",
        ),
        (
            "state_machines/lead.json",
            lambda d: d["transitions"][0].update(roles=["pilot"]),
            "/transitions/0/roles/0",
            "unknown role 'pilot'",
        ),
        (
            "state_machines/lead.json",
            lambda d: d["transitions"][2]["effects"].append({"type": "teleport"}),
            "/transitions/2/effects/1",
            "not a valid rule action",
        ),
    ],
)
def test_pl09_pack_mistakes_are_reported_with_file_and_pointer(
    tmp_path: Path, rel: str, change: Callable[[dict], None], pointer: str, words: str
) -> None:
    found = errors_of(tmp_path, lambda docs: change(docs[rel]))
    assert any(f == rel and p == pointer and words in m for f, p, m in found), found


def test_pl09_date_trigger_needs_an_indexed_field(tmp_path: Path) -> None:
    def change(docs: dict) -> None:
        field_named(docs["entities/contract.json"], "end_date").pop("indexed")

    found = errors_of(tmp_path, change)
    assert [(f, p) for f, p, m in found if "not indexed" in m] == [
        ("rules/contract_expiry.json", "/trigger/date/field")
    ]


def test_pl09_schema_refuses_an_unknown_trigger(tmp_path: Path) -> None:
    found = errors_of(tmp_path, lambda docs: docs["rules/contract_created.json"].update(trigger={"on": "sneeze"}))
    assert any(f == "rules/contract_created.json" and p.startswith("/trigger") for f, p, m in found), found


def test_pl23_rule_tables_match_their_migration(make_tessera: Callable[..., Tessera]) -> None:
    from runtime.automation.rules.tables import rule_fired, rule_marks, rule_runs

    app = make_tessera()
    inspector = sa.inspect(app.db.engine)
    for table in (rule_runs, rule_marks, rule_fired):
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == set(table.columns.keys()), f"{table.name} drifted from its migration"
