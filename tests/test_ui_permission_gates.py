"""PL-20: pages offer only what the signed-in user may do.

The records service refuses what a role may not do in any channel (tests/test_security_channels.py);
these tests check the pages do not offer it in the first place: menus to entities the user cannot
read, New/Edit/Delete buttons for actions the role lacks, and the label of a field the role may not
see at all. Liaison l1 creates, reads and updates their own hospitals and never sees the internal
note; staff member `clerk` reads only their own leads; manager `mgr` does everything in the team.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ui.app
from runtime.api import create_app
from runtime.services import Tessera
from tests.support.html import dom
from tests.support.packs import pack_variant
from tests.support.people import People, build_scoped
from tests.support.server import live_server
from tests.test_security_channels import SCOPED, channel_pack

MENUS = {
    "menus": [
        {
            "id": "outreach",
            "label": {"zh": "拓展", "en": "Outreach"},
            "items": [
                {"label": {"zh": "医院", "en": "Hospitals"}, "view": "hospital_list"},
                {"label": {"zh": "线索", "en": "Leads"}, "entity": "lead"},
                {"label": {"zh": "医院统计", "en": "Hospital report"}, "url": "/reports/hospital_count"},
                {"label": {"zh": "医院看板", "en": "Hospital board"}, "url": "/dashboards/hospital_board"},
            ],
        }
    ]
}


HOSPITAL_REPORT = {
    "id": "hospital_count",
    "label": {"zh": "医院统计", "en": "Hospital report"},
    "entity": "hospital",
    "measures": [{"id": "hospitals", "type": "count", "label": {"zh": "医院数", "en": "Hospitals"}}],
}


HOSPITAL_BOARD = {
    "id": "hospital_board",
    "label": {"zh": "医院看板", "en": "Hospital board"},
    "items": [{"report": "hospital_count", "view": "table"}],
}


def gated_pack(docs: dict) -> None:
    channel_pack(docs)
    docs["menus.json"] = MENUS
    docs["reports/hospital_count.json"] = HOSPITAL_REPORT
    docs["dashboards/hospital_board.json"] = HOSPITAL_BOARD


@pytest.fixture
def world(make_tessera: Callable[..., Tessera], tmp_path: Path) -> Iterator[People]:
    tessera = make_tessera(str(pack_variant(SCOPED, tmp_path / "gated", gated_pack)))
    scoped = build_scoped(tessera)
    people = People(**{k: getattr(scoped, k) for k in ("tessera", "admin", "departments", "users", "hospitals")})
    with live_server(create_app(tessera, extensions=[ui.app.install])) as url:
        people.url = url
        try:
            yield people
        finally:
            for client in people._clients:
                client.close()


def nav_labels(html: str) -> list[str]:
    nav = dom(html).find("aside", id="sidebar")
    return [a.text().strip() for a in nav.find_all("a") if "tf-nav-link" in a.classes]


def test_pl20_menus_list_only_entities_the_user_may_read(world: People) -> None:
    manager = nav_labels(world.client("mgr").get("/").text)
    assert "Hospitals" in manager and "Leads" in manager
    clerk = nav_labels(world.client("clerk").get("/").text)
    assert "Leads" in clerk and "Hospitals" not in clerk, "staff may not read hospitals: no menu entry leads there"
    assert "Hospital report" in manager and "Hospital report" not in clerk, "a report shows its entity's records"
    assert "Hospital board" in manager and "Hospital board" not in clerk, "a board of only unreadable reports"
    home = world.client("clerk").get("/").text
    assert "/v/hospital_list" not in home, "the home page tiles follow the same rule"


def test_pl20_buttons_follow_the_roles_actions(world: People) -> None:
    own = world.hospitals["l1"]
    liaison = world.client("l1")
    listing = dom(liaison.get("/v/hospital_list").text)
    assert listing.find_all(id="new-record"), "liaisons may create hospitals"
    detail = dom(liaison.get(f"/r/hospital/{own}").text)
    assert detail.find_all(id="edit-record") and not detail.find_all(id="delete-record"), "update yes, delete no"
    manager = dom(world.client("mgr").get(f"/r/hospital/{own}").text)
    assert manager.find_all(id="edit-record") and manager.find_all(id="delete-record")
    clerk_leads = dom(world.client("clerk").get("/r/lead").text)
    assert not clerk_leads.find_all(id="new-record"), "staff only read their leads"


def test_pl20_a_hidden_field_leaves_no_label_on_list_detail_or_form(world: People) -> None:
    own = world.hospitals["l1"]
    liaison = world.client("l1")
    for path in ("/v/hospital_list", f"/r/hospital/{own}", f"/r/hospital/{own}/edit"):
        page = liaison.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert "Internal note" not in page.text, f"{path} shows the hidden field's label"
    assert "Internal note" in world.client("mgr").get(f"/r/hospital/{own}").text, "the manager reads it"
