"""Public entry points: compile once, evaluate many times, check while typing."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from ..clock import Clock, SystemClock
from .compiler import Evaluator, compile_tree
from .errors import ExpressionError, describe_position
from .parser import parse

__all__ = ["Expression", "check_expression", "compile_expression", "evaluate"]

_SYSTEM_CLOCK = SystemClock()
_CACHE_SIZE = 2048
"""Distinct sources kept compiled; a hospital's blueprints hold a few hundred expressions."""


class Expression:
    """A compiled expression: immutable, thread-safe, cheap to evaluate repeatedly.

    Attributes:
        source: the expression text.
        names: free variable names it reads (``{'beds', 'level'}``), i.e. the fields a
            condition depends on; function names are not included.
        functions: names of the functions it calls; ``'today' in expr.functions`` tells a
            caller the result changes with time even when the record does not.
    """

    __slots__ = ("_evaluator", "_name_positions", "functions", "names", "source")

    source: str
    names: frozenset[str]
    functions: frozenset[str]

    def __init__(
        self,
        source: str,
        evaluator: Evaluator,
        name_positions: Mapping[str, int | None],
        functions: frozenset[str],
    ) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "names", frozenset(name_positions))
        object.__setattr__(self, "functions", functions)
        object.__setattr__(self, "_evaluator", evaluator)
        object.__setattr__(self, "_name_positions", dict(name_positions))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Expression is immutable")

    def evaluate(self, variables: Mapping[str, Any], *, clock: Clock | None = None) -> Any:
        """Evaluate against ``variables`` (missing names read as None).

        ``clock`` drives ``today()``/``now()``; defaults to the system clock. Raises
        :class:`ExpressionError` for any failure; never anything else.
        """
        try:
            return self._evaluator(variables, clock or _SYSTEM_CLOCK)
        except ExpressionError as exc:
            if exc.source is None:
                exc.source = self.source
            raise
        except RecursionError:
            raise ExpressionError("expression nested too deeply", source=self.source) from None
        except Exception as exc:  # e.g. a caller's Mapping whose .get() fails
            if not isinstance(variables, Mapping):  # checked only here: keeps the hot path lean
                message = f"variables must be a mapping of names to values, not {type(variables).__name__}"
            else:
                message = f"evaluation failed: {exc}"
            raise ExpressionError(message, source=self.source) from None

    def name_position(self, name: str) -> int | None:
        """Offset of the first use of variable ``name`` in the source (None if unused)."""
        return self._name_positions.get(name)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        # Closures cannot be pickled; recompiling from source can (for process pools).
        return compile_expression, (self.source,)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_cached(source: str) -> Expression:
    try:
        parsed = parse(source)
        compiled = compile_tree(parsed)
    except ExpressionError as exc:
        exc.source = source
        raise
    except RecursionError:  # not reachable after the depth check; never let it escape
        raise ExpressionError("expression nested too deeply", source=source) from None
    return Expression(source, compiled.evaluator, compiled.names, compiled.functions)


def compile_expression(source: str) -> Expression:
    """Compile ``source``; raises :class:`ExpressionError` on a syntax error, a forbidden
    construct or an exceeded limit.

    Results are cached by source text (LRU), so compiling the same text twice returns the
    same :class:`Expression` object; that is safe because expressions are immutable.
    """
    if not isinstance(source, str):
        raise ExpressionError(f"expression must be text, not {type(source).__name__}")
    return _compile_cached(source)


def evaluate(source: str, variables: Mapping[str, Any], clock: Clock | None = None) -> Any:
    """Compile (cached) and evaluate in one call."""
    return compile_expression(source).evaluate(variables, clock=clock)


def check_expression(source: str, allowed_names: Iterable[str] | None = None) -> list[str]:
    """Problems with ``source`` as readable sentences, ``[]`` if it is fine.

    For the builder's "check as you type". With ``allowed_names`` (the fields in scope),
    every variable outside it is reported, with a "did you mean" suggestion.
    """
    try:
        expression = compile_expression(source)
    except ExpressionError as exc:
        return [str(exc)]
    if allowed_names is None:
        return []
    allowed = set(allowed_names)
    problems = []
    unknown = sorted(expression.names - allowed, key=lambda n: (expression.name_position(n) or 0, n))
    for name in unknown:
        message = f"unknown variable '{name}'"
        position = expression.name_position(name)
        if position is not None:
            message += f" {describe_position(source, position)}"
        suggestions = difflib.get_close_matches(name, sorted(allowed), n=1)
        if suggestions:
            message += f" (did you mean '{suggestions[0]}'?)"
        problems.append(message)
    return problems
