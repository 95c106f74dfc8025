"""The `tally` command line: one module per command, each adding its parser and handling its arguments."""

from __future__ import annotations

import argparse
import atexit
import os
import sys
import threading

from dagster_project.cli import close, explain, generate, invoice, run, status
from dagster_project.cli.common import CommandError, report

COMMANDS = (run, close, status, explain, invoice, generate)
DESCRIPTION = """\
tally turns raw usage-event dumps from four billing vendors (samplehc, tula, sequence, paygentic) into
exact monthly invoices in a DuckDB warehouse that analysts open read-only. Every raw record gets one
outcome (billed, duplicate, superseded, voided, rejected_by_vendor, unmetered, quarantined with a
reason), and every invoice line traces back to the records it came from."""
EPILOG = """\
examples:
  tally run                                  bill data/raw with data/reference into data/warehouse.duckdb
  tally run --raw-dir dumps --db out/wh.duckdb --memory-limit 4GB
  tally close 2026-09 --issue-date 2026-10-03  run, then issue September's invoices and pending notes
  tally status                               what is loaded, the last run, outcomes, invoices by month
  tally explain INV-202610-acme              an invoice's lines and the raw records behind each
  tally explain INV-202610-acme --all        ... with every record, not the first 20 per line
  tally explain samplehc/2026-09.jsonl:2     what became of one raw record, and why
  tally explain paygentic/2026-09.jsonl:5:1  the second event of a paygentic batch line
  tally invoice INV-202610-acme --pdf acme.pdf  the invoice as the customer receives it
  tally generate --records 100000 --out /tmp/trial

environment variables (an option given on the command line wins):
  TALLY_RAW_DIR        dump folder of `tally run` (default data/raw)
  TALLY_REFERENCE_DIR  reference CSV folder of `tally run` (default data/reference)
  TALLY_DB             warehouse file of run, status, explain, invoice (default data/warehouse.duckdb)
  TALLY_MEMORY_LIMIT   DuckDB memory before spilling to disk, for `tally run` (default 512MB)
  TALLY_DOCUMENTS_DIR  invoice documents folder of `tally run` (default invoices/ beside the warehouse)
  TALLY_CONTROL_DIR    close files of `tally close` and `tally run` (default data/control)
  DAGSTER_HOME         a Dagster instance folder: runs are recorded there and shown in the UI
                       (dagster dev -m dagster_project), and `tally status` shows the newest

exit status: 0 success; 1 the work failed or cannot be trusted (the published warehouse is left as it
was), there is no warehouse yet, or a file tally reads is damaged; 2 a mistake in the command (an
option's value, a missing folder, a raw folder without any source folder, a --db that is not a tally
warehouse, a non-empty generate --out, a DAGSTER_HOME folder that does not exist, an invoice id or a
record that is not in the warehouse); 3 `tally run` published, but refused some input files (a loaded
dump whose bytes changed, a file or folder that cannot be read whole), each named in its summary and in
`tally status`.

`tally COMMAND --help` describes each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tally", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     title="commands")
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tally")
    except PackageNotFoundError:
        return "(not installed)"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as error:
        return report(args.command, error)
    except KeyboardInterrupt:
        again = "; run it again to finish (work already done is kept)" if args.command == "run" else ""
        print(f"\ntally {args.command}: interrupted{again}", file=sys.stderr)
        return 130


def entry() -> None:
    """The `tally` command: ``main``, then the process ends without the interpreter's teardown.

    Tearing down the modules a run imports (Dagster's above all) collects their objects one by one:
    0.3–0.5 s at the end of every command, a tenth of a run with nothing new. Everything a command
    writes is closed by then (DuckDB files, documents, the published file), so the exit handlers run
    (Dagster's temporary folders, logging), the output is flushed, and the process exits with the
    status. An error raised, or a thread still running, takes the ordinary way out."""
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
