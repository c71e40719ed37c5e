"""Behaviour of the expression language (runtime.expressions).

The hostile-input side (sandbox escapes, resource limits) lives in
test_expressions_sandbox.py.
"""

from __future__ import annotations

import pickle
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from runtime.clock import FixedClock
from runtime.expressions import (
    Expression,
    ExpressionError,
    check_expression,
    compile_expression,
    describe_functions,
    evaluate,
)
from runtime.expressions.regex import compile_regex

# --- arithmetic, precedence, logic ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("2 ** 3 ** 2", 512),  # right-associative
        ("-2 ** 2", -4),  # ** binds tighter than unary minus
        ("10 - 2 - 3", 5),  # left-associative
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 * 3 + 4 * 5", 26),
        ("1 + 2 * 3 - 4 / 2", 5.0),
        ("not True or True", True),
        ("not (True or True)", False),
        ("1 and 0", 0),  # and/or return operands, like Python
        ("0 or 'fallback'", "fallback"),
        ("'yes' if 3 > 2 else 'no'", "yes"),
        ("'ab' + 'cd'", "abcd"),
        ("'ab' * 3", "ababab"),
        ("[1, 2] + [3]", [1, 2, 3]),
        ("(1, 2) * 2", (1, 2, 1, 2)),
        ("{'a': 1, 'b': 2}['b']", 2),
        ("'hello'[1:3]", "el"),
        ("'hello'[-1]", "o"),
        ("[10, 20, 30][::-1]", [30, 20, 10]),
        ("3 in {1, 2, 3}", True),
        ("'ell' in 'hello'", True),
        ("'x' not in ['a', 'b']", True),
    ],
)
def test_arithmetic_precedence_and_logic(source: str, expected: object) -> None:
    result = evaluate(source, {})
    assert result == expected
    assert type(result) is type(expected)


def test_long_left_chains_are_not_nesting() -> None:
    # 200 terms would be 199 nested BinOps; chains are evaluated iteratively instead.
    source = " + ".join(f"v{i}" for i in range(200))
    assert evaluate(source, {f"v{i}": i for i in range(200)}) == sum(range(200))


def test_and_or_short_circuit_skips_failing_operand() -> None:
    # The right-hand side would divide by zero if it were evaluated.
    assert evaluate("x != 0 and 10 / x > 1", {"x": 0}) is False
    assert evaluate("x == 0 or 10 / x > 1", {"x": 0}) is True
    assert evaluate("1 if x == 0 else 10 / x", {"x": 0}) == 1


@pytest.mark.parametrize(
    ("source", "x", "expected"),
    [
        ("1 < x < 10", 5, True),
        ("1 < x < 10", 10, False),
        ("1 < x < 10", 1, False),
        ("0 <= x <= 100 != x", 50, True),
        ("0 <= x <= 100 != x", 100, False),
        ("x == x == 3", 3, True),
        ("1 < x > 3", 5, True),
    ],
)
def test_chained_comparisons(source: str, x: int, expected: bool) -> None:
    assert evaluate(source, {"x": x}) is expected


def test_chained_comparison_stops_at_first_false_without_evaluating_the_rest() -> None:
    # 1 / x would fail for x == 0; the chain must stop after '5 < x' is False.
    assert evaluate("5 < x < 1 / x", {"x": 0}) is False


# --- None semantics -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("missing > 3", False),
        ("missing < 3", False),
        ("missing >= 3", False),
        ("3 <= missing", False),
        ("missing == None", True),
        ("missing != None", False),
        ("missing == 0", False),
        ("missing is None", True),
        ("missing is not None", False),
        ("missing + 1", None),
        ("2 * missing", None),
        ("missing / 2", None),
        ("-missing", None),
        ("missing ** 2", None),
        ("missing.year", None),
        ("missing[0]", None),
        ("missing['key']", None),
        ("missing[1:2]", None),
        ("missing in (1, 2)", False),
        ("1 in missing", False),
        ("1 not in missing", True),
        ("len(missing)", None),
        ("year(missing)", None),
        ("coalesce(missing, 0) + 1", 1),
        ("concat('a', missing, 'b')", "ab"),
        ("sum([1, missing, 2])", 3),
        ("min(3, missing, 1)", 1),
        ("avg([missing, 2, 4])", 3.0),
        ("contains(missing, 'a')", False),
        ("is_empty(missing)", True),
        ("not missing", True),
        ("{'a': 1}['b']", None),
        ("[1, 2][5]", None),
    ],
)
def test_none_semantics(source: str, expected: object) -> None:
    result = evaluate(source, {})
    assert result == expected
    assert type(result) is type(expected)


