"""Tessera's one sandboxed expression language.

Blueprint conditions, computed fields, validation rules, automation conditions, score
formulas and BPMN gateway conditions are all written in this Python-expression subset and
evaluated here, never by Python's ``eval``.

>>> expr = compile_expression("beds > 100 and level in ('3A', '3B')")
>>> sorted(expr.names)
['beds', 'level']
>>> expr.evaluate({"beds": 120, "level": "3A"})
True

Pipeline: :mod:`.parser` (limits + forbidden syntax) -> :mod:`.compiler` (AST to closures)
-> closures calling :mod:`.operators` and the whitelisted :mod:`.functions`. Limits live in
:mod:`.limits`; ``matches()`` uses the linear-time engine in :mod:`.regex`.
"""

from ..clock import Clock, FixedClock, SystemClock
from .errors import ExpressionError
from .expression import Expression, check_expression, compile_expression, evaluate
from .functions import FUNCTIONS, describe_functions

__all__ = [
    "FUNCTIONS",
    "Clock",
    "Expression",
    "ExpressionError",
    "FixedClock",
    "SystemClock",
    "check_expression",
    "compile_expression",
    "describe_functions",
    "evaluate",
]
