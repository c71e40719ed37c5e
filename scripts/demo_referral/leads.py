"""Generate the referral pack's lead, follow-up and cooperation-intent demo files (deterministic, seeded).

    .venv/bin/python scripts/demo_referral/leads.py

Reads the hospitals of demo/01_partner_hospitals.json (names, status, liaison, signed date) and writes
demo/02_coop_leads.json, demo/03_follow_ups.json and demo/05_coop_intents.json with relative dates
("@date:-N"), so the demo never ages. Leads come in every state of the lead lifecycle: new (waiting for a
manager), in the pool, claimed, following up, converted (one per recently signed formal hospital), back in
the pool after a recycle, closed with a reason. Follow-ups cover 18 months: the formal partners' regular
contact, the history of every lead up to its conversion, closing or recycling. The follow-up dates of a
held lead are kept recent (the lead pool recycles leads idle for 30 days).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

DEMO = Path(__file__).resolve().parents[2] / "blueprints" / "referral_network" / "demo"
SEED = 20261123
HORIZON = 540  # 18 months of history
TEAM1 = [f"rn.liaison{i}" for i in range(1, 6)]
TEAM2 = [f"rn.liaison{i}" for i in range(6, 11)]

SOURCES = ["visit", "referral", "health_commission", "conference", "website", "phone", "tender"]
METHODS = ["visit", "phone", "wechat", "meeting", "hosted_visit"]
COOP = [
    "two_way_referral",
    "remote_consultation",
    "specialty_alliance",
    "technical_support",
    "training",
    "expert_clinic",
    "mdt",
    "remote_pathology",
    "remote_imaging",
]
COOP_ZH = {
    "two_way_referral": "双向转诊",
    "remote_consultation": "远程会诊",
    "specialty_alliance": "专科联盟",
    "technical_support": "技术帮扶",
    "training": "进修培训",
    "expert_clinic": "专家坐诊",
    "mdt": "多学科会诊",
    "remote_pathology": "远程病理",
    "remote_imaging": "远程影像",
}
DEPARTMENTS = [
    "cardiology",
    "oncology",
    "neurology",
    "general_surgery",
    "icu",
    "pediatrics",
    "orthopedics",
    "radiotherapy",
]
PEOPLE = [
    "王建华",
    "李秀英",
    "张志强",
    "刘晓燕",
    "陈国栋",
    "杨丽",
    "赵海涛",
    "黄敏",
    "周立新",
    "吴晓东",
    "徐静",
    "孙卫国",
]
TITLES = ["院长", "业务副院长", "医务科科长", "医联体办公室主任", "心内科主任", "肿瘤科主任", "护理部主任"]
NEW_HOSPITALS = [
    ("荷塘县人民医院", "2A", ["河北省", "保定市", "荷塘县"]),
    ("蓝湾县中医院", "2B", ["河北省", "沧州市", "蓝湾县"]),
    ("翠屏区社区卫生服务中心", "chc", ["河北省", "廊坊市", "翠屏区"]),
    ("金沙县第二人民医院", "2B", ["河北省", "衡水市", "金沙县"]),
    ("紫荆县妇幼保健院", "2A", ["河北省", "邢台市", "紫荆县"]),
    ("龙泉镇卫生院", "thc", ["河北省", "保定市", "龙泉镇"]),
    ("丰源县人民医院", "2A", ["河北省", "承德市", "丰源县"]),
    ("高阳县中医院", "2B", ["河北省", "保定市", "高阳县"]),
    ("仁和骨科医院", "2B", ["河北省", "沧州市", "新华区"]),
    ("泰和县人民医院", "2A", ["河北省", "邯郸市", "泰和县"]),
    ("清溪县第二人民医院", "2B", ["河北省", "邢台市", "清溪县"]),
    ("康宁精神专科医院", "2A", ["河北省", "廊坊市", "广阳区"]),
    ("双桥区人民医院", "2A", ["河北省", "承德市", "双桥区"]),
    ("枣强县中医院", "2B", ["河北省", "衡水市", "枣强县"]),
    ("曲周县人民医院", "2A", ["河北省", "邯郸市", "曲周县"]),
    ("新河镇卫生院", "thc", ["河北省", "邢台市", "新河镇"]),
    ("安国市中医院", "2A", ["河北省", "保定市", "安国市"]),
    ("黄骅市第二医院", "2B", ["河北省", "沧州市", "黄骅市"]),
]
CLOSE_REASONS = [
    "对方已与省内另一家三甲医院签订医联体协议",
    "医院领导班子调整，新院长暂无合作意愿",
    "距离过远，转诊路径不现实，经讨论放弃",
    "对方仅需设备采购支持，不属于医联体合作范围",
]
TOPICS = [
    ("上门拜访", "拜访{who}，介绍我院{coop}合作模式与近期开展的专科建设情况，对方表示{mood}。"),
    ("电话沟通", "电话联系{who}，了解对方{dept}学科建设需求，沟通{coop}的具体做法，对方{mood}。"),
    ("微信沟通", "与{who}微信沟通上月转诊患者的随访情况，并约定下次面谈时间；对方{mood}。"),
    ("座谈会", "参加对方院周会并座谈，{who}提出希望在{coop}方面加强合作，双方就流程细节交换意见，对方{mood}。"),
    ("来院参观", "{who}一行来我院参观胸痛中心与远程会诊中心，座谈{coop}合作细节，对方{mood}。"),
]
MOODS = [
    "兴趣浓厚",
    "基本认可，需内部讨论",
    "比较谨慎，关注费用与责任划分",
    "积极，希望尽快推进",
    "态度一般，需要持续跟进",
]
RESULTS = [
    "整理对方需求，形成合作方案初稿。",
    "约定下月再次面谈，届时带专家团队同去。",
    "已转告相关科室主任，等待科室评估。",
    "对方将提交院办公会讨论，等待反馈。",
    "运行良好，按季度例行回访。",
]


def at(days_ago: int) -> str:
    """The relative demo date of ``days_ago`` days before the day the demo loads (negative: after)."""
    return f"@date:{-days_ago:+d}" if days_ago else "@date:0"


def ago(value: Any) -> int | None:
    """Days ago of a "@date:-N" value of the hospitals file."""
    if isinstance(value, str) and value.startswith("@date:-"):
        return int(value.removeprefix("@date:-"))
    return None


class Generator:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.leads: list[dict[str, Any]] = []
        self.follow_ups: list[dict[str, Any]] = []
        self.intents: list[dict[str, Any]] = []
        self.hospitals = json.loads((DEMO / "01_partner_hospitals.json").read_text("utf-8"))["records"]

    # pieces -------------------------------------------------------------------------------------------
    def contact(self) -> tuple[str, str, str]:
        return (
            self.rng.choice(PEOPLE),
            self.rng.choice(TITLES),
            "13" + "".join(str(self.rng.randint(0, 9)) for _ in range(9)),
        )

    def coop(self, n: int | None = None) -> list[str]:
        return self.rng.sample(COOP, n or self.rng.randint(1, 3))

    def follow_up(
        self,
        days_ago: int,
        follower: str,
        *,
        hospital: str | None,
        lead: str | None,
        next_in: int | None,
        coop: list[str],
        level: int | None = None,
    ) -> dict[str, Any]:
        kind, template = self.rng.choice(TOPICS)
        method = {
            "上门拜访": "visit",
            "电话沟通": "phone",
            "微信沟通": "wechat",
            "座谈会": "meeting",
            "来院参观": "hosted_visit",
        }[kind]
        who = f"{self.rng.choice(PEOPLE)}{self.rng.choice(['院长', '副院长', '科长', '主任'])}"
        name = (hospital or lead or "").removeprefix("@partner_hospital:").removeprefix("@coop_lead:")
        record: dict[str, Any] = {
            "subject": f"{kind}：{name[:8]}",
            "follow_date": at(days_ago),
            "method": method,
            "contact_person": who,
            "content": template.format(
                who=who,
                coop="、".join(COOP_ZH[c] for c in coop[:2]) or "双向转诊",
                dept=self.rng.choice(["心内科", "肿瘤科", "神经内科", "儿科", "骨科"]),
                mood=self.rng.choice(MOODS),
            ),
            "intent": coop[:2],
            "result": self.rng.choice(RESULTS),
            "follower": f"@user:{follower}",
        }
        if level is not None:
            record["intent_level"] = level
        if hospital:
            record["hospital"] = hospital
        if lead:
            record["lead"] = lead
        if next_in is not None:
            record["next_follow_date"] = at(days_ago - next_in)
        self.follow_ups.append(record)
        return record

    def history(
        self,
        start: int,
        end: int,
        follower: str,
        *,
        hospital: str | None,
        lead: str | None,
        coop: list[str],
        gap=(15, 45),
    ) -> int | None:
        """Follow-ups from ``start`` days ago down to ``end`` days ago, one every ``gap`` days, each naming the
        next one's date; returns the last one's days ago (None when start < end)."""
        days = []
        day = start
        while day >= end:
            days.append(day)
            day -= self.rng.randint(*gap)
        for i, day in enumerate(days):
            next_in = day - days[i + 1] if i + 1 < len(days) else self.rng.randint(7, 30)
            self.follow_up(
                day, follower, hospital=hospital, lead=lead, next_in=next_in, coop=coop, level=self.rng.randint(2, 5)
            )
        return days[-1] if days else None

    def lead(self, name: str, status: str, **values: Any) -> dict[str, Any]:
        record = {"hospital_name": name, "source": self.rng.choice(SOURCES), "status": status, **values}
        self.leads.append(record)
        return record

    def intent(self, title: str, status: str, liaison: str, raised: int, **values: Any) -> None:
        record: dict[str, Any] = {
            "title": title,
            "status": status,
            "cooperation_types": values.pop("coop"),
            "departments": self.rng.sample(DEPARTMENTS, self.rng.randint(1, 2)),
            "intent_level": values.pop("level", self.rng.randint(2, 5)),
            "raised_on": at(raised),
            "liaison": f"@user:{liaison}",
            **values,
        }
        self.intents.append(record)

    # the story ----------------------------------------------------------------------------------------
    def build(self) -> None:
        self.formal_partners()
        self.open_hospital_leads()
        self.fresh_leads()
        self.pool_and_recycled()
        self.closed()

    def formal_partners(self) -> None:
        for h in self.hospitals:
            if h.get("status") != "formal" or not h.get("liaison"):
                continue
            liaison = h["liaison"].removeprefix("@user:")
            ref = f"@partner_hospital:{h['name']}"
            signed = ago(h.get("signed_date")) or 1000
            coop = list(h.get("cooperation_type") or self.coop())
            # regular contact with the partner over the last 18 months (or since signing)
            self.history(min(HORIZON, signed - 5), 8, liaison, hospital=ref, lead=None, coop=coop, gap=(25, 60))
            if signed <= HORIZON - 60:  # signed recently: the lead it came from, converted on the signing day
                registered = signed + self.rng.randint(60, 150)
                name, title, phone = self.contact()
                key = h["name"]
                self.lead(
                    key,
                    "converted",
                    hospital=ref,
                    hospital_level=h.get("level"),
                    region=h.get("region"),
                    expected_cooperation=coop,
                    intent_level=5,
                    contact_name=name,
                    contact_title=title,
                    contact_phone=phone,
                    owner=f"@user:{liaison}",
                    registered_on=at(registered),
                    last_follow_date=at(signed + 3),
                    converted_on=at(signed),
                )
                self.history(registered - 2, signed + 3, liaison, hospital=ref, lead=f"@coop_lead:{key}", coop=coop)
                self.intent(
                    f"{h['name'][:6]}{COOP_ZH[coop[0]]}合作",
                    "agreed",
                    liaison,
                    registered - 20,
                    coop=coop[:2],
                    hospital=ref,
                    lead=f"@coop_lead:{key}",
                    decided_on=at(signed),
                    level=5,
                    expected_start=at(signed - 30),
                )
            if self.rng.random() < 0.6:  # a further cooperation being discussed with the partner
                extra = [c for c in COOP if c not in coop][:1] or coop[:1]
                self.intent(
                    f"{h['name'][:6]}{COOP_ZH[extra[0]]}拓展",
                    "open",
                    liaison,
                    self.rng.randint(10, 120),
                    coop=extra,
                    hospital=ref,
                    expected_start=at(-self.rng.randint(30, 150)),
                )

    def open_hospital_leads(self) -> None:
        """Hospitals in the 'lead' stage (and some potential ones) have a lead being followed up."""
        for h in self.hospitals:
            if not h.get("liaison") or h.get("status") not in ("lead", "potential"):
                continue
            if h["status"] == "potential" and self.rng.random() < 0.5:
                continue
            liaison = h["liaison"].removeprefix("@user:")
            ref = f"@partner_hospital:{h['name']}"
            coop = self.coop()
            registered = self.rng.randint(40, 300)
            last = self.rng.randint(2, 24)  # recent: the pool recycles leads idle for 30 days
            nxt = self.rng.randint(3, 20)
            name, title, phone = self.contact()
            key = h["name"]
            self.lead(
                key,
                "following",
                hospital=ref,
                hospital_level=h.get("level"),
                region=h.get("region"),
                expected_cooperation=coop,
                intent_level=self.rng.randint(2, 5),
                contact_name=name,
                contact_title=title,
                contact_phone=phone,
                owner=f"@user:{liaison}",
                registered_on=at(registered),
                last_follow_date=at(last),
                next_follow_date=at(-nxt),
            )
            self.history(registered - 1, last + 20, liaison, hospital=ref, lead=f"@coop_lead:{key}", coop=coop)
            self.follow_up(
                last,
                liaison,
                hospital=ref,
                lead=f"@coop_lead:{key}",
                next_in=last + nxt,
                coop=coop,
                level=self.rng.randint(2, 5),
            )
            if self.rng.random() < 0.7:
                self.intent(
                    f"{h['name'][:6]}{COOP_ZH[coop[0]]}意向",
                    "open",
                    liaison,
                    registered - 10,
                    coop=coop,
                    lead=f"@coop_lead:{key}",
                    hospital=ref,
                    expected_start=at(-self.rng.randint(20, 200)),
                )

    def fresh_leads(self) -> None:
        """Leads registered in the last days: claimed ones not yet followed up, new ones for a manager."""
        for i, (name, level, region) in enumerate(NEW_HOSPITALS[:5]):
            liaison = (TEAM1 + TEAM2)[(i * 3) % 10]
            person, title, phone = self.contact()
            self.lead(
                name,
                "claimed",
                hospital_level=level,
                region=region,
                expected_cooperation=self.coop(),
                contact_name=person,
                contact_title=title,
                contact_phone=phone,
                owner=f"@user:{liaison}",
                registered_on=at(self.rng.randint(1, 6)),
            )
        for name, level, region in NEW_HOSPITALS[5:8]:
            self.lead(
                name,
                "new",
                hospital_level=level,
                region=region,
                expected_cooperation=self.coop(),
                registered_on=at(self.rng.randint(0, 3)),
            )

    def pool_and_recycled(self) -> None:
        for name, level, region in NEW_HOSPITALS[8:13]:
            person, title, phone = self.contact()
            self.lead(
                name,
                "pool",
                source="health_commission",
                hospital_level=level,
                region=region,
                intent_level=self.rng.randint(1, 3),
                contact_name=person,
                contact_title=title,
                contact_phone=phone,
                registered_on=at(self.rng.randint(10, 150)),
            )
        for i, (name, level, region) in enumerate(NEW_HOSPITALS[13:16]):
            before = (TEAM1 + TEAM2)[(i * 4 + 1) % 10]
            registered = self.rng.randint(120, 300)
            coop = self.coop()
            last = self.history(
                registered - 3, 45, before, hospital=None, lead=f"@coop_lead:{name}", coop=coop, gap=(20, 50)
            )
            self.lead(
                name,
                "recycled",
                hospital_level=level,
                region=region,
                expected_cooperation=coop,
                intent_level=2,
                registered_on=at(registered),
                last_follow_date=at(last or 45),
                notes="联络员 30 天未跟进，系统自动退回公海",
            )

    def closed(self) -> None:
        for i, (name, level, region) in enumerate(NEW_HOSPITALS[16:18] + NEW_HOSPITALS[:0]):
            liaison = (TEAM2 + TEAM1)[i * 2]
            registered = self.rng.randint(200, 480)
            coop = self.coop()
            last = self.history(
                registered - 5, registered - 120, liaison, hospital=None, lead=f"@coop_lead:{name}", coop=coop
            )
            self.lead(
                name,
                "closed",
                hospital_level=level,
                region=region,
                expected_cooperation=coop,
                owner=f"@user:{liaison}",
                registered_on=at(registered),
                last_follow_date=at(last or registered),
                close_reason=CLOSE_REASONS[i],
            )
            self.intent(
                f"{name[:6]}{COOP_ZH[coop[0]]}意向",
                "dropped",
                liaison,
                registered - 3,
                coop=coop,
                lead=f"@coop_lead:{name}",
                decided_on=at(last or registered),
                drop_reason=CLOSE_REASONS[i],
                level=1,
            )
        for h in self.hospitals:  # hospitals that left the alliance: the lead that once closed for them too
            if (
                h.get("status") == "removed"
                and h.get("liaison")
                and len([x for x in self.leads if x["status"] == "closed"]) < 4
            ):
                liaison = h["liaison"].removeprefix("@user:")
                registered = self.rng.randint(300, 500)
                coop = self.coop()
                last = self.history(
                    registered - 5,
                    registered - 90,
                    liaison,
                    hospital=f"@partner_hospital:{h['name']}",
                    lead=f"@coop_lead:{h['name']}",
                    coop=coop,
                )
                self.lead(
                    h["name"],
                    "closed",
                    hospital=f"@partner_hospital:{h['name']}",
                    hospital_level=h.get("level"),
                    region=h.get("region"),
                    expected_cooperation=coop,
                    owner=f"@user:{liaison}",
                    registered_on=at(registered),
                    last_follow_date=at(last or registered),
                    close_reason=CLOSE_REASONS[2 + len(self.leads) % 2],
                )


def write(name: str, doc: dict[str, Any]) -> None:
    (DEMO / name).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", "utf-8")


def main() -> None:
    g = Generator()
    g.build()
    # a lead's records must exist before the follow-ups and intents that name it: leads first (02), then 03, 05
    write("02_coop_leads.json", {"entity": "coop_lead", "key": "hospital_name", "records": g.leads})
    g.follow_ups.sort(key=lambda f: -int(f["follow_date"].split(":")[1]))
    write("03_follow_ups.json", {"entity": "follow_up", "records": g.follow_ups})
    write("05_coop_intents.json", {"entity": "coop_intent", "records": g.intents})
    states: dict[str, int] = {}
    for lead in g.leads:
        states[lead["status"]] = states.get(lead["status"], 0) + 1
    print(f"{len(g.leads)} leads {states}, {len(g.follow_ups)} follow-ups, {len(g.intents)} intents")


if __name__ == "__main__":
    main()