def test_missing_variables_read_as_none_but_present_none_too() -> None:
    expr = compile_expression("a is None and b is None")
    assert expr.evaluate({}) is True
    assert expr.evaluate({"a": None, "b": None}) is True
    assert expr.evaluate({"a": 0, "b": None}) is False


# --- Decimal and float ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("price + 0.1", Decimal("10.60")),
        ("0.1 + price", Decimal("10.60")),
        ("price * 1.5", Decimal("15.750")),
        ("price - 0.5", Decimal("10.00")),
        ("price / 2.0", Decimal("5.25")),
        ("price // 2.0", Decimal("5")),
        ("price % 2.5", Decimal("0.50")),
        ("price + 1", Decimal("11.50")),
        ("decimal('0.1') + 0.2", Decimal("0.3")),
        ("round(price * 1.075, 2)", Decimal("11.29")),
    ],
)
def test_decimal_mixes_with_float(source: str, expected: Decimal) -> None:
    result = evaluate(source, {"price": Decimal("10.50")})
    assert isinstance(result, Decimal)
    assert result == expected


def test_decimal_compares_with_float_as_written() -> None:
    variables = {"price": Decimal("0.1")}
    assert evaluate("price == 0.1", variables) is True
    assert evaluate("price >= 0.1", variables) is True
    assert evaluate("price < 0.2", variables) is True
    assert evaluate("price != 0.1", variables) is False


# --- dates and the clock --------------------------------------------------------------------


@pytest.fixture()
def clock() -> FixedClock:
    return FixedClock(datetime(2024, 1, 31, 9, 30))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("today()", date(2024, 1, 31)),
        ("now()", datetime(2024, 1, 31, 9, 30)),
        ("add_months(today(), 1)", date(2024, 2, 29)),  # leap year: clamped to Feb 29
        ("add_months(date(2023, 1, 31), 1)", date(2023, 2, 28)),
        ("add_months(date(2024, 3, 31), -1)", date(2024, 2, 29)),
        ("add_months(date(2024, 11, 30), 3)", date(2025, 2, 28)),
        ("add_months(date(2024, 1, 15), -13)", date(2022, 12, 15)),
        ("add_years(date(2024, 2, 29), 1)", date(2025, 2, 28)),
        ("add_days(today(), 1)", date(2024, 2, 1)),
        ("add_days(now(), -31)", datetime(2023, 12, 31, 9, 30)),
        ("days_between(date(2023, 12, 31), date(2024, 1, 1))", 1),
        ("days_between(date(2023, 12, 20), date(2024, 1, 10))", 21),
        ("days_between(date(2024, 1, 10), date(2023, 12, 20))", -21),
        ("days_between(datetime(2023, 12, 31, 23, 59), datetime(2024, 1, 1, 0, 1))", 1),
        ("hours_between(datetime(2024, 1, 31, 8, 0), now())", 1.5),
        ("hours_between(date(2024, 1, 30), date(2024, 1, 31))", 24.0),
        ("weekday(date(2024, 1, 1))", 1),  # a Monday
        ("weekday(date(2024, 1, 7))", 7),  # a Sunday
        ("quarter(date(2024, 11, 5))", 4),
        ("year(today()) * 100 + month(today())", 202401),
        ("day(add_days(today(), 1))", 1),
        ("today().year", 2024),
        ("now().hour", 9),
        ("(today() - date(2024, 1, 1)).days", 30),
        ("today() - date(2024, 1, 30) == add_days(today(), 1) - today()", True),
        ("parse_date('2024-03-05')", date(2024, 3, 5)),
        ("parse_date('2024-03-05T10:00:00')", date(2024, 3, 5)),
        ("parse_date('')", None),
        ("str(date(2024, 3, 5))", "2024-03-05"),
        ("today() > date(2024, 1, 30)", True),
    ],
)
def test_date_helpers(source: str, expected: object, clock: FixedClock) -> None:
    assert evaluate(source, {}, clock=clock) == expected


