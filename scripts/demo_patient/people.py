"""Fictional people for the patient CRM demo: names, resident ID numbers with valid check digits, phones.

Every value is made up from a seeded random generator; the ID numbers use real region-code prefixes
(so the birth-date and gender digits and the ISO 7064 MOD 11-2 check character are valid) but no real
person is behind them. Phones are 11-digit mobile numbers of the 13x-19x form the platform validates.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_MALE = (
    "伟",
    "强",
    "磊",
    "军",
    "勇",
    "杰",
    "涛",
    "斌",
    "超",
    "明",
    "刚",
    "平",
    "辉",
    "鹏",
    "华",
    "飞",
    "鑫",
    "波",
    "建国",
    "建华",
    "国强",
    "志强",
    "海涛",
    "俊杰",
    "文博",
    "立新",
    "振华",
    "德明",
    "永刚",
    "长青",
    "宝山",
    "春生",
    "国平",
    "学军",
    "子豪",
    "宇航",
    "浩然",
    "嘉诚",
)
GIVEN_FEMALE = (
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "艳",
    "娟",
    "霞",
    "燕",
    "玲",
    "桂英",
    "秀英",
    "秀兰",
    "玉兰",
    "桂芳",
    "淑珍",
    "凤英",
    "丽华",
    "晓燕",
    "海燕",
    "雪梅",
    "春梅",
    "红梅",
    "美玲",
    "欣怡",
    "雨涵",
    "梓萱",
    "诗琪",
    "佳怡",
    "思雨",
    "慧敏",
    "婷婷",
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "158",
    "159",
    "166",
    "175",
    "176",
    "177",
    "180",
    "181",
    "185",
    "186",
    "187",
    "188",
    "189",
)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def id_check(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of a resident ID's first 17 digits."""
    return CHECK[sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11]


class People:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self._ids: set[str] = set()
        self._phones: set[str] = set()

    def name(self, gender: str) -> str:
        given = GIVEN_MALE if gender == "male" else GIVEN_FEMALE
        return self.rng.choice(SURNAMES) + self.rng.choice(given)

    def birth_date(self, today: date, min_age: int, max_age: int) -> date:
        start = today - timedelta(days=365 * max_age)
        span = 365 * (max_age - min_age)
        return start + timedelta(days=self.rng.randrange(span))

    def id_number(self, region_code: str, born: date, gender: str) -> str:
        while True:
            seq = self.rng.randrange(0, 100)
            sex = self.rng.choice((1, 3, 5, 7, 9) if gender == "male" else (0, 2, 4, 6, 8))
            first = f"{region_code}{born:%Y%m%d}{seq:02d}{sex}"
            value = first + id_check(first)
            if value not in self._ids:
                self._ids.add(value)
                return value

    def phone(self) -> str:
        while True:
            value = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if value not in self._phones:
                self._phones.add(value)
                return value
