"""PL-08 state machines and automation: people change a record's state only through its actions, but the
pack's automation may set it - a rule (a nightly "mark expired"), a workflow step (a signing process marking
its contract active) and the system - the same channels that may write read-only fields. Both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runtime.errors import RecordInvalid
from runtime.records import Context
from runtime.services import Tessera

SYSTEM = Context(channel="system", lang="en", is_admin=True)


@pytest.mark.parametrize("channel", ["rule", "workflow", "system"])
def test_pl08_automation_sets_the_state_directly(make_tessera: Callable[..., Tessera], channel: str) -> None:
    app = make_tessera("rules_pack")
    lead = app.records.create("lead", {"name": "Partner A"}, SYSTEM)
    assert lead["status"] == "new"
    automation = Context(channel=channel, lang="en", is_admin=True)
    updated = app.records.update("lead", lead["id"], {"status": "closed"}, automation, expected_version=None)
    assert updated["status"] == "closed"


def test_pl08_people_still_change_the_state_only_by_actions(make_tessera: Callable[..., Tessera]) -> None:
    app = make_tessera("rules_pack")
    lead = app.records.create("lead", {"name": "Partner B"}, SYSTEM)
    for channel in ("api", "ui", "import"):
        person = Context(channel=channel, lang="en", is_admin=True)
        with pytest.raises(RecordInvalid) as refused:
            app.records.update("lead", lead["id"], {"status": "closed"}, person, expected_version=None)
        assert refused.value.errors[0].code == "state_via_action"
    with pytest.raises(RecordInvalid) as refused:  # a new record still starts in the initial state
        app.records.create("lead", {"name": "Partner C", "status": "closed"}, Context(channel="rule", lang="en"))
    assert refused.value.errors[0].code == "state_initial"
