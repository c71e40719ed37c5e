"""Custom string formats used by generated schemas: Chinese phone numbers, resident ID numbers, email.

Both the reference validator (jsonschema) and the compiled one (fastjsonschema) use these same
functions, so the two can never disagree about what a valid ID number is.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

CN_MOBILE = re.compile(r"^1[3-9]\d{9}$")
CN_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def is_cn_phone(value: object) -> bool:
    """A mainland mobile number (11 digits, 13x-19x) or a landline with area code (010-12345678)."""
    return isinstance(value, str) and bool(CN_MOBILE.match(value) or CN_LANDLINE.match(value))


def is_cn_resident_id(value: object) -> bool:
    """An 18-character resident ID (GB 11643-1999): valid birth date and ISO 7064 MOD 11-2 check character."""
    if not isinstance(value, str) or len(value) != 18:
        return False
    body, check = value[:17], value[17].upper()
    if not body.isdigit() or not (check.isdigit() or check == "X"):
        return False
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > _today():
        return False
    return cn_resident_id_check_char(body) == check


_WEIGHTED = [{str(d): d * w for d in range(10)} for w in _ID_WEIGHTS]
"""Per position, digit -> digit x weight: a table lookup keeps the check in a few microseconds,
which matters because every write of a record with an ID number validates it."""


def cn_resident_id_check_char(first17: str) -> str:
    """The check character for 17 digits; demo data and tests use it to build valid numbers."""
    total = 0
    for table, digit in zip(_WEIGHTED, first17, strict=True):
        total += table[digit]
    return _ID_CHECK[total % 11]


def _today() -> date:
    return date.today()


def is_email(value: object) -> bool:
    return isinstance(value, str) and len(value) <= 254 and bool(EMAIL.match(value))


def is_iso_date(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_iso_datetime(value: object) -> bool:
    if not isinstance(value, str) or not 16 <= len(value) <= 35:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_iso_time(value: object) -> bool:
    if not isinstance(value, str) or not 5 <= len(value) <= 15:
        return False
    try:
        time.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMAT_CHECKS = {
    "cn-phone": is_cn_phone,
    "cn-resident-id": is_cn_resident_id,
    "email": is_email,
    "date": is_iso_date,
    "date-time": is_iso_datetime,
    "time": is_iso_time,
}

FORMAT_MESSAGES = {
    "cn-phone": {
        "zh": "不是有效的电话号码（手机 11 位或带区号的座机）",
        "en": "is not a valid phone number (11-digit mobile or landline with area code)",
    },
    "cn-resident-id": {
        "zh": "不是有效的居民身份证号码（18 位，校验位不符）",
        "en": "is not a valid resident ID number (18 characters with a correct check digit)",
    },
    "email": {"zh": "不是有效的电子邮件地址", "en": "is not a valid email address"},
    "date": {"zh": "不是有效的日期（YYYY-MM-DD）", "en": "is not a valid date (YYYY-MM-DD)"},
    "date-time": {
        "zh": "不是有效的日期时间（YYYY-MM-DDTHH:MM）",
        "en": "is not a valid date and time (YYYY-MM-DDTHH:MM)",
    },
    "time": {"zh": "不是有效的时间（HH:MM）", "en": "is not a valid time (HH:MM)"},
}
