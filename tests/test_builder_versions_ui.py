"""PL-18/PL-19 pages of the builder (issue 7, BC): the pack list, the publish page with its migration preview and a
required comment, the version history, a readable diff, rollback that brings the old form back, export and the
403 page for non-designers.

Real HTTP against a live uvicorn with the UI and the builder API, on SQLite and PostgreSQL; the workflow test
pack and its people (tests/test_workflows_host.py: mgr, dir, req, other...). The form designer is BB's, so the
draft change ("approved amount is now required") is made through the builder core, as its save would.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

import httpx
import pytest

import builder.api
import ui.app
from builder.workspace import Workspace
from runtime.api import create_app
from runtime.identity.passwords import hash_password
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.html import csrf_of, dom, sign_in
from tests.support.server import live_server
from tests.test_workflows_host import PACK, Org, build_org

PASSWORD = "Builder-ui-pass-2026"
PACK_ID = "workflow_pack"


@cache
def _hash() -> str:
    return hash_password(PASSWORD)


@dataclass
class Site:
    org: Org
    url: str

    @property
    def app(self) -> Tessera:
        return self.org.tessera

    @contextmanager
    def client(self, who: str) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.url, timeout=30, headers={"Accept-Language": "zh-CN"}) as client:
            r = sign_in(client, who, PASSWORD)
            assert r.status_code == 303, r.text
            yield client


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    org = build_org(make_tessera(PACK))
    with org.tessera.db.write() as conn:
        conn.execute(pt.users.update().values(password_hash=_hash(), language="zh"))
    app = create_app(org.tessera, extensions=[ui.app.install, builder.api.install])
    with live_server(app) as url:
        yield Site(org, url)


def require_amount(app: Tessera) -> None:
    """The draft change BB's entity designer would save: the approved amount becomes required."""
    ws = Workspace(app)
    doc = ws.draft(PACK_ID).documents["entities/wf_review.json"]
    for f in doc["fields"]:
        if f["name"] == "approved_amount":
            f["required"] = True
    ws.save_document(PACK_ID, "entities/wf_review.json", doc, user="admin")


def test_pl18_builder_home_lists_the_pack_and_only_designers_get_in(site: Site) -> None:
    with site.client("admin") as admin:
        page = dom(admin.get("/builder").text)
        card = page.by_id(f"pack-{PACK_ID}")
        assert "流程测试包" in card.text() and card.find("span", **{"data-draft": "no"})
        assert dom(admin.get("/").text).by_id("nav-builder").attrs["href"] == "/builder"
        overview = dom(admin.get(f"/builder/{PACK_ID}").text)
        forms = overview.by_id("section-forms")
        assert forms.find("a", **{"data-item": "forms/approval_decision"}).attrs["href"] == (
            f"/builder/{PACK_ID}/forms/approval_decision"
        )
        assert overview.by_id("section-workflows").find("a", **{"data-item": "workflows/one_step_approval"})
        assert overview.by_id("bnav-overview").classes >= {"active"}
        assert admin.get(f"/builder/{PACK_ID}/list/automation").status_code == 200
        assert admin.get("/builder/no_such_pack").status_code == 404
    with site.client("other") as other:
        refused = other.get("/builder")
        assert refused.status_code == 403 and "请求被拒绝" in refused.text
        assert other.get(f"/builder/{PACK_ID}/versions").status_code == 403
        assert other.get(f"/builder/{PACK_ID}/flows/one_step_approval.bpmn").status_code == 403
        assert dom(other.get("/").text).find_all(id="nav-builder") == []
        token = csrf_of(other.get("/").text)
        assert other.post(f"/builder/{PACK_ID}/publish", data={"csrf_token": token, "comment": "x"}).status_code == 403


