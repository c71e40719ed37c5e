"""PC-07: appointments from web, phone, SMS and email; arrival tracking and the arrival rate by channel, ward
and month (report pc_appointment_arrival).

Arrival rate = arrived / (arrived + no-show): cancelled bookings and bookings nobody has marked yet do not
count. The shipped pack on SQLite and PostgreSQL behind a live server; the officer books over the API and
marks arrivals and no-shows with the appointment's actions; the analyst reads the report over HTTP.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.patient_crm import Crm, crm_fixture, ok
from tests.support.pc_stats import API, TOTAL, iso, patient, rows_by, run

crm = crm_fixture()
OCT = datetime(2026, 10, 14, 9, 0)
RANGE = {"from": "2026-10-01", "to": "2026-10-31"}
BOOKINGS = [  # channel, ward, outcome (None: still booked)
    *[("web", "cardiology", "arrive")] * 4,
    ("web", "cardiology", "no_show"),
    ("web", "cardiology", "cancel"),
    ("web", "cardiology", None),
    *[("phone", "orthopedics", "arrive")] * 3,
    ("sms", "orthopedics", "arrive"),
    ("sms", "orthopedics", "no_show"),
    ("email", "orthopedics", "no_show"),
    ("email", "orthopedics", "no_show"),
]


@pytest.fixture(scope="module")
def bookings(crm: Crm) -> None:
    officer = crm.client("pc.officer1")
    who = patient(crm, "预约患者", "orthopedics")

    def book(channel: str, ward: str, outcome: str | None, when: datetime) -> None:
        body = {
            "patient": who["id"],
            "channel": channel,
            "ward": ward,
            "booked_at": iso(when - timedelta(days=3)),
            "scheduled_at": iso(when),
            "staff": crm.uid("pc.officer1"),
        }
        made = ok(officer.post(f"{API}/appointment", json=body), 201)
        assert made["status"] == "booked"
        if outcome:
            ok(officer.post(f"{API}/appointment/{made['id']}/actions/{outcome}", json={"input": {}}))

    for i, (channel, ward, outcome) in enumerate(BOOKINGS):
        book(channel, ward, outcome, OCT + timedelta(days=i % 10, hours=i % 5))
    book("phone", "orthopedics", "arrive", datetime(2026, 9, 8, 10, 0))


def test_pc07_arrival_rate_by_channel(crm: Crm, bookings: None) -> None:
    rows = rows_by(run(crm.client("pc.analyst"), "pc_appointment_arrival", **RANGE), "channel")
    expected = {"web": (7, 4, 1, 80.0), "phone": (3, 3, 0, 100.0), "sms": (2, 1, 1, 50.0), "email": (2, 0, 2, 0.0)}
    for channel, numbers in expected.items():
        row = rows[channel]
        assert (row["appointments"], row["arrived"], row["no_show"], row["arrival_rate"]) == numbers, channel
    total = rows[TOTAL]
    assert (total["appointments"], total["arrived"], total["no_show"], total["arrival_rate"]) == (14, 8, 4, 66.7)
    assert "settled" not in total, "the denominator is a hidden measure"


def test_pc07_arrival_rate_by_ward_and_month(crm: Crm, bookings: None) -> None:
    analyst = crm.client("pc.analyst")
    ward = rows_by(run(analyst, "pc_appointment_arrival", ward="cardiology", **RANGE), "channel")
    assert set(ward) == {"web", TOTAL} and ward[TOTAL]["arrival_rate"] == 80.0
    months = run(analyst, "pc_appointment_arrival", grain="month", **{"from": "2026-09-01", "to": "2026-10-31"})
    phone = rows_by(months, "channel", with_period=True)
    assert phone[("phone", "2026-09")]["arrived"] == 1 and phone[("phone", "2026-09")]["arrival_rate"] == 100.0
    assert phone[("phone", "2026-10")]["arrived"] == 3
    assert phone[("web", "2026-09")]["arrival_rate"] is None, "no settled bookings: no rate"


def test_pc07_no_show_before_the_visit_time_is_refused(crm: Crm, bookings: None) -> None:
    officer = crm.client("pc.officer1")
    who = patient(crm, "未来预约患者", "cardiology")
    body = {
        "patient": who["id"],
        "channel": "phone",
        "ward": "cardiology",
        "scheduled_at": "2026-12-01T09:00:00",
        "staff": crm.uid("pc.officer1"),
    }
    made = ok(officer.post(f"{API}/appointment", json=body), 201)
    r = officer.post(f"{API}/appointment/{made['id']}/actions/no_show", json={"input": {}})
    assert r.status_code in (409, 422) and "就诊时间未到" in r.text
