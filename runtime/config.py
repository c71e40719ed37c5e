"""Settings from the environment, with the embedded default (SQLite under ./var) when nothing is set."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    secret_key: str
    session_max_age: int = 12 * 3600
    # Outgoing mail (runtime.mail): TESSERA_SMTP_HOST/PORT/USER/PASSWORD/STARTTLS/FROM; no host = mail is only logged.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_from: str = "Tessera <tessera@localhost>"
    mail_base_url: str | None = None  # TESSERA_MAIL_BASE_URL: site address for links in mails (else the request's)
    # Encryption at rest of sensitive fields (runtime.security.keys); no field_key = the key file in data_dir.
    field_key: str | None = None  # TESSERA_FIELD_KEY: current key, `keyid:base64`
    field_keys_old: str | None = None  # TESSERA_FIELD_KEYS_OLD: earlier keys, comma-separated, until rotated away
    field_index_key: str | None = None  # TESSERA_FIELD_INDEX_KEY: blind-index secret, kept across rotations

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        data_dir = Path(str(overrides.get("data_dir") or os.environ.get("TESSERA_DATA_DIR", "var"))).resolve()
        url = str(
            overrides.get("database_url")
            or os.environ.get("TESSERA_DATABASE_URL")
            or f"sqlite:///{data_dir / 'tessera.sqlite3'}"
        )
        secret = str(overrides.get("secret_key") or os.environ.get("TESSERA_SECRET_KEY") or _secret_from_file(data_dir))
        keys = _field_keys_from_env(overrides)
        return cls(database_url=url, data_dir=data_dir, secret_key=secret, **_mail_from_env(), **keys)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def _mail_from_env() -> dict[str, object]:
    """The TESSERA_SMTP_* variables; the port defaults to 587 with STARTTLS, else 25 (465 = implicit TLS)."""
    env = os.environ.get
    starttls = env("TESSERA_SMTP_STARTTLS", "").lower() in ("1", "true", "yes", "on")
    found: dict[str, object] = {
        "smtp_host": env("TESSERA_SMTP_HOST") or None,
        "smtp_port": int(env("TESSERA_SMTP_PORT") or (587 if starttls else 25)),
        "smtp_user": env("TESSERA_SMTP_USER") or None,
        "smtp_password": env("TESSERA_SMTP_PASSWORD") or None,
        "smtp_starttls": starttls,
        "mail_base_url": env("TESSERA_MAIL_BASE_URL") or None,
    }
    if env("TESSERA_SMTP_FROM"):
        found["smtp_from"] = env("TESSERA_SMTP_FROM")
    return found


def _secret_from_file(data_dir: Path) -> str:
    """Generated on first run and kept outside the repository, never committed."""
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _field_keys_from_env(overrides: dict[str, object]) -> dict[str, str | None]:
    """TESSERA_FIELD_KEY, TESSERA_FIELD_KEYS_OLD and TESSERA_FIELD_INDEX_KEY (formats: runtime.security.keys)."""
    names = {
        "field_key": "TESSERA_FIELD_KEY",
        "field_keys_old": "TESSERA_FIELD_KEYS_OLD",
        "field_index_key": "TESSERA_FIELD_INDEX_KEY",
    }
    return {name: str(overrides.get(name) or os.environ.get(env) or "") or None for name, env in names.items()}
