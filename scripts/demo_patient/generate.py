"""Generate the patient CRM demo (blueprints/patient_crm/demo/*.json): about 5,000 patients over 18 months.

Run from the repository root: ``python scripts/demo_patient/generate.py``. Deterministic (seeded): the same
files every time. Every date is written relative to the day the demo loads ("@date:-N",
"@datetime:-N HH:MM", runtime/demo_dates.py), computed here against REF (the test clock's day), so the
dashboards always show the last 18 months; birth dates stay absolute (FIXED_DATES). Names, ID numbers and
phones are fictional (people.py).

The story (stays.py, extras.py): admissions with seasons across the 12 wards, bedside admission visits
within 24 hours and discharge calls at 72 hours (nearly all done, recent ones open, a few overdue or
escalated), satisfaction that differs by ward (~85% satisfied, ~5% unreachable), opinions from unsatisfied
calls (old ones closed, recent ones open), praise, surveys with NPS, appointments (~80% arrive), graded
referrers with their officers, points, a lifelong record for chronic patients, this year's and last year's
flu-vaccination campaign, and two MDT cases. Demo users cover every role; officers work in two teams.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import extras  # noqa: E402
from people import People  # noqa: E402
from stays import REF, WARD_ZH, StayMaker  # noqa: E402

PACK = Path(__file__).resolve().parents[2] / "blueprints" / "patient_crm"
DEMO = PACK / "demo"
BASE = Path(__file__).resolve().parent / "base.json"
SEED = 20261123
PATIENTS = 5000
READMIT = 0.12
REFERRERS = 60
APPOINTMENTS = 2600
HEALTH_PATIENTS = 120

DEPARTMENTS = [
    {"code": "HOSP", "name": "滨海市中心医院", "organisation": "滨海市中心医院"},
    {"code": "LEADERS", "name": "院领导", "parent": "HOSP"},
    {"code": "IT", "name": "信息中心", "parent": "HOSP"},
    {"code": "DEV", "name": "发展部", "parent": "HOSP"},
    {"code": "DEV-MKT", "name": "市场拓展部", "parent": "DEV"},
    {"code": "DEV-MKT-1", "name": "市场一组", "parent": "DEV-MKT"},
    {"code": "DEV-MKT-2", "name": "市场二组", "parent": "DEV-MKT"},
    {"code": "STAT", "name": "统计室", "parent": "HOSP"},
    {"code": "MED", "name": "医务部", "parent": "HOSP"},
    {"code": "NURSING", "name": "护理部", "parent": "HOSP"},
    {"code": "LOGISTICS", "name": "后勤保障部", "parent": "HOSP"},
    {"code": "SERVICE", "name": "客户服务中心", "parent": "HOSP"},
    {"code": "FINANCE", "name": "财务科", "parent": "HOSP"},
    *({"code": "WARD-" + ward.upper(), "name": name + "病区", "parent": "HOSP"} for ward, name in WARD_ZH.items()),
]
"""Opinions are routed like the pack's routing rule does (pc_opinion_route): logistics-like ones to
LOGISTICS, billing to FINANCE, the rest to the ward's department WARD-<WARD>."""
USERS = [
    ("pc.president", "孙志远", "LEADERS", ["president"], "院长"),
    ("pc.director", "吴海燕", "DEV", ["development_director"], "发展改革总监"),
    ("pc.manager", "郑凯", "DEV-MKT", ["development_manager"], "市场拓展部经理"),
    ("pc.supervisor1", "黄丽", "DEV-MKT-1", ["development_supervisor"], "市场一组主管"),
    ("pc.supervisor2", "高洋", "DEV-MKT-2", ["development_supervisor"], "市场二组主管"),
    ("pc.officer1", "林晓", "DEV-MKT-1", ["development_officer"], "转诊专员"),
    ("pc.officer2", "何芳", "DEV-MKT-1", ["development_officer"], "客服专员"),
    ("pc.officer3", "马超", "DEV-MKT-2", ["development_officer"], "转诊专员"),
    ("pc.officer4", "贺晓雯", "DEV-MKT-2", ["development_officer"], "客服专员"),
    ("pc.analyst", "许静", "STAT", ["data_analyst"], "统计分析员"),
    ("pc.doctor", "程立新", "WARD-ONCOLOGY", ["doctor"], "肿瘤科主任医师"),
    ("pc.nurse", "邱春梅", "WARD-NEUROLOGY", ["nurse"], "神经内科责任护士"),
    ("pc.head", "段振华", "WARD-NEUROLOGY", ["department_head"], "神经内科主任"),
    ("pc.mdt", "邵雪梅", "MED", ["mdt_coordinator"], "MDT 协调员"),
    ("it.admin", "周敏", "IT", ["administrator"], "信息中心工程师"),
]
FALLBACK_ROLE = "development_officer"


