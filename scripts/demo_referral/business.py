"""Generate the referral pack's business demo: cooperation projects with milestones and monthly project data,
contracts (active, expiring within 30 days, expired, renewed, in signing) and 18 months of business volume.

Run from the repository root: ``python scripts/demo_referral/business.py``. Deterministic (seeded); writes
blueprints/referral_network/demo/40_coop_projects.json, 41_project_milestones.json, 42_project_data.json,
43_contracts.json and 44_business_volume.json with relative dates ("@date:-N", "@month:-N") so the demo never
ages. Reads the hospitals (01) for the formal partners, their grade and liaison.

Why the shape: volume grows about 1.5% a month with a grade-dependent base, dips around the Spring Festival
(the calendar month is reckoned from today when the script runs: February loses a third, January a tenth) and
is a little higher in the autumn; each partner has its own mix of referrals, consultations and training.
Contracts are loaded in their final states (the demo loader writes as the system), so the signing workflow is
not needed for them; the expiry reminders fire on load for the contracts that end within 30 days, which is what
a manager should see on the first morning.
"""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path
from typing import Any

PACK = Path(__file__).resolve().parents[2] / "blueprints" / "referral_network"
DEMO = PACK / "demo"
SEED = 20261124
MONTHS = 18
TODAY = date.today()

PROJECTS = [
    ("胸痛中心协同救治网络", "two_way_referral", "operation"),
    ("远程心电会诊中心", "remote_consultation", "operation"),
    ("神经内科专科联盟", "specialty_alliance", "implementation"),
    ("基层医生进修培训计划", "training", "operation"),
    ("远程影像诊断中心", "remote_imaging", "implementation"),
    ("专家定期坐诊", "expert_clinic", "operation"),
    ("肿瘤多学科会诊（MDT）", "mdt", "preparation"),
    ("远程病理诊断合作", "remote_pathology", "initiation"),
    ("儿科技术帮扶", "technical_support", "closed"),
    ("卒中中心建设帮扶", "technical_support", "suspended"),
    ("慢病管理双向转诊", "two_way_referral", "implementation"),
]
MILESTONES = [
    ("签订合作框架协议", "协议文本"),
    ("组建联合项目组", "项目组名单"),
    ("完成人员培训", "培训记录"),
    ("信息系统对接上线", "系统验收报告"),
    ("首月运行评估", "评估报告"),
    ("年度合作总结", "年度总结"),
]
STAGE_DONE = {"initiation": 0, "preparation": 1, "implementation": 3, "operation": 5, "closed": 6, "suspended": 2}
STAGE_PROGRESS = {
    "initiation": 5, "preparation": 20, "implementation": 55, "operation": 80, "closed": 100, "suspended": 35,
}  # fmt: skip
LEVEL_BASE = {"3A": 120, "3B": 95, "2A": 60, "2B": 45, "thc": 20, "chc": 18}


def month_of(offset: int) -> int:
    """The calendar month (1-12) of "@month:offset" when the script runs."""
    return (TODAY.month - 1 + offset) % 12 + 1


def season(offset: int) -> float:
    return {1: 0.9, 2: 0.65, 3: 1.05, 9: 1.05, 10: 1.08, 11: 1.1}.get(month_of(offset), 1.0)


def write(name: str, entity: str, records: list[dict[str, Any]], key: str | None = None) -> None:
    doc: dict[str, Any] = {"entity": entity}
    if key:
        doc["key"] = key
    doc["records"] = records
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    (DEMO / name).write_text(text + "\n", encoding="utf-8")


def partners() -> list[dict[str, Any]]:
    doc = json.loads((DEMO / "01_partner_hospitals.json").read_text("utf-8"))
    return [r for r in doc["records"] if r.get("status") == "formal"]


