"""Record import (any entity, xlsx/csv): a data clerk previews a spreadsheet of monthly figures, fixes the
bad rows, commits, re-imports the same file without duplicates; headers in Chinese or English, GB18030 CSV
as Excel saves it, references by title, options by label; clear errors for a bad file and no right.
Also: a computed number (the figures' total) is summed by a report. Both databases, real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.records.query import ListQuery
from runtime.services import Tessera
from runtime.storage import platform_tables as pt
from tests.support.server import live_server

SYSTEM = Context(channel="system", lang="en", is_admin=True)
PASSWORD = "Import-test-pass-2026"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Site:
    def __init__(self, app: Tessera, url: str):
        self.app, self.url = app, url
        self.clients: dict[str, httpx.Client] = {}

    def __call__(self, who: str) -> httpx.Client:
        if who not in self.clients:
            client = httpx.Client(base_url=self.url, timeout=30)
            r = client.post("/api/v1/auth/login", json={"username": who, "password": PASSWORD})
            assert r.status_code == 200, r.text
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            self.clients[who] = client
        return self.clients[who]

    def figures(self) -> list[dict[str, Any]]:
        return self.app.records.list("monthly_figure", ListQuery(sort=[("month", False)], limit=100), SYSTEM).items


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[Site]:
    from runtime.api import create_app

    app = make_tessera("import_pack")
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    for username, name, roles in (("clerk", "Wang Clerk", ["clerk"]), ("viewer", "Li Viewer", ["viewer"])):
        admin.create_user(
            {"username": username, "display_name": name, "roles": roles, "password": PASSWORD, "language": "en"}
        )
    for name in ("胸痛中心共建", "Remote ECG"):
        app.records.create("project", {"name": name}, SYSTEM)
    with live_server(create_app(app, extensions=[])) as url:
        s = Site(app, url)
        yield s
        for client in s.clients.values():
            client.close()


def workbook(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: httpx.Client, content: bytes, name: str, **params: str) -> httpx.Response:
    media = XLSX if name.endswith(".xlsx") else "text/csv"
    return client.post("/api/v1/records/monthly_figure/import", params=params, files={"file": (name, content, media)})


def test_record_import_preview_commit_and_reimport_without_duplicates(site: Site) -> None:
    from datetime import date, datetime

    rows = [
        ["项目", "月份", "转诊人次", "培训人次", "收入", "数据类型", "已核对", "备注（不导入）"],
        ["胸痛中心共建", date(2026, 9, 1), 12, 3, 1500.5, "实际", "是", "x"],
        ["胸痛中心共建", "2026年10月", "15", "", "2,300", "actual", "no", ""],
        ["Remote ECG", datetime(2026, 10, 1), 7, 1, None, "估算", "", ""],
    ]
    content = workbook(rows)
    preview = upload(site("clerk"), content, "figures.xlsx")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["mode"] == "preview" and body["committed"] is False
    assert body["summary"] == {"create": 3, "update": 0, "unchanged": 0, "error": 0}, body["rows"]
    assert body["ignored_columns"] == ["备注（不导入）"] and body["key"] == ["project", "month"]
    assert site.figures() == []  # a preview writes nothing

    done = upload(site("clerk"), content, "figures.xlsx", mode="commit").json()
    assert done["committed"] is True and done["summary"]["create"] == 3
    figures = site.figures()
    assert [(f["month"], f["referrals"], f["trainees"], f["total"], f["kind"]) for f in figures] == [
        ("2026-09-01", 12, 3, 15, "actual"),
        ("2026-10-01", 15, None, 15, "actual"),
        ("2026-10-01", 7, 1, 8, "estimate"),
    ]
    assert figures[0]["revenue"] in ("1500.50", "1500.5", 1500.5) and figures[0]["verified"] is True
    assert {f["owner_id"] for f in figures} == {site.app.users.by_username("clerk").id}

    again = upload(site("clerk"), content, "figures.xlsx", mode="commit").json()
    assert again["summary"] == {"create": 0, "update": 0, "unchanged": 3, "error": 0}
    rows[2][2] = 16  # the October figure corrected at the source
    changed = upload(site("clerk"), workbook(rows), "figures.xlsx", mode="commit").json()
    assert changed["summary"] == {"create": 0, "update": 1, "unchanged": 2, "error": 0}
    assert [f["referrals"] for f in site.figures()] == [12, 16, 7]
    with site.app.db.read() as conn:
        logged = conn.execute(sa.select(pt.oplog.c.detail).where(pt.oplog.c.kind == "import")).scalars().all()
    assert len(logged) == 3 and all("monthly_figure" in str(d) for d in logged)


def test_record_import_bad_rows_are_reported_and_nothing_is_written_unless_skipped(site: Site) -> None:
    text = (
        "project,month,referrals,kind\n"
        "胸痛中心共建,2026-08,5,实际\n"
        "不存在的项目,2026-08,5,实际\n"
        "Remote ECG,2026-08-15,5,actual\n"
        "Remote ECG,2026-13,x,guess\n"
        ",2026-07,1,actual\n"
    )
    content = text.encode("gb18030")  # Excel in China saves CSV as GB18030
    r = upload(site("clerk"), content, "figures.csv", mode="commit")
    assert r.status_code == 200
    body = r.json()
    assert body["committed"] is False and body["summary"] == {"create": 1, "update": 0, "unchanged": 0, "error": 4}
    errors = {row["row"]: {e["field"]: e["message"] for e in row["errors"]} for row in body["rows"] if row["errors"]}
    assert "不存在的项目" in errors[3]["project"]
    assert "first day" in errors[4]["month"]
    assert "2026-13" in errors[5]["month"] and "'x' is not a number" in errors[5]["referrals"]
    assert "guess" in errors[5]["kind"] and "Actual" in errors[5]["kind"]
    assert errors[6] == {"project": "is needed to match the row"}
    assert site.figures() == []

    skipped = upload(site("clerk"), content, "figures.csv", mode="commit", skip_invalid="true").json()
    assert skipped["committed"] is True
    assert [(f["month"], f["referrals"]) for f in site.figures()] == [("2026-08-01", 5)]


def test_record_import_refuses_bad_files_and_people_without_the_import_right(site: Site) -> None:
    clerk = site("clerk")
    r = upload(clerk, b"hello", "figures.txt")
    assert r.status_code == 400 and ".xlsx" in r.json()["error"]["message"]
    r = upload(clerk, b"not a zip", "figures.xlsx")
    assert r.status_code == 400 and "readable .xlsx" in r.json()["error"]["message"]
    r = upload(clerk, "颜色,尺寸\n红,大\n".encode(), "figures.csv")
    assert r.status_code == 400 and "no column" in r.json()["error"]["message"]
    r = upload(clerk, b"project,month\n", "figures.csv", key="colour")
    assert r.status_code == 400 and "colour" in r.json()["error"]["message"]
    r = clerk.post("/api/v1/records/monthly_figure/import", content=b"x", headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]["message"]
    r = upload(site("viewer"), b"project,month\n", "figures.csv")
    assert r.status_code == 403
    assert upload(clerk, b"project,month\n", "figures.csv").status_code == 200  # headers only: nothing to do
    assert clerk.post("/api/v1/records/nothing/import", files={"file": ("a.csv", b"a")}).status_code == 404

    template = clerk.get("/api/v1/records/monthly_figure/import/template")
    assert template.status_code == 200
    header = [c.value for c in next(load_workbook(BytesIO(template.content)).active.iter_rows())]
    assert header == ["Project", "Month", "Referrals", "Trainees", "Revenue", "Kind", "Verified"]
    csv_template = clerk.get("/api/v1/records/monthly_figure/import/template", params={"format": "csv"})
    assert csv_template.text.lstrip("\ufeff").strip() == "Project,Month,Referrals,Trainees,Revenue,Kind,Verified"
    assert site("viewer").get("/api/v1/records/monthly_figure/import/template").status_code == 403


def test_report_sums_a_computed_number_field(site: Site) -> None:
    project = site.app.records.list("project", ListQuery(limit=5), SYSTEM).items[0]["id"]
    for month, referrals, trainees in (("2026-10-01", 10, 5), ("2026-11-01", 20, 2)):
        data = {"project": project, "month": month, "referrals": referrals, "trainees": trainees}
        site.app.records.create("monthly_figure", data, SYSTEM)
    result = site.app.reports.run("figures_by_month", SYSTEM, {})
    by_period = {r.values["rk_p"]: r.values for r in result.rows if r.level == "row"}
    assert by_period["2026-11"]["total"] == 22 and by_period["2026-10"]["total"] == 15
    assert by_period["2026-11"]["total__mom"] == 15 and by_period["2026-11"]["referrals"] == 20


def test_unique_index_over_two_fields_is_a_clear_field_error(site: Site) -> None:
    """One figure per project and month: the second is refused on the index's last field, never a bare 409/500."""
    project = site.app.records.list("project", ListQuery(limit=5), SYSTEM).items[0]["id"]
    clerk = site("clerk")
    first = clerk.post("/api/v1/records/monthly_figure", json={"project": project, "month": "2026-10-01"})
    assert first.status_code == 201, first.text
    again = clerk.post("/api/v1/records/monthly_figure", json={"project": project, "month": "2026-10-01"})
    assert again.status_code == 422
    [error] = again.json()["error"]["errors"]
    assert error["field"] == "month" and error["code"] == "unique" and "Project" in error["message"]
    other = clerk.post("/api/v1/records/monthly_figure", json={"project": project, "month": "2026-11-01"})
    moved = clerk.patch(
        f"/api/v1/records/monthly_figure/{other.json()['id']}", json={"month": "2026-10-01", "version": 1}
    )
    assert moved.status_code == 422 and moved.json()["error"]["errors"][0]["field"] == "month"
    same = clerk.patch(f"/api/v1/records/monthly_figure/{first.json()['id']}", json={"referrals": 3, "version": 1})
    assert same.status_code == 200  # the record itself does not count as another one
