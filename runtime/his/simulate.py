"""A realistic, seeded HL7 v2 ADT stream for demos, tests and the bench: admissions, updates, discharges
and the occasional merge of a duplicate registration. Every name and number is fictional; ID numbers
are well-formed 18-digit resident ID numbers (GB 11643 check digit) whose birth date and sex agree
with PID-7 and PID-8, so the pack's own validations accept them."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红梅建国志强海燕小红晓东文博雨欣子涵浩然思远"
REGIONS = ("330102", "330106", "330108", "110105", "310104", "320102", "440106", "510104", "420102", "370102")
WARD_CODES = tuple(f"W{n:02d}" for n in range(1, 13))
"""HIS ward codes W01..W12: the value map ward_codes of the shipped mapping turns them into the 12 wards."""
DIAGNOSES = (
    ("I10", "原发性高血压"),
    ("E11.9", "2型糖尿病"),
    ("I25.1", "冠状动脉粥样硬化性心脏病"),
    ("M17.1", "膝关节骨关节炎"),
    ("I25.1", "冠状动脉粥样硬化性心脏病"),
    ("M17.1", "膝关节骨关节炎"),
    ("J44.1", "慢性阻塞性肺疾病急性加重"),
    ("I63.9", "脑梗死"),
    ("C34.9", "肺恶性肿瘤"),
    ("K80.2", "胆囊结石"),
    ("N20.0", "肾结石"),
    ("O80", "单胎顺产"),
)
PROCEDURES = {"M17.1": ("81.54", "全膝关节置换术"), "I25.1": ("00.66", "经皮冠状动脉腔内成形术")}
"""Diagnoses whose stays usually include a procedure (PR1): knee replacement, PCI."""
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_number(rng: random.Random, birth: date, male: bool) -> str:
    """An 18-digit resident ID number: region, birth date, sequence (odd for men) and check digit."""
    seq = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    first17 = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


@dataclass
class SimPatient:
    mrn: str
    family: str
    given: str
    male: bool
    birth: date
    phone: str
    id_no: str
    stay: dict[str, Any] | None = None


@dataclass
class AdtSimulator:
    """Generates messages in a plausible order: only admitted patients are discharged, merges join a
    duplicate registration (no open stay) into another patient."""

    seed: int = 1
    start: datetime = field(default_factory=lambda: datetime(2026, 11, 23, 8, 0))
    facility: str = "FICT_HOSP"
    mrn_prefix: str = "MRN"

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.now = self.start
        self.patients: list[SimPatient] = []
        self.serial = 0
        self.visits = 0
        self.registered = 0  # MRNs are never reused, even after a merge removed a patient

    # building blocks ---------------------------------------------------------------------------
    def _stamp(self) -> str:
        return self.now.strftime("%Y%m%d%H%M%S")

    def _control_id(self) -> str:
        self.serial += 1
        return f"SIM{self.seed}-{self.serial:07d}"

    def _new_patient(self) -> SimPatient:
        rng = self.rng
        male = rng.random() < 0.5
        birth = date(rng.randint(1935, 2005), rng.randint(1, 12), rng.randint(1, 28))
        given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
        self.registered += 1
        patient = SimPatient(
            mrn=f"{self.mrn_prefix}{self.seed:02d}{self.registered:07d}",
            family=rng.choice(SURNAMES),
            given=given,
            male=male,
            birth=birth,
            phone=f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            id_no=id_number(rng, birth, male),
        )
        self.patients.append(patient)
        return patient

    def _msh(self, event: str, structure: str) -> str:
        head = f"MSH|^~\\&|HIS|{self.facility}|TESSERA|CRM|{self._stamp()}"
        return f"{head}||ADT^{event}^{structure}|{self._control_id()}|P|2.5"

    def _pid(self, p: SimPatient) -> str:
        fields = [""] * 20
        fields[1] = "1"
        fields[3] = f"{p.mrn}^^^HIS^MR"
        fields[5] = f"{p.family}^{p.given}"
        fields[7] = p.birth.strftime("%Y%m%d")
        fields[8] = "M" if p.male else "F"
        fields[13] = p.phone
        fields[19] = p.id_no
        return "PID|" + "|".join(fields[1:])

    def _pv1(self, stay: dict[str, Any]) -> str:
        fields = [""] * 46
        fields[1] = "1"
        fields[2] = "I"
        fields[3] = f"{stay['ward']}^^{stay['bed']}"
        fields[7] = f"{stay['doctor_id']}^{stay['doctor']}"
        fields[19] = stay["visit"]
        fields[44] = stay["admitted"].strftime("%Y%m%d%H%M%S")
        if stay.get("discharged"):
            fields[45] = stay["discharged"].strftime("%Y%m%d%H%M%S")
        return "PV1|" + "|".join(fields[1:])

    def _message(self, event: str, structure: str, segments: list[str]) -> str:
        return "\r".join([self._msh(event, structure), f"EVN|{event}|{self._stamp()}", *segments]) + "\r"

    # events --------------------------------------------------------------------------------------
    def admit(self) -> str:
        free = [p for p in self.patients if p.stay is None]
        p = self.rng.choice(free) if free and self.rng.random() < 0.2 else self._new_patient()
        self.visits += 1
        code, text = self.rng.choice(DIAGNOSES)
        p.stay = {
            "visit": f"V{self.seed:02d}{self.visits:08d}",
            "ward": self.rng.choice(WARD_CODES),
            "bed": f"{self.rng.randint(1, 48):02d}",
            "doctor_id": f"D{self.rng.randint(100, 999)}",
            "doctor": self.rng.choice(SURNAMES) + "医生",
            "admitted": self.now,
            "diagnosis": (code, text),
        }
        return self._message("A01", "ADT_A01", [self._pid(p), self._pv1(p.stay), *self._clinical(p.stay)])

    def _clinical(self, stay: dict[str, Any]) -> list[str]:
        """DG1 (diagnosis) and, for surgical diagnoses, PR1 (procedure)."""
        code, text = stay["diagnosis"]
        segments = [f"DG1|1||{code}^{text}^ICD10|{text}"]
        if code in PROCEDURES:
            proc, name = PROCEDURES[code]
            segments.append(f"PR1|1||{proc}^{name}^ICD9CM3||{stay['admitted'] + timedelta(days=1):%Y%m%d%H%M%S}")
        return segments

    def update(self) -> str:
        p = self.rng.choice(self.patients)
        if self.rng.random() < 0.5:
            p.phone = f"1{self.rng.choice('3578')}{self.rng.randrange(10**9):09d}"
        elif p.stay is not None:
            p.stay["bed"] = f"{self.rng.randint(1, 48):02d}"
        segments = [self._pid(p)] + ([self._pv1(p.stay)] if p.stay else [])
        return self._message("A08", "ADT_A01", segments)

    def discharge(self) -> str:
        p = self.rng.choice([p for p in self.patients if p.stay is not None])
        stay = p.stay
        assert stay is not None
        stay["discharged"] = self.now
        message = self._message("A03", "ADT_A03", [self._pid(p), self._pv1(stay), *self._clinical(stay)])
        p.stay = None
        return message

    def merge(self) -> str | None:
        free = [p for p in self.patients if p.stay is None]
        if len(free) < 2:
            return None
        old, survivor = self.rng.sample(free, 2)
        self.patients.remove(old)
        return self._message("A40", "ADT_A39", [self._pid(survivor), f"MRG|{old.mrn}^^^HIS^MR"])

    def messages(self, count: int) -> Iterator[str]:
        """``count`` messages; the clock moves 1-40 minutes between them."""
        for _ in range(count):
            self.now += timedelta(minutes=self.rng.randint(1, 40))
            admitted = [p for p in self.patients if p.stay is not None]
            roll = self.rng.random()
            message = None
            if not admitted or roll < 0.40:
                message = self.admit()
            elif roll < 0.60:
                message = self.update()
            elif roll < 0.97:
                message = self.discharge()
            else:
                message = self.merge() or self.update()
            yield message


def split_messages(text: str) -> list[str]:
    """Messages of a file (segments on lines, by CR or LF), each starting at an MSH segment."""
    out: list[list[str]] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            continue
        if line.startswith("MSH") or not out:
            out.append([])
        out[-1].append(line)
    return ["\r".join(lines) + "\r" for lines in out]


def send_mllp(messages: Iterator[str] | list[str], host: str, port: int, rate: float | None = None) -> list[str]:
    """Send over one MLLP connection and return the ACKs, in order."""
    acks: list[str] = []
    with socket.create_connection((host, port), timeout=60) as sock:
        buffer = b""
        for message in messages:
            sock.sendall(b"\x0b" + message.encode("utf-8") + b"\x1c\x0d")
            while b"\x1c\x0d" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("the MLLP peer closed the connection")
                buffer += chunk
            frame, buffer = buffer.split(b"\x1c\x0d", 1)
            acks.append(frame.lstrip(b"\x0b").decode("utf-8", errors="replace"))
            if rate:
                time.sleep(1 / rate)
    return acks


def send_http(messages: Iterator[str] | list[str], url: str, token: str, rate: float | None = None) -> list[str]:
    import httpx

    acks = []
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        for message in messages:
            try:
                reply = client.post(url, content=message.encode("utf-8"), headers={"Content-Type": "text/plain"})
            except httpx.HTTPError as exc:
                raise ConnectionError(f"{url}: {exc}") from exc
            if reply.status_code in (401, 403, 404):
                raise ConnectionError(f"{url} answered {reply.status_code}: {reply.text[:300]}")
            acks.append(reply.text)
            if rate:
                time.sleep(1 / rate)
    return acks