def test_clock_is_used_per_evaluation_and_can_advance(clock: FixedClock) -> None:
    overdue = compile_expression("due is not None and today() > due")
    due = date(2024, 2, 2)
    assert overdue.evaluate({"due": due}, clock=clock) is False
    clock.advance(days=2)
    assert overdue.evaluate({"due": due}, clock=clock) is False  # Feb 2 is not > Feb 2
    clock.advance(days=1)
    assert overdue.evaluate({"due": due}, clock=clock) is True
    assert "today" in overdue.functions  # callers can tell the result depends on time


def test_days_since_admission_with_variable_date(clock: FixedClock) -> None:
    assert evaluate("days_between(admitted, today())", {"admitted": date(2023, 12, 25)}, clock=clock) == 37


def test_date_arithmetic_errors_are_specific() -> None:
    with pytest.raises(ExpressionError, match=r"use add_days\(date, n\)"):
        evaluate("d + 1", {"d": date(2024, 1, 1)})
    with pytest.raises(ExpressionError, match="day is out of range for month"):
        compile_expression("date(2024, 2, 30)")  # folded: reported while typing
    with pytest.raises(ExpressionError, match="date out of range"):
        evaluate("add_days(d, 10 ** 9)", {"d": date(2024, 1, 1)})
    with pytest.raises(ExpressionError, match="not a date in YYYY-MM-DD format"):
        evaluate("parse_date(s)", {"s": "31/12/2024"})
    with pytest.raises(ExpressionError, match="'hour' is not available on a date"):
        evaluate("d.hour", {"d": date(2024, 1, 1)})


# --- functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len('abc')", 3),
        ("len([1, 2])", 2),
        ("lower('ABC')", "abc"),
        ("upper('abc')", "ABC"),
        ("strip('  a b ')", "a b"),
        ("contains('hospital', 'spit')", True),
        ("contains(['a', 'b'], 'b')", True),
        ("contains({'k': 1}, 'k')", True),
        ("startswith('ICU-12', 'ICU')", True),
        ("endswith('ICU-12', '13')", False),
        ("replace('a-b-c', '-', '/')", "a/b/c"),
        ("substr('hospital', 2, 3)", "spi"),
        ("substr('hospital', 4)", "ital"),
        ("concat('Room ', 12, '-', 'B')", "Room 12-B"),
        ("round(2.675, 2)", 2.68),  # as typed, not as binary float (Python gives 2.67)
        ("round(2.5)", 3.0),  # half away from zero, not banker's rounding
        ("round(-2.5)", -3.0),
        ("round(1234, -2)", 1200),
        ("round(7)", 7),
        ("abs(-3)", 3),
        ("floor(-2.5)", -3),
        ("ceil(2.1)", 3),
        ("min(3, 1, 2)", 1),
        ("max([3, 9, 2])", 9),
        ("min([])", None),
        ("sum([1, 2, 3.5])", 6.5),
        ("sum([])", 0),
        ("avg([1, 2])", 1.5),
        ("avg([])", None),
        ("int('42')", 42),
        ("int(' 3.9 ')", 3),
        ("int(-3.9)", -3),
        ("int(True)", 1),
        ("float('2.5')", 2.5),
        ("str(12)", "12"),
        ("decimal('19.99')", Decimal("19.99")),
        ("decimal(0.1)", Decimal("0.1")),
        ("coalesce(None, '', 'x')", ""),
        ("union(['a', 'b'], None, ['b', 'c'])", ["a", "b", "c"]),
        ("is_empty('')", True),
        ("is_empty([])", True),
        ("is_empty({})", True),
        ("is_empty(0)", False),
        ("is_empty(' ')", False),
        ("clamp(15, 0, 10)", 10),
        ("clamp(-5, 0, None)", 0),
        ("clamp(5, 0, 10)", 5),
        ("exp(0)", 1.0),
        ("log(1)", 0.0),
        ("log(8, 2)", 3.0),
        ("round(100 * exp(-days / 30), 1)", 36.8),
    ],
)
def test_functions(source: str, expected: object) -> None:
    result = evaluate(source, {"days": 30})
    assert result == expected
    assert type(result) is type(expected)


