"""Generate the referral pack's visit demo: the visit rule base and 18 months of visit plans.

Run from the repository root: ``python scripts/demo_referral/visits.py``. Deterministic (seeded), writes
blueprints/referral_network/demo/30_visit_rules.json and 31_visit_plans.json with relative dates
("@date:-N"), so the demo never ages. Reads the hospitals (01) and their contacts (10) for names.

Why the shape: every hospital with a liaison has a visit history whose rhythm follows its status and
grade (formal 3rd-grade hospitals monthly, potential ones rarely); feedback differs per hospital so the
heat score spreads; recent misses and cancellations exist; every liaison has visits today and this week.
Results are loaded as done directly (the demo loader writes as the system), so the "done -> next plan"
rule, which listens to the record-result action, does not multiply them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

PACK = Path(__file__).resolve().parents[2] / "blueprints" / "referral_network"
DEMO = PACK / "demo"
HISTORY_DAYS = 540
SEED = 20261123

RULES: list[dict[str, Any]] = [
    {"name": "正式合作医院·首次拜访", "priority": 10, "statuses": ["formal"], "history": "never", "interval_days": 3,
     "visit_type": "onsite", "purpose": "首次现场拜访",
     "suggested_content": "拜会院领导与医务科，介绍医联体合作机制、双向转诊绿色通道与专家资源，确认对接人。"},
    {"name": "正式合作医院·超过60天未拜访", "priority": 20, "statuses": ["formal"], "min_days_since_visit": 60,
     "interval_days": 3, "visit_type": "onsite", "purpose": "恢复联系",
     "suggested_content": "久未拜访，尽快现场走访：了解近期转诊与合作中的问题，听取院方意见，重新约定对接频次。"},
    {"name": "客情偏冷的合作医院", "priority": 30, "statuses": ["formal", "lead"], "heat_grades": ["cold", "cool"],
     "interval_days": 14, "visit_type": "onsite", "purpose": "修复客情",
     "suggested_content": "带上合作数据与改进方案，拜访分管院长和重点科室主任，解决转诊、会诊响应等痛点。"},
    {"name": "三级医院·专科联盟维护", "priority": 40, "levels": ["3A", "3B"], "statuses": ["formal"],
     "interval_days": 30, "visit_type": "academic", "purpose": "专科联盟学术交流",
     "suggested_content": "组织专科联盟学术沙龙或疑难病例讨论，邀请我院学科带头人参加，推动MDT与远程会诊常态化。"},
    {"name": "二级综合医院·定期拜访", "priority": 50, "levels": ["2A", "2B"], "types": ["general"],
     "statuses": ["formal"], "interval_days": 30, "visit_type": "onsite", "purpose": "月度合作回顾",
     "suggested_content": "回顾上月上转/下转与远程会诊数据，沟通专家坐诊排班与进修需求。"},
    {"name": "热度高的合作医院·保持联系", "priority": 35, "statuses": ["formal"], "heat_grades": ["hot"],
     "interval_days": 45, "visit_type": "video", "purpose": "合作进展沟通",
     "suggested_content": "视频沟通合作项目进展，确认下一阶段目标，收集新的合作需求。"},
    {"name": "基层机构·带教帮扶", "priority": 70, "levels": ["1", "chc", "thc"], "statuses": ["formal"],
     "interval_days": 45, "visit_type": "expert", "purpose": "专家带教帮扶",
     "suggested_content": "安排全科或慢病专家下沉带教，开展适宜技术培训，了解基层转诊需求。"},
    {"name": "专科与中医医院·定期拜访", "priority": 80, "types": ["specialty", "tcm"], "statuses": ["formal"],
     "interval_days": 45, "visit_type": "onsite", "purpose": "专科合作回顾",
     "suggested_content": "沟通专科协作与会诊需求，介绍我院相关学科新技术。"},
    {"name": "线索阶段医院·推进合作", "priority": 90, "statuses": ["lead"], "interval_days": 21, "visit_type": "onsite",
     "purpose": "推进合作意向",
     "suggested_content": "与院方确认合作意向与合作形式（双向转诊/专科联盟/技术帮扶），推进协议草案。"},
    {"name": "潜在医院·首次接触", "priority": 100, "statuses": ["potential"], "history": "never", "interval_days": 14,
     "visit_type": "phone", "purpose": "首次接触",
     "suggested_content": "电话联系医务科或院办，介绍医联体与我院优势学科，争取面谈机会。"},
    {"name": "潜在医院·持续培育", "priority": 110, "statuses": ["potential"], "interval_days": 60,
     "visit_type": "phone", "purpose": "持续培育",
     "suggested_content": "电话回访，分享学术活动信息，了解院方发展规划与合作可能。"},
    {"name": "节假日联谊（停用）", "priority": 500, "interval_days": 90, "visit_type": "banquet", "purpose": "节日走访",
     "suggested_content": "节前走访慰问，停用示例：不参与匹配。", "active": False},
    {"name": "兜底规则", "priority": 900, "interval_days": 60, "visit_type": "phone", "purpose": "例行回访",
     "suggested_content": "例行电话回访，了解近况。", "notes": "其他规则都不匹配时使用"},
]

CADENCE = {"formal": (28, 45), "lead": (25, 40), "potential": (80, 130), "removed": (60, 90)}
PURPOSES = {
    "formal": [("onsite", "月度合作回顾"), ("academic", "专科联盟学术交流"), ("expert", "专家坐诊对接"),
               ("video", "远程会诊协调"), ("phone", "转诊情况回访")],
    "lead": [("onsite", "推进合作意向"), ("phone", "合作方案沟通"), ("onsite", "协议条款沟通")],
    "potential": [("phone", "首次接触"), ("phone", "持续培育")],
    "removed": [("phone", "合作终止回访")],
}
CONTENT = {
    "月度合作回顾": "回顾上月转诊与会诊数据，院方反映{issue}，双方约定{plan}。",
    "专科联盟学术交流": "举办专科联盟病例讨论会，{dept}参加，院方希望{plan}。",
    "专家坐诊对接": "对接下月专家坐诊排班，院方提出{issue}，已约定{plan}。",
    "远程会诊协调": "视频协调远程会诊流程，院方反映{issue}，我方承诺{plan}。",
    "转诊情况回访": "电话回访近期上转患者情况，院方反映{issue}。",
    "推进合作意向": "与分管院长沟通合作意向，院方关注{issue}，约定{plan}。",
    "合作方案沟通": "电话沟通合作方案细节，院方关注{issue}。",
    "协议条款沟通": "现场沟通合作协议条款，院方提出{issue}，约定{plan}。",
    "首次接触": "电话联系院办，介绍医联体合作模式，院方表示{issue}。",
    "持续培育": "电话分享学术活动信息，院方表示{issue}。",
    "合作终止回访": "回访合作终止原因，院方表示{issue}。",
}
ISSUES = ["上转患者床位协调较慢", "远程会诊响应时间偏长", "希望增加专家坐诊频次", "进修名额紧张",
          "下转患者后续随访衔接不畅", "对检查结果互认有顾虑", "希望共建胸痛中心", "医保结算政策有疑问"]
PLANS = ["下月安排专家坐诊", "两周内反馈床位协调方案", "共同制定转诊流程图", "安排两名医生来我院进修",
         "下季度联合举办学术会议", "建立会诊联络群", "提交合作协议草案"]
DEPTS = ["心内科与急诊科", "肿瘤科", "神经内科", "儿科", "骨科", "消化内科"]
OUTCOMES = {5: ["agreed", "progress"], 4: ["progress", "agreed"], 3: ["neutral", "progress"], 2: ["neutral", "setback"],
            1: ["setback"]}
NEXT_STEPS = ["整理会议纪要并发院方确认", "协调专家排班", "跟进进修名额", "反馈转诊数据", "准备协议草案",
              "约定下次面谈时间"]
RESCHEDULE = ["院方临时有会", "联络员外出参加培训", "院领导出差", "与专家坐诊时间冲突"]
CANCEL = ["院方取消接待", "合作事项已电话解决", "疫情防控期间暂停走访"]


def load(name: str) -> dict[str, Any]:
    return json.loads((DEMO / name).read_text(encoding="utf-8"))


def rules() -> dict[str, Any]:
    records = []
    for rule in RULES:
        record = {"active": True, "history": "any", **rule}
        records.append(record)
    return {"entity": "visit_rule", "key": "name", "records": records}


def _visit(rng: random.Random, hospital: dict[str, Any], contacts: list[str], day: int, warmth: float,
           status: str) -> dict[str, Any]:
    vtype, purpose = rng.choice(PURPOSES[status])
    short = hospital.get("short_name") or hospital["name"]
    return {
        "subject": f"{short} · {purpose}",
        "hospital": f"@partner_hospital:{hospital['name']}",
        "liaison": hospital["liaison"],
        "planned_date": f"@date:{day:+d}",
        "visit_type": vtype,
        "purpose": purpose,
        "source": rng.choice(["rule", "rule", "followup", "manual"]),
        "_contacts": contacts,
        "_warmth": warmth,
    }


def _done(rng: random.Random, plan: dict[str, Any], day: int) -> None:
    warmth = plan["_warmth"]
    feedback = max(1, min(5, round(rng.gauss(warmth, 0.7))))
    done_day = min(-1, day + rng.choice([0, 0, 0, 1, 2]))
    template = CONTENT[plan["purpose"]]
    plan.update(
        status="done",
        done_date=f"@date:{done_day:+d}",
        contact_met=rng.choice(plan["_contacts"]) if plan["_contacts"] else "医务科负责人",
        content=template.format(issue=rng.choice(ISSUES), plan=rng.choice(PLANS), dept=rng.choice(DEPTS)),
        outcome=rng.choice(OUTCOMES[feedback]),
        feedback=feedback,
        next_steps=rng.choice(NEXT_STEPS),
    )


def plans() -> dict[str, Any]:
    rng = random.Random(SEED)
    hospitals = load("01_partner_hospitals.json")["records"]
    contacts: dict[str, list[str]] = {}
    for c in load("10_hospital_contacts.json")["records"]:
        name = c["hospital"].split(":", 1)[1]
        contacts.setdefault(name, []).append(f"{c['name']}（{c.get('title') or c.get('department') or ''}）")
    records: list[dict[str, Any]] = []
    today_count: dict[str, int] = {}
    for hospital in hospitals:
        liaison, status = hospital.get("liaison"), hospital.get("status")
        if not liaison or status not in CADENCE:
            continue
        warmth = rng.uniform(2.3, 4.8)
        low, high = CADENCE[status]
        if hospital.get("level") in ("3A", "3B") and status == "formal":
            low, high = low - 6, high - 8
        mine = contacts.get(hospital["name"], [])
        end = -200 if status == "removed" else 0
        day = -HISTORY_DAYS + rng.randint(0, high)
        if status == "potential" and rng.random() < 0.4:
            day = -rng.randint(20, 120)  # recently found: only a few contacts yet
        while day < end:
            plan = _visit(rng, hospital, mine, day, warmth, status)
            roll = rng.random()
            if day > -180 and roll < 0.07:
                plan["status"] = "missed"
            elif roll < 0.11:
                plan.update(status="cancelled", cancel_reason=rng.choice(CANCEL))
            else:
                if roll > 0.9:
                    original = day - rng.randint(2, 7)
                    plan.update(original_date=f"@date:{original:+d}", reschedule_count=1,
                                reschedule_reason=rng.choice(RESCHEDULE))
                _done(rng, plan, day)
            records.append(plan)
            day += rng.randint(low, high)
        if status in ("formal", "lead"):  # the next visit: today for some, the coming weeks for the others
            count = today_count.get(liaison, 0)
            ahead = 0 if count < 2 else rng.choice([1, 2, 3, 4, 6, 9, 13, 20, 27])
            if count < 2:
                today_count[liaison] = count + 1
            plan = _visit(rng, hospital, mine, ahead, warmth, status)
            plan["status"] = "planned"
            plan["suggested_content"] = "按拜访规则库建议：回顾合作数据，听取院方意见，确认下一步合作事项。"
            records.append(plan)
            if rng.random() < 0.35:  # and one more a few weeks later
                later = _visit(rng, hospital, mine, ahead + rng.randint(20, 35), warmth, status)
                later["status"] = "planned"
                records.append(later)
        elif status == "potential" and rng.random() < 0.5:
            plan = _visit(rng, hospital, mine, rng.randint(1, 30), warmth, status)
            plan["status"] = "planned"
            records.append(plan)
    for plan in records:
        plan.pop("_contacts", None)
        plan.pop("_warmth", None)
    records.sort(key=lambda p: int(p["planned_date"].split(":")[1]))
    return {"entity": "visit_plan", "records": records}


def write(name: str, doc: dict[str, Any]) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    (DEMO / name).write_text(text + "\n", encoding="utf-8")
    print(f"{name}: {len(doc['records'])} records")


if __name__ == "__main__":
    write("30_visit_rules.json", rules())
    write("31_visit_plans.json", plans())
