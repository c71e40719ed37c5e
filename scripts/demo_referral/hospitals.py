"""Generate the referral-network demo hospitals and their contacts (deterministic, seeded).

Writes blueprints/referral_network/demo/01_partner_hospitals.json (about 60 hospitals) and
10_hospital_contacts.json. The 40 hand-written hospitals of the first pack version live in
hospitals_base.json next to this script; this script keeps them, moves their contacts into hospital_contact
records, adds an organisation structure, spreads the liaisons over rn.liaison1..10, turns absolute dates into
relative ones ("@date:-N", so the demo never ages) and adds 20 generated hospitals. Run it again after editing:

    python3 scripts/demo_referral/hospitals.py
"""

# ruff: noqa: E501  (tables of Chinese demo text read better one row a line)
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parents[1] / "blueprints" / "referral_network" / "demo"
TODAY = dt.date(2026, 11, 23)  # the day the base file's absolute dates were written against
SEED = 20261123

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
    "顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
         "超", "秀英", "华", "建国", "卫东", "志强", "海燕", "晓梅", "春生", "国庆", "红霞", "立新", "文博", "思远"]

# name, short, level, type, status, region, beds, key departments, tags, liaison (None = pool)
EXTRA = [
    ("澄江县人民医院", "澄江人医", "2A", "general", "potential", ["河北省", "保定市", "澄江县"], 620,
     ["oncology", "general_surgery", "cardiology"], ["县域龙头", "待调研"], None),
    ("沐阳县人民医院", "沐阳人医", "2A", "general", "potential", ["山东省", "聊城市", "沐阳县"], 580,
     ["oncology", "respiratory", "orthopedics"], ["待调研"], None),
    ("霞浦县中医院", "霞浦中医院", "2B", "tcm", "potential", ["河北省", "保定市", "霞浦县"], 260,
     ["tcm", "rehabilitation"], [], None),
    ("秋实社区卫生服务中心", "秋实社区", "chc", "primary", "potential", ["天津市", "天津市", "北辰区"], 40,
     ["general_practice"], [], None),
    ("鹤岗市第二人民医院", "鹤岗二院", "3B", "general", "potential", ["山西省", "忻州市", "鹤岗市"], 960,
     ["oncology", "neurology", "cardiology", "icu"], ["需高层拜访"], 4),
    ("长垣县人民医院", "长垣人医", "2A", "general", "lead", ["河南省", "新乡市", "长垣县"], 710,
     ["oncology", "general_surgery", "thoracic_surgery"], ["意向强烈", "县域龙头"], 5),
    ("凤台县人民医院", "凤台人医", "2A", "general", "potential", ["安徽省", "淮南市", "凤台县"], 650,
     ["oncology", "gastroenterology", "obstetrics"], ["待调研"], 6),
    ("岚山区中心医院", "岚山中心", "3B", "general", "lead", ["山东省", "日照市", "岚山区"], 880,
     ["cardiology", "neurosurgery", "oncology"], ["院长新上任"], 7),
    ("栖霞县妇幼保健院", "栖霞妇幼", "2A", "specialty", "potential", ["山东省", "烟台市", "栖霞县"], 300,
     ["obstetrics", "pediatrics", "gynecology"], [], 8),
    ("宁河镇卫生院", "宁河卫生院", "thc", "primary", "formal", ["天津市", "天津市", "宁河区", "宁河镇"], 30,
     ["general_practice"], ["重点维护"], 9),
    ("安泰肿瘤专科医院", "安泰肿瘤", "2B", "private", "potential", ["河北省", "保定市", "竞秀区"], 220,
     ["oncology", "radiotherapy"], [], 10),
    ("武安市人民医院", "武安人医", "3B", "general", "formal", ["河北省", "邯郸市", "武安市"], 1100,
     ["oncology", "cardiology", "respiratory", "icu"], ["示范合作单位"], 6),
    ("磁县人民医院", "磁县人医", "2A", "general", "lead", ["河北省", "邯郸市", "磁县"], 540,
     ["general_surgery", "orthopedics", "emergency"], ["新院区在建"], 7),
    ("涉县中医院", "涉县中医院", "2A", "tcm", "formal", ["河北省", "邯郸市", "涉县"], 420,
     ["tcm", "rehabilitation", "orthopedics"], ["专科联盟成员"], 8),
    ("大名县第二人民医院", "大名二院", "2B", "general", "potential", ["河北省", "邯郸市", "大名县"], 330,
     ["general_surgery", "pediatrics"], [], 9),
    ("汾阳市人民医院", "汾阳人医", "3B", "general", "potential", ["山西省", "吕梁市", "汾阳市"], 900,
     ["oncology", "nephrology", "endocrinology"], ["交通便利"], 10),
    ("孝义市中医院", "孝义中医院", "2A", "tcm", "lead", ["山西省", "吕梁市", "孝义市"], 480,
     ["tcm", "oncology"], ["意向强烈"], 4),
    ("临清市康宁医院", "康宁医院", "1", "private", "potential", ["山东省", "聊城市", "临清市"], 90,
     ["rehabilitation"], [], None),
    ("阳谷县人民医院", "阳谷人医", "2A", "general", "formal", ["山东省", "聊城市", "阳谷县"], 760,
     ["oncology", "cardiology", "general_surgery", "imaging"], ["县域龙头", "肿瘤筛查基地"], 5),
    ("莘县第二人民医院", "莘县二院", "2B", "general", "removed", ["山东省", "聊城市", "莘县"], 280,
     ["general_surgery"], ["暂停合作"], 6),
]