_SPECIFIED_FUNCTIONS = [
    "today",
    "now",
    "date",
    "datetime",
    "parse_date",
    "days_between",
    "add_days",
    "add_months",
    "add_years",
    "year",
    "month",
    "day",
    "weekday",
    "quarter",
    "hours_between",
    "len",
    "lower",
    "upper",
    "strip",
    "contains",
    "startswith",
    "endswith",
    "replace",
    "substr",
    "concat",
    "round",
    "abs",
    "min",
    "max",
    "sum",
    "avg",
    "floor",
    "ceil",
    "int",
    "float",
    "str",
    "decimal",
    "coalesce",
    "union",
    "is_empty",
    "matches",
    "clamp",
    "exp",
    "log",
]


def test_describe_functions_documents_exactly_the_specified_library() -> None:
    described = dict(describe_functions())
    names = {signature.split("(")[0] for signature in described}
    assert names == set(_SPECIFIED_FUNCTIONS)
    assert "add_months(value, months)" in described
    assert "concat(...)" in described
    assert all(description.endswith((".", ")")) for description in described.values())


def test_function_arity_and_keyword_errors_are_reported_at_compile_time() -> None:
    with pytest.raises(ExpressionError, match=r"round\(value, digits\?\) takes 1 to 2 arguments, got 3"):
        compile_expression("round(1, 2, 3)")
    with pytest.raises(ExpressionError, match=r"today\(\) takes 0 arguments, got 1"):
        compile_expression("today(1)")
    with pytest.raises(ExpressionError, match="keyword arguments are not supported"):
        compile_expression("round(x, digits=2)")


# --- matches() and its linear-time engine ---------------------------------------------------

_PATTERNS = [
    r"^\d{3}-\d{4}$",
    r"^[A-Z]{2}\d{6}$",
    r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$",
    r"colou?r",
    r"\bcat\b",
    r"(?i)^hello",
    r"^(foo|bar|baz)+$",
    r"a{2,3}",
    r"[a-c-]",
    r"[]a]",
    r"^$",
    r"\$\d+(\.\d\d)?",
    r"(?:ab)*c",
    r"^.{3,5}$",
    r"(?i)[^a]",
    r"a|b|",
    r"\Aabc\Z",
    r"abc$",
    r"(?m)^b",
    r"(?s)a.b",
    r"\W+",
    r"a{,2}b",
    r"x{",
    r"[\x41-\x43]+",
    r"a+?b",
    r"(?P<part>ab)+",
    r"\B",
]
_TEXTS = [
    "555-1234",
    "AB123456",
    "john@x.org",
    "a@b",
    "color",
    "colour",
    "the cat sat",
    "concat",
    "HELLO world",
    "foobar",
    "foobarqux",
    "",
    "aa",
    "aaa",
    "-",
    "]",
    "price $12.50",
    "ababc",
    "abc\n",
    "a\nb",
    "A",
    "x{",
    "aab",
]


