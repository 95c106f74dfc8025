"""`tally generate`: realistic synthetic dumps of all four sources, with matching reference data."""

from __future__ import annotations

import argparse
from pathlib import Path

from dagster_project.cli.common import EXIT_USAGE, CommandError, console

HELP = "write realistic synthetic dumps and reference data, for trials and benchmarks"
DESCRIPTION = """\
Write N records (a quarter per source) as dump files under OUT/raw/<source>/ and matching reference CSVs
under OUT/reference/, with realistic rates of duplicates, versions, rejections, voids and bad lines.
OUT must be a new or empty folder (exit 2 otherwise, nothing written).
The same seed gives the same files. Bill them with:
  tally run --raw-dir OUT/raw --reference-dir OUT/reference --db OUT/warehouse.duckdb"""


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number


def add_parser(commands) -> None:
    parser = commands.add_parser("generate", help=HELP, description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=positive, required=True, metavar="N",
                        help="number of records to write, a quarter per source")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="folder to write raw/ and reference/ into: a new or empty one (created if missing)")
    parser.add_argument("--seed", type=int, default=7, metavar="N", help="random seed (default %(default)s)")
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    from benchmarks.generate import Plan
    from benchmarks.generate import generate as write_dumps

    _check_empty(args.out)
    out = console()
    if out.is_terminal:
        with out.status(f"writing {args.records} records to {args.out / 'raw'}"):
            counts = write_dumps(args.out, Plan(records=args.records, seed=args.seed))
    else:
        counts = write_dumps(args.out, Plan(records=args.records, seed=args.seed))
    print(f"wrote {sum(counts.values())} records to {args.out / 'raw'} ({counts}), "
          f"reference data to {args.out / 'reference'}")
    return 0


def _check_empty(out: Path) -> None:
    """SPEC §6: generate never writes into a folder that holds anything (``--out data`` would overwrite the
    shipped reference CSVs and mix synthetic dumps into the sample)."""
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out} is not a folder", "Pass --out a new or empty folder; nothing was written.",
                           EXIT_USAGE)
    if out.is_dir() and any(out.iterdir()):
        raise CommandError(f"{out} is not empty", "Pass --out a new or empty folder (tally generate writes raw/ "
                                                  "and reference/ into it); nothing was written.", EXIT_USAGE)
