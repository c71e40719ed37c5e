"""PC-17: `tessera his simulate` writes a realistic ADT stream the parser accepts, and the same generator
streamed over a real MLLP socket is applied end to end (every message AA), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import hl7

from runtime.his.mllp import MllpThread
from runtime.his.simulate import AdtSimulator, id_check_digit, send_mllp, split_messages
from runtime.services import Tessera
from tests.support.his import find, his_app, log_rows, msa

REPO = Path(__file__).parent.parent


def test_pc17_simulate_out_file_parses(tmp_path: Path) -> None:
    out = tmp_path / "adt.hl7"
    tessera = Path(sys.executable).parent / "tessera"
    done = subprocess.run(
        [str(tessera), "his", "simulate", "--count", "60", "--seed", "7", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    messages = split_messages(out.read_text("utf-8"))
    assert len(messages) == 60
    assert messages == list(AdtSimulator(seed=7).messages(60))  # seeded: the same stream every time
    events = set()
    for text in messages:
        parsed = hl7.parse(text)
        events.add(str(parsed.segment("MSH")[9][0][1]))
        id_number = str(parsed.segment("PID")[19])
        assert len(id_number) == 18 and id_number[17] == id_check_digit(id_number[:17])
        assert id_number[6:14] == str(parsed.segment("PID")[7])  # birth date agrees with PID-7
        assert int(id_number[16]) % 2 == (1 if str(parsed.segment("PID")[8]) == "M" else 0)
    assert {"A01", "A03", "A08"} <= events


def test_pc17_simulated_stream_over_mllp(make_tessera: Callable[..., Tessera]) -> None:
    app, _, _ = his_app(make_tessera)
    listener = MllpThread(app, "127.0.0.1", 0).start()
    try:
        sim = AdtSimulator(seed=11)
        acks = send_mllp(sim.messages(80), "127.0.0.1", listener.port)
    finally:
        listener.stop()
    assert [msa(a)[0] for a in acks] == ["AA"] * 80, [msa(a) for a in acks if msa(a)[0] != "AA"]
    rows = log_rows(app)
    assert len(rows) == 80 and {r["outcome"] for r in rows} <= {"applied", "stale"}
    merged = sum(1 for r in rows if r["message_type"].startswith("ADT^A40"))
    stays = find(app, "admission")
    admitted = sum(1 for r in rows if r["message_type"].startswith("ADT^A01"))
    assert len(stays) == admitted
    assert sum(1 for s in stays if s["status"] == "discharged") == sum(
        1 for r in rows if r["message_type"].startswith("ADT^A03")
    )
    live = [p for p in find(app, "patient") if p["merged_into"] is None]
    assert len(live) == len(sim.patients) and len(find(app, "patient")) == len(sim.patients) + merged


def test_pc17_patient_crm_mapping_takes_a_simulated_stream(make_tessera: Callable[..., Tessera]) -> None:
    """The shipped patient CRM pack and its his/adt.json: a simulated stream over MLLP is applied in full."""
    app = make_tessera(str(REPO / "blueprints" / "patient_crm"))
    listener = MllpThread(app, "127.0.0.1", 0).start()
    try:
        sim = AdtSimulator(seed=5)
        acks = send_mllp(sim.messages(60), "127.0.0.1", listener.port)
    finally:
        listener.stop()
    assert [msa(a)[0] for a in acks] == ["AA"] * 60, [msa(a) for a in acks if msa(a)[0] != "AA"]
    stays = find(app, "admission")
    assert stays and {s["ward"] for s in stays} <= {
        "cardiology",
        "respiratory",
        "gastroenterology",
        "neurology",
        "endocrinology",
        "nephrology",
        "general_surgery",
        "orthopedics",
        "neurosurgery",
        "urology",
        "obgyn",
        "oncology",
    }
    assert all(s["disease"] for s in stays)
    for patient in find(app, "patient"):
        if patient["merged_into"] is None:
            assert patient["his_patient_id"].startswith("MRN05") and len(patient["id_number"]) == 18
            latest = max((s for s in stays if s["patient"] == patient["id"]), key=lambda s: s["admitted_at"])
            assert (patient["ward"], patient["admitted_at"]) == (latest["ward"], latest["admitted_at"])
