"""PL-03 / PC-08: an option set may name the roles that edit it at run time (``editable_by``) besides the
administrators, e.g. the managers who keep the patient-source tree; other sets stay administrator-only, and
the 'admin' right of a role counts like the administrator flag. Over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from runtime.api import create_app
from runtime.permissions.admin import PeopleAdmin
from runtime.services import Tessera
from tests.support.server import live_server

PASSWORD = "Option-Editors-pass-2026"
L = {"zh": "测试", "en": "Test"}


def _pack(root: Path) -> Path:
    pack = root / "editors_pack"
    for folder in ("entities", "option_sets", "roles"):
        (pack / folder).mkdir(parents=True)
    (pack / "pack.json").write_text(
        json.dumps({"id": "editors_pack", "version": "1.0.0", "name": L, "platform": ">=0.1,<1"})
    )
    fields = [{"name": "source", "type": "select", "label": L, "option_set": "source"},
              {"name": "size", "type": "select", "label": L, "option_set": "size"}]  # fmt: skip
    entity = {"id": "thing", "label": L, "title_field": "source", "fields": fields}
    (pack / "entities" / "thing.json").write_text(json.dumps(entity))
    tree = [
        {"value": "clinic", "label": L, "children": [{"value": "lecture", "label": L}]},
        {"value": "walk_in", "label": L},
    ]
    source = {"id": "source", "label": L, "tree": True, "editable_by": ["keeper"], "options": tree}
    (pack / "option_sets" / "source.json").write_text(json.dumps(source))
    size = {"id": "size", "label": L, "options": [{"value": "s", "label": L}, {"value": "m", "label": L}]}
    (pack / "option_sets" / "size.json").write_text(json.dumps(size))
    perms = [{"entity": "thing", "actions": ["*"], "scope": "all"}]
    for rid, extra in (("keeper", {}), ("chief", {"parent": "keeper"}), ("clerk", {}), ("boss", {"rights": ["admin"]})):
        (pack / "roles" / f"{rid}.json").write_text(json.dumps({"id": rid, "label": L, "permissions": perms, **extra}))
    return pack


@pytest.fixture
def site(make_tessera: Callable[..., Tessera], tmp_path: Path) -> Iterator[tuple[str, dict[str, httpx.Client]]]:
    app = make_tessera(str(_pack(tmp_path)))
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    for username, roles in (("keeper", ["keeper"]), ("chief", ["chief"]), ("clerk", ["clerk"]), ("boss", ["boss"])):
        user = app.users.create(username, username, PASSWORD)
        admin.update_user(user.id, {"roles": roles})
    with live_server(create_app(app)) as url:
        clients = {}
        for username in ("keeper", "chief", "clerk", "boss"):
            client = httpx.Client(base_url=url, timeout=30)
            r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            clients[username] = client
        yield url, clients
        for client in clients.values():
            client.close()


def test_pc08_roles_named_in_editable_by_edit_that_option_set_only(site: tuple[str, dict[str, httpx.Client]]) -> None:
    _, c = site
    tree = c["keeper"].get("/api/v1/option-sets/source").json()["options"]
    tree[0]["children"].append({"value": "community", "label": L})
    saved = c["keeper"].put("/api/v1/option-sets/source", json={"options": tree})
    assert saved.status_code == 200, saved.text
    assert [k["value"] for k in saved.json()["options"][0]["children"]] == ["lecture", "community"]
    assert c["keeper"].post("/api/v1/records/thing", json={"source": "community"}).status_code == 201
    # a child role inherits the right; the administrator right edits any set; others are refused
    assert c["chief"].put("/api/v1/option-sets/source", json={"options": tree}).status_code == 200
    assert (
        c["boss"]
        .put("/api/v1/option-sets/size", json={"options": c["boss"].get("/api/v1/option-sets/size").json()["options"]})
        .status_code
        == 200
    )
    refused = c["clerk"].put("/api/v1/option-sets/source", json={"options": tree})
    assert refused.status_code == 403 and "editable_by" in refused.json()["error"]["message"]
    sizes = c["keeper"].get("/api/v1/option-sets/size").json()["options"]
    assert c["keeper"].put("/api/v1/option-sets/size", json={"options": sizes}).status_code == 403
    # the usual rules still hold for the keepers: values in use are never removed
    pruned = [o for o in tree if o["value"] != "walk_in"]
    assert c["keeper"].put("/api/v1/option-sets/source", json={"options": pruned}).status_code == 400


def test_pc08_editable_by_must_be_a_list_of_role_ids(make_tessera: Callable[..., Tessera], tmp_path: Path) -> None:
    from runtime.blueprints.errors import PackInvalid

    pack = _pack(tmp_path)
    doc = json.loads((pack / "option_sets" / "source.json").read_text())
    doc["editable_by"] = "keeper"
    (pack / "option_sets" / "source.json").write_text(json.dumps(doc))
    with pytest.raises(PackInvalid) as info:
        make_tessera(str(pack))
    assert "editable_by" in str(info.value)
