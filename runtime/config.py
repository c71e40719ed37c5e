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

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        data_dir = Path(str(overrides.get("data_dir") or os.environ.get("TESSERA_DATA_DIR", "var"))).resolve()
        url = str(
            overrides.get("database_url")
            or os.environ.get("TESSERA_DATABASE_URL")
            or f"sqlite:///{data_dir / 'tessera.sqlite3'}"
        )
        secret = str(overrides.get("secret_key") or os.environ.get("TESSERA_SECRET_KEY") or _secret_from_file(data_dir))
        return cls(database_url=url, data_dir=data_dir, secret_key=secret)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


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
