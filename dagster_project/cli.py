"""The `tally` command line: `tally run` materializes the whole asset graph in process."""

import argparse
import os
import sys
from pathlib import Path

from dagster_project.resources import DEFAULT_DB, DEFAULT_MEMORY_LIMIT, DEFAULT_RAW_DIR, DEFAULT_REFERENCE_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tally", description="Exact monthly invoices from raw usage dumps.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="load new dumps, bill every period present, publish the warehouse")
    run.add_argument("--raw-dir", default=os.environ.get("TALLY_RAW_DIR", DEFAULT_RAW_DIR),
                     help="dump folder with one subfolder per source (env TALLY_RAW_DIR, default %(default)s)")
    run.add_argument("--reference-dir", default=os.environ.get("TALLY_REFERENCE_DIR", DEFAULT_REFERENCE_DIR),
                     help="folder of the reference CSVs (env TALLY_REFERENCE_DIR, default %(default)s)")
    run.add_argument("--db", default=os.environ.get("TALLY_DB", DEFAULT_DB),
                     help="warehouse file analysts query (env TALLY_DB, default %(default)s)")
    run.add_argument("--memory-limit", default=os.environ.get("TALLY_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT),
                     help="memory DuckDB may use before it spills to disk (env TALLY_MEMORY_LIMIT, "
                          "default %(default)s)")
    generate = commands.add_parser("generate", help="write realistic synthetic dumps and reference data")
    generate.add_argument("--records", type=int, required=True, help="number of records, a quarter per source")
    generate.add_argument("--out", type=Path, required=True, help="folder for raw/ and reference/")
    generate.add_argument("--seed", type=int, default=7, help="random seed (default %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "generate":
        from benchmarks.generate import Plan
        from benchmarks.generate import generate as write_dumps

        counts = write_dumps(args.out, Plan(records=args.records, seed=args.seed))
        print(f"wrote {sum(counts.values())} records to {args.out / 'raw'} ({counts}), reference data to {args.out / 'reference'}")
        return 0

    from dagster_project.runner import RunFailed, run_pipeline

    try:
        summary = run_pipeline(Path(args.raw_dir), Path(args.reference_dir), Path(args.db), args.memory_limit)
    except RunFailed as failure:
        print(f"\ntally run failed: {failure}", file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
