"""`python -m bench [--backend sqlite|postgresql|both] [--rows N] [--only NAME]`

Runs each benchmark against its bare baseline in the same process and database, prints the table
and writes var/bench-results.json. PostgreSQL databases are created and dropped by the run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.bench_create import run_create
from bench.bench_his import his_tessera, run_his_import, run_hl7_rate
from bench.bench_list import run_list
from bench.bench_report import run_report
from bench.bench_validate import run_validate
from bench.bench_workflow import run_workflow
from bench.harness import Result, environment, format_table, write_json
from bench.setup_data import bench_tessera, bulk_load, progress

BENCHMARKS = ("create", "list", "validate", "workflow", "report", "his")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "var" / "bench-results.json"
NOTES = (
    "ours_us_per_record",
    "baseline_us_per_record",
    "same_sql_ms",
    "ratio_vs_same_sql",
    "position",
    "filtered_rows",
    "plain_jsonschema_us",
    "speedup_vs_plain_jsonschema",
    "ours_ms_per_approval",
    "bare_ms_per_approval",
    "phases_s",
    "ours_ms_per_message",
    "outcomes",
)


def _short(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--rows", type=int, default=1_000_000, help="visit rows loaded for the list benchmark")
    p.add_argument("--only", action="append", choices=BENCHMARKS, help="run only this benchmark (repeatable)")
    p.add_argument("--creates", type=int, default=2_000, help="records created per side")
    p.add_argument("--validations", type=int, default=50_000, help="records validated per pass")
    p.add_argument("--repeats", type=int, default=200, help="repetitions per side of each list measurement")
    p.add_argument("--approvals", type=int, default=300, help="one-step approvals started and completed per side")
    p.add_argument("--deep", type=int, default=50_000, help="cursor position in the filtered list result")
    p.add_argument("--his-patients", type=int, default=100_000, help="patients in the HIS bulk-import file")
    p.add_argument("--hl7-messages", type=int, default=2_000, help="HL7 ADT messages processed for the rate")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> list[Result]:
    selected = args.only or list(BENCHMARKS)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        work = Path(tmp)
        if "validate" in selected:
            progress(f"validate: {args.validations:,} records")
            with bench_tessera("sqlite", work / "validate") as tessera:
                results.append(run_validate(tessera, args.validations))
        for backend in backends:
            if "create" in selected:
                progress(f"create [{backend}]: {args.creates:,} records per side")
                with bench_tessera(backend, work / f"create-{backend}") as tessera:
                    results.append(run_create(tessera, backend, args.creates))
            if "list" in selected:
                progress(f"list [{backend}]: loading {args.rows:,} rows")
                with bench_tessera(backend, work / f"list-{backend}") as tessera:
                    bulk_load(tessera, args.rows)
                    progress(f"list [{backend}]: measuring ({args.repeats} repetitions per side)")
                    results += run_list(tessera, backend, repeats=args.repeats, deep=args.deep)
            if "report" in selected:  # YoY by department and month over --rows visits (bench/bench_report.py)
                progress(f"report [{backend}]: loading {args.rows:,} rows")
                with bench_tessera(backend, work / f"report-{backend}") as tessera:
                    bulk_load(tessera, args.rows)
                    results.append(run_report(tessera, backend))
            if "his" in selected:  # HIS archive bulk import vs COPY, and HL7 ADT messages/s (bench/bench_his.py)
                progress(f"his [{backend}]: {args.his_patients:,} patients")
                with his_tessera(backend, work / f"his-{backend}") as tessera:
                    results += run_his_import(tessera, backend, args.his_patients, work / f"his-{backend}")
                    progress(f"his [{backend}]: {args.hl7_messages:,} HL7 ADT messages")
                    rate = run_hl7_rate(tessera, backend, args.hl7_messages)
                    if rate is not None:
                        results.append(rate)
            if "workflow" in selected:
                progress(f"workflow [{backend}]: {args.approvals:,} one-step approvals per side")
                with bench_tessera(backend, work / f"workflow-{backend}") as tessera:
                    results.append(run_workflow(tessera, backend, args.approvals))
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    print(format_table(results))
    for r in results:
        notes = {k: r.details[k] for k in NOTES if k in r.details}
        if notes:
            print(f"  {r.name} [{r.backend}]: " + ", ".join(f"{k}={_short(v)}" for k, v in notes.items()))
    for r in results:
        if "plans" in r.details and not r.passed:
            print(f"\n{r.name} [{r.backend}] query plans:")
            print("\n".join(r.details["plans"]))
        if r.details.get("same_rows") is False:
            print(f"\n{r.name} [{r.backend}]: ours and the baseline returned DIFFERENT rows", file=sys.stderr)
    settings = {k: v for k, v in vars(args).items() if k != "output"}
    write_json(args.output, results, environment(settings))
    print(f"\nwritten to {args.output}")
    return 0 if all(r.passed and r.details.get("same_rows", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
