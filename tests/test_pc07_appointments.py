"""PC-07: appointments (预约) booked from the web, by phone, SMS or email; reminded, then arrived, no-show or
cancelled through the appointment actions (到院/爽约/取消); the arrival rate follows from the statuses.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.patient_crm import ADMIN, Crm, crm_fixture, field_errors, ok

crm = crm_fixture()
API = "/api/v1/records"


@pytest.fixture(scope="module")
def patient(crm: Crm) -> dict[str, Any]:
    return crm.create(
        "patient",
        {
            "name": "预约患者",
            "gender": "male",
            "responsible_staff": crm.uid("pc.officer1"),
            "department": crm.department("DEV-MKT-1"),
        },
    )


def _book(crm: Crm, patient: dict[str, Any], channel: str, when: str, **extra: Any) -> dict[str, Any]:
    body = {
        "patient": patient["id"],
        "channel": channel,
        "ward": "cardiology",
        "doctor": "陈志明",
        "scheduled_at": when,
        "staff": crm.uid("pc.officer1"),
        **extra,
    }
    return ok(crm.client("pc.officer1").post(f"{API}/appointment", json=body), 201)


def _act(crm: Crm, username: str, record: dict[str, Any], action: str) -> Any:
    return crm.client(username).post(
        f"{API}/appointment/{record['id']}/actions/{action}", json={"version": record["version"]}
    )


def test_pc07_booking_from_each_channel(crm: Crm, patient: dict[str, Any]) -> None:
    for n, channel in enumerate(("web", "phone", "sms", "email")):
        made = _book(crm, patient, channel, f"2026-11-2{5 + n % 3}T09:00:00")
        assert made["channel"] == channel and made["status"] == "booked" and made["booked_at"].startswith("2026-11-23")
    assert "channel" in field_errors(
        crm.client("pc.officer1").post(
            f"{API}/appointment",
            json={"patient": patient["id"], "channel": "fax", "scheduled_at": "2026-11-30T09:00:00"},
        )
    )
    before = crm.client("pc.officer1").post(
        f"{API}/appointment",
        json={
            "patient": patient["id"],
            "channel": "web",
            "booked_at": "2026-11-23T09:00:00",
            "scheduled_at": "2026-11-22T09:00:00",
        },
    )
    assert "就诊时间必须晚于预约时间" in field_errors(before)["scheduled_at"]


def test_pc07_reminded_then_arrived_and_arrival_rate(crm: Crm, patient: dict[str, Any]) -> None:
    arrived = _book(crm, patient, "phone", "2026-11-24T08:00:00")
    reminded = ok(_act(crm, "pc.officer1", arrived, "remind"))
    assert reminded["status"] == "reminded" and reminded["reminded_at"]
    came = ok(_act(crm, "pc.officer1", reminded, "arrive"))
    assert came["status"] == "arrived" and came["arrived_at"]
    # no-show only once the time has passed
    future = _book(crm, patient, "web", "2026-11-28T08:00:00")
    refused = _act(crm, "pc.officer1", future, "no_show")
    assert refused.status_code in (403, 409, 422) and "就诊时间未到" in refused.text
    past = crm.create(
        "appointment",
        {
            "patient": patient["id"],
            "channel": "sms",
            "booked_at": "2026-11-01T08:00:00",
            "scheduled_at": "2026-11-20T08:00:00",
            "staff": crm.uid("pc.officer1"),
        },
    )
    missed = ok(_act(crm, "pc.officer1", past, "no_show"))
    assert missed["status"] == "no_show"
    cancelled = ok(_act(crm, "pc.officer1", future, "cancel"))
    assert cancelled["status"] == "cancelled"
    assert _act(crm, "pc.officer1", cancelled, "arrive").status_code in (409, 422)
    mine = ok(crm.client("pc.officer1").get(f"{API}/appointment", params={"patient": patient["id"], "limit": 200}))[
        "items"
    ]
    done = [a for a in mine if a["status"] in ("arrived", "no_show")]
    assert len(done) == 2 and sum(a["status"] == "arrived" for a in done) / len(done) == 0.5
    report = crm.client("pc.manager").get("/api/v1/reports/pc_appointment_arrival")
    assert report.status_code == 200, report.text


def test_pc07_calendar_and_upcoming_views_render(crm: Crm, patient: dict[str, Any]) -> None:
    _book(crm, patient, "email", "2026-11-26T14:30:00")
    officer = crm.client("pc.officer1")
    assert officer.get("/v/appointment_calendar", params={"month": "2026-11"}).status_code == 200
    upcoming = officer.get("/v/appointment_upcoming")
    assert upcoming.status_code == 200 and "预约患者" in upcoming.text


def test_pc07_an_appointment_is_shown_by_its_patients_name_not_its_id(crm: Crm, patient: dict[str, Any]) -> None:
    """An appointment is titled by its patient (a reference): every page shows the patient's name where a
    title goes, never the patient's record id."""
    made = _book(crm, patient, "phone", "2026-11-23T12:00:00")  # 20:00 in the hospital's time zone
    officer = crm.client("pc.officer1")
    detail = officer.get(f"/r/appointment/{made['id']}")
    assert detail.status_code == 200 and "<title>预约患者" in detail.text, detail.text[:400]
    home = officer.get("/dashboards/_home")  # the home page loads its dashboard, with today's schedule
    assert '<span class="fw-semibold text-body text-truncate">预约患者</span>' in home.text
    calendar = officer.get("/v/appointment_calendar", params={"month": "2026-11"})
    assert f'href="/r/appointment/{made["id"]}" title="预约患者">' in calendar.text
    assert crm.app.records.titles("appointment", [made["id"]], ADMIN) == {made["id"]: "预约患者"}, "for pickers"
    points = crm.create(
        "points_entry", {"patient": patient["id"], "reason": "referral", "points": 10, "occurred_on": "2026-11-20"}
    )
    assert "<title>推荐就医 · " in crm.client("pc.president").get(f"/r/points_entry/{points['id']}").text, (
        "a select title: its label"
    )
