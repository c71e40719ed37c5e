"""`validate`: the compiled fast path `registry.validator("visit").is_valid(record)` per 30-field
record, against the reference implementation `jsonschema.Draft202012Validator` on the same schema
and records in the same run.

The reference validator is given the same format checks (phone, ID number, email, dates) so both
sides do the same work; the plain `Draft202012Validator(schema)` (formats only annotated, as the
2020-12 draft specifies by default) is reported too. Target: < 25 us per record on the fast path.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from bench.harness import Result, clock
from bench.setup_data import ENTITY, RecordMaker
from runtime.fields.formats import FORMAT_CHECKS
from runtime.services import Tessera

TARGET_US = 25.0


def format_checker() -> FormatChecker:
    """The platform's format checks (the same functions the fast path is compiled with)."""
    checker = FormatChecker(formats=())
    for name, check in FORMAT_CHECKS.items():
        checker.checks(name)(lambda value, check=check: not isinstance(value, str) or check(value))
    return checker


def _pass_us(check: Callable[[dict[str, Any]], bool], records: list[dict[str, Any]]) -> tuple[float, int]:
    """Microseconds per record for one pass over all records, and how many were valid."""
    start = clock()
    valid = 0
    for record in records:
        valid += check(record)
    return (clock() - start) / len(records) * 1e6, valid


def run_validate(tessera: Tessera, n: int = 50_000, *, passes: int = 5, reference_n: int = 5_000) -> Result:
    maker = RecordMaker(seed=11)
    records = [maker.make(i, n) for i in range(n)]
    validator = tessera.registry.validator(ENTITY)
    schema = tessera.registry.schema(ENTITY)
    reference = Draft202012Validator(schema, format_checker=format_checker())
    plain = Draft202012Validator(schema)
    subset = records[: min(n, reference_n)]

    _pass_us(validator.is_valid, records[:1000])  # warm-up
    fast = [_pass_us(validator.is_valid, records) for _ in range(passes)]
    ref = [_pass_us(reference.is_valid, subset) for _ in range(max(1, passes // 2))]
    plain_us, _ = _pass_us(plain.is_valid, subset)
    ours_us = statistics.median(us for us, _ in fast)
    base_us = statistics.median(us for us, _ in ref)
    invalid = dict(records[0], patient_phone="12345", department="nowhere")
    return Result(
        "validate",
        "-",
        ours_us,
        base_us,
        "us/record",
        base_us / ours_us,
        f"< {TARGET_US:.0f} us",
        ours_us < TARGET_US,
        {
            "records": n,
            "reference_records": len(subset),
            "fields_per_record": len(records[0]),
            "ours_valid": fast[0][1],
            "reference_valid": ref[0][1],
            "plain_jsonschema_us": plain_us,
            "speedup_vs_plain_jsonschema": plain_us / ours_us,
            "rejects_invalid": not validator.is_valid(invalid) and not reference.is_valid(invalid),
        },
    )