STREETS = ["人民路", "健康路", "建设大街", "解放路", "文化路"]
COOPERATION = ["two_way_referral", "remote_consultation", "specialty_alliance", "technical_support", "training",
               "expert_clinic", "mdt"]


def relative(value: str | None) -> str | None:
    """An absolute ISO date of the base file as "@date:N" relative to the day it was written against."""
    if not value or value.startswith("@"):
        return value
    days = (dt.date.fromisoformat(value) - TODAY).days
    return f"@date:{days:+d}" if days else "@date:0"


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def mobile(rng: random.Random) -> str:
    return rng.choice(["138", "139", "150", "158", "183", "187", "133", "177"]) + f"{rng.randrange(10**8):08d}"


def org_units(rng: random.Random, hospital: dict, contacts: list[dict]) -> list[dict]:
    """A small organisation chart: leadership, the medical office, the alliance office and key departments."""
    heads = {c.get("title", ""): c["name"] for c in contacts}
    president = next((n for t, n in heads.items() if "院长" in t and "副" not in t), person(rng))
    vice = next((n for t, n in heads.items() if "副院长" in t), person(rng))
    units = [
        {"unit": "院领导班子", "head": president, "head_title": "院长"},
        {"unit": "业务分管", "parent_unit": "院领导班子", "head": vice, "head_title": "业务副院长"},
        {"unit": "医务科", "parent_unit": "业务分管", "head": heads.get("医务科科长", person(rng)),
         "head_title": "科长", "phone": hospital.get("switchboard")},
    ]
    if hospital.get("level") not in ("chc", "thc", "1", "ungraded"):
        units.append({"unit": "医联体办公室", "parent_unit": "医务科", "head": person(rng), "head_title": "主任"})
    labels = {"oncology": "肿瘤科", "cardiology": "心血管内科", "general_surgery": "普外科", "orthopedics": "骨科",
              "neurosurgery": "神经外科", "respiratory": "呼吸科", "tcm": "中医科", "obstetrics": "产科",
              "icu": "重症医学科", "radiotherapy": "放疗科", "imaging": "影像科", "pediatrics": "儿科"}
    for dept in hospital.get("key_departments", [])[:3]:
        if dept in labels:
            units.append({"unit": labels[dept], "parent_unit": "业务分管", "head": person(rng), "head_title": "科主任"})
    return [{k: v for k, v in u.items() if v} for u in units]


