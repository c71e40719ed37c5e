"""Hospital stays of the patient CRM demo: patients, admissions, admission visits, discharge calls,
template follow-ups, satisfaction surveys, opinions and praise.

Why the shape: admissions follow the seasons (winter peaks in respiratory and cardiology, a dip around the
Spring Festival) over 18 months; wards differ in how satisfied their patients are, so NPS and satisfaction
by ward differ; nearly every visit and call is done on time, recent ones are still open and a few are
overdue or escalated; unsatisfied calls raise opinions that are closed when old and still open when
recent. Every date is kept as a real datetime here and written relative to REF by generate.py.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from people import People

REF = date(2026, 11, 23)
"""The day the dates are computed against (the test clock's day); written as offsets from it."""
NOW = datetime.combine(REF, time(17, 0))
"""Hospital-local 'now' when the demo is generated (tests run at 09:30 UTC = 17:30 in Shanghai)."""
HISTORY_DAYS = 540

WARDS: dict[str, dict[str, Any]] = {
    # share of admissions, satisfied share of reachable calls, NPS mood (promoter, detractor), stay days, team
    "cardiology": {"share": 13, "sat": 0.88, "nps": (0.66, 0.08), "stay": (4, 10), "team": 1, "season": 0.25},
    "respiratory": {"share": 11, "sat": 0.84, "nps": (0.55, 0.12), "stay": (5, 12), "team": 1, "season": 0.45},
    "gastroenterology": {"share": 8, "sat": 0.78, "nps": (0.40, 0.22), "stay": (4, 9), "team": 1, "season": 0.0},
    "neurology": {"share": 9, "sat": 0.85, "nps": (0.55, 0.12), "stay": (6, 14), "team": 1, "season": 0.2},
    "endocrinology": {"share": 7, "sat": 0.89, "nps": (0.68, 0.07), "stay": (5, 10), "team": 1, "season": 0.0},
    "nephrology": {"share": 5, "sat": 0.80, "nps": (0.45, 0.18), "stay": (6, 13), "team": 1, "season": 0.0},
    "general_surgery": {"share": 10, "sat": 0.84, "nps": (0.52, 0.12), "stay": (3, 8), "team": 2, "season": 0.0},
    "orthopedics": {"share": 10, "sat": 0.90, "nps": (0.72, 0.06), "stay": (5, 12), "team": 2, "season": 0.1},
    "neurosurgery": {"share": 5, "sat": 0.82, "nps": (0.48, 0.16), "stay": (8, 16), "team": 2, "season": 0.0},
    "urology": {"share": 7, "sat": 0.86, "nps": (0.58, 0.10), "stay": (3, 7), "team": 2, "season": 0.0},
    "obgyn": {"share": 9, "sat": 0.91, "nps": (0.75, 0.05), "stay": (3, 6), "team": 2, "season": -0.1},
    "oncology": {"share": 6, "sat": 0.76, "nps": (0.38, 0.25), "stay": (4, 9), "team": 2, "season": 0.0},
}
WARD_ZH = {
    "cardiology": "心内科",
    "respiratory": "呼吸科",
    "gastroenterology": "消化科",
    "neurology": "神经内科",
    "endocrinology": "内分泌科",
    "nephrology": "肾内科",
    "general_surgery": "普外科",
    "orthopedics": "骨科",
    "neurosurgery": "神经外科",
    "urology": "泌尿外科",
    "obgyn": "妇产科",
    "oncology": "肿瘤科",
}
DISEASE = {
    "cardiology": "coronary_heart_disease",
    "respiratory": "copd",
    "endocrinology": "diabetes",
    "orthopedics": "osteoarthritis",
    "neurology": "stroke",
    "oncology": "cancer",
    "neurosurgery": "stroke",
}
TEAMS = {1: ("pc.officer1", "pc.officer2"), 2: ("pc.officer3", "pc.officer4")}
TEAM_DEPT = {1: "DEV-MKT-1", 2: "DEV-MKT-2"}
SUPERVISOR = {1: "pc.supervisor1", 2: "pc.supervisor2"}
OPINION_DEPT = {"logistics": "LOGISTICS", "catering": "LOGISTICS", "environment": "LOGISTICS", "billing": "FINANCE"}
"""Where the pack's routing rule (pc_opinion_route) sends an opinion; others go to the ward's department."""
WARD_HEADS = {"neurology": "pc.head"}
WARD_NURSES = {"neurology": "pc.nurse"}
"""Department heads among the demo users (the handlers of their department's opinions)."""
OPINION_TEXT = {
    "billing": [
        "出院结算时费用清单看不明白，希望有人逐项解释。",
        "医保报销比例与入院时告知的不一致，希望核实。",
        "自费药品事先没有告知，结算时才知道。",
    ],
    "other": ["停车位太少，家属探视时很难停车。", "希望增加周末的专家门诊。"],
}
SOURCES = (
    ("referral", 14),
    ("walk_in", 30),
    ("staff_intro", 6),
    ("fc_lecture", 4),
    ("fc_community", 4),
    ("fc_academic", 1),
    ("fc_other", 1),
    ("da_three_checks", 3),
    ("da_two_cancers", 3),
    ("da_community", 3),
    ("da_family_care", 2),
    ("da_low_income_card", 1),
    ("da_care_card", 1),
    ("da_benefit_card", 1),
    ("online_consult", 10),
    ("phone_consult", 6),
    ("free_clinic", 1),
    ("daily_activity", 1),
    ("consult", 1),
)
TIERS = (("suspect", 10), ("potential", 14), ("dormant", 12), ("small", 30), ("medium", 18), ("large", 10), ("vip", 6))
CATEGORIES = (("regular", 78), ("key", 14), ("special", 8))


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...] | list[tuple[str, float]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute))


