"""Pack errors name the file, the JSON pointer and a plain message, so IT can fix a pack without guessing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackError:
    file: str
    pointer: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where} {self.pointer or '/'}: {self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "pointer": self.pointer or "/", "line": self.line, "message": self.message}


class PackInvalid(Exception):
    """Raised with every problem found, not just the first: fixing a pack one error per run is painful."""

    def __init__(self, errors: list[PackError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def pointer(*parts: object) -> str:
    """Build an RFC 6901 JSON pointer from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "".join("/" + p for p in escaped)