def generated(rng: random.Random, row: tuple) -> dict:
    name, short, level, kind, status, region, beds, depts, tags, _ = row
    record: dict = {
        "name": name, "short_name": short, "level": level, "type": kind, "status": status, "region": region,
        "address": f"{region[-1]}{rng.choice(STREETS)}{rng.randrange(10, 300)}号",
        "switchboard": f"0{rng.randrange(310, 399)}-{rng.randrange(2000000, 8999999)}",
        "beds": beds, "annual_outpatients": beds * rng.randrange(250, 420), "key_departments": depts,
    }
    if tags:
        record["tags"] = tags
    if status in ("formal", "removed"):
        record["cooperation_type"] = rng.sample(COOPERATION, rng.randrange(2, 5))
        record["signed_date"] = f"@date:-{rng.randrange(200, 900)}"
    if status == "removed":
        record["removed_reason"] = "院方并入其他医共体，双方协商暂停合作。"
    if status in ("formal", "lead"):
        rng.randrange(5, 120)  # still drawn so the rest of the demo stays the same; the last visit date
        # comes from the visit plans (rule visit_last_visit_date), never typed in
        record["highlights"] = rng.choice([
            "院方计划新建肿瘤病区，对专家坐诊与规范化诊疗培训需求明显。",
            "新任院长重视学科建设，希望借助医联体提升疑难病例转诊效率。",
            "县域人口多、外转率高，双向转诊潜力大。",
            "胸痛、卒中中心正在创建，急需技术帮扶与远程会诊支持。",
        ])
    return record


def contacts_for(rng: random.Random, hospital: dict) -> list[dict]:
    count = 1 if hospital["level"] in ("chc", "thc", "1") else rng.randrange(2, 4)
    titles = [("业务副院长", "院办"), ("医务科科长", "医务科"), ("转诊办主任", "转诊办"), ("肿瘤科主任", "肿瘤科")]
    rows = []
    for i, (title, dept) in enumerate(titles[:count]):
        rows.append({"name": person(rng), "title": title, "department": dept, "mobile": mobile(rng), "is_key": i == 0})
    return rows


def main() -> None:
    rng = random.Random(SEED)
    base = json.loads((HERE / "hospitals_base.json").read_text(encoding="utf-8"))["records"]
    hospitals: list[dict] = []
    contacts: list[dict] = []
    for src in base:
        record = {k: v for k, v in src.items() if k != "contacts"}
        record.pop("last_visit_date", None)  # derived from the visit plans, like the generated hospitals
        for field in ("signed_date",):
            if field in record:
                record[field] = relative(record[field])
        people = src.get("contacts", [])
        record["org_units"] = org_units(rng, record, people)
        hospitals.append(record)
        contacts += [{"hospital": f"@partner_hospital:{record['name']}", **c} for c in people]
    for row in EXTRA:
        record = generated(rng, row)
        if row[-1]:
            record["liaison"] = f"@user:rn.liaison{row[-1]}"
        people = contacts_for(rng, record)
        if record["status"] != "potential":
            record["org_units"] = org_units(rng, record, people)
        hospitals.append(record)
        contacts += [{"hospital": f"@partner_hospital:{record['name']}", **c} for c in people]
    owned = [h for h in hospitals if h.get("liaison")]
    for k, record in enumerate(owned):  # an even spread: each liaison keeps 5-6 hospitals
        record["liaison"] = f"@user:rn.liaison{k % 10 + 1}"
    liaisons = {f"@partner_hospital:{h['name']}": h.get("liaison") for h in hospitals}
    for contact in contacts:  # the hospital's liaison keeps its contacts (their data scope follows)
        if liaisons[contact["hospital"]]:
            contact["liaison"] = liaisons[contact["hospital"]]
    write("01_partner_hospitals.json", {"entity": "partner_hospital", "key": "name", "records": hospitals})
    write("10_hospital_contacts.json", {"entity": "hospital_contact", "records": contacts})
    write("11_hospital_changes.json", {"entity": "hospital_change", "records": changes(rng, hospitals)})
    write("12_external_events.json", {"entity": "external_event", "records": external_events(rng, hospitals)})


