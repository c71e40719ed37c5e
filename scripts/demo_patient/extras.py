"""The rest of the patient CRM demo: referrers and their grades, appointments, points, health records and
exam reports, the flu-vaccination campaigns with their contacts, and MDT cases.

Why the shape: referrers' grades follow their referrals this month and year (the same counts the grading
uses), appointment arrival differs by channel (phone bookings arrive most, email least), points add up to
the patient's balance, and the flu campaign's audience is chosen from data (60+ or chronic disease).
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from people import People
from stays import NOW, REF, TEAMS, WARDS, Patient, at, pick

UTC_OFFSET = timedelta(hours=8)
"""Asia/Shanghai: a patient admitted at 01:00 on 1 January local time is still in December in UTC."""
OFFICERS = ("pc.officer1", "pc.officer3", "pc.officer4")
REFERRER_ORGS = (
    "卫生室",
    "卫生院",
    "社区卫生服务站",
    "社区卫生服务中心",
    "大药房",
    "诊所",
    "居委会",
)
ARRIVAL = {"phone": 0.86, "web": 0.79, "sms": 0.80, "email": 0.70}


def referrer_names(rng: random.Random, people: People, base: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """n referrers (the 15 of the original demo first), each with exactly one referral officer."""
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for r in base["referrers"]:
        rec = {k: v for k, v in r.items() if k not in ("referrals_this_year", "grade", "officer")}
        out.append(rec)
        names.add(rec["name"])
    while len(out) < n:
        name = people.name(rng.choice(("male", "female")))
        if name in names:
            continue
        names.add(name)
        code, *region = rng.choice(base["regions"])
        kind = rng.choice(
            (
                "village_doctor",
                "township_doctor",
                "community_doctor",
                "hospital_doctor",
                "pharmacy",
                "community_worker",
                "former_patient",
            )
        )
        rec = {
            "name": name,
            "referrer_type": kind,
            "phone": people.phone(),
            "region": region,
            "since": (REF - timedelta(days=rng.randint(200, 3000))).isoformat(),
        }
        if kind != "former_patient":
            rec["organisation"] = (
                region[-1] + rng.choice(("东", "西", "南", "北", "新华", "光明")) + rng.choice(REFERRER_ORGS)
            )
        out.append(rec)
    for i, rec in enumerate(out):
        rec["officer"] = "@user:" + OFFICERS[i % len(OFFICERS)]
    return out


def grade_referrers(referrers: list[dict[str, Any]], patients: list[Patient]) -> None:
    """Referrals in the last 30 and 365 days (the referred patient's latest admission) and the grade they give,
    as the pack's scores compute them (scores/pc_referrer_grade.json: month x 3 + year; gold from 40, silver
    from 20, bronze from 8), so the loaded values agree with a recomputation."""
    now_utc = datetime.combine(REF, datetime.min.time()) + timedelta(hours=9, minutes=30)  # the test clock
    year: dict[str, int] = {}
    month: dict[str, int] = {}
    for p in patients:
        if p.referrer is None:
            continue
        utc = p.stays[-1].admitted - UTC_OFFSET
        if utc >= now_utc - timedelta(days=365):
            year[p.referrer] = year.get(p.referrer, 0) + 1
            if utc >= now_utc - timedelta(days=30):
                month[p.referrer] = month.get(p.referrer, 0) + 1
    for r in referrers:
        y, m = year.get(r["name"], 0), month.get(r["name"], 0)
        score = 3 * m + y
        r["referrals_this_year"], r["referrals_this_month"], r["contribution_score"] = y, m, score
        r["grade"] = "gold" if score >= 40 else "silver" if score >= 20 else "bronze" if score >= 8 else "iron"
        r["active"] = y > 0


def appointments(rng: random.Random, patients: list[Patient], n: int) -> list[dict[str, Any]]:
    """Outpatient bookings by web, phone, SMS and email over 18 months and the next two weeks."""
    out = []
    for _ in range(n):
        p = rng.choice(patients)
        offset = rng.randint(-535, 14)
        day = REF + timedelta(days=offset)
        scheduled = at(day, rng.choice((8, 9, 10, 11, 14, 15, 16)), rng.choice((0, 15, 30, 45)))
        channel = pick(rng, (("web", 35), ("phone", 35), ("sms", 15), ("email", 15)))
        booked = scheduled - timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 8))
        if booked > NOW:
            booked = NOW - timedelta(hours=rng.randint(1, 5))
        rec: dict[str, Any] = {
            "patient": "@patient:" + p.key,
            "channel": channel,
            "ward": p.stays[-1].ward if rng.random() < 0.7 else rng.choice(list(WARDS)),
            "doctor": rng.choice(("王", "李", "张", "刘", "陈", "赵")) + rng.choice(("主任", "医生", "教授")),
            "booked_at": booked,
            "scheduled_at": scheduled,
            "staff": "@user:" + rng.choice(TEAMS[WARDS[p.stays[-1].ward]["team"]]),
        }
        if p.record.get("responsible_staff"):  # booked for the officer who looks after the patient
            rec["staff"] = p.record["responsible_staff"]
        reminded = scheduled - timedelta(days=1)
        if scheduled <= NOW:
            roll = rng.random()
            if roll < 0.04:
                rec["status"] = "cancelled"
            elif roll < 0.04 + 0.96 * ARRIVAL[channel]:
                rec["status"] = "arrived"
                rec["arrived_at"] = max(scheduled + timedelta(minutes=rng.randint(-20, 40)), booked)
            else:
                rec["status"] = "no_show"
            if reminded > booked and rng.random() < 0.8:
                rec["reminded_at"] = reminded
        elif reminded <= NOW and reminded > booked:
            rec.update(status="reminded", reminded_at=reminded)
        else:
            rec["status"] = "booked"
        out.append(rec)
    return sorted(out, key=lambda r: r["scheduled_at"])


def points(rng: random.Random, patients: list[Patient]) -> list[dict[str, Any]]:
    """Points of member patients: earned per stay and check-up, some redeemed; the balance goes on the patient."""
    out = []
    for p in patients:
        tier = p.record["member_tier"]
        if tier in ("suspect", "potential", "dormant") or (tier == "small" and rng.random() < 0.6):
            p.record["points"] = 0
            continue
        total, entries = 0, []
        for stay in p.stays:
            entries.append(("admission", rng.randint(1, 5) * 100, stay.admitted.date(), "住院积分"))
        if tier in ("large", "vip") or rng.random() < 0.2:
            day = p.stays[0].admitted.date() + timedelta(days=rng.randint(30, 200))
            if day <= REF:
                entries.append(("checkup", 200, day, "健康体检积分"))
        if p.referrer is not None and rng.random() < 0.3:
            entries.append(("referral", 100, p.stays[0].admitted.date(), "转诊积分"))
        for reason, amount, day, note in entries:
            total += amount
            out.append(
                {"patient": "@patient:" + p.key, "points": amount, "reason": reason, "occurred_on": day, "note": note}
            )
        if total >= 400 and rng.random() < 0.25:
            day = min(entries[-1][2] + timedelta(days=rng.randint(10, 90)), REF)
            out.append(
                {
                    "patient": "@patient:" + p.key,
                    "points": -200,
                    "reason": "redeem",
                    "occurred_on": day,
                    "note": "兑换体检套餐",
                }
            )
            total -= 200
        p.record["points"] = total
    return out


def health(rng: random.Random, patients: list[Patient], n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A lifelong record for n chronic patients: outpatient visits, check-ups and exams between their stays."""
    chronic = [p for p in patients if p.record["disease"] != "other"]
    records, exams = [], []
    for p in rng.sample(chronic, min(n, len(chronic))):
        first = p.stays[0].admitted.date()
        for stay in p.stays:
            records.append(
                {
                    "patient": "@patient:" + p.key,
                    "kind": "inpatient",
                    "record_date": stay.admitted.date(),
                    "ward": stay.ward,
                    "doctor": stay.doctor,
                    "summary": f"{stay.diagnosis}；{stay.treatment}",
                }
            )
        for _ in range(rng.randint(1, 3)):
            day = first + timedelta(days=rng.randint(-200, 400))
            if day > REF:
                continue
            kind = rng.choice(("outpatient", "checkup"))
            summary = (
                "门诊复诊，病情稳定，继续目前治疗方案。"
                if kind == "outpatient"
                else "年度健康体检，血压、血糖控制尚可。"
            )
            records.append(
                {
                    "patient": "@patient:" + p.key,
                    "kind": kind,
                    "record_date": day,
                    "ward": p.stays[0].ward,
                    "summary": summary,
                }
            )
        if rng.random() < 0.6:
            day = min(first + timedelta(days=rng.randint(0, 300)), REF)
            abnormal = rng.random() < 0.25
            exam = rng.choice(("胸部CT", "心脏彩超", "腹部B超", "血常规+生化", "糖化血红蛋白", "颈动脉彩超"))
            rec = {
                "patient": "@patient:" + p.key,
                "exam_type": exam,
                "exam_date": day,
                "abnormal": abnormal,
                "conclusion": "结果异常，建议专科门诊复查。" if abnormal else "未见明显异常。",
            }
            exams.append(rec)
    return records, exams


