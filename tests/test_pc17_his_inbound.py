"""PC-17 / PL-17: HIS inbound HL7 v2 ADT over a real MLLP socket and over HTTP, on SQLite and PostgreSQL:
admit, update, discharge, merge; replays change nothing; an older update never overwrites newer data;
a bad message gets AE/AR naming the segment-field and the next message on the same connection is applied."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from runtime.api import create_app
from runtime.his.mllp import MllpThread
from runtime.services import Tessera
from tests.support.his import adt, err, find, his_app, log_rows, msa
from tests.support.server import live_server

END = b"\x1c\x0d"


@pytest.fixture
def his(make_tessera: Callable[..., Tessera]) -> tuple[Tessera, str, str]:
    return his_app(make_tessera)


@pytest.fixture
def mllp(his: tuple[Tessera, str, str]) -> Iterator[socket.socket]:
    listener = MllpThread(his[0], "127.0.0.1", 0).start()
    sock = socket.create_connection(("127.0.0.1", listener.port), timeout=30)
    try:
        yield sock
    finally:
        sock.close()
        listener.stop()


def exchange(sock: socket.socket, payload: bytes | str) -> str:
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    sock.sendall(b"\x0b" + data + END)
    buffer = b""
    while END not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "the listener closed the connection"
        buffer += chunk
    assert buffer.startswith(b"\x0b")
    return buffer[1 : buffer.index(END)].decode("utf-8")


def test_pc17_mllp_admit_update_discharge_merge(his: tuple[Tessera, str, str], mllp: socket.socket) -> None:
    app = his[0]
    assert msa(exchange(mllp, adt("A01", "M1", "MRN100", visit="V100", ward="W08", bed="07"))) == ["AA", "M1", ""]
    [patient] = find(app, "patient", his_patient_id="MRN100")
    [stay] = find(app, "admission", visit_no="V100")
    assert (patient["name"], patient["gender"], patient["birth_date"]) == ("张三", "male", "1985-03-12")
    assert (stay["patient"], stay["ward"], stay["bed"], stay["status"]) == (
        patient["id"],
        "orthopedics",
        "07",
        "admitted",
    )
    assert stay["admitted_at"] == "2026-11-23T00:00:00"  # 08:00 in Shanghai, stored as UTC
    assert (patient["ward"], patient["bed"], patient["admitted_at"]) == ("orthopedics", "07", stay["admitted_at"])

    ack = exchange(
        mllp, adt("A08", "M2", "MRN100", when="20261123100000", phone="13911112222", visit="V100", ward="W08", bed="09")
    )
    assert msa(ack)[0] == "AA"
    [patient] = find(app, "patient", his_patient_id="MRN100")
    assert (patient["phone"], patient["bed"], patient["his_updated_at"]) == ("13911112222", "09", "2026-11-23T02:00:00")

    ack = exchange(
        mllp,
        adt(
            "A03",
            "M3",
            "MRN100",
            when="20261126090000",
            visit="V100",
            ward="W08",
            bed="09",
            discharged="20261126090000",
            phone="13911112222",
        ),
    )
    assert msa(ack)[0] == "AA"
    [stay] = find(app, "admission", visit_no="V100")
    [patient] = find(app, "patient", his_patient_id="MRN100")
    assert (stay["status"], stay["discharged_at"]) == ("discharged", "2026-11-26T01:00:00")
    assert patient["discharged_at"] == "2026-11-26T01:00:00"

    # a duplicate registration with its own stay and a visit, then merged into MRN100
    assert (
        msa(
            exchange(
                mllp,
                adt(
                    "A01",
                    "M4",
                    "MRN200",
                    name=("张", "叁"),
                    visit="V200",
                    when="20261126100000",
                    admitted="20261126100000",
                ),
            )
        )[0]
        == "AA"
    )
    [dup] = find(app, "patient", his_patient_id="MRN200")
    from tests.support.his import ADMIN

    app.records.create("visit", {"title": "入院回访", "patient": dup["id"]}, ADMIN)
    ack = exchange(mllp, adt("A40", "M5", "MRN100", when="20261126110000", merge_from="MRN200"))
    assert msa(ack) == ["AA", "M5", ""]
    [dup] = find(app, "patient", his_patient_id="MRN200")
    assert (dup["merged_into"], dup["record_status"]) == (patient["id"], "merged")
    assert {s["visit_no"] for s in find(app, "admission", patient=patient["id"])} == {"V100", "V200"}
    assert [v["patient"] for v in find(app, "visit")] == [patient["id"]]
    # replaying the merge changes nothing and answers the same ACK
    versions = {r["id"]: r["version"] for r in find(app, "patient")}
    assert exchange(mllp, adt("A40", "M5", "MRN100", when="20261126110000", merge_from="MRN200")) == ack
    assert {r["id"]: r["version"] for r in find(app, "patient")} == versions
    # later news about the merged-away id lands on the surviving record
    assert (
        msa(exchange(mllp, adt("A08", "M6", "MRN200", when="20261126120000", phone="13700000000", visit=None)))[0]
        == "AA"
    )
    [patient] = find(app, "patient", his_patient_id="MRN100")
    assert patient["phone"] == "13700000000"


def test_pc17_replay_changes_nothing_and_older_update_is_stale(
    his: tuple[Tessera, str, str], mllp: socket.socket
) -> None:
    app = his[0]
    first = exchange(mllp, adt("A01", "R1", "MRN300", visit="V300"))
    newer = adt("A08", "R2", "MRN300", when="20261123120000", phone="13922223333", visit="V300", bed="20")
    assert msa(exchange(mllp, newer))[0] == "AA"
    [before] = find(app, "patient", his_patient_id="MRN300")
    [stay_before] = find(app, "admission", visit_no="V300")
    audit_before = _audit_count(app)

    assert exchange(mllp, adt("A01", "R1", "MRN300", visit="V300")) == first  # replay: the same ACK
    assert exchange(mllp, newer).split("\r")[1] == "MSA|AA|R2|"
    older = adt("A08", "R0", "MRN300", when="20261123090000", phone="13000000000", visit="V300", bed="01")
    assert msa(exchange(mllp, older)) == ["AA", "R0", ""]  # accepted, but it must not overwrite newer data

    [after] = find(app, "patient", his_patient_id="MRN300")
    [stay_after] = find(app, "admission", visit_no="V300")
    assert after == before and stay_after == stay_before
    assert _audit_count(app) == audit_before
    outcomes = [(r["control_id"], r["outcome"]) for r in log_rows(app)]
    assert outcomes == [("R1", "applied"), ("R2", "applied"), ("R1", "duplicate"), ("R2", "duplicate"), ("R0", "stale")]
    # news that repeats the stored data still moves the HIS time on, so older news cannot win afterwards
    same = adt("A08", "R3", "MRN300", when="20261123130000", phone="13922223333", visit="V300", bed="20")
    assert msa(exchange(mllp, same))[0] == "AA"
    between = adt("A08", "R4", "MRN300", when="20261123123000", phone="13011110000", visit="V300", bed="20")
    assert msa(exchange(mllp, between))[0] == "AA"
    [latest] = find(app, "patient", his_patient_id="MRN300")
    assert (latest["phone"], latest["his_updated_at"]) == ("13922223333", "2026-11-23T05:00:00")
    assert log_rows(app)[-1]["outcome"] == "stale"


def _audit_count(app: Tessera) -> int:
    import sqlalchemy as sa

    from runtime.storage import platform_tables as pt

    with app.db.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(pt.audit)).scalar_one()


def test_pc17_bad_messages_get_nak_and_the_stream_goes_on(his: tuple[Tessera, str, str], mllp: socket.socket) -> None:
    app = his[0]
    ack = exchange(mllp, adt("A01", "B1", "MRN400", birth="19851340"))
    assert msa(ack) == ["AE", "B1", "PID-7: '19851340' is not a date"]
    assert "PID^1^7" in err(ack) and "102^Data type error" in err(ack)
    assert msa(exchange(mllp, adt("A01", "B2", "MRN400", pid3="")))[:2] == ["AE", "B2"]
    assert "PID-3" in msa(exchange(mllp, adt("A01", "B2b", "MRN400", pid3="")))[2]
    unknown = exchange(mllp, adt("A99", "B3", "MRN400"))
    assert msa(unknown)[:2] == ["AR", "B3"] and "MSH-9.2" in msa(unknown)[2]
    garbage = exchange(mllp, b"\xff\xfe\x00 not hl7 at all")
    assert msa(garbage)[0] == "AR" and "MSH" in msa(garbage)[2]
    bad_ward = exchange(mllp, adt("A01", "B4", "MRN400", ward="W99"))
    assert msa(bad_ward)[0] == "AE" and msa(bad_ward)[2].startswith("PV1-3.1: 'W99' is not a known code")
    nameless = exchange(mllp, adt("A01", "B4b", "MRN400", name=("", "")))
    assert msa(nameless)[0] == "AE" and msa(nameless)[2].startswith("PID-5 (name): ")  # a required field, by path
    assert find(app, "patient", his_patient_id="MRN400") == []  # all or nothing: no half-written patient
    # the same connection still works
    assert msa(exchange(mllp, adt("A01", "B5", "MRN400")))[0] == "AA"
    assert len(find(app, "patient", his_patient_id="MRN400")) == 1
    outcomes = [r["outcome"] for r in log_rows(app)]
    assert outcomes == ["rejected"] * 7 + ["applied"]
    assert all(r["raw"] for r in log_rows(app))


@pytest.fixture
def site(his: tuple[Tessera, str, str]) -> Iterator[str]:
    with live_server(create_app(his[0], extensions=[])) as url:
        yield url


def test_pc17_http_hl7_with_his_token(his: tuple[Tessera, str, str], site: str) -> None:
    app, token, clerk = his
    with httpx.Client(base_url=site, timeout=30) as client:
        url = "/api/v1/his/hl7"
        assert client.post(url, content=adt("A01", "H1", "MRN500")).status_code == 401
        denied = client.post(url, content=adt("A01", "H1", "MRN500"), headers={"Authorization": f"Bearer {clerk}"})
        assert denied.status_code == 403 and "'his' right" in denied.json()["error"]["message"]
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
        ok = client.post(url, content=adt("A01", "H1", "MRN500").replace("\r", "\n"), headers=auth)
        assert ok.status_code == 200 and msa(ok.text) == ["AA", "H1", ""]
        again = client.post(url, content=adt("A01", "H1", "MRN500"), headers=auth)
        assert again.status_code == 200 and again.text == ok.text
        bad = client.post(url, content=adt("A08", "H2", "MRN500", birth="19850231"), headers=auth)
        assert bad.status_code == 422 and msa(bad.text)[:2] == ["AE", "H2"] and "PID-7" in msa(bad.text)[2]
        rejected = client.post(url, content=b"hello", headers=auth)
        assert rejected.status_code == 400 and msa(rejected.text)[0] == "AR"
        # the log is for administrators only, with the raw message
        assert client.get("/api/v1/his/messages", headers={"Authorization": f"Bearer {token}"}).status_code == 403
        login = client.post("/api/v1/auth/login", json={"username": "admin", "password": "Adm1n-pass-for-tests"})
        assert login.status_code == 200
        page = client.get("/api/v1/his/messages", params={"outcome": "rejected"}).json()
        assert [m["control_id"] for m in page["items"]] == [None, "H2"]
        detail = client.get(f"/api/v1/his/messages/{page['items'][1]['id']}").json()
        assert "19850231" in detail["raw"] and detail["error"].startswith("PID-7")
        assert client.get("/api/v1/his/messages", params={"outcome": "nope"}).status_code == 400
    assert len(find(app, "patient", his_patient_id="MRN500")) == 1


def test_pc17_concurrent_connections_are_serialized_per_patient(his: tuple[Tessera, str, str]) -> None:
    """Two MLLP connections race updates of one new patient: one record, no unique-key error, newest data wins."""
    import threading

    app = his[0]
    listener = MllpThread(app, "127.0.0.1", 0).start()
    results: dict[int, list[str]] = {}

    def feed(lane: int) -> None:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=60) as sock:
            acks = []
            for i in range(8):
                minute = 2 * i + lane  # lanes interleave in event time: 00, 01, 02, ...
                message = adt(
                    "A08",
                    f"C{lane}-{i}",
                    "MRN900",
                    when=f"2026112310{minute:02d}00",
                    phone=f"1390000{minute:04d}",
                    visit="V900",
                )
                acks.append(exchange(sock, message))
            results[lane] = acks

    try:
        threads = [threading.Thread(target=feed, args=(lane,)) for lane in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        listener.stop()
    codes = [msa(a)[0] for lane in (0, 1) for a in results[lane]]
    assert codes == ["AA"] * 16, [msa(a) for lane in (0, 1) for a in results[lane]]
    [patient] = find(app, "patient", his_patient_id="MRN900")
    assert patient["phone"] == "13900000015" and patient["his_updated_at"] == "2026-11-23T02:15:00"
    assert len(find(app, "admission", visit_no="V900")) == 1
    assert {r["outcome"] for r in log_rows(app)} <= {"applied", "stale"}
