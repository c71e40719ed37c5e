"""Reports (PL-13, RN-11, RN-12, PC-04, PC-05, PC-06, PC-14): exact numbers on known data, both databases.

Known data (the clock stands at 2026-11-23; Asia/Shanghai local time):
    referral  2025-01-10 A  l1  -     down      2025-12-15 A  l1  conv  up
              2026-01-05 A  l1  conv  up        2026-01-20 A  l1  -     remote
              2026-01-31 B  l2  conv  training  2026-02-01 B  l2  -     up      (month boundary)
              2026-04-10 A  l1  -     down      (March is empty)
    survey    ward 1: Oct 15 score 10; Nov: 10, 9, 3 and 7 (answered 2026-10-31 17:00 UTC = Nov 1 local)
              ward 2: Nov: no score, unreachable
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from runtime.blueprints.errors import PackInvalid
from runtime.errors import BadRequest, Forbidden
from runtime.permissions.admin import PeopleAdmin
from runtime.records import Context
from runtime.records.url_query import list_query_from_params
from runtime.reports.output import cell_text, to_csv
from runtime.services import Tessera
from tests.conftest import PACKS

SYSTEM = Context(channel="system", lang="en", is_admin=True)
REFERRALS = [
    ("R1", "2025-01-10", "A", "l1", False, 1, "p1", "down", 50),
    ("R2", "2025-12-15", "A", "l1", True, 2, "p1", "up", 100),
    ("R3", "2026-01-05", "A", "l1", True, 3, "p1", "up", 200),
    ("R4", "2026-01-20", "A", "l1", False, 1, "p2", "remote", None),
    ("R5", "2026-01-31", "B", "l2", True, 1, "p2", "training", 80),
    ("R6", "2026-02-01", "B", "l2", False, 2, "p2", "up", 40),
    ("R7", "2026-04-10", "A", "l1", False, 1, "p1", "down", 10),
]
SURVEYS = [
    ("s1", "w1", "2026-10-15T02:00:00", 10, "satisfied"),
    ("s2", "w1", "2026-11-05T02:00:00", 10, "satisfied"),
    ("s3", "w1", "2026-11-06T02:00:00", 9, "satisfied"),
    ("s4", "w1", "2026-11-07T02:00:00", 3, "unsatisfied"),
    ("s5", "w1", "2026-10-31T17:00:00", 7, "no_opinion"),
    ("s6", "w2", "2026-11-08T02:00:00", None, "unreachable"),
]


class World:
    def __init__(self, app: Tessera):
        self.app = app
        self.users: dict[str, int] = {}
        self.depts: dict[str, int] = {}
        self.partners: dict[str, int] = {}
        self.referrals: dict[str, int] = {}

    def ctx(self, who: str) -> Context:
        user = self.app.users.get(self.users[who])
        assert user is not None
        return Context(user_id=user.id, channel="api", lang="en", department_id=user.department_id)

    def run(self, report: str, who: str = "mgr", **params: str) -> Any:
        return self.app.reports.run(report, self.ctx(who), params)


def build_world(app: Tessera) -> World:
    w = World(app)
    admin = PeopleAdmin(app.db, app.registry, app.permissions, clock=app.clock)
    w.depts["A"] = admin.create_department({"name": "Dept A", "code": "DA"})["id"]
    w.depts["B"] = admin.create_department({"name": "Dept B", "code": "DB"})["id"]
    for username, roles, dept in (("mgr", ["manager"], "A"), ("l1", ["liaison"], "A"), ("l2", ["liaison"], "B")):
        user = admin.create_user(
            {"username": username, "display_name": username.upper(), "department_id": w.depts[dept],
             "roles": roles, "language": "en", "email": f"{username}@example.org"}
        )  # fmt: skip
        w.users[username] = user["id"]
    for name in ("p1", "p2"):
        w.partners[name] = app.records.create("partner", {"name": f"Partner {name}"}, SYSTEM)["id"]
    table = app.registry.tables["referral"].main
    for code, day, dept, owner, conv, patients, partner, kind, amount in REFERRALS:
        data = {"code": code, "occurred_on": day, "converted": conv, "patients": patients,
                "partner": w.partners[partner], "kind": kind, "amount": amount, "internal_cost": 5}  # fmt: skip
        rid = app.records.create("referral", data, SYSTEM)["id"]
        w.referrals[code] = rid
        with app.db.write() as conn:
            conn.execute(
                table.update().where(table.c.id == rid).values(owner_id=w.users[owner], department_id=w.depts[dept])
            )
    for name, ward, at, score, sat in SURVEYS:
        data = {"patient_name": name, "ward": ward, "answered_at": at, "score": score, "satisfaction": sat}
        app.records.create("survey", data, SYSTEM)
    return w


@pytest.fixture
def world(make_tessera: Callable[..., Tessera]) -> World:
    return build_world(make_tessera("report_pack"))


def by_key(result: Any, level: str = "row") -> dict[tuple, dict[str, Any]]:
    return {tuple(r.keys.values()): r.values for r in result.rows if r.level == level}


def test_pl13_rn11_volume_by_department_and_month_with_yoy_and_mom_exact(world: World) -> None:
    A, B = world.depts["A"], world.depts["B"]
    res = world.run("business_volume", **{"from": "2026-01-01", "to": "2026-04-30"})
    rows = by_key(res)
    jan_a = rows[(date(2026, 1, 1), A)]
    assert jan_a["volume"] == 2 and jan_a["converted"] == 1 and jan_a["conversion"] == 50.0
    assert jan_a["patients"] == 4 and jan_a["partners"] == 2 and jan_a["avg_amount"] == 200.0
    # year boundary: January 2026 against January 2025; previous month is December 2025
    assert (jan_a["volume__yoy"], jan_a["volume__yoy_pct"]) == (1, 100.0)
    assert (jan_a["volume__mom"], jan_a["volume__mom_pct"]) == (1, 100.0)
    feb_a = rows[(date(2026, 2, 1), A)]
    assert feb_a["volume"] == 0 and feb_a["conversion"] is None  # division by zero: no number, not an error
    assert feb_a["volume__mom_pct"] == -100.0 and feb_a["volume__yoy_pct"] is None
    mar_a = rows[(date(2026, 3, 1), A)]  # an empty period is shown, with zeros
    assert mar_a["volume"] == 0 and mar_a["patients"] == 0 and mar_a["avg_amount"] is None
    # month boundary: Jan 31 and Feb 1 land in different months
    assert rows[(date(2026, 1, 1), B)]["volume"] == 1 and rows[(date(2026, 2, 1), B)]["volume"] == 1
    assert rows[(date(2026, 2, 1), B)]["volume__mom_pct"] == 0.0
    assert rows[(date(2026, 2, 1), B)]["conversion"] == 0.0
    subtotal_a = by_key(res, "subtotal")[(A,)]
    assert subtotal_a["volume"] == 3 and subtotal_a["volume__yoy"] == 1 and subtotal_a["volume__yoy_pct"] == 200.0
    assert subtotal_a["volume__mom"] == 1  # Sep-Dec 2025, the four months before
    total = res.total
    assert total is not None and total.values["volume"] == 5 and total.values["conversion"] == 40.0
    assert total.values["rk_d0"] == "Total"
    assert [r.values["rk_d0"] for r in res.rows if r.level == "subtotal"] == ["Dept A", "Dept B"]
    assert cell_text(feb_a["conversion"], next(c for c in res.columns if c.key == "conversion")) == "—"


def test_pl13_parameter_department_and_grain_quarter(world: World) -> None:
    res = world.run(
        "business_volume",
        department=str(world.depts["B"]),
        grain="quarter",
        **{"from": "2026-01-01", "to": "2026-06-30"},
    )
    rows = by_key(res)
    assert set(rows) == {(date(2026, 1, 1), world.depts["B"]), (date(2026, 4, 1), world.depts["B"])}
    assert rows[(date(2026, 1, 1), world.depts["B"])]["volume"] == 2
    with pytest.raises(BadRequest):
        world.run("business_volume", grain="fortnight")
    with pytest.raises(BadRequest):
        world.run("business_volume", **{"from": "2026-13-01"})


def test_pl13_week_and_year_grains(world: World) -> None:
    res = world.run("volume_trend", grain="week", **{"from": "2026-01-26", "to": "2026-02-08"})
    rows = by_key(res)  # Jan 31 (Sat) is in the week of Jan 26; Feb 1 (Sun) too; nothing the week after
    assert rows[(date(2026, 1, 26),)]["volume"] == 2 and rows[(date(2026, 2, 2),)]["volume"] == 0
    res = world.run("volume_trend", grain="year", **{"from": "2026-01-01", "to": "2026-12-31"})
    row = by_key(res)[(date(2026, 1, 1),)]
    assert row["volume"] == 5 and row["volume__yoy"] == 2 and row["volume__yoy_pct"] == 150.0


def test_pc06_pc04_nps_shares_and_rates_by_ward_with_local_month(world: World) -> None:
    res = world.run("nps_by_ward", **{"from": "2026-10-01", "to": "2026-11-30"})
    rows = by_key(res)
    nov_w1 = rows[(date(2026, 11, 1), "w1")]
    assert nov_w1["answers"] == 4  # 2026-10-31 17:00 UTC is November 1st in Shanghai
    assert nov_w1["nps"] == 25.0 and nov_w1["satisfied"] == 50.0 and nov_w1["unreachable"] == 0.0
    assert nov_w1["reached_rate"] == 100.0
    assert nov_w1["nps__mom"] == 100.0 and nov_w1["nps__mom_pct"] == -75.0  # points, for a percentage
    nov_w2 = rows[(date(2026, 11, 1), "w2")]
    assert nov_w2["nps"] is None  # NPS with no answers: no number
    assert nov_w2["unreachable"] == 100.0 and nov_w2["reached_rate"] == 0.0
    assert rows[(date(2026, 10, 1), "w2")]["answers"] == 0
    assert nov_w2["rk_d0"] == "Ward 2"


def test_pl13_option_tree_rolls_up_and_drill_down_lists_exactly_the_cell(world: World) -> None:
    res = world.run("volume_by_kind")
    rows = by_key(res)
    assert rows[("referral",)]["volume"] == 3 and rows[("referral",)]["volume__yoy"] == 2
    assert rows[("remote",)]["volume"] == 1 and rows[("training",)]["volume"] == 1
    assert rows[("referral",)]["rk_d0"] == "Referral"
    app, ctx = world.app, world.ctx("mgr")
    row = next(r for r in res.rows if r.keys.get("rk_d0") == "referral")
    assert _drilled(app, ctx, row.drill) == {"R3", "R6", "R7"}
    vol = world.run("business_volume", **{"from": "2026-01-01", "to": "2026-04-30"})
    cell = next(
        r for r in vol.rows if r.level == "row" and r.keys == {"rk_p": date(2026, 1, 1), "rk_d0": world.depts["A"]}
    )
    assert _drilled(app, ctx, cell.drill) == {"R3", "R4"}
    assert _drilled(app, ctx, cell.drills["converted"]) == {"R3"}


def _drilled(app: Tessera, ctx: Context, query: str | None) -> set[str]:
    assert query
    entity = app.registry.entity("referral")
    q = list_query_from_params(app.registry, entity, [*parse_qsl(query), ("limit", "200")])
    return {item["code"] for item in app.records.list("referral", q, ctx).items}


def test_pl13_liaison_sees_only_their_numbers_and_masked_measures(world: World) -> None:
    res = world.run("business_volume", who="l2", **{"from": "2026-01-01", "to": "2026-04-30"})
    assert res.total is not None and res.total.values["volume"] == 2
    assert {k[1] for k in by_key(res)} == {world.depts["B"]}
    kinds = world.run("volume_by_kind", who="l1")
    assert by_key(kinds)[("referral",)]["volume"] == 2  # R3 and R7, not L2's R6
    assert "cost" in kinds.masked and by_key(kinds)[("referral",)]["cost"] is None
    assert any("internal_cost" in n for n in kinds.notes)
    with pytest.raises(Forbidden):
        world.run("nps_by_ward", who="l1")  # no analyse right on surveys


def test_pl13_export_cells_equal_the_screen(world: World) -> None:
    params = {"from": "2026-01-01", "to": "2026-04-30"}
    name, media, data = world.app.reports.export("business_volume", world.ctx("mgr"), params, "xlsx")
    assert name.endswith(".xlsx") and "spreadsheet" in media
    res = world.run("business_volume", **params)
    sheet = load_workbook(BytesIO(data)).active
    cells = list(sheet.iter_rows(values_only=True))
    assert list(cells[0]) == [c.label for c in res.columns]
    assert len(cells) == len(res.rows) + 1
    for xrow, row in zip(cells[1:], res.rows, strict=True):
        for value, col in zip(xrow, res.columns, strict=True):
            screen = cell_text(row.values.get(col.key), col)
            assert cell_text(None if value == "—" else value, col) == screen
    csv_text = to_csv(res).decode("utf-8-sig")
    assert "Dept A" in csv_text and "50.0%" in csv_text
    with pytest.raises(Forbidden):
        world.app.reports.export("business_volume", world.ctx("l1"), params, "csv")  # no export right


def test_pl13_bad_report_blueprints_name_file_and_pointer(tmp_path: Any) -> None:
    import shutil

    from runtime.blueprints import load_pack

    pack = tmp_path / "bad"
    shutil.copytree(PACKS / "report_pack", pack)
    (pack / "reports" / "broken.json").write_text(
        '{"id": "broken", "label": "x", "entity": "referral", "dimensions": [{"field": "nope"}],'
        ' "measures": [{"id": "a", "type": "count"}, {"id": "r", "type": "ratio", "numerator": "a"},'
        ' {"id": "s", "type": "sum", "field": "code"}], "chart": {"type": "bar", "measure": "zz"}}'
    )
    (pack / "dashboards" / "bad.json").write_text('{"id": "bad", "label": "x", "items": [{"report": "ghost"}]}')
    with pytest.raises(PackInvalid) as info:
        load_pack(pack)
    found = {(e.file, e.pointer) for e in info.value.errors}
    assert ("reports/broken.json", "/dimensions/0/field") in found
    assert ("reports/broken.json", "/measures/1") in found  # a ratio without denominator
    assert ("reports/broken.json", "/measures/2/field") in found
    assert ("reports/broken.json", "/chart/measure") in found
    assert ("dashboards/bad.json", "/items/0/report") in found


def test_pl13_report_indexes_come_from_the_pack_migration_plan(world: World) -> None:
    names = {ix["name"] for ix in sa.inspect(world.app.db.engine).get_indexes("e_referral")}
    assert "ix_e_referral_occurred_on_department_id" in names


def test_pl13_home_dashboard_by_role(world: World) -> None:
    assert world.app.reports.home_dashboard(world.ctx("mgr"))["id"] == "manager_home"  # type: ignore[index]
    assert world.app.reports.home_dashboard(world.ctx("l1"))["id"] == "liaison_home"  # type: ignore[index]
    assert datetime(2026, 11, 23) == world.app.clock.now().replace(hour=0, minute=0)


def test_pl13_subscription_tables_match_their_migration(world: World) -> None:
    from runtime.reports.tables import report_deliveries, report_subscriptions

    inspector = sa.inspect(world.app.db.engine)
    for table in (report_subscriptions, report_deliveries):
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == set(table.columns.keys()), f"{table.name} drifted from its migration"
    indexes = {i["name"] for i in inspector.get_indexes(report_subscriptions.name)}
    assert {i.name for i in report_subscriptions.indexes} <= indexes


def test_pl13_subscription_input_errors_are_specific(world: World) -> None:
    subs = world.app.reports.subscriptions
    with pytest.raises(BadRequest, match="frequency"):
        subs.create("volume_trend", frequency="hourly", roles=["manager"])
    with pytest.raises(BadRequest, match="channel"):
        subs.create("volume_trend", frequency="daily", roles=["manager"], channels=["fax"])
    with pytest.raises(BadRequest, match="recipient"):
        subs.create("volume_trend", frequency="daily")