@pytest.mark.parametrize("pattern", _PATTERNS)
def test_matches_agrees_with_python_re_search(pattern: str) -> None:
    regex = compile_regex(pattern)
    for text in _TEXTS:
        assert regex.search(text) is bool(re.search(pattern, text)), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a)\1", "back-references are not supported"),
        (r"a(?=b)", "look-ahead and look-behind are not supported"),
        (r"(?<!a)b", "look-ahead and look-behind are not supported"),
        (r"(?>a+)", "atomic groups are not supported"),
        (r"a*+", "possessive quantifiers are not supported"),
        (r"(a", "missing ), unterminated subpattern"),
        (r"[a", "unterminated character set"),
        (r"*a", "nothing to repeat"),
        (r"a{5,2}", "min repeat greater than max repeat"),
        (r"(a{100}){100}", "pattern too complex"),
    ],
)
def test_matches_refuses_unsupported_patterns_at_compile_time(pattern: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        compile_expression(f"matches(s, {pattern!r})")


def test_matches_in_validation_rule() -> None:
    rule = compile_expression(r"phone is None or matches(phone, '^\+?[0-9 ]{6,15}$')")
    assert rule.evaluate({"phone": "+33 1 23 45 67"}) is True
    assert rule.evaluate({"phone": "call me"}) is False
    assert rule.evaluate({}) is True


# --- names, positions, check_expression -----------------------------------------------------


def test_names_are_the_free_variables_only() -> None:
    expr = compile_expression("a + b * round(c, 2) if d else e.year + max(a, f[0])")
    assert expr.names == frozenset({"a", "b", "c", "d", "e", "f"})
    assert expr.functions == frozenset({"round", "max"})
    assert isinstance(expr, Expression)
    assert expr.source == "a + b * round(c, 2) if d else e.year + max(a, f[0])"


def test_check_expression_reports_unknown_variables_with_position_and_suggestion() -> None:
    problems = check_expression("beds > 100 and levle == '3A' or bedz < 2", ["beds", "level"])
    assert problems == [
        "unknown variable 'levle' at column 16 (did you mean 'level'?)",
        "unknown variable 'bedz' at column 33 (did you mean 'beds'?)",
    ]
    assert check_expression("beds > 100", ["beds"]) == []
    assert check_expression("beds > 100") == []  # no allowed_names: only syntax/safety


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("beds > > 3", "syntax error: invalid syntax at column 8"),
        ("beds >", "syntax error: the expression is incomplete at column 7"),
        ("(beds > 3", "syntax error: '(' was never closed at column 1"),
        ("beds = 3", "syntax error: '=' is not allowed here; use '==' to compare at column 6"),
        ("  beds +* 2", "syntax error: invalid syntax at column 9"),
        ("", "expression is empty"),
        ("x.format", "attribute 'format' is not available"),
        ("frobnicate(x)", "function 'frobnicate' is not available at column 1"),
        ("x / 0 + 10 ** 5000", "exponent too large (max 1000) at column 12"),
    ],
)
def test_check_expression_reports_syntax_and_compile_errors(source: str, problem: str) -> None:
    problems = check_expression(source, ["beds", "x"])
    assert len(problems) == 1
    assert problems[0].startswith(problem), problems


def test_error_attributes() -> None:
    source = "'ééé' == y / 0"
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, {"y": 1})
    error = caught.value
    assert error.message == "division by zero"
    assert error.source == source
    assert error.position == source.index("/")  # a character offset, despite the UTF-8 'é'
    assert str(error) == f"division by zero at column {source.index('/') + 1}"


def test_runtime_type_errors_name_both_types_and_position() -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate("count + label", {"count": 1, "label": "x"})
    assert caught.value.message == "cannot use '+' with number and text"
    assert caught.value.position == 6


def test_multiline_source_position() -> None:
    source = "(a +\n b / 0)"
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, {"a": 1, "b": 1})
    assert str(caught.value) == "division by zero at line 2, column 4"


# --- realistic blueprint expressions --------------------------------------------------------


def test_computed_field() -> None:
    total = compile_expression("round(price * qty * (1 - discount / 100), 2)")
    assert total.names == frozenset({"price", "qty", "discount"})
    assert total.evaluate({"price": 19.99, "qty": 3, "discount": 15}) == 50.97
    assert total.evaluate({"price": Decimal("19.99"), "qty": 3, "discount": 15}) == Decimal("50.97")
    assert total.evaluate({"price": 19.99, "qty": None, "discount": 15}) is None  # empty stays empty


def test_visibility_condition() -> None:
    show_warning = compile_expression("status == 'closed' and close_reason is None")
    assert show_warning.evaluate({"status": "closed"}) is True
    assert show_warning.evaluate({"status": "closed", "close_reason": "cured"}) is False
    assert show_warning.evaluate({"status": "open"}) is False
    assert show_warning.evaluate({}) is False


def test_condition_from_the_brief() -> None:
    expr = compile_expression("beds > 100 and level in ('3A', '3B')")
    assert expr.names == frozenset({"beds", "level"})
    assert expr.evaluate({"beds": 120, "level": "3B"}) is True
    assert expr.evaluate({"beds": 120, "level": "2"}) is False
    assert expr.evaluate({"beds": 80, "level": "3A"}) is False
    assert expr.evaluate({}) is False