CHANGES = [
    ("leadership", "院长更替", "院长 {a}", "院长 {b}", "原院长调任卫健委，新院长来自省级医院，重视医联体与学科建设。"),
    ("leadership", "业务副院长调整", "业务副院长 {a}", "业务副院长 {b}", "分管医务与医联体的副院长调整，需尽快拜访建立联系。"),
    ("key_department", "新设肿瘤科病区", "肿瘤内科 20 床", "肿瘤内科 45 床（新病区）", "肿瘤病区扩建，专家坐诊与放化疗转诊需求增加。"),
    ("key_department", "胸痛中心通过认证", "胸痛中心创建中", "国家胸痛中心（基层版）", "可建立急诊 PCI 转诊绿色通道。"),
    ("equipment", "引进 1.5T 磁共振", "无 MRI", "1.5T MRI 一台", "影像检查能力提升，可开展远程影像诊断合作。"),
    ("equipment", "购置 CT 模拟定位机", "无放疗设备", "CT 模拟定位机 + 直线加速器（在建）", "筹建放疗中心，放疗专科联盟的切入点。"),
    ("qualification", "通过二甲复审", "二级乙等", "二级甲等", "等级提升后对技术帮扶的需求更加明确。"),
    ("policy", "纳入县域医共体牵头医院", "独立运营", "县域医共体牵头医院", "县域医共体政策落地，医院自主转诊空间变化。"),
    ("other", "新院区启用", "老院区 1 处", "新院区启用，床位增加 200 张", "新院区配套科室仍在招聘，可提供进修与培训支持。"),
]

EVENTS = [
    ("competitor_cooperation", "high", "与省肿瘤医院签订专科联盟协议", "省卫健委官网", "该院肿瘤转诊可能流向竞争医院，需尽快拜访。"),
    ("competitor_cooperation", "high", "加入某三甲医院牵头的心血管专科联盟", "院方公众号", "心内科合作面临竞争，建议强化胸痛中心合作。"),
    ("leadership_change", "high", "新任院长到任", "市卫健委任免公告", "新院长原任省级医院副院长，是建立高层联系的窗口期。"),
    ("leadership_change", "medium", "医务科科长调整", "院方联系人", "更新联系人信息，安排拜访。"),
    ("new_department", "medium", "新建康复医学中心", "当地新闻", "可开展康复下转合作。"),
    ("new_department", "high", "筹建放疗中心", "招标网", "放疗专科联盟的合作机会。"),
    ("tender", "medium", "发布远程会诊平台招标", "省政府采购网", "可提前沟通平台对接标准。"),
    ("tender", "low", "发布医用耗材集中采购公告", "招标网", "参考信息。"),
    ("policy", "medium", "县域医共体医保打包付费试点", "市医保局通知", "影响县域患者外转，需调整转诊策略。"),
    ("other", "low", "举办基层医师培训班", "行业会议", "可派专家授课扩大影响。"),
]
OUTSIDE = ["省肿瘤医院", "滨海市中心医院", "北方心血管病医院", "东城区社区卫生服务中心", "仁和民营医院集团"]


def changes(rng: random.Random, hospitals: list[dict]) -> list[dict]:
    """Key changes liaisons recorded over the last year and a half (manual records; the automatic ones are
    written by the rule hospital_key_field_changed when a tracked field changes)."""
    rows = []
    for hospital in hospitals:
        if hospital["status"] not in ("formal", "lead") or rng.random() < 0.35:
            continue
        for _ in range(rng.randrange(1, 3)):
            area, summary, before, after, description = rng.choice(CHANGES)
            row = {"hospital": f"@partner_hospital:{hospital['name']}", "change_date": f"@date:-{rng.randrange(3, 540)}",
                   "area": area, "summary": summary, "before": before.format(a=person(rng), b=person(rng)),
                   "after": after.format(a=person(rng), b=person(rng)), "description": description, "source": "manual"}
            if hospital.get("liaison"):
                row["recorded_by"] = row["liaison"] = hospital["liaison"]
            rows.append(row)
    return sorted(rows, key=lambda r: int(r["change_date"].split(":")[1]))


def external_events(rng: random.Random, hospitals: list[dict]) -> list[dict]:
    """External events of the last year: most at hospitals in the list, some at institutions outside it."""
    rows = []
    for index in range(36):
        event_type, importance, summary, source, impact = rng.choice(EVENTS)
        row = {"event_type": event_type, "importance": importance, "summary": summary, "source": source,
               "impact": impact, "event_date": f"@date:-{rng.randrange(1, 365)}"}
        if index % 4 == 3:
            row["institution"] = rng.choice(OUTSIDE)
        else:
            hospital = rng.choice(hospitals)
            row["institution"] = hospital["name"]
            row["hospital"] = f"@partner_hospital:{hospital['name']}"
            if hospital.get("liaison"):
                row["liaison"] = hospital["liaison"]
        rows.append(row)
    return sorted(rows, key=lambda r: int(r["event_date"].split(":")[1]))


def write(name: str, payload: dict) -> None:
    (DEMO / name).write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