def campaigns(rng: random.Random, patients: list[Patient]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """This autumn's flu-vaccination campaign (running) and last year's (finished), audiences chosen from data."""

    def born(p: Patient) -> date:
        return p.record["birth_date"]

    audience = [
        p
        for p in patients
        if (REF - born(p)).days >= 60 * 365 or p.record["disease"] in ("copd", "diabetes", "coronary_heart_disease")
    ]
    specs = [
        ("2026年秋冬季流感疫苗接种活动", "running", REF - timedelta(days=75), REF + timedelta(days=37), 700, 1.0),
        ("2025年秋冬季流感疫苗接种活动", "finished", date(2025, 9, 10), date(2025, 12, 31), 420, 0.85),
    ]
    camps, contacts = [], []
    for name, status, start, end, n, pull in specs:
        chosen = rng.sample(audience, min(n, len(audience)))
        sent = at(start + timedelta(days=2), 10, 0)
        responses = 0
        for p in chosen:
            delivery = pick(rng, (("sent", 95), ("failed", 3), ("opted_out", 2)))
            rec: dict[str, Any] = {
                "campaign": "@campaign:" + name,
                "patient": "@patient:" + p.key,
                "sent_at": sent,
                "delivery": delivery,
                "response": "no_response",
            }
            if delivery == "sent":
                response = pick(
                    rng,
                    (
                        ("no_response", 52),
                        ("interested", 12),
                        ("booked", 10 * pull),
                        ("vaccinated", 20 * pull),
                        ("declined", 6),
                    ),
                )
                rec["response"] = response
                if response != "no_response":
                    responses += 1
                    rec["responded_at"] = min(sent + timedelta(days=rng.randint(0, 20), hours=rng.randint(1, 8)), NOW)
            contacts.append(rec)
        camps.append(
            {
                "name": name,
                "kind": "flu_vaccination",
                "segment": "pc_elderly_60",
                "template": "pc_campaign_invitation",
                "channel": "sms",
                "budget": 30000 if status == "running" else 18000,
                "early_price": 88,
                "regular_price": 128,
                "early_until": start + timedelta(days=30),
                "starts_on": start,
                "ends_on": end,
                "status": status,
                "owner": "@user:pc.manager",
                "sent_count": len(chosen),
                "response_count": responses,
                "description": "面向60岁以上及慢阻肺、糖尿病、冠心病患者，短信邀约接种流感疫苗；活动前30天早鸟价。",
            }
        )
    return camps, contacts


def mdt(rng: random.Random, patients: list[Patient]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    onc = [p for p in patients if p.stays[-1].ward in ("oncology", "neurosurgery") and p.stays[-1].discharged is None]
    onc = onc or patients[-5:]
    cases = [
        {
            "patient": "@patient:" + onc[0].key,
            "requesting_doctor": "@user:pc.doctor",
            "coordinator": "@user:pc.mdt",
            "question": "右肺腺癌伴脑转移，靶向治疗后进展，请胸外科、神经外科、放疗科会诊下一步治疗方案。",
            "departments": "胸外科、神经外科、放疗科、肿瘤科",
            "status": "concluded",
            "conclusion": "建议先行脑转移灶立体定向放疗，同时更换三代靶向药物，4周后复查评估。",
        },
        {
            "patient": "@patient:" + onc[-1].key,
            "requesting_doctor": "@user:pc.doctor",
            "coordinator": "@user:pc.mdt",
            "question": "高龄患者结肠癌术后合并心功能不全，请心内科、麻醉科评估辅助化疗耐受性。",
            "departments": "心内科、麻醉科、肿瘤科",
            "status": "in_progress",
        },
    ]
    opinions = [
        {
            "mdt_case": "@mdt_case:" + cases[0]["question"],
            "specialist": "@user:pc.doctor",
            "opinion": "脑转移灶单发，直径1.8厘米，适合立体定向放疗。",
            "recommendation": "SRS 放疗",
        },
        {
            "mdt_case": "@mdt_case:" + cases[0]["question"],
            "specialist": "@user:pc.mdt",
            "opinion": "基因检测提示 T790M 突变，可更换三代 EGFR-TKI。",
            "recommendation": "更换靶向药物",
        },
        {
            "mdt_case": "@mdt_case:" + cases[1]["question"],
            "specialist": "@user:pc.doctor",
            "opinion": "心功能 II 级，可耐受减量化疗，需监测心功能。",
            "recommendation": "减量 CAPOX",
        },
    ]
    return cases, opinions


def clamp_today(d: date | datetime) -> bool:
    return (d.date() if isinstance(d, datetime) else d) <= REF
