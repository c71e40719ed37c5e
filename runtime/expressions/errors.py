"""The single error type of the expression language.

Every failure — bad syntax, a forbidden construct, an exceeded limit, a runtime type error —
surfaces as :class:`ExpressionError` so callers (form engine, automations, the builder's
"check as you type") need exactly one ``except`` clause, and never see a raw Python exception
that could leak interpreter internals to a department manager.
"""

from __future__ import annotations

__all__ = ["ExpressionError", "describe_position"]


class ExpressionError(Exception):
    """An expression could not be compiled or evaluated.

    Attributes:
        message: plain-English explanation, without position (e.g. "unknown variable 'bedz'").
        source: the expression text, when known.
        position: 0-based character offset into ``source`` of the offending part, or None.
            Being an index into the source string, the builder UI can underline it directly;
            ``str(err)`` shows it to humans as a 1-based column.
    """

    def __init__(self, message: str, *, source: str | None = None, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.position = position

    def __str__(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} {describe_position(self.source, self.position)}"

    def __repr__(self) -> str:
        return f"ExpressionError({self.message!r}, position={self.position!r})"


def describe_position(source: str | None, position: int) -> str:
    """Human-readable location: "at column 7", or "at line 2, column 3" for multi-line sources."""
    if source is None or "\n" not in source[:position]:
        return f"at column {position + 1}"
    line_start = source.rfind("\n", 0, position) + 1
    line = source.count("\n", 0, position) + 1
    return f"at line {line}, column {position - line_start + 1}"
