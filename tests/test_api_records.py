"""PL-17/PL-06: the REST API over real HTTP: CRUD, list filters/sort/paging, and every error code."""

from __future__ import annotations

import httpx

from runtime.services import Tessera


def create(api: httpx.Client, **fields: object) -> dict:
    r = api.post("/api/v1/records/specimen", json={"title": "T", **fields})
    assert r.status_code == 201, r.text
    return r.json()


def test_pl17_crud_round_trip_with_etag_and_location(api: httpx.Client) -> None:
    r = api.post(
        "/api/v1/records/specimen", json={"title": "三甲医院", "level": "3A", "beds": 900, "tags": ["重点", "合作"]}
    )
    assert r.status_code == 201
    record = r.json()
    assert r.headers["location"] == f"/api/v1/records/specimen/{record['id']}"
    assert r.headers["etag"] == '"1"'
    got = api.get(r.headers["location"]).json()
    assert got["title"] == "三甲医院" and got["tags"] == ["重点", "合作"]
    patched = api.patch(r.headers["location"], json={"beds": 950, "version": 1})
    assert patched.status_code == 200 and patched.json()["beds"] == 950 and patched.json()["version"] == 2
    replaced = api.put(r.headers["location"], json={"title": "新名称"}, headers={"If-Match": '"2"'})
    assert replaced.status_code == 200
    assert replaced.json()["beds"] is None and replaced.json()["title"] == "新名称", "PUT replaces the whole record"
    assert api.delete(r.headers["location"], params={"version": 3}).status_code == 204
    assert api.get(r.headers["location"]).status_code == 404


def test_pl06_invalid_data_gives_422_with_one_entry_per_field(api: httpx.Client) -> None:
    r = api.post("/api/v1/records/specimen", json={"beds": "many", "phone": "1", "surprise": 1})
    assert r.status_code == 422
    body = r.json()["error"]
    assert body["code"] == "invalid" and body["request_id"] == r.headers["x-request-id"]
    by_field = {e["field"]: e for e in body["errors"]}
    assert set(by_field) == {"title", "beds", "phone", "surprise"}
    assert by_field["beds"]["pointer"] == "/beds" and by_field["surprise"]["code"] == "unknown_field"


def test_pl06_stale_version_gives_409_and_the_current_version(api: httpx.Client) -> None:
    record = create(api)
    url = f"/api/v1/records/specimen/{record['id']}"
    assert api.patch(url, json={"title": "first", "version": 1}).status_code == 200
    r = api.patch(url, json={"title": "second", "version": 1})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "stale_version" and r.json()["error"]["current_version"] == 2
    missing = api.patch(url, json={"title": "no version"})
    assert missing.status_code == 422 and missing.json()["error"]["errors"][0]["field"] == "version"


def test_pl17_unknown_entity_or_id_gives_404(api: httpx.Client) -> None:
    assert api.get("/api/v1/records/ghost").status_code == 404
    assert api.get("/api/v1/records/specimen/999999").status_code == 404
    assert api.get("/api/v1/records/specimen/abc").status_code == 404
    assert api.get("/api/v1/records/specimen/99999999999999999999999").status_code == 404
    assert api.post("/api/v1/records/ghost", json={}).status_code == 404
    assert api.get("/api/v1/records/specimen/999999").json()["error"]["message"] == "specimen #999999 does not exist"


