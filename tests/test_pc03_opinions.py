"""PC-03: opinions are graded, routed to a department and a handler, and tracked to closure; the important
opinions list (重要意见) and the praise list (表扬榜) by department and staff, over HTTP and in the web UI.

The opinion state machine: new -> routed (分派, supervisors: department + handler) -> in_progress (处理,
the handler) -> resolved (办结, with a response; resolved_at stamped) -> closed (关闭, supervisors).
"""

from __future__ import annotations

from typing import Any

from tests.support.patient_crm import Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"


def _ward(crm: Crm) -> tuple[int, int]:
    """The orthopaedics ward department and its head nurse (role nurse)."""
    ward = crm.ward_department("WARD-ORTHO", "骨科病区")
    nurse = crm.create_user("pc.t.headnurse", ["nurse"], "WARD-ORTHO", "骨科护士长")
    return ward, nurse


def _opinion(crm: Crm, content: str, grade: str = "important", **extra: Any) -> dict[str, Any]:
    body = {"category": "nursing", "grade": grade, "content": content, "ward": "orthopedics", **extra}
    return ok(crm.client("pc.officer1").post(f"{API}/opinion", json=body), 201)


def _act(crm: Crm, username: str, record: dict[str, Any], action: str, **input: Any) -> Any:
    r = crm.client(username).post(
        f"{API}/opinion/{record['id']}/actions/{action}", json={"input": input, "version": record["version"]}
    )
    return r


def test_pc03_opinion_is_routed_to_a_department_and_tracked_to_closure(crm: Crm) -> None:
    ward, nurse = _ward(crm)
    opinion = _opinion(crm, "夜间呼叫铃响应太慢，等了二十分钟")
    assert opinion["status"] == "new" and opinion["raised_at"]
    # an officer records opinions but does not route them
    refused = _act(crm, "pc.officer1", opinion, "route", department=ward, handler=nurse)
    assert refused.status_code == 403, refused.text
    # routing needs a department and a handler
    missing = _act(crm, "pc.supervisor1", opinion, "route", department=ward)
    assert "handler" in field_errors(missing)
    routed = ok(_act(crm, "pc.supervisor1", opinion, "route", department=ward, handler=nurse))
    assert routed["status"] == "routed" and routed["department"] == ward and routed["handler"] == nurse
    # the ward's head nurse now sees it (department scope on the routed-to department) and handles it
    head = crm.client("pc.t.headnurse")
    assert ok(head.get(f"{API}/opinion/{opinion['id']}"))["status"] == "routed"
    started = ok(_act(crm, "pc.t.headnurse", routed, "start"))
    assert started["status"] == "in_progress"
    no_answer = _act(crm, "pc.t.headnurse", started, "resolve")
    assert "response" in field_errors(no_answer)
    resolved = ok(_act(crm, "pc.t.headnurse", started, "resolve", response="已调整夜班排班，增加一名护士巡视"))
    assert resolved["status"] == "resolved" and resolved["resolved_at"] >= resolved["raised_at"]
    # the nurse cannot close; the supervisor still follows it after routing and closes it
    assert _act(crm, "pc.t.headnurse", resolved, "close").status_code == 403
    closed = ok(_act(crm, "pc.supervisor1", resolved, "close"))
    assert closed["status"] == "closed"
    # the status field itself is not edited directly
    direct = crm.client("pc.supervisor1").patch(
        f"{API}/opinion/{opinion['id']}", json={"status": "new", "version": closed["version"]}
    )
    assert "status" in field_errors(direct)
    # the audit trail shows each step
    history = crm.client("pc.director").get(f"{API}/opinion/{opinion['id']}/history")
    assert history.status_code == 200, history.text


def test_pc03_other_wards_do_not_see_an_opinion_routed_elsewhere(crm: Crm) -> None:
    ward, nurse = _ward(crm)
    crm.ward_department("WARD-CARD", "心内科病区")
    crm.create_user("pc.t.cardnurse", ["nurse"], "WARD-CARD", "心内科护士")
    opinion = _opinion(crm, "病房空调噪音大", grade="normal", category="environment")
    ok(_act(crm, "pc.supervisor1", opinion, "route", department=ward, handler=nurse))
    assert crm.client("pc.t.cardnurse").get(f"{API}/opinion/{opinion['id']}").status_code == 404
    assert crm.client("pc.t.headnurse").get(f"{API}/opinion/{opinion['id']}").status_code == 200


def test_pc03_important_opinions_list_shows_open_important_and_critical(crm: Crm) -> None:
    important = _opinion(crm, "出院结算排队两小时", grade="important", category="billing")
    critical = _opinion(crm, "术后换药不及时导致伤口渗液", grade="critical", category="medical")
    normal = _opinion(crm, "饭菜偏咸", grade="normal", category="catering")
    director = crm.client("pc.director")
    listed = ok(
        director.get(f"{API}/opinion", params={"grade__in": "important,critical", "status__ne": "closed", "limit": 200})
    )
    contents = {o["content"] for o in listed["items"]}
    assert {important["content"], critical["content"]} <= contents and normal["content"] not in contents
    page = director.get("/v/opinion_important")
    assert page.status_code == 200
    assert important["content"] in page.text and critical["content"] in page.text
    assert normal["content"] not in page.text
    view = crm.app.registry.view("opinion_important")
    assert {(f["field"], f["op"]) for f in view.opt("filters")} == {("grade", "in"), ("status", "ne")}


def test_pc03_praise_list_by_department_and_staff(crm: Crm) -> None:
    ward, _ = _ward(crm)
    officer = crm.client("pc.officer1")
    for staff, content in (("李护士", "护理细心"), ("李护士", "耐心讲解"), ("王医生", "手术很成功")):
        ok(
            officer.post(
                f"{API}/praise",
                json={"department": ward, "praised_staff": staff, "content": content, "ward": "orthopedics"},
            ),
            201,
        )
    future = officer.post(f"{API}/praise", json={"praised_staff": "张医生", "praised_on": "2026-12-30"})
    assert "praised_on" in field_errors(future)
    mine = ok(officer.get(f"{API}/praise", params={"department": ward, "praised_staff": "李护士"}))
    assert len(mine["items"]) == 2
    page = crm.client("pc.supervisor1").get("/v/praise_list", params={"department": ward})
    assert page.status_code == 200 and "李护士" in page.text and "王医生" in page.text


def test_pc03_opinion_needs_content_and_a_known_grade(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    errors = field_errors(officer.post(f"{API}/opinion", json={"category": "nursing", "grade": "urgent"}))
    assert {"content", "grade"} <= set(errors)
