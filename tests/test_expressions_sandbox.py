"""Known sandbox escapes and resource bombs against the expression language.

Every entry must be refused with an ExpressionError carrying a specific message, quickly,
and without any side effect (no process spawned, no file opened, no module imported, the
caller's variables untouched).
"""

from __future__ import annotations

import builtins
import copy
import os
import re
import subprocess
import sys
import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.clock import FixedClock
from runtime.expressions import ExpressionError, check_expression, compile_expression, evaluate
from runtime.expressions.limits import MAX_DEPTH, MAX_SOURCE_LENGTH

ESCAPES: list[tuple[str, str]] = [
    # --- reaching Python internals
    ("__import__('os').system('id')", "name '__import__' is not allowed"),
    ("__builtins__", "name '__builtins__' is not allowed"),
    ("__\uff49mport__('os')", "name '__import__' is not allowed"),  # NFKC-normalised identifier
    ("().__class__.__bases__[0].__subclasses__()", "access to '__subclasses__' is not allowed"),
    ("[].__class__", "access to '__class__' is not allowed"),
    ("x.__class__", "access to '__class__' is not allowed"),
    ("x.__\uff43lass__", "access to '__class__' is not allowed"),
    ("x._secret", "access to '_secret' is not allowed"),
    ("date.__class__", "access to '__class__' is not allowed"),
    ("today().__class__", "access to '__class__' is not allowed"),
    ("now().__reduce__", "access to '__reduce__' is not allowed"),
    ("lower.__globals__", "access to '__globals__' is not allowed"),
    ("getattr(x, '__class__')", "function 'getattr' is not available"),
    ("open('/etc/passwd')", "function 'open' is not available"),
    ("open(file='/etc/passwd')", "function 'open' is not available"),
    ("eval('1')", "function 'eval' is not available"),
    ("exec('import os')", "function 'exec' is not available"),
    ("globals()", "function 'globals' is not available"),
    ("locals()['x']", "function 'locals' is not available"),
    ("vars(x)", "function 'vars' is not available"),
    ("type(1)", "function 'type' is not available"),
    ("object()", "function 'object' is not available"),
    ("compile('1', 'f', 'eval')", "function 'compile' is not available"),
    ("x()", "function 'x' is not available"),  # calling a variable
    ("[lower][0]('A')", "only built-in functions can be called"),
    # --- methods and attributes
    ("'{0.__class__}'.format(1)", "method calls are not allowed"),
    ("x.format", "attribute 'format' is not available"),
    ("d.replace(year=1)", "method calls are not allowed"),
    ("d.year()", "method calls are not allowed"),
    ("'%999999999d' % 1", "cannot use '%' with text and number"),
    # --- forbidden syntax
    ("(lambda: 1)()", "lambda functions are not allowed"),
    ("[c for c in ()]", "comprehensions are not allowed"),
    ("{k: v for k, v in {}}", "comprehensions are not allowed"),
    ("{c for c in 'ab'}", "comprehensions are not allowed"),
    ("sum(c for c in (1, 2))", "generator expressions are not allowed"),
    ("f'{x.__class__}'", "f-strings are not allowed"),
    ("f'{x}'", "f-strings are not allowed"),
    ("(y := 1)", "assignment expressions (:=) are not allowed"),
    ("max(*x)", "star unpacking (*) is not allowed"),
    ("[*x]", "star unpacking (*) is not allowed"),
    ("max(**x)", "keyword argument unpacking (**) is not allowed"),
    ("{**x}", "dictionary unpacking (**) is not allowed"),
    ("round(1.5, ndigits=1)", "keyword arguments are not supported"),
    ("await x", "'await' is not allowed"),
    ("(yield)", "'yield' is not allowed"),
    ("x is 1", "'is' can only be used with None"),
    ("~x", "operator '~' is not allowed"),
    ("1 << 10 ** 9", "operator '<<' is not allowed"),
    ("b'abc'", "byte strings are not supported"),
    ("1j", "complex numbers are not supported"),
    ("import os", "syntax error"),
    ("x = 1", "syntax error"),
    ("1\x00", "null"),
    # --- arithmetic bombs
    ("9**9**9", "exponent too large (max 1000)"),
    ("10**100000", "exponent too large (max 1000)"),
    ("(10**101)**2", "base too large for '**'"),
    ("9**999 * 9**999", "number too large"),
    ("x ** 1001", "exponent too large (max 1000)"),
    ("1e300 ** 2", "number too large"),
    ("(-8) ** 0.5", "result is not a real number"),
    ("0x" + "f" * 300, "number too large"),
    ("int(decimal('1e999999'))", "number too large"),
    ("floor(decimal('1e999999'))", "number too large"),
    ("decimal('1e999999') ** 1000", "number too large"),
    ("int('9' * 5000)", "text too long to be a number"),
    ("1 / 0", "division by zero"),
    ("x % 0", "division by zero"),
    # --- memory bombs
    ("'a' * 10**9", "string result too long (max 100000 characters)"),
    ("'x' * 100001", "string result too long (max 100000 characters)"),
    ("s * 10**9", "string result too long (max 100000 characters)"),
    ("[1] * 10**9", "list result too long (max 10000 items)"),
    ("(1,) * 10**9", "list result too long (max 10000 items)"),
    ("[[0] * 10000] * 10000", "list result too long (max 10000 items)"),
    ("['x' * 100000] * 2", "string result too long"),
    ("('x' * 100000) + 'y'", "string result too long"),
    ("concat('x' * 100000, 'y')", "string result too long"),
    ("replace('a' * 100000, 'a', 'bb')", "string result too long"),
    ("str([['x' * 50000] * 1000] * 10)", "string result too long"),
    ("upper('\u00df' * 60000)", "string result too long"),
    # --- parser and nesting bombs
    ("(" * 100000 + ")" * 100000, f"expression too long (max {MAX_SOURCE_LENGTH} characters)"),
    ("-" * 100000 + "1", f"expression too long (max {MAX_SOURCE_LENGTH} characters)"),
    ("(" * 300 + "1" + ")" * 300, "expression nested too deeply"),
    ("-" * 4000 + "1", "expression nested too deeply"),
    ("not " * 1000 + "x", "expression nested too deeply"),
    ("[" * 100 + "]" * 100, f"expression nested too deeply (max {MAX_DEPTH} levels)"),
    ("1 + " * 3000 + "1", f"expression too long (max {MAX_SOURCE_LENGTH} characters)"),
    ("+".join(["x"] * 1000), "expression too complex (max 500 elements)"),
    # --- regular expressions
    ("matches(s, '(a)\\\\1')", "back-references are not supported"),
    ("matches(s, '(?=a)')", "look-ahead and look-behind are not supported"),
    ("matches(s, '" + "a" * 201 + "')", "pattern too long (max 200 characters)"),
    ("matches(s * 10000, 'a')", "text too long (max 10000 characters)"),
]

