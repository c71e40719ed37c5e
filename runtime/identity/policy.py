"""Password rules (PL-21), applied whenever a person chooses a password: change, reset, admin create.

A password must
  * be at least 10 characters long (and at most 256, so hashing stays cheap),
  * mix at least 3 of the 4 character classes: lower-case, upper-case, digits, symbols,
  * not equal or contain the username (case-insensitive),
  * not be one of the commonly used passwords below (compared case-insensitively, also with
    trailing digits/symbols stripped so "Password123!" counts as "password").

Each broken rule gives one :class:`PolicyViolation` with a stable code and a message in Chinese
and English; :class:`PasswordRejected` (HTTP 400, code ``weak_password``) carries them all so a
form can show every problem at once.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from runtime.errors import BadRequest

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_CLASSES = 3

# Frequent choices in leaked password lists, Chinese sites included (pinyin, keyboard walks,
# "5201314" = "I love you forever"). Only lower-case entries; matched after normalisation.
_COMMON_TEXT = """
    123456 1234567 12345678 123456789 1234567890 12345678910 0123456789 111111 1111111111 000000 0000000000
    654321 987654321 9876543210 123123 123123123 123321 112233 666666 888888 88888888 5201314 520520 1314520
    woaini woaini1314 woaini520 iloveyou iloveyou1 password passw0rd p@ssw0rd p@ssword password1 password12
    password123 passwordpassword qwerty qwertyuiop qwerty123 qwer1234 asdfgh asdfghjkl zxcvbnm zxcvbnm123
    1qaz2wsx 1qaz2wsx3edc qazwsx qazwsxedc abc123 abc123456 abcd1234 a1b2c3d4 aa123456 a123456789 admin
    admin123 admin1234 admin12345 administrator root root123 letmein welcome welcome1 welcome123 changeme
    changeme123 default guest test test123 test1234 testtest monkey dragon sunshine princess football
    baseball master shadow superman trustno1 whatever freedom hello hello123 china zhongguo beijing
    shanghai wangyang wang1234 huawei xiaomi baidu tencent hospital yiyuan hospital123 doctor doctor123
    nurse nurse123 tessera tessera123
"""
COMMON_PASSWORDS = frozenset(_COMMON_TEXT.split())

_MESSAGES = {
    "too_short": (f"密码至少需要 {MIN_LENGTH} 个字符", f"the password must be at least {MIN_LENGTH} characters long"),
    "too_long": (f"密码不能超过 {MAX_LENGTH} 个字符", f"the password must be at most {MAX_LENGTH} characters long"),
    "too_simple": (
        f"密码需包含以下四类中的至少 {MIN_CLASSES} 类：小写字母、大写字母、数字、符号",
        f"the password must mix at least {MIN_CLASSES} of: lower-case letters, upper-case letters, digits, symbols",
    ),
    "contains_username": ("密码不能与用户名相同或包含用户名", "the password must not be or contain the username"),
    "common": ("这是一个常见密码，很容易被猜到，请换一个", "this is a commonly used password that is easy to guess"),
}


@dataclass(frozen=True)
class PolicyViolation:
    code: str
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def as_dict(self, lang: str = "zh") -> dict[str, str]:
        return {"field": "password", "code": self.code, "message": self.message(lang)}


def _violation(code: str) -> PolicyViolation:
    zh, en = _MESSAGES[code]
    return PolicyViolation(code, zh, en)


class PasswordRejected(BadRequest):
    """The chosen password breaks one or more rules; ``violations`` lists each of them."""

    code = "weak_password"

    def __init__(self, violations: list[PolicyViolation], lang: str = "zh"):
        self.violations = violations
        self.lang = lang
        super().__init__("; ".join(v.message(lang) for v in violations))

    def in_language(self, lang: str) -> PasswordRejected:
        return PasswordRejected(self.violations, lang)

    def as_dicts(self) -> list[dict[str, str]]:
        return [v.as_dict(self.lang) for v in self.violations]


def character_classes(password: str) -> int:
    lower = any(c.islower() for c in password)
    upper = any(c.isupper() for c in password)
    digit = any(c.isdigit() for c in password)
    symbol = any(not c.isalnum() for c in password)
    return lower + upper + digit + symbol


def _is_common(password: str) -> bool:
    folded = password.casefold()
    if folded in COMMON_PASSWORDS:
        return True
    stripped = folded.rstrip(string.digits + string.punctuation)
    return bool(stripped) and stripped in COMMON_PASSWORDS and len(stripped) >= 4


def violations(password: str, username: str | None = None) -> list[PolicyViolation]:
    """Every rule the password breaks (empty when it is acceptable)."""
    found: list[PolicyViolation] = []
    if len(password) < MIN_LENGTH:
        found.append(_violation("too_short"))
    if len(password) > MAX_LENGTH:
        found.append(_violation("too_long"))
    if character_classes(password) < MIN_CLASSES:
        found.append(_violation("too_simple"))
    name = (username or "").strip().casefold()
    if name and name in password.casefold():
        found.append(_violation("contains_username"))
    if _is_common(password):
        found.append(_violation("common"))
    return found


def check_password(password: str, username: str | None = None, *, lang: str = "zh") -> None:
    """Raise :class:`PasswordRejected` when the password breaks a rule."""
    found = violations(password, username)
    if found:
        raise PasswordRejected(found, lang)


def generate_password(length: int = 16) -> str:
    """A random password that always satisfies the rules (for first-run admin accounts and resets by staff)."""
    length = max(length, MIN_LENGTH)
    alphabet = string.ascii_letters + string.digits + "-_.!@#%"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if character_classes(candidate) == 4 and not violations(candidate):
            return candidate