def test_pl19_publish_shows_the_preview_needs_a_comment_and_rollback_brings_the_old_form_back(site: Site) -> None:
    ctx = site.org.ctx("admin")
    for text in ("甲", "乙", "丙"):
        site.app.records.create("wf_review", {"comment": f"意见{text}"}, ctx)
    site.app.records.create("wf_review", {"comment": "有金额", "approved_amount": 100}, ctx)
    require_amount(site.app)
    with site.client("admin") as admin:
        page = dom(admin.get(f"/builder/{PACK_ID}/publish").text)
        failing = page.by_id("preview-records").find("li", **{"data-entity": "wf_review"})
        assert failing.find("span", **{"data-invalid-count": "3"}) and "3 条现有记录" in failing.text()
        assert "意见甲" in failing.text()
        step = page.by_id("preview-steps").find("li", **{"data-action": "note"}).text()
        assert "无需改动数据库" in step and "批准金额" in step  # in words, not "field 'x.y': required changed"
        changes = page.by_id("publish-changes").text()
        assert "wf_review" in changes
        token = csrf_of(admin.get(f"/builder/{PACK_ID}/publish").text)
        empty = admin.post(f"/builder/{PACK_ID}/publish", data={"csrf_token": token, "comment": "  "})
        assert empty.status_code == 422 and "请填写发布说明" in dom(empty.text).by_id("publish-errors").text()
        done = admin.post(f"/builder/{PACK_ID}/publish", data={"csrf_token": token, "comment": "批准金额改为必填"})
        assert done.status_code == 303 and done.headers["location"] == f"/builder/{PACK_ID}/versions"
        assert site.app.registry.entity("wf_review").field("approved_amount").required
        history = dom(admin.get(f"/builder/{PACK_ID}/versions").text)
        v2 = history.by_id("version-2")
        assert "批准金额改为必填" in v2.text() and "admin" in v2.text() and "当前" in v2.text()
        assert history.by_id("version-1").attrs["data-kind"] == "deploy"
        diff = dom(admin.get(f"/builder/{PACK_ID}/diff?a=1&b=2").text)
        rows = diff.by_id("diff-changes").find_all("li", **{"data-change": "changed"}) + diff.by_id(
            "diff-changes"
        ).find_all("li", **{"data-change": "added"})
        assert rows and any("approved_amount" in r.text() or "批准金额" in r.text() for r in rows)
        assert "is-required" in dom(admin.get("/r/wf_review/new").text).by_id("fw-approved_amount").classes
        back = admin.post(
            f"/builder/{PACK_ID}/versions/1/rollback", data={"csrf_token": token, "comment": "先不强制填写金额"}
        )
        assert back.status_code == 303
        assert not site.app.registry.entity("wf_review").field("approved_amount").required
        history = dom(admin.get(f"/builder/{PACK_ID}/versions").text)
        assert history.by_id("version-3").attrs["data-kind"] == "rollback" and "先不强制填写金额" in history.text()
        assert "is-required" not in dom(admin.get("/r/wf_review/new").text).by_id("fw-approved_amount").classes


def test_pl19_export_downloads_a_zip_with_the_manifest_and_the_upgrade_page_merges(site: Site) -> None:
    with site.client("admin") as admin:
        assert dom(admin.get(f"/builder/{PACK_ID}/upgrade").text).by_id("export-zip")
        r = admin.get(f"/builder/{PACK_ID}/export")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        assert any(n.endswith("pack.json") for n in names) and any(n.endswith("one_step_approval.bpmn") for n in names)
        token = csrf_of(admin.get(f"/builder/{PACK_ID}/upgrade").text)
        bad = admin.post(
            f"/builder/{PACK_ID}/upgrade",
            data={"csrf_token": token},
            files={"pack_zip": ("x.zip", b"not a zip", "application/zip")},
        )
        assert bad.status_code == 422 and dom(bad.text).by_id("upgrade-errors")
        merged = admin.post(
            f"/builder/{PACK_ID}/upgrade",
            data={"csrf_token": token},
            files={"pack_zip": ("workflow_pack.zip", r.content, "application/zip")},
        )
        assert merged.status_code == 200, merged.text
        page = dom(merged.text)
        assert page.by_id("upgrade-apply-form") and page.by_id("upgrade-no-conflicts")
