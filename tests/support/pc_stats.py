"""Helpers of the patient CRM statistics tests (PC-04..PC-07, PC-14): a small known data set made through the
API by the demo officers, and report results read over HTTP keyed by their dimension values.

A report row is identified by the dimension value in its drill-down link (``...&ward=cardiology``), so a test
checks the numbers of a ward or channel without depending on option labels, and proves the drill-down
points at the records behind the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.support.patient_crm import ADMIN, Crm, ok

API = "/api/v1/records"
TOTAL = "__total__"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def patient(crm: Crm, name: str, ward: str, **extra: Any) -> dict[str, Any]:
    """A patient in the officer's care (pc.officer1, team 1)."""
    values = {
        "name": name,
        "gender": "female",
        "ward": ward,
        "responsible_staff": crm.uid("pc.officer1"),
        "department": crm.department("DEV-MKT-1"),
        **extra,
    }
    return crm.create("patient", values)


def call(
    crm: Crm,
    who: dict[str, Any],
    ward: str,
    due: datetime,
    *,
    kind: str = "discharge_call",
    done: datetime | None = None,
    satisfaction: str | None = None,
    officer: str = "pc.officer1",
    **outcome: Any,
) -> dict[str, Any]:
    """A follow-up task entered by the officer over the API and, when `done` is given, completed with its
    outcome. The completion is written through the records service as the platform: the officer role's
    field rights do not include `status`, so its complete actions are refused (reported to the pack's owner)."""
    client = crm.client(officer)
    channel = "bedside" if kind == "admission_visit" else outcome.pop("channel", "phone")
    body = {
        "title": f"{who['name']} {kind} {iso(due)}",
        "patient": who["id"],
        "ward": ward,
        "type": kind,
        "channel": channel,
        "due_at": iso(due),
        "staff": crm.uid(officer),
    }
    record = ok(client.post(f"{API}/followup_call", json=body), 201)
    if done is None:
        return record
    data = {"status": "done", "done_at": iso(done), "satisfaction": satisfaction, "result": satisfaction, **outcome}
    if satisfaction == "unsatisfied":
        data.setdefault("opinion", "等候时间太长。")
        data.setdefault("opinion_category", "service")
    return crm.app.records.update("followup_call", record["id"], data, ADMIN, expected_version=None)


def run(client: httpx.Client, report: str, **params: str) -> dict[str, Any]:
    return ok(client.get(f"/api/v1/reports/{report}", params=params))


def rows_by(result: dict[str, Any], dimension: str, with_period: bool = False) -> dict[Any, dict[str, Any]]:
    """Body rows keyed by the dimension value of their drill-down (and the period start with `with_period`),
    the grand total under TOTAL; values are the numbers of the row."""
    out: dict[Any, dict[str, Any]] = {}
    for row in result["rows"]:
        if row["level"] == "total":
            out[TOTAL] = row["values"]
            continue
        if row["level"] != "row":
            continue
        query = parse_qs(urlparse(row["records"]).query) if row["records"] else {}
        value = (query.get(dimension) or [None])[0]
        if value is None and query.get(f"{dimension}__in"):  # a tree rolled up: the node, then its children
            value = query[f"{dimension}__in"][0].split(",")[0]
        if with_period:
            start = (query.get(f"{result_date_field(query)}__gte") or [None])[0]
            out[(value, start[:7] if start else None)] = row["values"]
        else:
            out[value] = row["values"]
    return out


def result_date_field(query: dict[str, list[str]]) -> str:
    return next(k[: -len("__gte")] for k in query if k.endswith("__gte"))
