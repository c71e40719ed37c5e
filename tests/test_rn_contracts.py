"""RN-10 contracts (合同管理): a liaison drafts a contract with a partner hospital and signs it through the shared
contract-signing workflow (legal review from the legal pool, the team manager's review, our signature, the
partner's countersignature); 30 and 7 days before the end date the liaison and the managers are reminded; the
night after the end the contract is marked expired; the liaison renews it into the next contract.

Real HTTP, real users for every workflow role, the app clock moved forward; both databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from runtime.clock import FixedClock
from runtime.services import Tessera
from tests.support.rn_site import RnSite, rn_site


@pytest.fixture
def site(make_tessera: Callable[..., Tessera]) -> Iterator[RnSite]:
    yield from rn_site(make_tessera)


def test_rn10_contract_signed_through_workflow_then_reminded_before_expiry_and_renewed(
    site: RnSite, clock: FixedClock
) -> None:
    hospital = site.hospital("澜州市人民医院", status="formal")
    li, mgr = site("li"), site("mgr")
    contract = site.ok(
        li.post(
            "/api/v1/records/contract",
            json={"title": "澜州市人民医院医联体合作协议", "hospital": hospital, "contract_type": "alliance",
                  "start_date": "2026-01-11", "end_date": "2027-01-10", "liaison": site.users["li"]},
        ),
        201,
    )  # fmt: skip
    cid = contract["id"]
    assert contract["status"] == "draft" and contract["contract_no"].startswith("HT-2026-")
    refused = li.patch(f"/api/v1/records/contract/{cid}", json={"status": "active", "version": contract["version"]})
    assert refused.status_code == 422 and refused.json()["error"]["errors"][0]["code"] == "state_via_action"

    # the record page offers the signing process; the liaison starts it from there
    card = li.get(f"/r/contract/{cid}/workflows")
    assert card.status_code == 200 and 'id="start-contract_signing"' in card.text
    started = site.ok(
        li.post("/api/v1/workflows/contract_signing/start", json={"record": {"entity": "contract", "id": cid}}), 201
    )
    [draft] = site.inbox("li")
    assert draft["form_id"] == "contract_draft"
    draft_data = {"title": "澜州市人民医院医联体合作协议（2026版）", "contract_type": "alliance",
                  "start_date": "2026-01-11", "end_date": "2027-01-10", "amount": 120000, "partner_signatory": "王建国",
                  "terms": "双向转诊绿色通道；远程会诊；每年接收进修医生 6 名。"}  # fmt: skip
    site.ok(li.post(f"/api/v1/tasks/{draft['id']}/complete", json={"data": draft_data}))

    # legal review: a pool of the legal role; the lawyer claims it and approves with an opinion
    [review] = site.inbox("legal")
    assert review["pool"] is True and site.inbox("mgr") == []
    site.ok(site("legal").post(f"/api/v1/tasks/{review['id']}/claim"))
    site.ok(
        site("legal").post(
            f"/api/v1/tasks/{review['id']}/complete",
            json={"outcome": "approve", "data": {"review_opinion": "条款合规，同意签署。"}},
        )
    )
    # the requester's manager (role manager in the liaison's team) reviews next
    [manager_review] = site.inbox("mgr")
    site.ok(mgr.post(f"/api/v1/tasks/{manager_review['id']}/complete", json={"outcome": "approve", "comment": "同意"}))
    [sign] = site.inbox("li")
    assert sign["form_id"] == "contract_sign"
    site.ok(li.post(f"/api/v1/tasks/{sign['id']}/complete", json={"data": {"signed_date": "2026-11-23"}}))
    site.app.jobs.run_pending()  # rules run as background jobs (tessera serve runs them in-process)
    signed = site.ok(li.get(f"/api/v1/records/contract/{cid}"))
    assert signed["status"] == "signing" and signed["amount"] in (120000, "120000.00", 120000.0)
    assert signed["review_opinion"] == "条款合规，同意签署。" and signed["title"].endswith("（2026版）")

    # the partner countersigns: the process marks the contract active and tells the liaison
    countersigned = li.post(
        "/api/v1/workflows/messages", json={"name": "contract_countersigned", "correlation_key": f"contract:{cid}"}
    )
    assert countersigned.status_code == 200, countersigned.text
    assert site.ok(li.get(f"/api/v1/records/contract/{cid}"))["status"] == "active"
    assert site.ok(li.get(f"/api/v1/workflows/instances/{started['id']}"))["status"] == "completed"
    assert any(n["title"] == "Contract active" for n in site.notifications("li"))

    # expiry reminders: 30 days and 7 days before 2027-01-10, to the liaison and the outreach managers
    site.app.jobs.run_pending()
    assert not _titled(site.notifications("li"), "到期")
    clock.set(datetime(2026, 12, 11, 1, 0))
    site.app.jobs.run_pending()
    assert _titled(site.notifications("li"), "2027-01-10 到期（30天）")
    assert _titled(site.notifications("mgr"), "2027-01-10 到期（30天）")
    assert not _titled(site.notifications("li2"), "到期")  # another liaison's contract is not theirs to renew
    clock.set(datetime(2027, 1, 3, 1, 0))
    site.app.jobs.run_pending()
    assert _titled(site.notifications("li"), "7天后到期")
    site.app.jobs.run_pending()
    assert len(_titled(site.notifications("li"), "到期")) == 2  # once each, never repeated

    # the night after the end date the scheduled rule marks it expired
    clock.set(datetime(2027, 1, 10, 1, 0))
    site.app.jobs.run_pending()
    assert site.ok(li.get(f"/api/v1/records/contract/{cid}"))["status"] == "active"
    clock.set(datetime(2027, 1, 11, 1, 0))
    site.app.jobs.run_pending()
    expired = site.ok(li.get(f"/api/v1/records/contract/{cid}"))
    assert expired["status"] == "expired"
    assert _titled(site.notifications("li"), "已到期")

    # renewal: the liaison renews; the old contract is renewed, the next one starts the day after, same length
    actions = {a["id"]: a for a in site.ok(li.get(f"/api/v1/records/contract/{cid}/actions"))["actions"]}
    assert actions["renew"]["enabled"] is True and "terminate" not in actions  # only active contracts terminate
    site.ok(li.post(f"/api/v1/records/contract/{cid}/actions/renew", json={"version": expired["version"]}))
    assert site.ok(li.get(f"/api/v1/records/contract/{cid}"))["status"] == "renewed"
    [renewal] = site.ok(li.get("/api/v1/records/contract", params={"previous_contract": cid}))["items"]
    assert renewal["status"] == "draft" and renewal["hospital"] == hospital and renewal["liaison"] == site.users["li"]
    assert (renewal["start_date"], renewal["end_date"]) == ("2027-01-11", "2028-01-10")
    assert renewal["contract_no"] != expired["contract_no"] and renewal["title"] == expired["title"]
    again = li.post(f"/api/v1/records/contract/{cid}/actions/renew", json={})
    assert again.status_code == 409  # a renewed contract is not renewed twice
    # the next contract is signed through the same process, started from its own page
    assert 'id="start-contract_signing"' in li.get(f"/r/contract/{renewal['id']}/workflows").text


def test_rn10_contract_input_errors_are_specific(site: RnSite) -> None:
    hospital = site.hospital("云溪县人民医院")
    li = site("li")
    bad = li.post(
        "/api/v1/records/contract",
        json={"title": "x", "hospital": hospital, "start_date": "2026-05-01", "end_date": "2026-04-01"},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["errors"][0]["field"] == "end_date"
    early = li.post(
        "/api/v1/records/contract",
        json={"title": "x", "hospital": hospital, "start_date": "2026-05-01", "end_date": "2027-04-30",
              "status": "active"},
    )  # fmt: skip
    assert early.status_code == 422 and early.json()["error"]["errors"][0]["field"] == "status"
    assert li.post("/api/v1/workflows/contract_countersign/start", json={}).status_code == 404


def _titled(items: list[dict], text: str) -> list[dict]:
    return [n for n in items if text in (n.get("title") or "")]