def test_score_formula_with_recency_decay(clock: FixedClock) -> None:
    score = compile_expression(
        "clamp(round(50 * exp(-days_between(last_visit, today()) / 90) + 10 * len(alerts), 1), 0, 100)"
    )
    variables = {"last_visit": date(2024, 1, 1), "alerts": ["fall", "sepsis"]}
    assert score.evaluate(variables, clock=clock) == 55.8  # 50 * e**(-30/90) + 2 * 10


# --- compilation, caching, immutability -----------------------------------------------------


def test_compile_is_cached_by_source() -> None:
    source = "cache_probe_variable * 2 + 1"
    first = compile_expression(source)
    assert compile_expression(source) is first
    assert evaluate(source, {"cache_probe_variable": 20}) == 41
    assert compile_expression(source) is first
    assert compile_expression(source + " ") is not first


def test_expression_is_immutable_and_picklable() -> None:
    expr = compile_expression("x * 2")
    with pytest.raises(AttributeError):
        expr.source = "x * 3"  # type: ignore[misc]
    clone = pickle.loads(pickle.dumps(expr))
    assert clone.evaluate({"x": 21}) == 42


def test_each_evaluation_builds_fresh_containers() -> None:
    expr = compile_expression("[1, 2, x]")
    first = expr.evaluate({"x": 3})
    first.append(99)
    assert expr.evaluate({"x": 3}) == [1, 2, 3]


def test_constant_folding_keeps_errors_for_unevaluated_branches_out_of_runtime() -> None:
    expr = compile_expression("24 * 60 * minutes_factor")
    assert expr.evaluate({"minutes_factor": 2}) == 2880
    assert compile_expression("-1 in (x, -1)").evaluate({}) is True


def test_variables_may_be_any_mapping() -> None:
    class Record(dict):
        def __missing__(self, key: str) -> object:  # would add keys if [] were used
            self[key] = "created"
            return self[key]

    record = Record(a=1)
    assert evaluate("a + 1 if b is None else 0", record) == 2
    assert dict(record) == {"a": 1}


def test_timedelta_attribute_and_arithmetic() -> None:
    stay = {"admitted": datetime(2024, 1, 1, 8), "discharged": datetime(2024, 1, 3, 20)}
    assert evaluate("(discharged - admitted).days", stay) == 2
    assert evaluate("(discharged - admitted).seconds", stay) == 12 * 3600
    assert evaluate("discharged - admitted > d", {**stay, "d": timedelta(days=2)}) is True


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{x: 1}", "a list cannot be used as a dictionary key"),
        ("{x, 2}", "a list cannot be put in a set"),
        ("x[1.5]", "position in list must be a whole number, not number"),
        ("x[::0]", "slice step cannot be zero"),
        ("min(1, 'a')", "cannot use min() with number and text"),
        ("lower(5)", "lower() expects text, not number"),
        ("add_days(d, 1.5)", "add_days(): number of days must be a whole number, not 1.5"),
        ("log(0)", "log() needs a number greater than 0"),
        ("exp(1000)", "number too large"),
        ("3 in s", "cannot test whether number is in text"),
        ("...", "Ellipsis is not supported"),
    ],
)
def test_runtime_errors_are_plain_english(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(source, {"x": [1], "s": "abc", "d": date(2024, 1, 1)})
    assert caught.value.message == message


def test_variables_must_be_a_mapping() -> None:
    with pytest.raises(ExpressionError, match="variables must be a mapping of names to values, not NoneType"):
        compile_expression("x + 1").evaluate(None)  # type: ignore[arg-type]


def test_fixed_clock_normalises_to_naive_utc() -> None:
    from datetime import timezone

    paris_winter = timezone(timedelta(hours=1))
    clock = FixedClock(datetime(2024, 1, 1, 0, 30, tzinfo=paris_winter))
    assert clock.now() == datetime(2023, 12, 31, 23, 30)
    assert evaluate("today()", {}, clock=clock) == date(2023, 12, 31)  # the UTC date
    assert FixedClock(date(2024, 5, 1)).now() == datetime(2024, 5, 1)
    assert clock.advance(hours=1) == datetime(2024, 1, 1, 0, 30)