FIXED_DATES = frozenset({"birth_date"})
"""Dates that stay as they are: a birth date is a fact, not an event, and the patient's ID number carries it
(the entity checks that the two agree, so a birth date moved with the demo's day would refuse the record)."""


def relative(value: Any) -> Any:
    """Absolute dates and (hospital-local) datetimes as offsets from REF; everything else unchanged."""
    if isinstance(value, datetime):
        return f"@datetime:{(value.date() - REF).days} {value:%H:%M}"
    if isinstance(value, date):
        return f"@date:{(value - REF).days}"
    if isinstance(value, dict):
        return {k: v.isoformat() if k in FIXED_DATES and isinstance(v, date) else relative(v)
                for k, v in value.items() if v is not None}  # fmt: skip
    if isinstance(value, list):
        return [relative(v) for v in value]
    return value


def organisation() -> dict[str, Any]:
    """The demo departments and users; a role the pack does not (yet) define is replaced, so the file loads."""
    known = {p.stem for p in (PACK / "roles").glob("*.json")}
    users = []
    for username, name, dept, roles, title in USERS:
        kept = [r for r in roles if r in known] or [FALLBACK_ROLE]
        users.append({"username": username, "display_name": name, "department": dept, "roles": kept, "title": title})
    return {"departments": DEPARTMENTS, "users": users}


def write(name: str, doc: dict[str, Any]) -> int:
    """One record per line: readable, and a regenerated file diffs line by line."""
    path = DEMO / name
    if "records" not in doc:
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", "utf-8")
        return 0
    head = {k: v for k, v in doc.items() if k != "records"}
    lines = [json.dumps(r, ensure_ascii=False) for r in doc["records"]]
    text = json.dumps(head, ensure_ascii=False)[:-1] + ', "records": [\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, "utf-8")
    return len(lines)


def entity_file(entity: str, records: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    """A demo file; the demo is a snapshot that already holds what the pack's automation makes (tasks of the
    admissions, opinions and praise of the calls, template follow-ups), so it does not run again on load."""
    doc: dict[str, Any] = {"entity": entity, "snapshot": True}
    if key:
        doc["key"] = key
    doc["records"] = [relative(r) for r in records]
    return doc


def main() -> None:
    rng = random.Random(SEED)
    base = json.loads(BASE.read_text("utf-8"))
    people = People(rng)
    referrers = extras.referrer_names(rng, people, base, REFERRERS)
    maker = StayMaker(rng, people, base, [r["name"] for r in referrers])
    maker.patients(PATIENTS, READMIT)
    out = maker.records()
    patients = out.patients
    extras.grade_referrers(referrers, patients)
    appointments = extras.appointments(rng, patients, APPOINTMENTS)
    points = extras.points(rng, patients)
    records, exams = extras.health(rng, patients, HEALTH_PATIENTS)
    camps, contacts = extras.campaigns(rng, patients)
    cases, opinions = extras.mdt(rng, patients)
    for old in DEMO.glob("*.json"):
        old.unlink()
    files = [
        ("00_organisation.json", organisation()),
        ("01_referrers.json", entity_file("referrer", referrers, "name")),
        ("02_patients.json", entity_file("patient", [p.record for p in patients], "inpatient_no")),
        ("03_admissions.json", entity_file("admission", out.admissions, "visit_no")),
        ("04_followup_calls.json", entity_file("followup_call", out.calls, "title")),
        ("05_satisfaction_surveys.json", entity_file("satisfaction_survey", out.surveys)),
        ("06_opinions.json", entity_file("opinion", out.opinions)),
        ("07_praise.json", entity_file("praise", out.praise)),
        ("08_appointments.json", entity_file("appointment", appointments)),
        ("09_points_entries.json", entity_file("points_entry", points)),
        ("10_health_records.json", entity_file("health_record", records)),
        ("11_exam_reports.json", entity_file("exam_report", exams)),
        ("12_campaigns.json", entity_file("campaign", camps, "name")),
        ("13_campaign_contacts.json", entity_file("campaign_contact", contacts)),
        ("14_mdt_cases.json", entity_file("mdt_case", cases, "question")),
        ("15_mdt_opinions.json", entity_file("mdt_opinion", opinions)),
    ]
    total = 0
    for name, doc in files:
        n = write(name, doc)
        total += n
        print(f"{name}: {n}")
    print(f"total records: {total}")


if __name__ == "__main__":
    main()