def test_pl17_malformed_json_gives_400_never_500(api: httpx.Client) -> None:
    r = api.post("/api/v1/records/specimen", content=b'{"title": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("malformed JSON")
    assert api.post("/api/v1/records/specimen", content=b"[1,2]").status_code == 400
    assert api.post("/api/v1/records/specimen", content=b"\xff\xfe").status_code == 400
    nan = api.post("/api/v1/records/specimen", content=b'{"title": "x", "price": NaN}')
    assert nan.status_code == 400 and "NaN is not a valid JSON number" in nan.json()["error"]["message"]
    nul = api.post("/api/v1/records/specimen", json={"title": "a\u0000b"})
    assert nul.status_code == 422 and nul.json()["error"]["errors"][0]["code"] == "nul_character"


def test_pl17_unauthenticated_requests_get_401(server: str) -> None:
    with httpx.Client(base_url=server) as anonymous:
        r = anonymous.get("/api/v1/records/specimen")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
        assert anonymous.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong"}).status_code == 401


def test_pl07_list_filters_sort_and_keyset_pages(api: httpx.Client) -> None:
    for i in range(12):
        create(
            api,
            title=f"H{i:02d}",
            beds=10 + i * 10,
            level="3A" if i % 3 == 0 else "2A",
            tags=["x"] if i < 4 else [],
            visit_date=f"2026-01-{i + 1:02d}",
        )
    create(api, title="no beds")

    def titles(**params: object) -> list[str]:
        r = api.get("/api/v1/records/specimen", params=params)
        assert r.status_code == 200, r.text
        return [item["title"] for item in r.json()["items"]]

    assert titles(level="3A", sort="title") == ["H00", "H03", "H06", "H09"]
    assert titles(level__ne="3A", beds__gte=90, sort="-beds") == ["H11", "H10", "H08"]
    assert titles(beds__between="30,50", sort="beds") == ["H02", "H03", "H04"]
    assert titles(level__in="3A,1", beds__lt=50, sort="title") == ["H00", "H03"]
    assert titles(title__contains="1", sort="title") == ["H01", "H10", "H11"]
    assert titles(tags__contains="x", sort="title") == ["H00", "H01", "H02", "H03"]
    assert titles(beds__empty="true") == ["no beds"]
    assert titles(visit_date__gt="2026-01-10", visit_date__lt="2026-02-01", sort="visit_date") == ["H10", "H11"]
    assert titles(q="H0", sort="-title", limit=2) == ["H09", "H08"]

    seen, cursor, totals = [], None, []
    while True:
        params = {"sort": "beds", "limit": 5, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/records/specimen", params=params).json()
        seen += [item["title"] for item in page["items"]]
        totals.append(page["total"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"H{i:02d}" for i in range(12)] + ["no beds"], "NULLs come last, nothing lost or repeated"
    assert totals == [13, None, None], "the total is counted on the first page only"


def test_pl07_bad_list_parameters_give_400_naming_the_problem(api: httpx.Client) -> None:
    cases = {
        "nope=1": "unknown field 'nope'",
        "beds__like=1": "unknown filter operator 'like'",
        "beds=ten": "invalid value for 'beds'",
        "tags__gt=1": "does not apply",
        "sort=tags": "cannot be sorted",
        "limit=1000": "limit must be",
        "cursor=%%%": "cursor is not valid",
        "visit_date=2026-13-01": "invalid value for 'visit_date'",
        "beds__between=1": "needs two values",
    }
    for query, expected in cases.items():
        r = api.get(f"/api/v1/records/specimen?{query}")
        assert r.status_code == 400, query
        assert expected in r.json()["error"]["message"], (query, r.json())


def test_pl17_metadata_and_the_published_pack_schema(api: httpx.Client, tessera: Tessera) -> None:
    entities = {e["id"]: e for e in api.get("/api/v1/entities").json()}
    assert entities["specimen"]["title_field"] == "title"
    schema = api.get("/api/v1/entities/specimen/schema").json()
    assert schema["$schema"].endswith("2020-12/schema") and schema["properties"]["phone"]["format"] == "cn-phone"
    assert schema["properties"]["level"]["enum"] == ["3A", "3B", "2A", "1", None]
    pack_schema = httpx.get(f"{api.base_url}/api/v1/schema/pack").json()
    assert "entity" in pack_schema["$defs"] and "manifest" in pack_schema["$defs"]
    openapi = api.get("/api/v1/openapi.json").json()
    assert "/api/v1/records/specimen" in openapi["paths"]
    assert openapi["components"]["schemas"]["SpecimenInput"]["properties"]["beds"]["maximum"] == 10000


def test_pl03_option_sets_are_editable_and_validation_follows(api: httpx.Client) -> None:
    current = api.get("/api/v1/option-sets/hospital_level").json()["options"]
    refused = api.put("/api/v1/option-sets/hospital_level", json={"options": current[1:]})
    assert refused.status_code == 400 and "cannot be removed" in refused.json()["error"]["message"]
    extended = [*current, {"value": "4", "label": {"zh": "社区", "en": "Community"}}]
    assert api.put("/api/v1/option-sets/hospital_level", json={"options": extended}).status_code == 200
    assert create(api, level="4")["level"] == "4"
    retired = [{**o, "active": o["value"] != "2A"} for o in extended]
    assert api.put("/api/v1/option-sets/hospital_level", json={"options": retired}).status_code == 200
    r = api.post("/api/v1/records/specimen", json={"title": "x", "level": "2A"})
    assert r.status_code == 422, "a retired option can no longer be chosen"


def test_pl07_paging_with_a_range_filter_on_the_sort_column_loses_nothing(api: httpx.Client) -> None:
    for i in range(9):
        create(api, title=f"P{i}", beds=10 + (i % 4) * 10)  # beds 10,20,30,40,10,20,... ties across pages
    for sort, query in (("beds", "beds__between=20,40"), ("-beds", "beds__between=10,30"), ("beds", "beds__gt=10")):
        expected = api.get(f"/api/v1/records/specimen?{query}&sort={sort}&limit=100").json()["items"]
        seen, cursor = [], None
        while True:
            page = api.get(
                f"/api/v1/records/specimen?{query}&sort={sort}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            )
            seen += page.json()["items"]
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        assert [r["id"] for r in seen] == [r["id"] for r in expected], (sort, query)
        assert len(expected) >= 4


def test_pl17_a_nul_character_in_any_query_parameter_is_a_clear_400(api: httpx.Client) -> None:
    for url in (
        "/api/v1/records/specimen?title=%00",
        "/api/v1/admin/users?role=%00",
        "/api/v1/admin/audit?entity=a%00",
    ):
        r = api.get(url)
        assert r.status_code == 400, url
        assert r.json()["error"]["message"] == "query parameters may not contain NUL characters"