def projects(rnd: random.Random, formal: list[dict[str, Any]]) -> tuple[list, list, list]:
    out, milestones, data = [], [], []
    for i, (title, coop, stage) in enumerate(PROJECTS):
        hosp = formal[i % len(formal)]
        name = f"{hosp.get('short_name') or hosp['name']}{title}"
        owner = hosp.get("liaison") or "@user:rn.manager1"
        start = {"initiation": -20, "closed": -520}.get(stage, -420 + i * 30)
        planned_end = start + 540 if stage != "closed" else start + 420
        rec: dict[str, Any] = {
            "name": name,
            "hospital": f"@partner_hospital:{hosp['name']}",
            "cooperation_type": coop,
            "stage": stage,
            "owner": owner,
            "co_owner": "@user:rn.manager1" if i % 2 == 0 else "@user:rn.manager2",
            "partner_lead": rnd.choice(["王主任", "李院长", "张主任", "刘副院长", "陈科长"]),
            "start_date": f"@date:{start}",
            "planned_end_date": f"@date:{planned_end}",
            "progress": STAGE_PROGRESS[stage],
            "budget": rnd.choice([80000, 120000, 200000, 350000, 500000]),
            "objectives": f"围绕{title}，与{hosp['name']}建立常态化协作机制，提升基层服务能力，业务量稳步增长。",
            "latest_update": "按计划推进。" if stage != "suspended" else "对方院领导调整，项目暂停，待重新沟通。",
        }
        if stage == "closed":
            rec["closed_date"] = f"@date:{start + 400}"
        out.append(rec)
        done = STAGE_DONE[stage]
        span = (planned_end - start) // len(MILESTONES)
        for j, (label, deliverable) in enumerate(MILESTONES):
            due = start + span * (j + 1) - 20
            m: dict[str, Any] = {
                "project": f"@coop_project:{name}",
                "name": label,
                "due_date": f"@date:{due}",
                "owner": owner if j % 3 else "@user:rn.manager1",
                "deliverable": deliverable,
            }
            if j < done and due <= 0:
                m["status"], m["done_date"] = "done", f"@date:{min(due + rnd.randint(-10, 12), 0)}"
            elif due < 0:
                m["status"] = "overdue"
            elif j == done:
                m["status"] = "in_progress"
            else:
                m["status"] = "pending"
            milestones.append(m)
        if stage in ("implementation", "operation", "closed"):
            first = max(-(MONTHS - 1), (start + 60) // 30)
            last = 0 if stage != "closed" else (start + 400) // 30
            level = LEVEL_BASE.get(hosp.get("level") or "2A", 40)
            for k, offset in enumerate(range(first, last + 1)):
                f = (1 + 0.04 * k) * season(offset)
                data.append(
                    {
                        "project": f"@coop_project:{name}",
                        "month": f"@month:{offset}",
                        "up_referrals": round(level * 0.25 * f * rnd.uniform(0.85, 1.15)),
                        "down_referrals": round(level * 0.12 * f * rnd.uniform(0.8, 1.2)),
                        "consultations": round(level * 0.1 * f * rnd.uniform(0.7, 1.3)),
                        "training_sessions": rnd.randint(0, 12),
                        "expert_clinics": round(level * 0.3 * f * rnd.uniform(0.8, 1.2)),
                        "revenue": round(level * 900 * f * rnd.uniform(0.85, 1.15)),
                    }
                )
    return out, milestones, data


def contracts(rnd: random.Random, formal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """About 30: one or two per formal partner; ends spread so some expire within 30 days, some have expired,
    some were renewed (the old one 'renewed', the new one refers to it), a few are in signing or draft."""
    kinds = ["alliance", "specialty", "remote", "training", "technical"]
    kind_names = {"alliance": "医联体合作协议", "specialty": "专科联盟协议", "remote": "远程医疗服务协议",
                  "training": "进修培训协议", "technical": "技术帮扶协议"}  # fmt: skip
    plan = [  # (end offset in days, status)
        (9, "active"), (23, "active"), (4, "active"), (28, "active"), (17, "active"), (6, "active"),
        (-12, "expired"), (-40, "expired"), (-75, "expired"), (-3, "expired"),
        (200, "active"), (320, "active"), (150, "active"), (410, "active"), (90, "active"), (260, "active"),
        (500, "active"), (45, "active"), (120, "active"), (365, "signing"), (730, "draft"), (60, "terminated"),
    ]  # fmt: skip
    out: list[dict[str, Any]] = []
    for i, (end, status) in enumerate(plan):
        hosp = formal[i % len(formal)]
        kind = kinds[i % len(kinds)]
        years = 1 if kind in ("training", "remote") else 2
        start = end - 365 * years + 1
        title = f"{hosp['name']}{kind_names[kind]}"
        rec = _contract(rnd, hosp, title, kind, start, end, status)
        out.append(rec)
        if i % 4 == 0 and status in ("active", "expired") and i < 16:  # an earlier contract, renewed into this one
            old_title = f"{title}（上期）"
            old = _contract(rnd, hosp, old_title, kind, start - 365 * years, start - 1, "renewed")
            out.insert(len(out) - 1, old)
            rec["previous_contract"] = f"@contract:{old_title}"
            rec["remarks"] = "续签上期合同"
    return out


def _contract(
    rnd: random.Random, hosp: dict[str, Any], title: str, kind: str, start: int, end: int, status: str
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "title": title,
        "hospital": f"@partner_hospital:{hosp['name']}",
        "contract_type": kind,
        "start_date": f"@date:{start}",
        "end_date": f"@date:{end}",
        "amount": rnd.choice([0, 50000, 100000, 150000, 300000]),
        "status": status,
        "liaison": hosp.get("liaison") or "@user:rn.manager1",
        "partner_signatory": rnd.choice(["王建国", "李卫东", "张晓明", "赵红", "陈立新"]),
        "terms": "双方在双向转诊、远程会诊、人才培养等方面开展合作；合作期满前一个月协商续签事宜。",
    }
    if status not in ("draft",):
        rec["signed_date"] = f"@date:{min(start - rnd.randint(3, 20), 0)}"
    if status == "draft":
        rec.pop("status")
    return rec


def volume(rnd: random.Random, formal: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for n, hosp in enumerate(formal):
        base = LEVEL_BASE.get(hosp.get("level") or "2A", 40) * rnd.uniform(0.8, 1.25)
        growth = rnd.uniform(0.008, 0.025)
        mix = [rnd.uniform(0.35, 0.5), rnd.uniform(0.15, 0.25), rnd.uniform(0.1, 0.2), rnd.uniform(0.05, 0.12)]
        for k, offset in enumerate(range(-(MONTHS - 1), 1)):
            f = base * (1 + growth) ** k * season(offset) * rnd.uniform(0.92, 1.08)
            out.append(
                {
                    "hospital": f"@partner_hospital:{hosp['name']}",
                    "month": f"@month:{offset}",
                    "up_referrals": round(f * mix[0]),
                    "down_referrals": round(f * mix[1]),
                    "remote_consultations": round(f * mix[2]),
                    "training_sessions": round(f * mix[3]),
                    "other": rnd.randint(0, 4) if n % 3 else 0,
                }
            )
    return out


def main() -> None:
    rnd = random.Random(SEED)
    formal = partners()
    project_records, milestone_records, data_records = projects(rnd, formal)
    write("40_coop_projects.json", "coop_project", project_records, key="name")
    write("41_project_milestones.json", "project_milestone", milestone_records)
    write("42_project_data.json", "project_data", data_records)
    write("43_contracts.json", "contract", contracts(rnd, formal), key="title")
    write("44_business_volume.json", "business_volume", volume(rnd, formal))


if __name__ == "__main__":
    main()