@dataclass
class Stay:
    visit_no: str
    ward: str
    admitted: datetime
    discharged: datetime | None
    status: str
    diagnosis: str
    treatment: str
    disease: str
    surgery: str
    bed: str
    doctor: str
    team: int
    calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Patient:
    key: str
    gender: str
    record: dict[str, Any]
    stays: list[Stay]
    source: str
    referrer: str | None = None


@dataclass
class Out:
    """Everything generated, per entity (records in the demo file format, dates still absolute)."""

    patients: list[Patient] = field(default_factory=list)
    admissions: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    surveys: list[dict[str, Any]] = field(default_factory=list)
    opinions: list[dict[str, Any]] = field(default_factory=list)
    praise: list[dict[str, Any]] = field(default_factory=list)


def season(day: date, amplitude: float) -> float:
    """More admissions in winter (peak mid-January), a dip in the Spring Festival weeks."""
    angle = 2 * math.pi * (day.timetuple().tm_yday - 15) / 365
    factor = 1 + amplitude * math.cos(angle) + 0.08 * math.cos(angle)
    if (day.month, day.day) >= (2, 5) and (day.month, day.day) <= (2, 20):
        factor *= 0.6
    return factor


class StayMaker:
    def __init__(self, rng: random.Random, people: People, base: dict[str, Any], referrers: list[str]):
        self.rng, self.people, self.base, self.referrers = rng, people, base, referrers
        self.out = Out()
        self._visit = 0
        self._staff = [s for s in base["praised_staff"]]

    # patients and stays ----------------------------------------------------------------------------
    def admission_days(self, n: int) -> list[tuple[date, str]]:
        """n (day, ward) pairs over the history, weighted by ward share and season."""
        days = [REF - timedelta(days=d) for d in range(HISTORY_DAYS, -1, -1)]
        cells, weights = [], []
        for day in days:
            weekday = 0.75 if day.weekday() >= 5 else 1.0
            growth = 0.85 + 0.3 * (day - days[0]).days / HISTORY_DAYS  # the hospital grows a little
            for ward, w in WARDS.items():
                cells.append((day, ward))
                weights.append(w["share"] * season(day, w["season"]) * weekday * growth)
        return self.rng.choices(cells, weights, k=n)

    def stay(self, ward: str, day: date) -> Stay:
        rng = self.rng
        w = WARDS[ward]
        admitted = at(day, rng.choice((8, 9, 10, 11, 14, 15, 16, 20, 22)), rng.randrange(60))
        if day == REF:
            admitted = at(day, rng.choice((8, 9, 10, 11, 13)), rng.randrange(60))
        los = rng.randint(*w["stay"])
        discharged: datetime | None = at(day + timedelta(days=los), rng.choice((9, 10, 11, 15)), rng.randrange(60))
        status = "discharged"
        if discharged is not None and discharged > NOW:
            discharged, status = None, "admitted"
        diagnosis, treatment = rng.choice(self.base["diagnoses"][ward])
        surgery = "none"
        if ward == "orthopedics" and "置换" in treatment:
            surgery = "joint_replacement"
        elif ward == "cardiology" and "PCI" in treatment:
            surgery = "pci"
        elif ward in ("general_surgery", "urology", "neurosurgery", "obgyn") and "术" in treatment:
            surgery = "other"
        self._visit += 1
        return Stay(
            visit_no=f"ZY{admitted:%Y}{self._visit:06d}",
            ward=ward,
            admitted=admitted,
            discharged=discharged,
            status=status,
            diagnosis=diagnosis,
            treatment=treatment,
            disease=DISEASE.get(ward, "diabetes" if "糖尿病" in diagnosis else "other"),
            surgery=surgery,
            bed=f"{rng.randint(1, 48)}",
            doctor=self.people.name(rng.choice(("male", "female")))
            + rng.choice(("主任医师", "副主任医师", "主治医师")),
            team=w["team"],
        )

    def patients(self, n: int, readmit: float) -> None:
        rng = self.rng
        starts = sorted(self.admission_days(n), key=lambda x: x[0])
        for i, (day, ward) in enumerate(starts):
            stays = [self.stay(ward, day)]
            first = stays[0]
            if rng.random() < readmit and first.discharged is not None:
                gap = rng.randint(30, 300)
                again = first.discharged.date() + timedelta(days=gap)
                if again <= REF - timedelta(days=1):
                    stays.append(self.stay(ward if rng.random() < 0.7 else rng.choice(list(WARDS)), again))
            self.out.patients.append(self.patient(i, stays))

    def patient(self, i: int, stays: list[Stay]) -> Patient:
        rng, people = self.rng, self.people
        last = stays[-1]
        ward = last.ward
        gender = "female" if ward == "obgyn" else rng.choice(("male", "female"))
        young, old = (22, 42) if ward == "obgyn" else (18, 92)
        if ward in ("cardiology", "neurology", "oncology", "respiratory"):
            young = 40
        born = people.birth_date(REF, young, old)
        code, *region = rng.choice(self.base["regions"])
        source = pick(rng, SOURCES)
        key = f"{stays[0].admitted:%Y}{i + 1:06d}"
        record: dict[str, Any] = {
            "name": people.name(gender),
            "gender": gender,
            "birth_date": born,
            "id_number": people.id_number(code, born, gender),
            "phone": people.phone(),
            "region": region,
            "address": rng.choice(self.base["addresses"]),
            "contact_person": people.name(rng.choice(("male", "female"))),
            "contact_relation": rng.choice(self.base["relations"]),
            "contact_phone": people.phone(),
            "inpatient_no": key,
            "his_patient_id": f"PID{i + 1:08d}",
            "ward": ward,
            "bed": last.bed,
            "admitted_at": last.admitted,
            "diagnosis": last.diagnosis,
            "treatment": last.treatment,
            "disease": last.disease,
            "category": pick(rng, CATEGORIES),
            "member_tier": pick(rng, TIERS),
            "source": source,
            "responsible_staff": "@user:" + rng.choice(TEAMS[last.team]),
            "department": "@department:" + TEAM_DEPT[last.team],
        }
        if rng.random() < 0.03:
            del record["responsible_staff"]  # new to the team: the supervisor has not appointed an officer yet
        if rng.random() < 0.3:
            record["email"] = f"patient{i + 1:05d}@example.com"
        if rng.random() < 0.04:
            record["birthday_greetings"] = False
        if last.discharged is not None:
            record["discharged_at"] = last.discharged
        p = Patient(key, gender, record, stays, source)
        if source == "referral":
            p.referrer = self.rng.choices(self.referrers, [1 / (k + 1) ** 0.9 for k in range(len(self.referrers))])[0]
            record["referrer"] = "@referrer:" + p.referrer
        return p

    # calls, surveys, opinions, praise ------------------------------------------------------------
    def records(self) -> Out:
        for p in self.out.patients:
            for stay in p.stays:
                self.admission(p, stay)
                self.visit(p, stay)
                if stay.discharged is not None:
                    self.discharge_call(p, stay)
                    self.template_followups(p, stay)
            self.follow_up_status(p)
        return self.out

    def admission(self, p: Patient, stay: Stay) -> None:
        rec: dict[str, Any] = {
            "visit_no": stay.visit_no,
            "patient": "@patient:" + p.key,
            "ward": stay.ward,
            "bed": stay.bed,
            "attending_doctor": stay.doctor,
            "admitted_at": stay.admitted,
            "diagnosis": stay.diagnosis,
            "disease": stay.disease,
            "surgery": stay.surgery,
            "status": stay.status,
            "responsible_staff": p.record.get("responsible_staff"),
            "department": p.record["department"],
        }
        if stay.discharged is not None:
            rec["discharged_at"] = stay.discharged
        self.out.admissions.append(rec)

    def _call(self, p: Patient, stay: Stay, kind: str, label: str, due: datetime, channel: str) -> dict[str, Any]:
        staff = self.rng.choice(TEAMS[stay.team])  # drawn even when unused: the seeded story stays the same
        responsible = p.record.get("responsible_staff")
        if kind == "admission_visit" and stay.ward in WARD_NURSES:
            staff = WARD_NURSES[stay.ward]  # the ward's nurse visits at the bedside
        elif responsible:  # as the pack's rules assign it: the officer who looks after the patient calls
            staff = responsible.removeprefix("@user:")
        call = {
            "title": f"{p.record['name']} {label}（{stay.visit_no}）",
            "patient": "@patient:" + p.key,
            "admission": "@admission:" + stay.visit_no,
            "ward": stay.ward,
            "type": kind,
            "channel": channel,
            "due_at": due,
            "staff": "@user:" + staff,
            "department": "@department:" + TEAM_DEPT[stay.team],
            "status": "open",
        }
        stay.calls.append(call)
        self.out.calls.append(call)
        return call

    def _pending(self, call: dict[str, Any], stay: Stay, due: datetime) -> None:
        """A task not done yet: open until it is due, then overdue (pc_followup_overdue), then escalated to the
        team's supervisor 4 hours (admission visit) or a day (discharge call) after it fell due."""
        if due > NOW:
            return
        grace = timedelta(hours=4 if call["type"] == "admission_visit" else 24)
        if call["type"] != "template_followup" and NOW - due > grace:
            call.update(status="escalated", escalated_at=due + grace, escalated_to="@user:" + SUPERVISOR[stay.team])
        else:
            call["status"] = "overdue"

    def _late(self, call: dict[str, Any], stay: Stay, due: datetime) -> bool:
        """A task missed its due time: escalated; most old ones were done a day or two later (True)."""
        self._pending(call, stay, due)
        if NOW - due > timedelta(days=30) and self.rng.random() < 0.7:
            call["done_late"] = due + timedelta(days=self.rng.randint(1, 3), hours=self.rng.randint(0, 5))
            return True
        return False

    def _open_today(self, due: datetime) -> bool:
        """Half of today's and tomorrow's tasks are still to do when the demo is seen."""
        return due.date() >= REF and self.rng.random() < 0.5

    def visit(self, p: Patient, stay: Stay) -> None:
        """The bedside admission visit, due 24 hours after admission."""
        rng = self.rng
        due = stay.admitted + timedelta(hours=24)
        call = self._call(p, stay, "admission_visit", "入院回访", due, "bedside")
        done = stay.admitted + timedelta(minutes=rng.randint(60, 22 * 60))
        if due <= NOW and rng.random() < 0.03:
            if not self._late(call, stay, due):
                return
            done = call.pop("done_late")
        elif done > NOW or self._open_today(due):
            self._pending(call, stay, due)
            return
        self._done(call, stay, done, reachable=True)

    def discharge_call(self, p: Patient, stay: Stay) -> None:
        """The discharge follow-up call, due 72 hours after discharge."""
        rng = self.rng
        assert stay.discharged is not None
        due = stay.discharged + timedelta(hours=72)
        call = self._call(p, stay, "discharge_call", "出院回访", due, "phone" if rng.random() < 0.85 else "wechat")
        done = stay.discharged + timedelta(hours=rng.randint(20, 70), minutes=rng.randrange(60))
        if rng.random() < 0.05:
            done = due + timedelta(hours=rng.randint(2, 30))  # a little late, still made
        if rng.random() < 0.004:
            call.update(status="cancelled", notes="患者已转至外院继续治疗，取消出院回访。")
            return
        if due <= NOW and rng.random() < 0.04:
            if not self._late(call, stay, due):
                return
            done = call.pop("done_late")
        elif done > NOW or self._open_today(due):
            self._pending(call, stay, due)
            return
        self._done(call, stay, done, reachable=rng.random() > 0.055)
        if call["satisfaction"] != "unreachable" and rng.random() < 0.35:
            self.survey(p, stay, call)

    def template_followups(self, p: Patient, stay: Stay) -> None:
        """Disease/surgery template follow-ups (joint replacement day 3/7/30, PCI and diabetes day 7/30)."""
        if stay.surgery == "joint_replacement":
            days = (3, 7, 30)
        elif stay.surgery == "pci" or stay.disease == "diabetes":
            days = (7, 30)
        else:
            return
        assert stay.discharged is not None
        if stay.discharged < NOW - timedelta(days=120):
            return  # the templates went live four months ago
        for d in days:
            due = at(stay.discharged.date() + timedelta(days=d), 10, 0)
            call = self._call(p, stay, "template_followup", f"专病随访 第{d}天", due, "phone")
            done = due + timedelta(hours=self.rng.randint(-1, 6))
            if done > NOW or self._open_today(due):
                self._pending(call, stay, due)
                continue
            self._done(call, stay, done, reachable=self.rng.random() > 0.05, satisfaction=False)
            if (
                call.get("pain_score") is None
                and call["result"] != "unreachable"
                and stay.surgery == "joint_replacement"
            ):
                call["pain_score"] = max(0, 6 - d // 5 + self.rng.randint(-2, 2))

    def _done(
        self, call: dict[str, Any], stay: Stay, done: datetime, *, reachable: bool, satisfaction: bool = True
    ) -> None:
        rng = self.rng
        w = WARDS[stay.ward]
        call.update(status="done", done_at=done)
        if not reachable:
            call.update(result="unreachable", satisfaction="unreachable", notes=rng.choice(self.base["notes"]))
            return
        roll = rng.random()
        if roll < w["sat"]:
            result = "satisfied"
        elif roll < w["sat"] + (1 - w["sat"]) * 0.55:
            result = "unsatisfied"
        else:
            result = "no_opinion"
        call["result"] = result
        if satisfaction:
            call["satisfaction"] = result
        promoter, detractor = w["nps"]
        if result == "satisfied":
            call["nps"] = 9 + (rng.random() < 0.5) if rng.random() < promoter / 0.8 else rng.choice((7, 8))
        elif result == "unsatisfied":
            call["nps"] = rng.randint(0, 6)
        else:
            call["nps"] = rng.randint(5, 8)
        if stay.ward in ("orthopedics", "general_surgery", "neurosurgery") and call["type"] != "template_followup":
            call["pain_score"] = rng.randint(0, 6)
        if result == "unsatisfied":
            self.opinion(call, stay, done)
        elif result == "satisfied" and rng.random() < 0.06:
            self.praise_for(call, stay, done)

    def opinion(self, call: dict[str, Any], stay: Stay, raised: datetime) -> None:
        rng = self.rng
        category = pick(
            rng,
            (
                ("medical", 18),
                ("nursing", 20),
                ("logistics", 12),
                ("service", 18),
                ("environment", 10),
                ("billing", 8),
                ("catering", 10),
                ("other", 4),
            ),
        )
        texts = self.base["opinions"].get(category) or OPINION_TEXT[category]
        content = rng.choice(texts)
        grade = pick(rng, (("normal", 70), ("important", 25), ("critical", 5)))
        call.update(opinion=content, opinion_category=category, important=grade != "normal")
        age = (NOW - raised).days
        if age > 30:
            status = "closed" if rng.random() < 0.85 else "resolved"
        elif age > 7:
            status = pick(rng, (("closed", 40), ("resolved", 30), ("in_progress", 25), ("routed", 5)))
        else:
            status = pick(rng, (("new", 35), ("routed", 35), ("in_progress", 30)))
        rec: dict[str, Any] = {
            "patient": call["patient"],
            "followup_call": "@followup_call:" + call["title"],
            "ward": stay.ward,
            "category": category,
            "grade": grade,
            "content": content,
            "raised_at": raised,
            "status": status,
        }
        if status != "new":
            rec["department"] = "@department:" + OPINION_DEPT.get(category, "WARD-" + stay.ward.upper())
            head = WARD_HEADS.get(stay.ward) if category not in OPINION_DEPT else None
            rec["handler"] = "@user:" + (head or SUPERVISOR[stay.team])
        if status in ("resolved", "closed"):
            resolved = min(raised + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 6)), NOW)
            rec["resolved_at"] = resolved
            rec["response"] = rng.choice(
                (
                    "已与相关科室沟通并整改，电话向患者致歉并反馈处理结果，患者表示理解。",
                    "已核实情况，对责任人进行了提醒教育，并在科室晨会通报。",
                    "已安排专人解释说明，患者接受处理意见。",
                )
            )
        self.out.opinions.append(rec)

    def praise_for(self, call: dict[str, Any], stay: Stay, done: datetime) -> None:
        staff = f"{WARD_ZH[stay.ward]}" + self.rng.choice(("护士长", "责任护士", "主治医师", "主任"))
        call.update(praise=True, praised_staff=staff)
        self.out.praise.append(
            {
                "patient": call["patient"],
                "followup_call": "@followup_call:" + call["title"],
                "ward": stay.ward,
                "department": "@department:WARD-" + stay.ward.upper(),
                "praised_staff": staff,
                "content": self.rng.choice(self.base["comments"]),
                "praised_on": done.date(),
            }
        )

    def survey(self, p: Patient, stay: Stay, call: dict[str, Any]) -> None:
        rng = self.rng
        assert stay.discharged is not None
        day = stay.discharged.date() + timedelta(days=rng.randint(3, 10))
        if day > REF:
            return
        promoter, detractor = WARDS[stay.ward]["nps"]
        roll = rng.random()
        nps = (
            rng.choice((9, 10))
            if roll < promoter
            else rng.randint(0, 6)
            if roll < promoter + detractor
            else rng.choice((7, 8))
        )
        base = 5 if nps >= 9 else 4 if nps >= 7 else 3 if nps >= 5 else 2
        scores = {
            k: max(1, min(5, base + rng.choice((-1, 0, 0, 0, 1))))
            for k in ("medical_score", "nursing_score", "logistics_score", "environment_score", "service_score")
        }
        avg = sum(scores.values()) / 5
        result = "satisfied" if avg >= 3.8 else "unsatisfied" if avg <= 2.6 else "no_opinion"
        rec = {
            "patient": "@patient:" + p.key,
            "admission": "@admission:" + stay.visit_no,
            "ward": stay.ward,
            "survey_date": day,
            "channel": rng.choice(("phone", "sms", "wechat")),
            "surveyor": call["staff"],
            **scores,
            "nps": nps,
            "result": result,
        }
        if rng.random() < 0.3:
            rec["comments"] = rng.choice(self.base["comments"])
        self.out.surveys.append(rec)

    def follow_up_status(self, p: Patient) -> None:
        last = p.stays[-1]
        calls = [c for c in last.calls if c["type"] == "discharge_call"]
        if not calls:
            status = "pending"
        elif calls[0].get("result") == "unreachable":
            status = "lost"
        elif calls[0]["status"] == "done":
            status = "completed"
        elif calls[0]["status"] in ("overdue", "escalated"):
            status = "in_progress"
        else:
            status = "pending"
        p.record["follow_up_status"] = status
