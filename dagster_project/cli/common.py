"""What the commands share: options, exit codes, errors that say what to do next, the console."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from dagster_project.defaults import DEFAULT_DB
from transforms.marts.formatting import format_plain

EXIT_FAILED = 1  # the work could not be done or cannot be trusted: a failed run, no warehouse yet, a lock
EXIT_USAGE = 2  # the command line asks for something malformed or absent: an option, an invoice, a record
EXIT_REFUSED = 3  # `tally run` published, but refused some input files (SPEC §1), each named in its summary


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


def count(number: int, noun: str) -> str:
    """``1 file``, ``2 files``: a number and its noun, plural unless the number is 1."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def print_json(value) -> None:
    """``value`` as one JSON document on standard output, for scripts (``--json``)."""
    print(json.dumps(to_jsonable(value), indent=2))


def to_jsonable(value):
    """Plain JSON values: a dataclass as an object of its fields and properties (one that defines its own
    text, a record reference, as that text), a Polars frame as a list of objects, a decimal as its exact
    digits in a string, a date or instant in ISO 8601, a path as text."""
    import polars as pl

    if isinstance(value, pl.DataFrame):
        return [to_jsonable(row) for row in value.iter_rows(named=True)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if type(value).__str__ is not object.__str__:
            return str(value)
        data = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        data.update({name: getattr(value, name) for name, member in vars(type(value)).items()
                     if isinstance(member, property)})
        return to_jsonable(data)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format_plain(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def open_warehouse(db: Path):
    """The published warehouse, read-only (it is renamed over by a run, never written in place, so this
    neither blocks nor waits for a run)."""
    import duckdb

    from transforms.warehouse import missing_published_tables, state_path

    if not db.is_file():
        hint = ("A run was started but has not published yet; see `tally status`." if state_path(db).exists()
                else "Run `tally run` to load the dumps and publish it, or point --db (or TALLY_DB) at the "
                     "warehouse file.")
        raise CommandError(f"no warehouse at {db}", hint)
    try:
        con = duckdb.connect(str(db), read_only=True)
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error as error:
        raise CommandError(f"cannot open the warehouse {db}: {error}",
                           "Is it a tally warehouse? Check --db (or TALLY_DB); `tally run` publishes one.") from None
    missing = missing_published_tables(con)
    if missing:
        con.close()
        raise CommandError(f"{db} is not a tally warehouse: it has no {', '.join(missing)}",
                           "Point --db (or TALLY_DB) at the warehouse `tally run` publishes.")
    return con
