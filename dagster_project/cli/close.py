"""`tally close YYYY-MM`: run as `tally run` does, write the month's close file, and issue (SPEC §7)."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from dagster_project.cli import run
from dagster_project.cli.common import EXIT_USAGE, CommandError
from transforms.lifecycle.control import CloseRefused, ControlError, check_new_close, parse_month, read_closes

HELP = "close a month: run, write its close file, issue its invoices and the pending adjustments"
DESCRIPTION = """\
Close a billing month. First runs as `tally run` does (loading every new dump file); then writes the close
file <control-dir>/close-YYYY-MM.json with the month, the issue date, the sha256 of every dump file loaded,
and a copy of the reference data in force (<control-dir>/close-YYYY-MM/reference/); then issues the month's
invoices and the pending adjustments (credit and debit notes, late invoices) of the months closed before,
numbered <prefix>-<yyyy>-<n> from reference/issuer.csv. Issued documents are written once under
<documents-dir>/issued/ with their sha256 in documents.sha256, and never change. A month closes once, and
an issue date is never before one already issued: both are refused with status 2. Close files are inputs
like the dumps: keep them; a run from an empty warehouse over the same dumps, reference and control folder
reproduces every issued document byte for byte."""


def month(value: str) -> date:
    try:
        return parse_month(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def issue_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date: write YYYY-MM-DD") from None


def add_parser(commands) -> None:
    parser = commands.add_parser("close", help=HELP, description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("month", type=month, metavar="YYYY-MM", help="the billing month to close")
    parser.add_argument("--issue-date", type=issue_date, metavar="YYYY-MM-DD",
                        help="the documents' issue date (default: today in UTC)")
    run.add_run_options(parser)
    parser.set_defaults(handler=command)


def command(args: argparse.Namespace) -> int:
    issued_on = args.issue_date or datetime.now(UTC).date()
    try:
        check_new_close(read_closes(args.control_dir), args.month, issued_on)
    except ControlError as error:
        raise CommandError(str(error), "Close files and their reference copies are inputs: restore the file; "
                                       "nothing was run.") from None
    except CloseRefused as refused:
        raise CommandError(str(refused), "Nothing was run.", EXIT_USAGE) from None
    if not (args.reference_dir / "issuer.csv").is_file():
        raise CommandError(f"{args.reference_dir / 'issuer.csv'} does not exist: issued documents name their issuer",
                           "Add issuer.csv (name, address, tax_id, number_prefix, payment_terms_days) to the "
                           "reference folder; nothing was run.", EXIT_USAGE)
    return run.execute(args, close=(args.month, issued_on))