VARIABLES: dict[str, Any] = {
    "x": 3,
    "s": "ab",
    "d": date(2024, 1, 31),
    "when": datetime(2024, 1, 31, 8, 0),
    "nested": {"list": [1, 2, {"deep": "value"}], "text": "t"},
}


def test_the_table_is_broad() -> None:
    assert len(ESCAPES) >= 30
    assert len({source for source, _ in ESCAPES}) == len(ESCAPES)


@pytest.fixture()
def side_effects(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record any attempt to spawn a process or open a file while expressions run."""
    calls: list[str] = []

    def recorder(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            calls.append(name)

        return record

    monkeypatch.setattr(os, "system", recorder("os.system"))
    monkeypatch.setattr(os, "popen", recorder("os.popen"))
    monkeypatch.setattr(subprocess, "Popen", recorder("subprocess.Popen"))
    monkeypatch.setattr(builtins, "open", recorder("open"))
    return calls


@pytest.mark.parametrize(("source", "fragment"), ESCAPES, ids=[source[:40] for source, _ in ESCAPES])
def test_escape_is_refused_quickly_and_without_side_effects(
    source: str, fragment: str, side_effects: list[str]
) -> None:
    variables = copy.deepcopy(VARIABLES)
    modules_before = set(sys.modules)
    started = time.perf_counter()
    with pytest.raises(ExpressionError, match=re.escape(fragment)) as caught:
        evaluate(source, variables, clock=FixedClock(datetime(2024, 1, 31)))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"refusal took {elapsed:.2f}s"
    assert side_effects == []
    assert variables == VARIABLES  # the caller's data is untouched
    assert set(sys.modules) == modules_before  # nothing got imported
    error = caught.value
    assert error.message and "Traceback" not in str(error)
    # The builder's checker reports the same problem when it is detectable statically,
    # and never raises itself.
    problems = check_expression(source)
    assert all(isinstance(problem, str) for problem in problems)


def test_catastrophic_regex_is_linear_time() -> None:
    # With Python's backtracking `re`, (a+)+$ on this input would run for longer than the
    # age of the universe; pattern and input length limits alone do not prevent that.
    text = "a" * 9999 + "!"
    started = time.perf_counter()
    assert evaluate("matches(s, '(a+)+$')", {"s": text}) is False
    assert evaluate("matches(s, '^(a|aa)*$')", {"s": text}) is False
    assert evaluate("matches(s, 'a*a*a*a*a*b')", {"s": text}) is False
    assert time.perf_counter() - started < 2.0
    assert evaluate("matches(s, '(a+)+!$')", {"s": text}) is True


def test_regex_work_is_bounded_by_pattern_size_times_text_length() -> None:
    with pytest.raises(ExpressionError, match="pattern too complex for a text of 10000 characters"):
        evaluate("matches(s, '(a?){200}b')", {"s": "a" * 10000})
    assert evaluate("matches(s, '(a?){200}b')", {"s": "a" * 300}) is False


def test_limits_allow_values_right_at_the_boundary() -> None:
    assert len(evaluate("'x' * 100000", {})) == 100_000
    assert len(evaluate("[0] * 10000", {})) == 10_000
    assert evaluate("2 ** 996", {}) == 2**996
    assert evaluate("1.0001 ** 1000", {}) == pytest.approx(1.1051, rel=1e-4)
    assert evaluate("s[0:10**100]", {"s": "abc"}) == "abc"  # huge slice bounds are clamped
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert compile_expression(nested).evaluate({}) is not None


def test_platform_objects_in_variables_are_not_operated_on() -> None:
    class Trap:
        """Stands for an ORM object a caller passed by mistake: its dunders must not run."""

        def __add__(self, other: object) -> object:
            raise AssertionError("__add__ called")

        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"attribute {name} read")

    with pytest.raises(ExpressionError, match="cannot use '\\+' with value of type Trap and number"):
        evaluate("t + 1", {"t": Trap()})
    with pytest.raises(ExpressionError, match="attribute 'year' can only be read from a date"):
        evaluate("t.year", {"t": Trap()})
    with pytest.raises(ExpressionError, match="cannot use \\[...\\] on value of type Trap"):
        evaluate("t[0]", {"t": Trap()})


def test_defaultdict_like_variables_do_not_grow() -> None:
    from collections import defaultdict

    data: defaultdict[str, int] = defaultdict(int, {"a": 1})
    assert evaluate("d['missing'] is None and d['a'] == 1", {"d": data}) is True
    assert dict(data) == {"a": 1}


def test_no_eval_exec_or_compile_of_user_text() -> None:
    """The package must not call eval/exec/compile: a static check of its source."""
    from pathlib import Path

    import runtime.expressions as package

    forbidden = re.compile(r"(?<![\w.])(eval|exec|compile)\(")
    for path in Path(package.__file__).parent.glob("*.py"):
        code_lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        hits = [line for line in code_lines if forbidden.search(line)]
        assert hits == [], f"{path.name}: {hits}"


_TOKENS = st.sampled_from(
    [
        "x", "s", "d", "1", "0", "2.5", "'a'", "None", "True", "(", ")", "[", "]", "{", "}", ",",
        ":", ".", "+", "-", "*", "/", "//", "%", "**", "==", "<", ">=", " and ", " or ", "not ",
        " in ", " is ", " if ", " else ", "year", "__class__", "_x", "round", "len", "matches",
        "lower", "concat", "today()", "lambda", "for", "=", ":=", "f'", "'", "\\", "\n", "1e308",
        "10**", "*10**9",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_TOKENS, max_size=25).map("".join))
def test_fuzzed_sources_only_ever_raise_expression_error(source: str) -> None:
    variables = copy.deepcopy(VARIABLES)
    try:
        evaluate(source, variables, clock=FixedClock(datetime(2024, 1, 31)))
    except ExpressionError as error:
        assert error.message
    assert variables == VARIABLES
    assert isinstance(check_expression(source, ["x"]), list)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_crashes_the_checker(source: str) -> None:
    problems = check_expression(source)
    assert all(isinstance(problem, str) and problem for problem in problems)


def test_decimal_values_from_callers_are_safe() -> None:
    assert evaluate("price > 10 ** 299", {"price": Decimal("1e999999")}) is True
    with pytest.raises(ExpressionError, match="number too large"):
        evaluate("price * price", {"price": Decimal("1e999999")})
