"""What the commands share: options, exit codes, errors that say what to do next, the console."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console

from dagster_project.resources import DEFAULT_DB

EXIT_FAILED = 1  # the work could not be done or cannot be trusted: a failed run, no warehouse yet, a lock
EXIT_USAGE = 2  # the command line asks for something malformed or absent: an option, an invoice, a record


class CommandError(Exception):
    """A failure the user can act on: ``problem`` says what is wrong, ``next_step`` what to do about it."""

    def __init__(self, problem: str, next_step: str = "", code: int = EXIT_FAILED) -> None:
        super().__init__(problem)
        self.problem = problem
        self.next_step = next_step
        self.code = code


def report(command: str, error: CommandError) -> int:
    print(f"tally {command}: {error.problem}", file=sys.stderr)
    if error.next_step:
        print(error.next_step, file=sys.stderr)
    return error.code


def add_db_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--db", type=Path, default=Path(os.environ.get("TALLY_DB", DEFAULT_DB)), metavar="PATH",
                        help=f"{what} (env TALLY_DB, default %(default)s)")


def console() -> Console:
    """Standard output for people: colours and the terminal's width on a terminal; otherwise plain text
    that never wraps a table row, for pipes, files and tests. Data is never read as markup."""
    out = Console(markup=False, emoji=False, highlight=False)
    if not out.is_terminal:
        out = Console(markup=False, emoji=False, highlight=False, width=200, no_color=True, soft_wrap=True)
    return out


def open_warehouse(db: Path):
    """The published warehouse, read-only (it is renamed over by a run, never written in place, so this
    neither blocks nor waits for a run)."""
    import duckdb

    if not db.is_file():
        state = db.with_name(db.stem + ".state.duckdb")
        hint = ("A run was started but has not published yet; see `tally status`." if state.exists()
                else "Run `tally run` to load the dumps and publish it, or point --db (or TALLY_DB) at the "
                     "warehouse file.")
        raise CommandError(f"no warehouse at {db}", hint)
    try:
        con = duckdb.connect(str(db), read_only=True)
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error as error:
        raise CommandError(f"cannot open the warehouse {db}: {error}",
                           "Is it a tally warehouse? Check --db (or TALLY_DB); `tally run` publishes one.") from None
    missing = {"invoices", "invoice_lines", "usage_events", "quarantine", "reconciliation"} - {
        name for (name,) in con.sql("SELECT table_name FROM duckdb_tables() UNION ALL "
                                    "SELECT view_name FROM duckdb_views()").fetchall()}
    if missing:
        con.close()
        raise CommandError(f"{db} is not a tally warehouse: it has no {', '.join(sorted(missing))}",
                           "Point --db (or TALLY_DB) at the warehouse `tally run` publishes.")
    return con
